// Strong types for TFHE dimensions and decomposition parameters, noise distributions, and the
// parameter set of a keyswitch + programmable bootstrapping (KS-PBS) pipeline.
//
// Notation (Chillotti et al., "TFHE: Fast Fully Homomorphic Encryption over the Torus", JoC 2020):
//  n  = LweDimension of the small LWE key (input of the blind rotation),
//  k  = GlweDimension, N = PolynomialSize (the big key has dimension k*N),
//  (B = 2^base_log, l = level_count) = a gadget decomposition,
//  q  = 2^64, the ciphertext modulus (the torus is represented by uint64_t).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace torusml::tfhe {

/// The torus T = R/Z represented modulo q = 2^64.
using Torus = std::uint64_t;

/// An integer quantity that only converts to its own kind: LweDimension(918) cannot be passed
/// where a PolynomialSize is expected.
template <class Tag>
class StrongSize {
 public:
  constexpr StrongSize() = default;
  constexpr explicit StrongSize(std::size_t v) : value_(v) {}
  constexpr std::size_t value() const noexcept { return value_; }
  constexpr auto operator<=>(const StrongSize&) const = default;
  friend std::ostream& operator<<(std::ostream& os, StrongSize s) {
    return os << Tag::name() << "(" << s.value_ << ")";
  }

 private:
  std::size_t value_ = 0;
};

struct LweDimensionTag {
  static constexpr const char* name() { return "LweDimension"; }
};
struct GlweDimensionTag {
  static constexpr const char* name() { return "GlweDimension"; }
};
struct PolynomialSizeTag {
  static constexpr const char* name() { return "PolynomialSize"; }
};
struct DecompositionBaseLogTag {
  static constexpr const char* name() { return "DecompositionBaseLog"; }
};
struct DecompositionLevelCountTag {
  static constexpr const char* name() { return "DecompositionLevelCount"; }
};
struct GroupingFactorTag {
  static constexpr const char* name() { return "GroupingFactor"; }
};

/// Number of mask elements of an LWE ciphertext (the ciphertext holds n + 1 torus elements).
using LweDimension = StrongSize<LweDimensionTag>;
/// Number k of mask polynomials of a GLWE ciphertext.
using GlweDimension = StrongSize<GlweDimensionTag>;
/// Degree bound N of the polynomials of Z[X]/(X^N + 1); a power of two.
using PolynomialSize = StrongSize<PolynomialSizeTag>;
/// log2 of the decomposition base B.
using DecompositionBaseLog = StrongSize<DecompositionBaseLogTag>;
/// Number l of levels of a gadget decomposition.
using DecompositionLevelCount = StrongSize<DecompositionLevelCountTag>;
/// Number g of small-key bits per group of the multi-bit blind rotation
/// (multi_bit_bootstrap_key.h); 1 in a PbsParameters means the classic blind rotation.
using GroupingFactor = StrongSize<GroupingFactorTag>;

/// The grouping factors of the multi-bit bootstrapping key (multi_bit_bootstrap_key.h).
inline constexpr std::size_t kMinGroupingFactor = 2;
inline constexpr std::size_t kMaxGroupingFactor = 4;

/// Largest base_log * level_count of a keyswitching decomposition: the keyswitching key lives
/// modulo 2^32 (keyswitch_key.h).
inline constexpr std::size_t kKeyswitchModulusBits = 32;

/// Parameters of a signed gadget decomposition: base 2^base_log, level_count levels,
/// base_log * level_count <= 64.
struct DecompositionParameters {
  DecompositionBaseLog base_log;
  DecompositionLevelCount level_count;
  constexpr bool operator==(const DecompositionParameters&) const = default;
};

/// The distribution of encryption noise, in torus units (a fraction of q).
///  * TUniform(b): integers uniform in [-2^b, 2^b], the two ends with half weight
///    (TFHE-rs's bounded distribution); variance (2^(2b+1) + 1) / (6 q^2).
///  * Gaussian(std): a rounded normal distribution with the given standard deviation.
struct NoiseDistribution {
  enum class Kind : std::uint8_t { TUniform = 1, Gaussian = 2 };
  Kind kind = Kind::Gaussian;
  int bound_log2 = 0;    // TUniform only
  double std_dev = 0.0;  // Gaussian only, in torus units

  static NoiseDistribution tuniform(int bound_log2) { return {Kind::TUniform, bound_log2, 0.0}; }
  static NoiseDistribution gaussian(double std_dev) { return {Kind::Gaussian, 0, std_dev}; }
  /// Variance in torus units (fraction of q, squared).
  double variance() const;
  bool operator==(const NoiseDistribution&) const = default;
};

std::ostream& operator<<(std::ostream& os, const NoiseDistribution& d);

/// How the modulus switch from q to 2N rounds the mask (see modulus_switch.h). The values are
/// part of the serialized parameters: never renumber one.
enum class ModulusSwitchKind : std::uint8_t {
  Standard = 1,           // plain rounding
  CenteredMean = 2,       // rounding errors' key-independent mean folded into the body (halves the
                          // key-dependent variance for binary keys)
  Drift = 3,              // modulus switch noise reduction (encryptions of zero added to lower the
                          // expected squared error), then the Standard switch
                          // (modulus_switch_noise_reduction.h)
  DriftCenteredMean = 4,  // noise reduction lowering the key-dependent variance, then the
                          // CenteredMean switch
};

