// Shared engine of the SIMD negacyclic FFT backends (internal header, included only by
// fft_avx2.cpp and fft_avx512.cpp, each compiled for its own instruction set).
//
// Algorithm. The size-M complex DFT (M = N/2, sign -1) is the iterative Cooley-Tukey decimation in
// frequency (Cooley & Tukey 1965; e.g. Van Loan, "Computational Frameworks for the Fast Fourier
// Transform", 1992, Sec. 1.4 and 2.3), grouped into radix-R passes (R = 2, 4, 8) run in place on
// the split layout (M real parts, then M imaginary parts), without any permutation pass. A radix-R
// pass over a block of S points reads the R points j + k S/R (k < R), computes their R-point DFT
// in registers and writes DFT[rev(p)] w^(j rev(p)) to position j + p S/R (rev: bit reversal,
// w = exp(-2 pi i / S)); its twiddles are tabulated per vector, in the order the loop reads them.
//
// With W lanes per vector a pass needs S/R >= W. The last 2 log2(W) stages run in a "tail" kernel
// on chunks of W x W points held in registers: a radix-W pass across the W vectors, a W x W
// transpose of the real and of the imaginary parts, and a twiddle-free radix-W DFT across the
// transposed vectors (the four-step FFT of Bailey, "FFTs in external or hierarchical memory",
// 1990, on one register block). The result is stored as it is: the Fourier domain keeps that order
// (bit-reversed blocks of transposed chunks), which only the pointwise products see.
//
// The first forward pass reads the integers, converts them and applies the twist, merged with its
// own twiddles (see dif_first_pass); the backward transform is the exact mirror (decimation in
// time with conjugate twiddles: tail first, first pass last), whose last pass applies the
// untwist, the 1/M scale and the rounding modulo 2^64. Sub-blocks are transformed depth first, so
// that a block that fits in L1 stays there for all its passes.
//
// Tuning (Zen 4: two FMA pipes, two add pipes, one 512-bit store per two cycles, 32 KiB 8-way L1):
// the passes are bound by their stores, so they take the largest radix the registers and the L1
// associativity allow (plan_radices); the tail is bound by the FP pipes, and moves part of its
// additions to the FMA pipes (vadd<true>); loads are pinned to registers (pin).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "torusml/common/aligned.h"
#include "torusml/tfhe/fft.h"

namespace torusml::tfhe::detail {
// Internal linkage on purpose: each backend's translation unit compiles its own copy of this
// engine for its instruction set, so the linker can never hand an AVX-512 instance to the AVX2
// path (or the reverse).
namespace {

/// Bit reversal of p < 2^bits.
inline std::size_t reverse_bits(std::size_t p, int bits) {
  std::size_t r = 0;
  for (int b = 0; b < bits; ++b) r |= ((p >> b) & 1u) << (bits - 1 - b);
  return r;
}

/// Radices of the vertical passes of a size-m transform whose last `tail_log` stages are the
/// tail's, first pass first. Blocks of more than 512 points (8 KiB per part) are split by radix-2
/// passes: their 2R streams (R inputs, real and imaginary parts) lie a multiple of 2 or 4 KiB
/// apart, so in the same L1 sets, and more than radix 2 thrashes the 8-way L1 (measured on
/// Zen 4: [2, 2, 2, 8] beats [8, 8] by 1.8x at m = 4096). The rest, which stays in L1, takes the
/// largest radices (fewest passes, each pass being bound by its stores), radix 2 last.
inline std::vector<int> plan_radices(std::size_t m, int tail_log, int max_radix) {
  std::vector<int> out;
  for (; m > 512; m /= 2) out.push_back(2);
  int stages = std::countr_zero(m) - tail_log;
  while (stages > 0) {
    int r = stages >= 3 && max_radix >= 8 ? 8 : stages >= 2 ? 4 : 2;
    if (max_radix >= 8 && stages == 4) r = 4;  // 4, 4 rather than 8, 2
    out.push_back(r);
    stages -= std::countr_zero(static_cast<unsigned>(r));
  }
  return out;
}

/// The kernels, for one instruction set. `Ops` provides the vector type V of kLanes doubles (on
/// which GCC's vector extensions give + - *), load/store/set1 (unaligned), fmadd/fmsub/fnmadd/
/// fnmsub, transpose (kLanes x kLanes, in place), load_i64 (int64 -> double, rounded to nearest),
/// store_torus<Add> (p (+)= round(y / kTorusScale) mod 2^64), kTorusScale (a power of two folded
/// into the backward scale) and kMaxRadix.
template <class Ops>
struct Kernels {
  using V = typename Ops::V;
  static constexpr std::size_t W = Ops::kLanes;
  struct C {  // W complex numbers
    V re, im;
  };

