// Serialization of LWE ciphertexts, lists and seeded lists (framing and shared readers:
// serialization.cpp). Each is stored with the fingerprint of its parameter set.
//
// Payloads (version 1, u64 little-endian):
//   LweCiphertext            n, n + 1 values (mask then body)
//   LweCiphertextList        n, count, count * (n + 1) values
//   SeededLweCiphertextList  n, 32-byte mask seed, count, count bodies
#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/serialization_detail.h"

namespace torusml::tfhe {

namespace sd = serialization_detail;

namespace {

constexpr const char* kCiphertextAdvice =
    "encrypt with the client key of the expected parameters, or load the ciphertext with the "
    "parameters it was encrypted under";

bool is_parameter_dimension(std::size_t n, const PbsParameters& p) {
  return n == p.big_lwe_dimension().value() || n == p.lwe_dimension.value();
}

std::string dimensions_of(const PbsParameters& p) {
  return std::to_string(p.big_lwe_dimension().value()) + " (k*N) or " +
         std::to_string(p.lwe_dimension.value()) + " (n)";
}

// Validates the parameters and that a ciphertext of dimension n belongs to them; returns their
// fingerprint.
std::uint64_t writable_fingerprint(std::size_t n, const PbsParameters& params,
                                   SerializedKind kind) {
  params.validate();
  if (!is_parameter_dimension(n, params)) {
    throw ParameterMismatch("cannot serialize a " + std::string(serialized_kind_name(kind)) +
                            " of LWE dimension " + std::to_string(n) + " with " +
                            sd::describe_parameters(params) +
                            ", whose ciphertexts have dimension " + dimensions_of(params) +
                            ": pass the parameters the ciphertext was encrypted under");
  }
  return params.fingerprint();
}

// After parsing: the object must belong to `expected` (ParameterMismatch otherwise) and have one
// of its dimensions (SerializationError otherwise: the header says it belongs to them).
void check_ciphertext(std::uint64_t fingerprint, LweDimension n, const PbsParameters& expected,
                      SerializedKind kind) {
  expected.validate();  // the caller's parameters: InvalidArgument, InsecureParameters
  sd::require_fingerprint(fingerprint, expected, kind, kCiphertextAdvice);
  if (!is_parameter_dimension(n.value(), expected)) {
    sd::fail("inconsistent " + std::string(serialized_kind_name(kind)) + ": its dimension is " +
             std::to_string(n.value()) + " but " + sd::describe_parameters(expected) +
             " has dimensions " + dimensions_of(expected) +
             " (corrupted, or written by a faulty tool)");
  }
}

}  // namespace

std::vector<std::uint8_t> serialize_lwe_ciphertext(const LweCiphertext& ct,
                                                   const PbsParameters& params) {
  if (ct.data().empty())
    throw InvalidArgument("cannot serialize an empty (default-constructed) LweCiphertext");
  const std::size_t n = ct.data().size() - 1;
  const std::uint64_t fp = writable_fingerprint(n, params, SerializedKind::LweCiphertext);
  ByteWriter w;
  w.u64(n);
  sd::write_torus_values(w, ct.data());
  return sd::seal(SerializedKind::LweCiphertext, fp, w.take());
}

LweCiphertext deserialize_lwe_ciphertext(std::span<const std::uint8_t> bytes,
                                         const PbsParameters& expected) {
  constexpr auto kind = SerializedKind::LweCiphertext;
  const auto [header, payload] = sd::open(bytes, kind);
  LweCiphertext ct = sd::parse_payload(kind, payload, [](ByteReader& r) {
    const LweDimension n = sd::read_lwe_dimension(r, "ciphertext dimension");
    return LweCiphertext(sd::read_torus_values(r, n.value() + 1, "ciphertext values"));
  });
  check_ciphertext(header.parameters_fingerprint, ct.dimension(), expected, kind);
  return ct;
}

std::vector<std::uint8_t> serialize_lwe_ciphertext_list(const LweCiphertextList& list,
                                                        const PbsParameters& params) {
  const std::size_t n = list.dimension().value();
  const std::uint64_t fp = writable_fingerprint(n, params, SerializedKind::LweCiphertextList);
  if (list.data().size() != list.size() * (n + 1))
    throw InvalidArgument("cannot serialize a malformed LweCiphertextList (size mismatch)");
  ByteWriter w;
  w.u64(n);
  w.u64(list.size());
  sd::write_torus_values(w, list.data());
  return sd::seal(SerializedKind::LweCiphertextList, fp, w.take());
}

LweCiphertextList deserialize_lwe_ciphertext_list(std::span<const std::uint8_t> bytes,
                                                  const PbsParameters& expected) {
  constexpr auto kind = SerializedKind::LweCiphertextList;
  const auto [header, payload] = sd::open(bytes, kind);
  LweCiphertextList list = sd::parse_payload(kind, payload, [](ByteReader& r) {
    const LweDimension n = sd::read_lwe_dimension(r, "ciphertext dimension");
    const std::uint64_t count = sd::read_count(r, "ciphertext count", 8 * (n.value() + 1));
    LweCiphertextList l(n, static_cast<std::size_t>(count));      // bounded by the input size
    if (count != 0) r.u64_values(l.data(), "ciphertext values");  // no memcpy with null
    return l;
  });
  check_ciphertext(header.parameters_fingerprint, list.dimension(), expected, kind);
  return list;
}

std::vector<std::uint8_t> serialize_seeded_lwe_ciphertext_list(const SeededLweCiphertextList& list,
                                                               const PbsParameters& params) {
  const std::uint64_t fp =
      writable_fingerprint(list.dimension.value(), params, SerializedKind::SeededLweCiphertextList);
  ByteWriter w;
  w.u64(list.dimension.value());
  sd::write_seed(w, list.mask_seed);
  w.u64(list.bodies.size());
  sd::write_torus_values(w, list.bodies);
  return sd::seal(SerializedKind::SeededLweCiphertextList, fp, w.take());
}

SeededLweCiphertextList deserialize_seeded_lwe_ciphertext_list(std::span<const std::uint8_t> bytes,
                                                               const PbsParameters& expected) {
  constexpr auto kind = SerializedKind::SeededLweCiphertextList;
  const auto [header, payload] = sd::open(bytes, kind);
  SeededLweCiphertextList list = sd::parse_payload(kind, payload, [](ByteReader& r) {
    SeededLweCiphertextList l;
    l.dimension = sd::read_lwe_dimension(r, "ciphertext dimension");
    l.mask_seed = sd::read_seed(r, "mask seed");
    const std::uint64_t count = sd::read_count(r, "body count", 8);
    l.bodies = sd::read_torus_values(r, count, "bodies");
    return l;
  });
  check_ciphertext(header.parameters_fingerprint, list.dimension, expected, kind);
  return list;
}

}  // namespace torusml::tfhe