/// The kind's name ("Standard", "CenteredMean", "Drift", "DriftCenteredMean"; "?" if invalid).
const char* to_string(ModulusSwitchKind kind);

/// Whether `kind` adds encryptions of zero before switching (it then needs the server key's
/// ModulusSwitchNoiseReductionKey and PbsParameters::ms_noise_reduction).
constexpr bool uses_noise_reduction(ModulusSwitchKind kind) {
  return kind == ModulusSwitchKind::Drift || kind == ModulusSwitchKind::DriftCenteredMean;
}

/// Bounds of ModulusSwitchNoiseReduction (PbsParameters::validate()).
inline constexpr std::size_t kMaxModulusSwitchZeros = std::size_t{1} << 16;
inline constexpr std::size_t kMaxModulusSwitchRounds = 64;

/// Parameters of the modulus switch noise reduction (the Drift kinds): the server key carries
/// zeros_count encryptions of zero under the small key with noise zeros_noise, and before each
/// modulus switch at most max_rounds of them (or their negations) are added, greedily
/// (modulus_switch_noise_reduction.h). Default (all zero) for the other kinds.
struct ModulusSwitchNoiseReduction {
  std::size_t zeros_count = 0;  // Z
  std::size_t max_rounds = 0;   // R
  NoiseDistribution zeros_noise{};
  bool operator==(const ModulusSwitchNoiseReduction&) const = default;
};

/// One KS-PBS parameter set: p-bit messages with one bit of padding, ciphertexts between
/// operations under the big key (dimension k*N), PBS = keyswitch to the small key, modulus
/// switch, blind rotation, sample extraction.
struct PbsParameters {
  std::string name;
  unsigned message_bits = 0;  // p: messages in [0, 2^p), delta = 2^63 / 2^p
  LweDimension lwe_dimension;
  GlweDimension glwe_dimension;
  PolynomialSize polynomial_size;
  NoiseDistribution lwe_noise;   // small key: keyswitching key
  NoiseDistribution glwe_noise;  // big key: bootstrapping key and fresh encryptions
  DecompositionParameters pbs;   // bootstrapping key decomposition
  DecompositionParameters ks;    // keyswitching key decomposition
  ModulusSwitchKind modulus_switch = ModulusSwitchKind::CenteredMean;
  /// Drift kinds only (uses_noise_reduction); all zero otherwise.
  ModulusSwitchNoiseReduction ms_noise_reduction;
  /// The blind rotation: 1 = classic (one CMux per small-key bit, bootstrap.h), g in [2, 4] =
  /// multi-bit of grouping factor g (ceil(n/g) external products with a key of
  /// ceil(n/g) (2^g - 1) GGSWs, multi_bit_bootstrap.h; n need not be a multiple of g). Multi-bit
  /// sets use the Standard or CenteredMean modulus switch (not the Drift kinds). The server key
  /// then holds the multi-bit key instead of the classic one (keys.h).
  GroupingFactor grouping_factor{1};
  /// 2-norm of the linear combination in front of the PBS that the failure probability assumes.
  double max_two_norm = 1.0;
  /// Where the values come from, and their security claim.
  std::string source;

  /// Dimension k*N of the big LWE key (the extracted GLWE key).
  LweDimension big_lwe_dimension() const {
    return LweDimension(glwe_dimension.value() * polynomial_size.value());
  }
  /// Scaling factor of messages: 2^(63 - p).
  Torus delta() const { return Torus{1} << (63 - message_bits); }
  /// Whether the bootstrap is multi-bit (grouping_factor > 1).
  bool is_multi_bit() const { return grouping_factor.value() > 1; }

  /// The one definition of a valid parameter set, called by every key generation, serializer
  /// and loader. Throws InvalidArgument naming the field, its value and the allowed range unless
  /// the set is well formed (N a power of two in [256, 2^17], 1 <= p <= 16, decompositions
  /// within 63 bits, 32 for the keyswitch, noise in range, ...; for the Drift kinds
  /// 1 <= zeros_count <= 2^16 and 1 <= max_rounds <= 64, all zero for the others;
  /// 1 <= grouping_factor <= 4, and > 1 only with the Standard or CenteredMean switch), and
  /// InsecureParameters unless both keys (and, for the Drift kinds, the encryptions of zero under
  /// the small key) are 128-bit secure by the security curve (security.h).
  void validate() const;
  /// A 64-bit digest of every field that affects keys and ciphertexts (not name or source):
  /// stored in serialized objects to detect parameter mismatches. ms_noise_reduction enters it
  /// only for the Drift kinds, grouping_factor only when > 1 (the digests of the classic sets of
  /// the other kinds are those of earlier versions).
  std::uint64_t fingerprint() const;

  bool operator==(const PbsParameters& o) const { return fingerprint() == o.fingerprint(); }
};

std::ostream& operator<<(std::ostream& os, const PbsParameters& p);

}  // namespace torusml::tfhe