  /// Keeps v in a register: without it, GCC folds a loaded value into every instruction that
  /// uses it, loading it twice (the loads, not the arithmetic, then bound the passes).
  [[gnu::always_inline]] static V pin(V v) {
    asm("" : "+v"(v));
    return v;
  }
  [[gnu::always_inline]] static V vload(const double* p) { return pin(Ops::load(p)); }
  [[gnu::always_inline]] static C load(const double* re, const double* im) {
    return {vload(re), vload(im)};
  }
  [[gnu::always_inline]] static void store(double* re, double* im, C x) {
    Ops::store(re, x.re);
    Ops::store(im, x.im);
  }
  /// x * t, t a tabulated complex vector (W real parts, then W imaginary parts).
  [[gnu::always_inline]] static C mul_tw(C x, const double* t) {
    const V tr = vload(t), ti = vload(t + W);
    return {Ops::fmsub(x.re, tr, x.im * ti), Ops::fmadd(x.re, ti, x.im * tr)};
  }
  /// x * conj(t).
  [[gnu::always_inline]] static C mul_conj_tw(C x, const double* t) {
    const V tr = vload(t), ti = vload(t + W);
    return {Ops::fmadd(x.re, tr, x.im * ti), Ops::fmsub(x.im, tr, x.re * ti)};
  }

  // Additions on the FMA pipes (a + 1 * b): Zen 4 has two add pipes and two FMA pipes, and the
  // DFT butterflies are mostly additions; F selects the pipe.
  template <bool F>
  [[gnu::always_inline]] static V vadd(V a, V b) {
    if constexpr (F) return Ops::fmadd(b, Ops::set1(1.0), a);
    return a + b;
  }
  template <bool F>
  [[gnu::always_inline]] static V vsub(V a, V b) {
    if constexpr (F) return Ops::fnmadd(b, Ops::set1(1.0), a);
    return a - b;
  }

  // In-register DFTs, decimation in frequency: natural order in, bit-reversed order out.
  template <bool F = false>
  [[gnu::always_inline]] static void dif2(C* x) {
    const C a = x[0], b = x[1];
    x[0] = {vadd<F>(a.re, b.re), vadd<F>(a.im, b.im)};
    x[1] = {vsub<F>(a.re, b.re), vsub<F>(a.im, b.im)};
  }
  // x[0..3]; Rot: the third input is multiplied by -i first (for dif8). F1, F2: the additions of
  // the first and the second radix-2 stage go to the FMA pipes.
  template <bool Rot = false, bool F1 = false, bool F2 = false>
  [[gnu::always_inline]] static void dif4(C* x) {
    C s02, d02;
    if constexpr (Rot) {  // x2 * (-i) = (x2.im, -x2.re)
      s02 = {vadd<F1>(x[0].re, x[2].im), vsub<F1>(x[0].im, x[2].re)};
      d02 = {vsub<F1>(x[0].re, x[2].im), vadd<F1>(x[0].im, x[2].re)};
    } else {
      s02 = {vadd<F1>(x[0].re, x[2].re), vadd<F1>(x[0].im, x[2].im)};
      d02 = {vsub<F1>(x[0].re, x[2].re), vsub<F1>(x[0].im, x[2].im)};
    }
    const C s13 = {vadd<F1>(x[1].re, x[3].re), vadd<F1>(x[1].im, x[3].im)};
    const C d13 = {vsub<F1>(x[1].re, x[3].re), vsub<F1>(x[1].im, x[3].im)};
    x[0] = {vadd<F2>(s02.re, s13.re), vadd<F2>(s02.im, s13.im)};
    x[1] = {vsub<F2>(s02.re, s13.re), vsub<F2>(s02.im, s13.im)};
    // d13 * (-i) = (d13.im, -d13.re)
    x[2] = {vadd<F2>(d02.re, d13.im), vsub<F2>(d02.im, d13.re)};
    x[3] = {vsub<F2>(d02.re, d13.im), vadd<F2>(d02.im, d13.re)};
  }
  template <bool F1 = false, bool F2 = false, bool F3 = false>
  [[gnu::always_inline]] static void dif8(C* x) {
    const V c = Ops::set1(0.70710678118654752440);
    C d[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      d[k] = {vsub<F1>(x[k].re, x[k + 4].re), vsub<F1>(x[k].im, x[k + 4].im)};
      x[k] = {vadd<F1>(x[k].re, x[k + 4].re), vadd<F1>(x[k].im, x[k + 4].im)};
    }
    // d1 * (1 - i)/sqrt2, d3 * (-1 - i)/sqrt2 (as FMAs); d2 * (-i) is folded into dif4<true>.
    d[1] = {Ops::fmadd(d[1].re, c, d[1].im * c), Ops::fmsub(d[1].im, c, d[1].re * c)};
    d[3] = {Ops::fmsub(d[3].im, c, d[3].re * c), Ops::fnmsub(d[3].re, c, d[3].im * c)};
    dif4<false, F2, F3>(x);
    dif4<true, F2, F3>(d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) x[k + 4] = d[k];
  }
  template <int R>
  [[gnu::always_inline]] static void dif(C* x) {
    if constexpr (R == 2) dif2(x);
    if constexpr (R == 4) dif4(x);
    if constexpr (R == 8) dif8(x);
  }

