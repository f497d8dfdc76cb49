// Internal helpers shared by the serialization translation units (serialization*.cpp): framing
// (header + checksum), bounded readers that check sizes before allocating, and error messages.
// Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::tfhe::serialization_detail {

// Sanity limits on dimensions read from untrusted bytes (the largest PbsParameters::validate()
// allows; every real object is far below).
inline constexpr std::uint64_t kMaxLweDimension = std::uint64_t{1} << 21;  // k*N <= 16 * 2^17
inline constexpr std::uint64_t kMaxGlweDimension = 16;
inline constexpr std::uint64_t kMinPolynomialSize = 256;
inline constexpr std::uint64_t kMaxPolynomialSize = std::uint64_t{1} << 17;
inline constexpr std::size_t kMaxStringBytes = 4096;

/// Throws SerializationError(message).
[[noreturn]] void fail(const std::string& message);

/// "tfhe_4bit (fingerprint 0x...)" for a preset, "an unnamed parameter set (fingerprint 0x...)"
/// otherwise, "no parameter set" for 0.
std::string describe_fingerprint(std::uint64_t fingerprint);
/// "<name> (fingerprint 0x...)".
std::string describe_parameters(const PbsParameters& params);

/// Frames `payload`: header, payload, checksum.
std::vector<std::uint8_t> seal(SerializedKind kind, std::uint64_t fingerprint,
                               std::vector<std::uint8_t> payload);

/// Checks magic, version, kind (== expected), size and checksum; returns the header and the
/// payload bytes (a view into `bytes`). Throws SerializationError.
std::pair<SerializedHeader, std::span<const std::uint8_t>> open(std::span<const std::uint8_t> bytes,
                                                                SerializedKind expected);

/// Throws ParameterMismatch unless `found` (a header's fingerprint) is expected's fingerprint.
/// `advice` says what to do, e.g. "encrypt with the matching client key".
void require_fingerprint(std::uint64_t found, const PbsParameters& expected, SerializedKind kind,
                         const char* advice);

/// Runs parse(reader) on the payload, requires that it consumes every byte, and prefixes any
/// SerializationError with the kind.
template <class Parse>
auto parse_payload(SerializedKind kind, std::span<const std::uint8_t> payload, Parse&& parse) {
  try {
    ByteReader reader(payload);
    auto result = parse(reader);
    reader.expect_end("payload");
    return result;
  } catch (const SerializationError& e) {
    throw SerializationError("invalid " + std::string(serialized_kind_name(kind)) +
                             " payload: " + e.what());
  }
}

/// a * b, or SerializationError if it overflows.
std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const char* what);

/// A u64 in [lo, hi], else SerializationError naming the field.
std::uint64_t read_bounded(ByteReader& r, const char* field, std::uint64_t lo, std::uint64_t hi);
/// An LWE dimension in [1, kMaxLweDimension].
LweDimension read_lwe_dimension(ByteReader& r, const char* field);
/// A GLWE dimension in [1, kMaxGlweDimension] and a power-of-two polynomial size in
/// [kMinPolynomialSize, kMaxPolynomialSize].
GlweDimension read_glwe_dimension(ByteReader& r, const char* field);
PolynomialSize read_polynomial_size(ByteReader& r, const char* field);
/// base_log and level_count, both >= 1 with base_log * level_count <= 63.
void write_decomposition(ByteWriter& w, const DecompositionParameters& d);
DecompositionParameters read_decomposition(ByteReader& r, const char* field);

void write_seed(ByteWriter& w, const Seed& seed);
Seed read_seed(ByteReader& r, const char* field);

/// The values, 8 bytes each, without a count.
void write_torus_values(ByteWriter& w, std::span<const Torus> values);
/// `count` values; checks that the input holds them before allocating.
std::vector<Torus> read_torus_values(ByteReader& r, std::uint64_t count, const char* field);
/// The same for the 32-bit values of keyswitching keys (4 bytes each).
void write_key_torus_values(ByteWriter& w, std::span<const KeyswitchTorus> values);
std::vector<KeyswitchTorus> read_key_torus_values(ByteReader& r, std::uint64_t count,
                                                  const char* field);
/// A u64 element count, at most what the remaining bytes can hold at `bytes_each` per element.
std::uint64_t read_count(ByteReader& r, const char* field, std::uint64_t bytes_each);

/// The parameter fields (name and source included), and their reading (validated).
void write_parameters(ByteWriter& w, const PbsParameters& params);
PbsParameters read_parameters(ByteReader& r);

}  // namespace torusml::tfhe::serialization_detail
