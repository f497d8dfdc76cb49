// Exact rounding of wide accumulators by digits: round_bit_pattern(x, r, RoundingMode::Exact) on
// an encrypted value with bootstraps whose table size does not grow with the width of x.
//
// Notation. x is encrypted in an encoding class of width W (analysis.h): its phase is x * D + e
// modulo q = 2^64, D = q / 2^(W+1) (one bit of padding), e the noise; signed values are two's
// complement in [-2^(W-1), 2^(W-1)), unsigned ones in [0, 2^W). The result is
//   y = round(x / 2^r) * 2^r, ties away from zero (RoundAttr; round_bit_pattern_value),
// for 1 <= r < W. A table over the W bits of x (the "table" lowering) needs a W-bit PBS; the
// "digits" lowering below reads at most W - r bits (noise margin) with tables of at most
// min(W - r, max_table_bits) input bits, and writes y in the class of x (no new encoding).
//
// 1. Ties away from zero is rounding half up of x - s, s = [x < 0], h = 2^(r-1):
//      x >= 0: y / 2^r = floor((x + h) / 2^r) (round_bit_pattern_value: quotient, plus one when
//              the remainder is >= h);
//      x < 0:  y / 2^r = -floor((|x| + h) / 2^r) = -ceil((|x| + 1 - h) / 2^r)
//                      = floor((x - 1 + h) / 2^r)          (-ceil(a / n) = floor(-a / n)).
//    So y = z - (z mod 2^r) with z = x + h - s: a floor, computed by digits (3.). Unsigned
//    inputs have s = 0.
//
// 2. The sign s (signed inputs only). Only |x| >= h matters: for -h < x < h, z is in [0, 2^r)
//    for s = 0 and s = 1 alike (h - 1 >= 0 and x + h < 2^r), so y = 0 either way. A negacyclic
//    bootstrap of x's own phase with a constant table T (a 1-bit table, boxes of q/4, "+" region
//    [-q/8, 3q/8)) and the phase offset -q/8 gives +T for a phase in [0, q/2), i.e. x >= 0, and -T
//    for [-q/2, 0), i.e. x < 0. The values that matter are at least h*D from both boundaries
//    (0 and q/2, i.e. x = 0 and x = +-2^W), so the read's margin is h*D = q / 2^(W - r + 2): a
//    (W - r)-bit read for the optimizer, on x's variance. With T = +D/2 and the constant
//    (2^r - 1) D/2 added with it, acc = x + PBS + constant = x + h - s: +D/2 + (2h - 1) D/2 = h D
//    for x >= 0, -D/2 + (2h - 1) D/2 = (h - 1) D for x < 0. Unsigned: acc = x + h.
//
// 3. z mod 2^r by digits, low chunk first. r is split into chunks c_1 + ... + c_m = r; before
//    chunk j (starting at bit s_j), acc = z_j = z - (z mod 2^(s_j)), a multiple of 2^(s_j). Then
//    k = W + 1 - s_j - c_j >= 1 and 2^k * acc has phase (multiplying a ciphertext by 2^k modulo q)
//      z_j * 2^k * D = z_j * q / 2^(s_j + c_j)  =  d * q / 2^c_j  (mod q),
//    d = (z_j / 2^(s_j)) mod 2^c_j the chunk's digit, now on the whole torus (no padding) with
//    noise 2^k e: the read's input variance is 4^k times acc's.
//    (a) The digit's top bit b = [d >= 2^(c-1)]: a negacyclic bootstrap of 2^k * acc + o, o =
//        q/2^(c+1) - q/8, with a constant 1-bit table: d q/2^c + q/2^(c+1) is in [0, q/2)
//        exactly for the digits d < 2^(c-1), which so land in the "+" region [-q/8, 3q/8), the
//        others in the "-" one, each half a digit (q / 2^(c+1)) from the boundaries: a
//        (c-1)-bit read's margin.
//        With T = +2^(s+c-1) D/2 and the constant -2^(s+c-1) D/2 added with it, acc loses
//        b * 2^(s+c-1) (in units of x), the top bit of the digit in place (0 or 2^(s+c) D/2).
//    (b) Now 2^k * acc has phase d' q / 2^c with d' = d - b 2^(c-1) in [0, 2^(c-1)): the first
//        half of the torus, as a (c-1)-bit message with one bit of padding, at the centre of box
//        d' of a (c-1)-bit table. The table T[d'] = -d' 2^s (units of x) removes the rest of the
//        digit: acc = z_j - d 2^(s_j) = z_{j+1}. A 1-bit chunk (c = 1) has d' = 0: step (a) alone.
//    After the last chunk acc = z - (z mod 2^r) = y, exactly (each step adds a whole number of D
//    to acc, so no rounding is involved).
//
// Noise. The first chunk's reads scale x's noise by 2^(W + 1 - c): its input must be as quiet as
// for a W-bit read (inherent: its lowest digit is x's lowest bit), which the optimizer meets with
// the PBS and encryption noise of the circuit's one parameter set. The keyswitch and modulus
// switch noise, added inside the bootstrap after the scaling, only need the (c-1)-bit margin, and
// the tables have 2^(c-1) entries: the polynomial size and the decompositions that a W-bit table
// would force are not needed, which is where the cost stops growing with W.
//
// Why two bootstraps per chunk. One would need the digit under a bit of padding, but after the
// scaling the bits above it are x's higher digits, not zeros; and a negacyclic table cannot give
// d on the whole torus (T(d + 2^(c-1)) = -T(d)), so the top bit goes first. The sign cannot be
// folded into a digit read either: it decides only the ties, which depend on all r low bits.
//
// Cost: [signed] + sum over chunks of (c == 1 ? 1 : 2) bootstraps per element, all keyswitch +
// PBS of the circuit's one parameter set; each is an optimizer requirement (PbsRequirement) of its
// precision (W - r for the sign, max(1, c - 1) for (a), c - 1 for (b)) on the input variance
// 4^k (Var(x) + (bootstrap outputs already added) Var(PBS)), and its failure probability counts
// in the circuit's. Chunks: as many bits as the reads may take without exceeding W - r (what the
// sign read and a lookup of the W - r kept bits need anyway) nor max_table_bits, i.e.
// c_max = max(2, min(W - r, max_table_bits) + 1), full chunks first and the remainder last
// (a remainder of 1 bit costs one bootstrap).
//
// When which lowering (analysis.cpp): "digits" for every encrypted exact rounding with
// 1 <= r < W and W - r <= max_table_bits, except that one whose input width W is at most both
// max_table_bits and the widest bootstrap precision the circuit needs anyway (measured with every
// exact rounding by digits) keeps the "table" lowering: one bootstrap instead of 2 or more, and no
// wider parameters. Other exact roundings (r = 0, r >= W) keep the table lowering.
//
// Either way the rounded value is a multiple of 2^r, so a table lookup of it reads only its
// W' - r high bits (W' its class width) at the centres of their boxes: exact, like a fused
// approximate rounding, but without its off-by-one.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/tfhe/parameters.h"