  // Their inverses up to the factor R (decimation in time, sign +1): bit-reversed in, natural out.
  template <bool F = false>
  [[gnu::always_inline]] static void dit2(C* x) {
    dif2<F>(x);
  }
  template <bool F1 = false, bool F2 = false>
  [[gnu::always_inline]] static void dit4(C* x) {
    const C a0 = {vadd<F1>(x[0].re, x[1].re), vadd<F1>(x[0].im, x[1].im)};
    const C a1 = {vsub<F1>(x[0].re, x[1].re), vsub<F1>(x[0].im, x[1].im)};
    const C a2 = {vadd<F1>(x[2].re, x[3].re), vadd<F1>(x[2].im, x[3].im)};
    const C a3 = {vsub<F1>(x[2].re, x[3].re), vsub<F1>(x[2].im, x[3].im)};
    x[0] = {vadd<F2>(a0.re, a2.re), vadd<F2>(a0.im, a2.im)};
    x[2] = {vsub<F2>(a0.re, a2.re), vsub<F2>(a0.im, a2.im)};
    // a3 * i = (-a3.im, a3.re)
    x[1] = {vsub<F2>(a1.re, a3.im), vadd<F2>(a1.im, a3.re)};
    x[3] = {vadd<F2>(a1.re, a3.im), vsub<F2>(a1.im, a3.re)};
  }
  template <bool F1 = false, bool F2 = false, bool F3 = false>
  [[gnu::always_inline]] static void dit8(C* x) {
    const V c = Ops::set1(0.70710678118654752440);
    dit4<F1, F2>(x);
    dit4<F1, F2>(x + 4);
    C* b = x + 4;
    // b1 * (1 + i)/sqrt2, b3 * (-1 + i)/sqrt2; b2 * i is folded below.
    const C b1 = {Ops::fmsub(b[1].re, c, b[1].im * c), Ops::fmadd(b[1].re, c, b[1].im * c)};
    const C b3 = {Ops::fnmsub(b[3].re, c, b[3].im * c), Ops::fmsub(b[3].re, c, b[3].im * c)};
    const C b0 = b[0], b2 = b[2];
    x[4] = {vsub<F3>(x[0].re, b0.re), vsub<F3>(x[0].im, b0.im)};
    x[0] = {vadd<F3>(x[0].re, b0.re), vadd<F3>(x[0].im, b0.im)};
    x[5] = {vsub<F3>(x[1].re, b1.re), vsub<F3>(x[1].im, b1.im)};
    x[1] = {vadd<F3>(x[1].re, b1.re), vadd<F3>(x[1].im, b1.im)};
    x[6] = {vadd<F3>(x[2].re, b2.im), vsub<F3>(x[2].im, b2.re)};
    x[2] = {vsub<F3>(x[2].re, b2.im), vadd<F3>(x[2].im, b2.re)};
    x[7] = {vsub<F3>(x[3].re, b3.re), vsub<F3>(x[3].im, b3.im)};
    x[3] = {vadd<F3>(x[3].re, b3.re), vadd<F3>(x[3].im, b3.im)};
  }
  template <int R>
  [[gnu::always_inline]] static void dit(C* x) {
    if constexpr (R == 2) dit2(x);
    if constexpr (R == 4) dit4(x);
    if constexpr (R == 8) dit8(x);
  }

