// Portable reference backend of the negacyclic FFT: radix-2 decimation in frequency forward
// (natural order in, bit-reversed order out) and decimation in time backward (bit-reversed in,
// natural out), so no permutation pass is needed. The SIMD backends must agree with it to within
// rounding error on every transform (tests/tfhe/fft_test.cpp).
#include <cmath>
#include <memory>
#include <vector>

#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/fft_common.h"

namespace torusml::tfhe::detail {

namespace {

class ScalarFft final : public FftImpl {
 public:
  explicit ScalarFft(std::size_t n) : m_(n / 2), twist_(n / 2), twiddle_(n / 2) {
    for (std::size_t j = 0; j < m_; ++j) {
      const double angle = M_PI * static_cast<double>(j) / static_cast<double>(n);
      twist_[j] = {std::cos(angle), std::sin(angle)};
    }
    // twiddle_[j] = exp(-2 pi i j / M) for j < M/2.
    for (std::size_t j = 0; j < m_ / 2; ++j) {
      const double angle = -2.0 * M_PI * static_cast<double>(j) / static_cast<double>(m_);
      twiddle_[j] = {std::cos(angle), std::sin(angle)};
    }
  }

  void forward_i64(const std::int64_t* a, double* out) const override {
    double* re = out;
    double* im = out + m_;
    for (std::size_t j = 0; j < m_; ++j) {
      const double x = static_cast<double>(a[j]);
      const double y = static_cast<double>(a[j + m_]);
      re[j] = x * twist_[j].re - y * twist_[j].im;
      im[j] = x * twist_[j].im + y * twist_[j].re;
    }
    dif(re, im);
  }

  void forward_torus(const std::uint64_t* a, double* out) const override {
    double* re = out;
    double* im = out + m_;
    for (std::size_t j = 0; j < m_; ++j) {
      const double x = static_cast<double>(static_cast<std::int64_t>(a[j]));
      const double y = static_cast<double>(static_cast<std::int64_t>(a[j + m_]));
      re[j] = x * twist_[j].re - y * twist_[j].im;
      im[j] = x * twist_[j].im + y * twist_[j].re;
    }
    dif(re, im);
  }

  void backward_add_torus(double* in, std::uint64_t* acc) const override {
    backward(in);
    for (std::size_t j = 0; j < 2 * m_; ++j) acc[j] += f64_to_torus(in[j]);
  }

  void backward_torus(double* in, std::uint64_t* out) const override {
    backward(in);
    for (std::size_t j = 0; j < 2 * m_; ++j) out[j] = f64_to_torus(in[j]);
  }

  void mul_add(double* acc, const double* a, const double* b) const override {
    for (std::size_t j = 0; j < m_; ++j) {
      const double ar = a[j], ai = a[j + m_], br = b[j], bi = b[j + m_];
      acc[j] += ar * br - ai * bi;
      acc[j + m_] += ar * bi + ai * br;
    }
  }

  void ggsw_mac(double* acc, const double* f, const double* packed, std::size_t rows,
                std::size_t cols, const double*) const override {
    constexpr std::size_t c8 = kPackedChunk;
    for (std::size_t q = 0; q < m_ / c8; ++q)
      for (std::size_t c = 0; c < cols; ++c)
        for (std::size_t j = 0; j < c8; ++j) {
          double re = 0, im = 0;
          for (std::size_t r = 0; r < rows; ++r) {
            const double* k = packed + ((q * rows + r) * cols + c) * 2 * c8;
            const double fr = f[r * 2 * m_ + q * c8 + j], fi = f[r * 2 * m_ + m_ + q * c8 + j];
            re += fr * k[j] - fi * k[c8 + j];
            im += fr * k[c8 + j] + fi * k[j];
          }
          acc[c * 2 * m_ + q * c8 + j] = re;
          acc[c * 2 * m_ + m_ + q * c8 + j] = im;
        }
  }

  void ggsw_mac_pair(double* acc0, double* acc1, const double* f0, const double* f1,
                     const double* packed, std::size_t rows, std::size_t cols,
                     const double* prefetch) const override {
    ggsw_mac(acc0, f0, packed, rows, cols, prefetch);
    ggsw_mac(acc1, f1, packed, rows, cols, nullptr);
  }

  void mul(double* out, const double* a, const double* b) const override {
    for (std::size_t j = 0; j < m_; ++j) {
      const double ar = a[j], ai = a[j + m_], br = b[j], bi = b[j + m_];
      out[j] = ar * br - ai * bi;
      out[j + m_] = ar * bi + ai * br;
    }
  }

 private:
  struct Complex {
    double re = 0, im = 0;
  };

  // In place: leaves the untwisted, 1/M-scaled real coefficients a_j in in[j] (j < N).
  void backward(double* in) const {
    double* re = in;
    double* im = in + m_;
    dit(re, im);
    const double scale = 1.0 / static_cast<double>(m_);
    for (std::size_t j = 0; j < m_; ++j) {
      // (re + i im) * conj(twist_j) / M: real part -> a_j, imaginary part -> a_{j+M}.
      const double x = (re[j] * twist_[j].re + im[j] * twist_[j].im) * scale;
      const double y = (im[j] * twist_[j].re - re[j] * twist_[j].im) * scale;
      re[j] = x;
      im[j] = y;
    }
  }

  // Forward, sign -1, natural -> bit-reversed.
  void dif(double* re, double* im) const {
    for (std::size_t len = m_; len >= 2; len /= 2) {
      const std::size_t half = len / 2, stride = m_ / len;
      for (std::size_t s = 0; s < m_; s += len) {
        for (std::size_t j = 0; j < half; ++j) {
          const Complex w = twiddle_[j * stride];
          const std::size_t p = s + j, q = p + half;
          const double ur = re[p], ui = im[p], vr = re[q], vi = im[q];
          re[p] = ur + vr;
          im[p] = ui + vi;
          const double dr = ur - vr, di = ui - vi;
          re[q] = dr * w.re - di * w.im;
          im[q] = dr * w.im + di * w.re;
        }
      }
    }
  }

  // Backward, sign +1, bit-reversed -> natural, unscaled.
  void dit(double* re, double* im) const {
    for (std::size_t len = 2; len <= m_; len *= 2) {
      const std::size_t half = len / 2, stride = m_ / len;
      for (std::size_t s = 0; s < m_; s += len) {
        for (std::size_t j = 0; j < half; ++j) {
          const Complex w = twiddle_[j * stride];  // conj(w) below: sign +1
          const std::size_t p = s + j, q = p + half;
          const double vr0 = re[q], vi0 = im[q];
          const double vr = vr0 * w.re + vi0 * w.im;
          const double vi = vi0 * w.re - vr0 * w.im;
          const double ur = re[p], ui = im[p];
          re[p] = ur + vr;
          im[p] = ui + vi;
          re[q] = ur - vr;
          im[q] = ui - vi;
        }
      }
    }
  }

  std::size_t m_;
  std::vector<Complex> twist_;
  std::vector<Complex> twiddle_;
};

}  // namespace

std::unique_ptr<FftImpl> make_scalar_fft(std::size_t n) {
  return std::make_unique<ScalarFft>(n);
}

}  // namespace torusml::tfhe::detail
