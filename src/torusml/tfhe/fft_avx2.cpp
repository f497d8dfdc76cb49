// AVX2 backend of the negacyclic FFT (compiled with -mavx2 -mfma).
//
// The engine is fft_simd_common.h (Cooley-Tukey decimation in frequency on the split layout:
// radix-2 passes over the blocks too large for L1, then radix-8/4 passes, then a 16-point register
// tail around a 4 x 4 transpose); this file supplies its 4-lane operations. AVX2 has no
// int64 <-> double conversion, hence:
//  - the 4 x 4 transpose: unpacklo/hi_pd, then permute2f128 (8 shuffles);
//  - int64 -> double, correctly rounded, from the two 32-bit halves x = h 2^32 + l (h signed,
//    l unsigned) placed in the mantissas of 2^84 + (h + 2^31) 2^32 and 2^52 + l: subtracting
//    2^84 + 2^63 + 2^52 from the first is exact, and adding the second rounds once;
//  - round to nearest and reduce modulo 2^64, exactly for any finite magnitude: r = round(x) is
//    an integer (1 + m 2^-52) 2^(e - 1023), so |r| mod 2^64 = (2^52 + m) shifted left by
//    e - 1075 or right by 1075 - e (vpsllvq / vpsrlvq give 0 for counts of 64 or more, which
//    covers |r| >= 2^116 and r = 0), then negated when r < 0.
#include <immintrin.h>

#include <cstdint>
#include <memory>

#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/fft_simd_common.h"

namespace torusml::tfhe::detail {

namespace {

struct Avx2Ops {
  using V = __m256d;
  static constexpr std::size_t kLanes = 4;
  static constexpr int kMaxRadix = 8;  // spills a little (16 registers), but saves a pass
  static constexpr double kTorusScale = 1.0;

  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V fmsub(V a, V b, V c) { return _mm256_fmsub_pd(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
  static V fnmsub(V a, V b, V c) { return _mm256_fnmsub_pd(a, b, c); }

  static V load_i64(const std::int64_t* p) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i hi = _mm256_xor_si256(_mm256_srli_epi64(x, 32),
                                        _mm256_set1_epi64x(0x4530000080000000));      // 2^84 + ...
    const __m256i lo = _mm256_blend_epi32(x, _mm256_set1_epi64x(0x4330000000000000),  // 2^52 + l
                                          0b10101010);
    const V high = _mm256_castsi256_pd(hi) - _mm256_set1_pd(0x1.00000801p+84);  // exact
    return high + _mm256_castsi256_pd(lo);
  }

  /// p[0..3] (+)= round(x) mod 2^64.
  template <bool Add>
  static void store_torus(std::uint64_t* p, V x) {
    const V r = _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i bits = _mm256_castpd_si256(r);
    const __m256i e = _mm256_and_si256(_mm256_srli_epi64(bits, 52), _mm256_set1_epi64x(0x7ff));
    const __m256i mant =
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffff)),
                        _mm256_set1_epi64x(0x0010000000000000));
    const __m256i bias = _mm256_set1_epi64x(1075);
    const __m256i mag = _mm256_or_si256(_mm256_sllv_epi64(mant, _mm256_sub_epi64(e, bias)),
                                        _mm256_srlv_epi64(mant, _mm256_sub_epi64(bias, e)));
    const __m256i neg = _mm256_sub_epi64(_mm256_setzero_si256(), mag);
    __m256i v = _mm256_castpd_si256(
        _mm256_blendv_pd(_mm256_castsi256_pd(mag), _mm256_castsi256_pd(neg), r));  // sign of r
    if constexpr (Add) {
      v = _mm256_add_epi64(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }

  static void transpose(V (&r)[4]) {
    const V t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const V t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

}  // namespace

std::unique_ptr<FftImpl> make_avx2_fft(std::size_t n) {
  return std::make_unique<SimdFft<Avx2Ops>>(n);
}

}  // namespace torusml::tfhe::detail
