// Negacyclic FFT over R[X]/(X^N + 1), the engine of the external product (internal header).
//
// A real polynomial a of size N is folded into M = N/2 complex values c_j = (a_j + i a_{j+M}) w^j,
// w = exp(i pi / N) (the "twist"), whose size-M DFT is the evaluation of a at M roots of X^N + 1
// (the other M are their conjugates). The product mod X^N + 1 is then pointwise
// (see e.g. Klemsa, "Fast and Error-Free Negacyclic Integer Convolution using Extended Fourier
// Transform", 2021, Sec. 2; Chillotti et al., TFHE, Sec. 5).
//
// A Fourier polynomial is 2M doubles, split layout: M real parts then M imaginary parts, 64-byte
// aligned. Its order of frequencies is the backend's own (no bit-reversal pass): all Fourier data
// of a process come from the same backend, and Fourier data are never serialized.
//
// Rounding: backward_* return the nearest integers; magnitudes up to 2^1023 are reduced mod 2^64
// exactly (the external product's results reach ~2^100).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "torusml/common/aligned.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

enum class FftBackendKind : std::uint8_t { Scalar, Avx2, Avx512 };

const char* to_string(FftBackendKind kind);

/// The fastest backend this CPU supports (AVX-512F+DQ, then AVX2+FMA, then scalar);
/// TORUSML_FFT=scalar|avx2|avx512 overrides it (for testing).
FftBackendKind best_fft_backend();
/// Whether this CPU can run `kind`.
bool fft_backend_supported(FftBackendKind kind);

namespace detail {
/// One backend's transforms for one N (built once, then read-only and thread-safe).
class FftImpl {
 public:
  virtual ~FftImpl() = default;
  virtual void forward_i64(const std::int64_t* a, double* out) const = 0;
  virtual void forward_torus(const std::uint64_t* a, double* out) const = 0;
  virtual void backward_add_torus(double* in, std::uint64_t* acc) const = 0;
  virtual void backward_torus(double* in, std::uint64_t* out) const = 0;
  virtual void mul_add(double* acc, const double* a, const double* b) const = 0;
  virtual void mul(double* out, const double* a, const double* b) const = 0;
  virtual void ggsw_mac(double* acc, const double* f, const double* packed, std::size_t rows,
                        std::size_t cols, const double* prefetch) const = 0;
  virtual void ggsw_mac_pair(double* acc0, double* acc1, const double* f0, const double* f1,
                             const double* packed, std::size_t rows, std::size_t cols,
                             const double* prefetch) const = 0;
};
std::unique_ptr<FftImpl> make_scalar_fft(std::size_t n);
std::unique_ptr<FftImpl> make_avx2_fft(std::size_t n);    // nullptr if not compiled in
std::unique_ptr<FftImpl> make_avx512_fft(std::size_t n);  // nullptr if not compiled in
}  // namespace detail

/// Negacyclic FFT plan for one polynomial size N (a power of two, 256 <= N <= 2^17).
class FftPlan {
 public:
  explicit FftPlan(PolynomialSize n, FftBackendKind kind = best_fft_backend());
  FftPlan(FftPlan&&) noexcept = default;
  FftPlan& operator=(FftPlan&&) noexcept = default;

  PolynomialSize polynomial_size() const { return PolynomialSize(n_); }
  /// Number of doubles of one Fourier polynomial (2 * N/2 = N).
  std::size_t fourier_doubles() const { return n_; }
  FftBackendKind backend() const { return kind_; }

  /// out = FFT(a) for integer coefficients (|a_j| < 2^53 for an exact conversion).
  void forward_i64(const std::int64_t* a, double* out) const { impl_->forward_i64(a, out); }
  /// out = FFT(a) with torus coefficients read as signed integers in [-2^63, 2^63).
  void forward_torus(const std::uint64_t* a, double* out) const { impl_->forward_torus(a, out); }
  /// acc_j += round(IFFT(in)_j) mod 2^64. `in` is used as scratch and destroyed.
  void backward_add_torus(double* in, std::uint64_t* acc) const {
    impl_->backward_add_torus(in, acc);
  }
  /// out_j = round(IFFT(in)_j) mod 2^64. `in` is destroyed.
  void backward_torus(double* in, std::uint64_t* out) const { impl_->backward_torus(in, out); }
  /// acc += a * b pointwise (complex).
  void mul_add(double* acc, const double* a, const double* b) const { impl_->mul_add(acc, a, b); }
  /// out = a * b pointwise (complex).
  void mul(double* out, const double* a, const double* b) const { impl_->mul(out, a, b); }

  /// The external product's multiply-accumulate in one pass: acc_c = sum_r f_r * key_{r,c} for
  /// every column c < cols (overwriting acc, cols Fourier polynomials), from `rows` Fourier
  /// polynomials f (split layout) and a GGSW in the packed layout (pack_fourier_ggsw). The key is
  /// read once, sequentially; `prefetch` (nullable) is the next key of the same size, asked into
  /// the cache along the way.
  void ggsw_mac(double* acc, const double* f, const double* packed, std::size_t rows,
                std::size_t cols, const double* prefetch) const {
    impl_->ggsw_mac(acc, f, packed, rows, cols, prefetch);
  }
  /// ggsw_mac of two inputs by the same key in one pass (acc0 from f0, acc1 from f1): each key
  /// value is loaded once for both (the pass is bound by reading the key from cache).
  void ggsw_mac_pair(double* acc0, double* acc1, const double* f0, const double* f1,
                     const double* packed, std::size_t rows, std::size_t cols,
                     const double* prefetch) const {
    impl_->ggsw_mac_pair(acc0, acc1, f0, f1, packed, rows, cols, prefetch);
  }

 private:
  std::size_t n_;
  FftBackendKind kind_;
  std::unique_ptr<detail::FftImpl> impl_;
};

/// Complex values per chunk of the packed GGSW layout (the same for every backend).
inline constexpr std::size_t kPackedChunk = 8;

/// Rearranges `rows` x `cols` Fourier polynomials of M = n/2 complex values each (split layout,
/// polynomial (r, c) at split + (r * cols + c) * n) into the packed layout that ggsw_mac reads:
/// for each chunk q of kPackedChunk complex values, for each (r, c), kPackedChunk real parts then
/// kPackedChunk imaginary parts. Precondition: n / 2 is a multiple of kPackedChunk.
void pack_fourier_ggsw(const double* split, double* packed, std::size_t rows, std::size_t cols,
                       std::size_t n);

/// The shared plan of the best backend for N (built on first use; thread-safe).
const FftPlan& fft_plan(PolynomialSize n);

/// A Fourier polynomial buffer: N doubles, 64-byte aligned.
using FourierBuffer = AlignedVector<double>;

}  // namespace torusml::tfhe
