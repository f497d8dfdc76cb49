// AVX-512 backend of the negacyclic FFT (compiled with -mavx512f -mavx512dq -mavx512vl).
//
// The engine is fft_simd_common.h (Cooley-Tukey decimation in frequency on the split layout:
// radix-2 passes over the blocks too large for L1, then radix-8/4 passes, then a 64-point register
// tail around an 8 x 8 transpose); this file supplies its 8-lane operations:
//  - the 8 x 8 transpose: unpacklo/hi_pd on row pairs, then two rounds of 128-bit granule
//    shuffles (vshuff64x2), 24 shuffles in all;
//  - int64 -> double with vcvtqq2pd;
//  - round to nearest and reduce modulo 2^64, exactly for any finite magnitude: the backward scale
//    includes 2^-64 (kTorusScale), so a coefficient x arrives as y = x 2^-64; f = y - round(y)
//    (vrndscalepd) is exact, |f| <= 1/2 and f 2^64 = x - k 2^64 for an integer k, and
//    vcvtpd2qq(f 2^64) rounds it to nearest even. f 2^64 = 2^63 converts to 0x8000000000000000,
//    which is 2^63 mod 2^64.
#include <immintrin.h>

#include <cstdint>
#include <memory>

#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/fft_simd_common.h"

namespace torusml::tfhe::detail {

namespace {

struct Avx512Ops {
  using V = __m512d;
  static constexpr std::size_t kLanes = 8;
  static constexpr int kMaxRadix = 8;
  static constexpr double kTorusScale = 0x1.0p-64;

  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V fmsub(V a, V b, V c) { return _mm512_fmsub_pd(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_pd(a, b, c); }
  static V fnmsub(V a, V b, V c) { return _mm512_fnmsub_pd(a, b, c); }

  static V load_i64(const std::int64_t* p) { return _mm512_cvtepi64_pd(_mm512_loadu_si512(p)); }

  /// p[0..7] (+)= round(y 2^64) mod 2^64.
  template <bool Add>
  static void store_torus(std::uint64_t* p, V y) {
    // imm 0x08: round to an integer, to nearest even, without the precision exception (the
    // masked form, all lanes: GCC 12's _mm512_roundscale_pd warns). vreducepd would compute the
    // same difference in one instruction, but is 3x slower on Zen 4.
    const V frac = y - _mm512_mask_roundscale_pd(y, 0xff, y, 0x08);
    __m512i v = _mm512_cvtpd_epi64(frac * _mm512_set1_pd(0x1.0p64));
    if constexpr (Add) v = _mm512_add_epi64(v, _mm512_loadu_si512(p));
    _mm512_storeu_si512(p, v);
  }

  // unpacklo/hi_pd and shuffle_f64x2 (0x88, 0xdd) as generic shuffles: GCC 12's intrinsics for
  // them warn (-Wmaybe-uninitialized on their undefined pass-through operand).
  static V lo(V a, V b) { return __builtin_shufflevector(a, b, 0, 8, 2, 10, 4, 12, 6, 14); }
  static V hi(V a, V b) { return __builtin_shufflevector(a, b, 1, 9, 3, 11, 5, 13, 7, 15); }
  // Granules 0 and 2 of a, then of b; granules 1 and 3.
  static V even(V a, V b) { return __builtin_shufflevector(a, b, 0, 1, 4, 5, 8, 9, 12, 13); }
  static V odd(V a, V b) { return __builtin_shufflevector(a, b, 2, 3, 6, 7, 10, 11, 14, 15); }

  static void transpose(V (&r)[8]) {
    // t: pairs of rows interleaved, granule g of t0 = (r0[2g], r1[2g]), of t1 = (r0[2g+1], ...).
    const V t0 = lo(r[0], r[1]), t1 = hi(r[0], r[1]);
    const V t2 = lo(r[2], r[3]), t3 = hi(r[2], r[3]);
    const V t4 = lo(r[4], r[5]), t5 = hi(r[4], r[5]);
    const V t6 = lo(r[6], r[7]), t7 = hi(r[6], r[7]);
    const V u0 = even(t0, t2), u1 = odd(t0, t2);
    const V u2 = even(t1, t3), u3 = odd(t1, t3);
    const V u4 = even(t4, t6), u5 = odd(t4, t6);
    const V u6 = even(t5, t7), u7 = odd(t5, t7);
    r[0] = even(u0, u4);
    r[4] = odd(u0, u4);
    r[2] = even(u1, u5);
    r[6] = odd(u1, u5);
    r[1] = even(u2, u6);
    r[5] = odd(u2, u6);
    r[3] = even(u3, u7);
    r[7] = odd(u3, u7);
  }
};

}  // namespace

std::unique_ptr<FftImpl> make_avx512_fft(std::size_t n) {
  return std::make_unique<SimdFft<Avx512Ops>>(n);
}

}  // namespace torusml::tfhe::detail