  // The DFTs of the tail, which is bound by the FP pipes rather than by the stores: F1 / F2 move
  // the additions of the first / second radix-2 stage to the FMA pipes (tuned on Zen 4).
  template <int R, bool F1, bool F2>
  [[gnu::always_inline]] static void tail_dft(C* x) {
    if constexpr (R == 8) dif8<F1, F2, false>(x);
    if constexpr (R == 4) dif4<false, F1, F2>(x);
  }
  template <int R, bool F1, bool F2>
  [[gnu::always_inline]] static void tail_idft(C* x) {
    if constexpr (R == 8) dit8<F1, F2, false>(x);
    if constexpr (R == 4) dit4<F1, F2>(x);
  }

  /// One radix-R DIF pass over a block: R inputs qv vectors apart, twiddles `tw`.
  template <int R>
  static void dif_pass(double* re, double* im, std::size_t qv, const double* tw) {
    for (std::size_t jv = 0; jv < qv; ++jv, tw += 2 * W * (R - 1)) {
      C x[R];
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) x[k] = load(re + (jv + k * qv) * W, im + (jv + k * qv) * W);
      dif<R>(x);
#pragma GCC unroll 8
      for (int p = 1; p < R; ++p) x[p] = mul_tw(x[p], tw + 2 * W * (p - 1));
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) store(re + (jv + k * qv) * W, im + (jv + k * qv) * W, x[k]);
    }
  }

  /// Whether the loads from `in` trail the stores to `out` by at most 640 bytes modulo 2 KiB,
  /// with both walked forward in step. The passes that read one array and write another then
  /// walk backward: loads just behind recent stores modulo 2 or 4 KiB fall in the same L1 sets
  /// and alias them (on Zen 4 the first pass ran up to 1.5x slower so, measured over all
  /// offsets; walking backward moves the slow offsets to loads just ahead of the stores).
  [[gnu::always_inline]] static bool trails(const void* in, const void* out) {
    const auto d = (reinterpret_cast<std::uintptr_t>(out) - reinterpret_cast<std::uintptr_t>(in)) &
                   std::uintptr_t{2047};
    return d != 0 && d <= 640;
  }

  /// Multiplication by a constant complex (broadcast) c = (cr, ci).
  [[gnu::always_inline]] static C mul_const(C x, V cr, V ci) {
    return {Ops::fmsub(x.re, cr, x.im * ci), Ops::fmadd(x.re, ci, x.im * cr)};
  }