namespace torusml::circuit {

/// One bootstrap of an exact rounding by digits: the accumulator acc is read as
/// 2^shift * acc + offset (modulo q), bootstrapped with `table` (2^p entries for a p-bit read;
/// values in units of D/2 = 2^(62 - W)), and the output plus `constant` (same units) is added
/// to acc.
struct ExactRoundingStep {
  unsigned shift = 0;
  tfhe::Torus offset = 0;
  std::vector<std::int64_t> table;
  std::int64_t constant = 0;
  /// Noise margin of the read: 2^-(precision_bits + 2) of the torus.
  unsigned precision_bits = 1;
  /// Bootstrap outputs already added to acc when it is read (its variance: Var(x) + that many
  /// times Var(PBS output)).
  unsigned outputs_before = 0;
};

struct ExactRoundingPlan {
  std::int64_t initial = 0;  // added to x first (units of D/2)
  std::vector<ExactRoundingStep> steps;
};

/// Chunk sizes (low first, summing to lsbs) for rounding away `lsbs` bits of a `width`-bit value
/// (1 <= lsbs < width).
std::vector<unsigned> exact_rounding_chunks(unsigned width, unsigned lsbs, unsigned max_table_bits);

/// The steps above for a `width`-bit value: 1 <= lsbs < width <= 62, chunks (low first) of at
/// least one bit each, summing to lsbs. Throws InternalError otherwise.
ExactRoundingPlan plan_exact_rounding(unsigned width, unsigned lsbs, bool is_signed,
                                      std::span<const unsigned> chunks);

/// v in units of D/2 of a width-bit encoding: v * 2^(62 - width) modulo q (width <= 62).
inline tfhe::Torus encode_half_lsb(std::int64_t v, unsigned width) {
  return static_cast<tfhe::Torus>(v) << (62 - width);
}

}  // namespace torusml::circuit
