// The client artifact's versioned binary record (kind ClientArtifact = 110 of the TFHE layer's
// framing, tfhe/serialization.h: 24-byte header with the circuit parameters' fingerprint, the
// payload, a BLAKE2b-256 checksum). Payload, little-endian ("list<T>": u64 count + items):
//
//   u8 model kind | blob: the circuit's ClientSpecification record (u64 length + record)
//   input   u64 n_features, list<f64> offset, list<f64> scale,
//           list<quantizer: u8 n_bits, u8 signed, u8 symmetric, f64 scale, i64 zero point>,
//           u8 encoding (TreeInputEncoding), u8 encoding_bits
//   output  u8 sum_axis1, list<f64> scale, list<f64> zero, u8 has graph, graph (graph_encoding.h)
//   transform list<f64> value_scale, list<f64> value_offset, u8 task, u8 link,
//           u8 probability method, u8 label rule,
//           list<target: u64 start, u64 width, list<string> classes>, u8 output_is_1d
//
// Changing the layout is a format change (the known-answer test in tests/deploy pins it).
// Loading untrusted bytes checks the framing, bounds every count by the remaining bytes before
// allocating, validates enumerations, quantizers and the embedded specification, then the whole
// artifact (validate_client_artifact: shapes against the circuit, a trial run of the
// post-processing graph). SerializationError names what is wrong; ParameterMismatch when
// `expected` parameters are given and the artifact belongs to another circuit.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/deploy/client_artifact.h"

namespace torusml::deploy {

/// Throws InvalidArgument if validate_client_artifact() fails.
std::vector<std::uint8_t> serialize_client_artifact(const ClientArtifact& artifact);
ClientArtifact deserialize_client_artifact(std::span<const std::uint8_t> bytes,
                                           const circuit::CircuitParameters* expected = nullptr);

}  // namespace torusml::deploy
