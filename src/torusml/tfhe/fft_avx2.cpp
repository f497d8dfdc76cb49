// AVX2 backend of the negacyclic FFT (placeholder until the SIMD kernels land).
#include "torusml/tfhe/fft.h"

namespace torusml::tfhe::detail {
std::unique_ptr<FftImpl> make_avx2_fft(std::size_t) {
  return nullptr;
}
}  // namespace torusml::tfhe::detail
