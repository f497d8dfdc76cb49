// The multi-bit bootstrapping key (Joye & Paillier, "Blind rotation in fully homomorphic
// encryption with extended keys", CSCML 2022; TFHE-rs core_crypto lwe_multi_bit_bootstrap_key).
//
// The n small-key bits are cut into groups of g consecutive bits (g = the grouping factor, 2 to 4;
// when g does not divide n the last group has the remaining r = n mod g bits). For a group of
// size h and each non-empty subset S of its bits (a bitmask s in [1, 2^h): bit t of s = bit
// group_start + t), the key holds a GGSW encryption of the subset's indicator
//   ind_S = prod_{i in S} s_i * prod_{i in group, i not in S} (1 - s_i)   (in {0, 1}),
// i.e. 1 exactly when the group's key bits equal S. The empty subset's indicator is implied:
// sum_S ind_S = 1, which the blind rotation uses (multi_bit_bootstrap.h). A group of size h
// has 2^h - 1 GGSWs: (n/g) (2^g - 1) in all, against n for the classic key.
//
// Forms, as for the classic key (bootstrap_key.h):
//  * LweMultiBitBootstrapKey: standard domain, GGSWs in group order then subset order s - 1;
//  * SeededLweMultiBitBootstrapKey: the bodies plus the 32-byte mask seed;
//  * FourierMultiBitBootstrapKey: Fourier domain, laid out per group for the combination step:
//    for each chunk of kPackedChunk frequencies, for each subset, for each of the (k+1)l x (k+1)
//    polynomials of a GGSW, kPackedChunk real parts then kPackedChunk imaginary parts, so one
//    group is read as one sequential stream.
// GGSW j (global index) takes its masks from (mask_seed, kMultiBitStreamBase + j + 1) and its
// noise from (noise_seed, kMultiBitStreamBase + j + 1): streams disjoint from the classic key's,
// so the two keys never share a mask even when generated from the same seeds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "torusml/common/aligned.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

// GroupingFactor and the supported range kMinGroupingFactor ... kMaxGroupingFactor are in
// parameters.h (a PbsParameters names its grouping factor).

/// First ChaCha20 stream id of the multi-bit key's GGSWs (the classic key uses 1 ... n).
inline constexpr std::uint64_t kMultiBitStreamBase = std::uint64_t{1} << 40;

struct MultiBitBootstrapKeyShape {
  LweDimension input_lwe_dimension;  // n
  GroupingFactor grouping_factor;    // g
  GgswShape ggsw;

  /// ceil(n / g) groups; the last one has group_size(groups() - 1) bits.
  std::size_t groups() const;
  /// Bits of group i: g, or n mod g for a last, partial group.
  std::size_t group_size(std::size_t group) const;
  /// Index of the first GGSW of group i: i (2^g - 1) (only the last group may be smaller).
  std::size_t first_ggsw(std::size_t group) const;
  /// Total number of GGSWs.
  std::size_t ggsw_count() const;
  /// Bytes of the standard-domain (and of the Fourier) key: ggsw_count() GGSWs of 8-byte values.
  std::size_t key_bytes() const;
  /// Bytes of the seeded key: the bodies (1/(k+1) of the GGSWs) plus the 32-byte seed.
  std::size_t seeded_key_bytes() const;
  bool operator==(const MultiBitBootstrapKeyShape&) const = default;
};

struct LweMultiBitBootstrapKey {
  MultiBitBootstrapKeyShape shape;
  std::vector<Torus> data;  // ggsw_count() GGSWs, shape.ggsw.torus_elements() each
  bool operator==(const LweMultiBitBootstrapKey&) const = default;
};

struct SeededLweMultiBitBootstrapKey {
  MultiBitBootstrapKeyShape shape;
  Seed mask_seed{};
  std::vector<Torus> bodies;  // per GGSW, per row: the N body coefficients
  bool operator==(const SeededLweMultiBitBootstrapKey&) const = default;
};

struct FourierMultiBitBootstrapKey {
  MultiBitBootstrapKeyShape shape;
  AlignedVector<double> data;  // ggsw_count() * shape.ggsw.fourier_doubles(), per-group layout
  /// The Fourier data of group i ((2^h - 1) GGSWs, h = group_size(i)).
  const double* group(std::size_t i) const {
    return data.data() + shape.first_ggsw(i) * shape.ggsw.fourier_doubles();
  }
};

/// The shape of a multi-bit key, checked: throws InvalidArgument unless 2 <= g <= 4 and
/// 1 <= n (a partial last group is allowed).
MultiBitBootstrapKeyShape make_multi_bit_bootstrap_key_shape(LweDimension n, GroupingFactor g,
                                                             const GgswShape& ggsw);

/// The indicator ind_S of subset `subset` (bitmask) of `group` for the binary key `small_key`.
std::int64_t multi_bit_subset_indicator(const LweSecretKey& small_key,
                                        const MultiBitBootstrapKeyShape& shape, std::size_t group,
                                        std::size_t subset);

/// GGSW encryptions of every group's subset indicators (see above) under big_key, seeded.
/// Parallel; the result does not depend on the thread count. Throws InvalidArgument on a bad
/// grouping factor.
SeededLweMultiBitBootstrapKey generate_seeded_multi_bit_bootstrap_key(
    const LweSecretKey& small_key, const GlweSecretKey& big_key, GroupingFactor grouping_factor,
    DecompositionParameters decomposition, const NoiseDistribution& noise, const Seed& mask_seed,
    const Seed& noise_seed);

/// The same key generated directly in the standard domain (equal to decompressing the seeded one
/// generated from the same seeds). Parallel.
LweMultiBitBootstrapKey generate_multi_bit_bootstrap_key(
    const LweSecretKey& small_key, const GlweSecretKey& big_key, GroupingFactor grouping_factor,
    DecompositionParameters decomposition, const NoiseDistribution& noise, const Seed& mask_seed,
    const Seed& noise_seed);

/// Regenerates the masks of a seeded key. Parallel. Throws InvalidArgument on a body count that
/// does not match the shape.
LweMultiBitBootstrapKey decompress_multi_bit_bootstrap_key(
    const SeededLweMultiBitBootstrapKey& seeded);

/// The Fourier form (per-group layout above) of a standard-domain key. Parallel.
FourierMultiBitBootstrapKey convert_multi_bit_bootstrap_key_to_fourier(
    const LweMultiBitBootstrapKey& key);

}  // namespace torusml::tfhe