  /// The first forward pass: reads the integer polynomial a (coefficients j and j + m form the
  /// complex point j) and runs a radix-R DIF pass over the whole transform, twist included. The
  /// twist of input k is exp(i pi (j + k m/R) / N) = t_j rho^k: rho^k (constants `rho`, k >= 1)
  /// multiplies the inputs and t_j, common to all, is merged into the output twiddles, so that
  /// `tau` holds, per vector, R complex vectors t_j exp(-2 pi i j rev(p) / m) (p < R).
  template <int R>
  static void dif_first_pass(const std::int64_t* a, double* re, double* im, std::size_t m,
                             std::size_t qv, const double* tau, const double* rho) {
    V rr[R], ri[R];
#pragma GCC unroll 8
    for (int k = 1; k < R; ++k) {
      rr[k] = Ops::set1(rho[2 * k]);
      ri[k] = Ops::set1(rho[2 * k + 1]);
    }
    auto step = [&](std::size_t jv) [[gnu::always_inline]] {
      const double* t = tau + 2 * W * R * jv;
      C x[R];
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) {
        const std::size_t v = (jv + k * qv) * W;
        x[k] = {Ops::load_i64(a + v), Ops::load_i64(a + m + v)};
        if (k > 0) x[k] = mul_const(x[k], rr[k], ri[k]);
      }
      dif<R>(x);
#pragma GCC unroll 8
      for (int p = 0; p < R; ++p) x[p] = mul_tw(x[p], t + 2 * W * p);
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) store(re + (jv + k * qv) * W, im + (jv + k * qv) * W, x[k]);
    };
    if (trails(a, re)) {
      for (std::size_t jv = qv; jv-- > 0;) step(jv);
    } else {
      for (std::size_t jv = 0; jv < qv; ++jv) step(jv);
    }
  }

  /// The last forward stages on `chunks` consecutive chunks of W x W points.
  static void dif_tail(double* re, double* im, std::size_t chunks, const double* tw) {
    for (std::size_t c = 0; c < chunks; ++c, re += W * W, im += W * W) {
      C x[W];
#pragma GCC unroll 8
      for (std::size_t k = 0; k < W; ++k) x[k] = load(re + k * W, im + k * W);
      tail_dft<W, true, false>(x);
#pragma GCC unroll 8
      for (std::size_t p = 1; p < W; ++p) x[p] = mul_tw(x[p], tw + 2 * W * (p - 1));
      transpose(x);
      tail_dft<W, true, false>(x);
#pragma GCC unroll 8
      for (std::size_t k = 0; k < W; ++k) store(re + k * W, im + k * W, x[k]);
    }
  }

  /// Inverse of dif_pass (times R).
  template <int R>
  static void dit_pass(double* re, double* im, std::size_t qv, const double* tw) {
    for (std::size_t jv = 0; jv < qv; ++jv, tw += 2 * W * (R - 1)) {
      C x[R];
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) x[k] = load(re + (jv + k * qv) * W, im + (jv + k * qv) * W);
#pragma GCC unroll 8
      for (int p = 1; p < R; ++p) x[p] = mul_conj_tw(x[p], tw + 2 * W * (p - 1));
      dit<R>(x);
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) store(re + (jv + k * qv) * W, im + (jv + k * qv) * W, x[k]);
    }
  }

  /// Inverse of dif_first_pass, then the scale and the rounding: `rho` holds conj(rho^k) times
  /// the scale (k < R), and the rounded coefficients modulo 2^64 are written (Add: added) to out.
  template <int R, bool Add>
  static void dit_last_pass(const double* re, const double* im, std::uint64_t* out, std::size_t m,
                            std::size_t qv, const double* tau, const double* rho) {
    V rr[R], ri[R];
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
      rr[k] = Ops::set1(rho[2 * k]);
      ri[k] = Ops::set1(rho[2 * k + 1]);
    }
    auto step = [&](std::size_t jv) [[gnu::always_inline]] {
      const double* t = tau + 2 * W * R * jv;
      C x[R];
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) {
        x[k] = mul_conj_tw(load(re + (jv + k * qv) * W, im + (jv + k * qv) * W), t + 2 * W * k);
      }
      dit<R>(x);
