#include "torusml/tfhe/fft.h"

#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "torusml/common/error.h"

namespace torusml::tfhe {

const char* to_string(FftBackendKind kind) {
  switch (kind) {
    case FftBackendKind::Scalar:
      return "scalar";
    case FftBackendKind::Avx2:
      return "avx2";
    case FftBackendKind::Avx512:
      return "avx512";
  }
  return "unknown";
}

bool fft_backend_supported(FftBackendKind kind) {
  switch (kind) {
    case FftBackendKind::Scalar:
      return true;
    case FftBackendKind::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             detail::make_avx2_fft(256) != nullptr;
    case FftBackendKind::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             detail::make_avx512_fft(256) != nullptr;
  }
  return false;
}

FftBackendKind best_fft_backend() {
  static const FftBackendKind best = [] {
    if (const char* env = std::getenv("TORUSML_FFT")) {
      const std::string v(env);
      for (auto k : {FftBackendKind::Scalar, FftBackendKind::Avx2, FftBackendKind::Avx512})
        if (v == to_string(k) && fft_backend_supported(k)) return k;
    }
    for (auto k : {FftBackendKind::Avx512, FftBackendKind::Avx2})
      if (fft_backend_supported(k)) return k;
    return FftBackendKind::Scalar;
  }();
  return best;
}

FftPlan::FftPlan(PolynomialSize n, FftBackendKind kind) : n_(n.value()), kind_(kind) {
  if (!std::has_single_bit(n_) || n_ < 256 || n_ > (1u << 17)) {
    std::ostringstream os;
    os << "FFT plan: " << n << " must be a power of two in [256, 131072]";
    throw InvalidArgument(os.str());
  }
  if (!fft_backend_supported(kind)) {
    throw InvalidArgument(std::string("FFT backend '") + to_string(kind) +
                          "' is not supported by this CPU or build");
  }
  switch (kind) {
    case FftBackendKind::Scalar:
      impl_ = detail::make_scalar_fft(n_);
      break;
    case FftBackendKind::Avx2:
      impl_ = detail::make_avx2_fft(n_);
      break;
    case FftBackendKind::Avx512:
      impl_ = detail::make_avx512_fft(n_);
      break;
  }
}

void pack_fourier_ggsw(const double* split, double* packed, std::size_t rows, std::size_t cols,
                       std::size_t n) {
  const std::size_t m = n / 2, c8 = kPackedChunk;
  for (std::size_t q = 0; q < m / c8; ++q)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        const double* src = split + (r * cols + c) * n + q * c8;
        double* dst = packed + ((q * rows + r) * cols + c) * 2 * c8;
        for (std::size_t j = 0; j < c8; ++j) {
          dst[j] = src[j];
          dst[c8 + j] = src[m + j];
        }
      }
}

const FftPlan& fft_plan(PolynomialSize n) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<FftPlan>> plans;
  std::lock_guard lock(mutex);
  auto& slot = plans[n.value()];
  if (!slot) slot = std::make_unique<FftPlan>(n);
  return *slot;
}

}  // namespace torusml::tfhe
