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

/// How the modulus switch from q to 2N rounds the mask (see modulus_switch.h).
enum class ModulusSwitchKind : std::uint8_t {
  Standard = 1,      // plain rounding
  CenteredMean = 2,  // rounding errors' key-independent mean folded into the body (halves the
                     // key-dependent variance for binary keys)
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

  /// The one definition of a valid parameter set, called by every key generation, serializer
  /// and loader. Throws InvalidArgument naming the field, its value and the allowed range unless
  /// the set is well formed (N a power of two in [256, 2^17], 1 <= p <= 16, decompositions
  /// within 63 bits, 32 for the keyswitch, noise in range, ...), and InsecureParameters unless
  /// both keys are 128-bit secure by the security curve (security.h).
  void validate() const;
  /// A 64-bit digest of every field that affects keys and ciphertexts (not name or source):
  /// stored in serialized objects to detect parameter mismatches.
  std::uint64_t fingerprint() const;

  bool operator==(const PbsParameters& o) const { return fingerprint() == o.fingerprint(); }
};

std::ostream& operator<<(std::ostream& os, const PbsParameters& p);

}  // namespace torusml::tfhe