#pragma GCC unroll 8
      for (int k = 0; k < R; ++k) {
        const std::size_t v = (jv + k * qv) * W;
        // k = 0: a real scale.
        const C y = k == 0 ? C{x[k].re * rr[0], x[k].im * rr[0]} : mul_const(x[k], rr[k], ri[k]);
        Ops::template store_torus<Add>(out + v, y.re);
        Ops::template store_torus<Add>(out + m + v, y.im);
      }
    };
    if (trails(re, out)) {
      for (std::size_t jv = qv; jv-- > 0;) step(jv);
    } else {
      for (std::size_t jv = 0; jv < qv; ++jv) step(jv);
    }
  }

  /// Inverse of dif_tail (times W^2).
  static void dit_tail(double* re, double* im, std::size_t chunks, const double* tw) {
    for (std::size_t c = 0; c < chunks; ++c, re += W * W, im += W * W) {
      C x[W];
#pragma GCC unroll 8
      for (std::size_t k = 0; k < W; ++k) x[k] = load(re + k * W, im + k * W);
      tail_idft<W, true, false>(x);
      transpose(x);
#pragma GCC unroll 8
      for (std::size_t p = 1; p < W; ++p) x[p] = mul_conj_tw(x[p], tw + 2 * W * (p - 1));
      tail_idft<W, false, true>(x);
#pragma GCC unroll 8
      for (std::size_t k = 0; k < W; ++k) store(re + k * W, im + k * W, x[k]);
    }
  }

  [[gnu::always_inline]] static void transpose(C* x) {
    V r[W], i[W];
#pragma GCC unroll 8
    for (std::size_t k = 0; k < W; ++k) {
      r[k] = x[k].re;
      i[k] = x[k].im;
    }
    Ops::transpose(r);
    Ops::transpose(i);
#pragma GCC unroll 8
    for (std::size_t k = 0; k < W; ++k) x[k] = {r[k], i[k]};
  }

  static void mul_add(double* acc, const double* a, const double* b, std::size_t m) {
    for (std::size_t j = 0; j < m; j += W) {
      const V ar = vload(a + j), ai = vload(a + m + j);
      const V br = vload(b + j), bi = vload(b + m + j);
      const V cr = Ops::fmadd(ar, br, vload(acc + j));
      const V ci = Ops::fmadd(ar, bi, vload(acc + m + j));
      Ops::store(acc + j, Ops::fnmadd(ai, bi, cr));
      Ops::store(acc + m + j, Ops::fmadd(ai, br, ci));
    }
  }

  // acc[g]_c = sum_r f[g]_r * key_(r,c) for each of the G inputs g, over chunks of kPackedChunk
  // complex values (see fft.h): each key vector is loaded once for all G inputs.
  template <std::size_t G>
  static void ggsw_mac_inputs(double* const* acc, const double* const* f, const double* packed,
                              std::size_t rows, std::size_t cols, const double* prefetch,
                              std::size_t m) {
    constexpr std::size_t c8 = kPackedChunk, per = c8 / W;  // vectors per chunk component
    const std::size_t chunk_doubles = rows * cols * 2 * c8;
    for (std::size_t q = 0; q < m / c8; ++q) {
      const double* key = packed + q * chunk_doubles;
      if (prefetch) {
        const char* p = reinterpret_cast<const char*>(prefetch + q * chunk_doubles);
        for (std::size_t b = 0; b < chunk_doubles * sizeof(double); b += 64)
          __builtin_prefetch(p + b, 0, 2);
      }
      for (std::size_t c = 0; c < cols; ++c) {
        for (std::size_t v = 0; v < per; ++v) {
          V re[G], im[G];
          for (std::size_t g = 0; g < G; ++g) re[g] = im[g] = Ops::set1(0.0);
          for (std::size_t r = 0; r < rows; ++r) {
            const double* k = key + (r * cols + c) * 2 * c8 + v * W;
            const std::size_t at = r * 2 * m + q * c8 + v * W;
            const V br = vload(k), bi = vload(k + c8);
            for (std::size_t g = 0; g < G; ++g) {
              const V ar = vload(f[g] + at), ai = vload(f[g] + at + m);
              re[g] = Ops::fmadd(ar, br, re[g]);
              re[g] = Ops::fnmadd(ai, bi, re[g]);
              im[g] = Ops::fmadd(ar, bi, im[g]);
              im[g] = Ops::fmadd(ai, br, im[g]);
            }
          }
          const std::size_t out = c * 2 * m + q * c8 + v * W;
          for (std::size_t g = 0; g < G; ++g) {
            Ops::store(acc[g] + out, re[g]);
            Ops::store(acc[g] + out + m, im[g]);
          }
        }
      }
    }
  }

  static void ggsw_mac(double* acc, const double* f, const double* packed, std::size_t rows,
                       std::size_t cols, const double* prefetch, std::size_t m) {
    ggsw_mac_inputs<1>(&acc, &f, packed, rows, cols, prefetch, m);
  }

  static void ggsw_mac_pair(double* acc0, double* acc1, const double* f0, const double* f1,
                            const double* packed, std::size_t rows, std::size_t cols,
                            const double* prefetch, std::size_t m) {
    double* const acc[] = {acc0, acc1};
    const double* const f[] = {f0, f1};
    ggsw_mac_inputs<2>(acc, f, packed, rows, cols, prefetch, m);
  }

  static void mul(double* out, const double* a, const double* b, std::size_t m) {
    for (std::size_t j = 0; j < m; j += W) {
      const V ar = vload(a + j), ai = vload(a + m + j);
      const V br = vload(b + j), bi = vload(b + m + j);
      Ops::store(out + j, Ops::fmsub(ar, br, ai * bi));
      Ops::store(out + m + j, Ops::fmadd(ar, bi, ai * br));
    }
  }
};

/// Calls f(std::integral_constant<int, R>{}) for the runtime radix r (2, 4 or 8).
template <class F>
void with_radix(int r, F&& f) {
  if (r == 8) {
    f(std::integral_constant<int, 8>{});
  } else if (r == 4) {
    f(std::integral_constant<int, 4>{});
  } else {
    f(std::integral_constant<int, 2>{});
  }
}

template <class Ops>
class SimdFft final : public FftImpl {
  using K = Kernels<Ops>;
  static constexpr std::size_t W = Ops::kLanes;
  static constexpr std::size_t kChunk = W * W;  // points of one tail chunk

 public:
  explicit SimdFft(std::size_t n) : m_(n / 2) {
    std::size_t size = m_;
    for (const int r : plan_radices(m_, 2 * std::countr_zero(W), Ops::kMaxRadix)) {
      Level level{r, size, size / static_cast<std::size_t>(r) / W, {}};
      level.twiddles = make_twiddles(n, size, r, levels_.empty());
      levels_.push_back(std::move(level));
      size /= static_cast<std::size_t>(r);
    }
    tail_twiddles_ = make_twiddles(n, kChunk, static_cast<int>(W), false);
    // rho^k = exp(i pi k (m / R) / N); backward: conj(rho^k) / M times Ops::kTorusScale (a power
    // of two, see Ops::store_torus).
    const std::size_t r0 = static_cast<std::size_t>(levels_[0].radix);
    const long double scale = Ops::kTorusScale / static_cast<long double>(m_);
    for (std::size_t k = 0; k < r0; ++k) {
      const long double angle =
          kPi * static_cast<long double>(k * (m_ / r0)) / static_cast<long double>(n);
      rho_[2 * k] = static_cast<double>(std::cos(angle));
      rho_[2 * k + 1] = static_cast<double>(std::sin(angle));
      rho_back_[2 * k] = static_cast<double>(std::cos(angle) * scale);
      rho_back_[2 * k + 1] = static_cast<double>(-std::sin(angle) * scale);
    }
  }

  void forward_i64(const std::int64_t* a, double* out) const override { forward(a, out); }
  void forward_torus(const std::uint64_t* a, double* out) const override {
    // Torus coefficients are read as signed integers (same bits, an allowed alias).
    forward(reinterpret_cast<const std::int64_t*>(a), out);
  }
  void backward_add_torus(double* in, std::uint64_t* acc) const override {
    backward<true>(in, acc);
  }
  void backward_torus(double* in, std::uint64_t* out) const override { backward<false>(in, out); }
  void mul_add(double* acc, const double* a, const double* b) const override {
    K::mul_add(acc, a, b, m_);
  }
  void mul(double* out, const double* a, const double* b) const override { K::mul(out, a, b, m_); }
  void ggsw_mac(double* acc, const double* f, const double* packed, std::size_t rows,
                std::size_t cols, const double* prefetch) const override {
    K::ggsw_mac(acc, f, packed, rows, cols, prefetch, m_);
  }
  void ggsw_mac_pair(double* acc0, double* acc1, const double* f0, const double* f1,
                     const double* packed, std::size_t rows, std::size_t cols,
                     const double* prefetch) const override {
    K::ggsw_mac_pair(acc0, acc1, f0, f1, packed, rows, cols, prefetch, m_);
  }

 private:
  struct Level {
    int radix;
    std::size_t size;  // points per block
    std::size_t qv;    // vectors between the inputs of one butterfly
    AlignedVector<double> twiddles;
  };

  static constexpr long double kPi = 3.141592653589793238462643383279502884L;

  /// Twiddles of a radix-r pass over blocks of `size` points, in the order dif_pass reads them:
  /// per vector jv, per output p = 1..r-1, W real parts then W imaginary parts of
  /// exp(-2 pi i j rev(p) / size), j = jv W + lane. With the twist (the first pass, size = N/2):
  /// p = 0..r-1 and the twist exp(i pi j / N) is merged in: exp(i pi j (1 - 4 rev(p)) / N).
  static AlignedVector<double> make_twiddles(std::size_t n, std::size_t size, int r, bool twist) {
    const std::size_t radix = static_cast<std::size_t>(r);
    const std::size_t vectors = size / radix / W;
    const std::size_t first = twist ? 0 : 1;
    const int bits = std::countr_zero(radix);
    AlignedVector<double> out(vectors * (radix - first) * 2 * W);
    double* t = out.data();
    for (std::size_t jv = 0; jv < vectors; ++jv) {
      for (std::size_t p = first; p < radix; ++p, t += 2 * W) {
        for (std::size_t lane = 0; lane < W; ++lane) {
          // The angle is pi e / N, e reduced modulo 2N: -2 pi j rev / size = -pi j rev (2N /
          // size) / N.
          const std::size_t j = jv * W + lane;
          std::size_t e = 2 * n - (j * reverse_bits(p, bits) * (2 * n / size)) % (2 * n);
          if (twist) e += j;
          const long double angle =
              kPi * static_cast<long double>(e % (2 * n)) / static_cast<long double>(n);
          t[lane] = static_cast<double>(std::cos(angle));
          t[W + lane] = static_cast<double>(std::sin(angle));
        }
      }
    }
    return out;
  }

  void forward(const std::int64_t* a, double* out) const {
    double* re = out;
    double* im = out + m_;
    const Level& top = levels_[0];
    with_radix(top.radix, [&](auto r) {
      K::template dif_first_pass<r()>(a, re, im, m_, top.qv, top.twiddles.data(), rho_.data());
    });
    forward_children(0, re, im);
  }

  // The sub-blocks of a block of level `level` whose own pass is done.
  void forward_children(std::size_t level, double* re, double* im) const {
    const Level& lv = levels_[level];
    if (level + 1 == levels_.size()) {
      K::dif_tail(re, im, lv.size / kChunk, tail_twiddles_.data());
      return;
    }
    const Level& next = levels_[level + 1];
    for (std::size_t b = 0; b < lv.size; b += next.size) {
      with_radix(next.radix, [&](auto r) {
        K::template dif_pass<r()>(re + b, im + b, next.qv, next.twiddles.data());
      });
      forward_children(level + 1, re + b, im + b);
    }
  }

  template <bool Add>
  void backward(double* in, std::uint64_t* out) const {
    double* re = in;
    double* im = in + m_;
    backward_children(0, re, im);
    const Level& top = levels_[0];
    with_radix(top.radix, [&](auto r) {
      K::template dit_last_pass<r(), Add>(re, im, out, m_, top.qv, top.twiddles.data(),
                                          rho_back_.data());
    });
  }

  void backward_children(std::size_t level, double* re, double* im) const {
    const Level& lv = levels_[level];
    if (level + 1 == levels_.size()) {
      K::dit_tail(re, im, lv.size / kChunk, tail_twiddles_.data());
      return;
    }
    const Level& next = levels_[level + 1];
    for (std::size_t b = 0; b < lv.size; b += next.size) {
      backward_children(level + 1, re + b, im + b);
      with_radix(next.radix, [&](auto r) {
        K::template dit_pass<r()>(re + b, im + b, next.qv, next.twiddles.data());
      });
    }
  }

  std::size_t m_;
  std::vector<Level> levels_;  // levels_[0]: the first pass, twist merged in
  AlignedVector<double> tail_twiddles_;
  std::array<double, 16> rho_{}, rho_back_{};  // see dif_first_pass, dit_last_pass
};

}  // namespace
}  // namespace torusml::tfhe::detail
