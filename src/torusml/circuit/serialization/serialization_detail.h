// Internal helpers shared by the circuit serialization units (serialization*.cpp) and their
// tests: the payload encodings, framing with CircuitParameters fingerprints, and the unvalidated
// payload writers (tests use them to craft payloads). Not part of the public API.
//
// Payload layouts (format version 2; integers little-endian; "list<T>" = u64 count + items):
//
//   CircuitParameters  bool uses_pbs; uses_pbs: blob (a tfhe PbsParameters record);
//                      else u64 leveled_dimension, u8 noise kind, i32 bound_log2, f64 std_dev
//   ServerProgram      CircuitParameters, u64 node count, nodes, list<i32> inputs,
//                      list<i32> outputs, one instruction per node, one encoding per node
//     node             u8 op (OpKind), list<i32> operands, attributes, shape, bool encrypted,
//                      string label
//     attributes       u8 tag (AttributeTag in serialization_program.cpp), then per tag:
//                      Input: string name, bool encrypted | Constant: Tensor |
//                      Sum: list<i64> axes, bool keepdims | Reshape, BroadcastTo: list<i64> shape |
//                      Transpose: list<i64> perm | Concat: i64 axis |
//                      Slice: list<i64> starts, stops, steps | Take: i64 axis, list<i64> indices |
//                      Pad: list<i64> before, after, i64 value |
//                      Table: list<string> function names, list<i32> element_table |
//                      Round: i64 lsbs_to_remove, u8 mode |
//                      Conv2d: list<i64> strides, pads, dilations, i64 groups |
//                      Pool2d: list<i64> kernel, strides, pads
//     instruction      u8 kind (InstructionKind), then per kind:
//                      Input, Alias: nothing |
//                      Clear: i64 clear_table_min, u64 count, list<i64> per table |
//                      Linear: bool map_is_static; static: i64 outputs, list<i64> row_start,
//                        list<i32> slot, list<i64> index, list<i64> coeff, list<i64> constant |
//                      Bootstrap: i32 source, u8 input_width, u8 lsbs_removed, i64 offset,
//                        u64 count, list<i64> per table, list<i32> element_table,
//                        f64 noise_std_lsb, f64 log2_p_error |
//                      ExactRound (kind 6, added without changing the layout of the others):
//                        i32 source, u8 input_width, u8 lsbs_removed, i64 initial, u64 count,
//                        then per step: u8 shift, u64 offset, i64 constant, list<i64> table,
//                        f64 noise_std_box, f64 log2_p_error |
//                      FusedLookup (kind 7, likewise added): the Bootstrap layout, then
//                        i32 fused_into (the earlier Bootstrap node whose many-LUT bootstrap
//                        computes it)
//     encoding         u8 width, bool is_signed
//   ClientSpecification  CircuitParameters, u64 count + inputs, u64 count + outputs,
//                        list<f64> output_noise_std_lsb; argument: string name, shape,
//                        bool encrypted, encoding
//   CircuitClientKeys  CircuitParameters, blob: tfhe ClientKey (PBS) or LweSecretKey (leveled)
//   CircuitEvaluationKeys  CircuitParameters, bool has_key, blob: tfhe CompressedServerKey (PBS)
//   EncryptedTensor    shape, u64 dimension, u64 count, count * (dimension + 1) u64 torus values
//   EncryptedTensorList  u64 count, encrypted tensors
//   RunArguments       u64 count, encrypted tensors, u64 count, Tensors
//   SeededRunArguments u64 count, seeded tensors, u64 count, Tensors; seeded tensor: shape,
//                      u64 dimension, 32-byte mask seed, u64 count, count u64 bodies
//
//   bool u8 0/1; string u32 length + bytes (<= kMaxStringBytes); shape u64 rank (<= kMaxRank)
//   + i64 extents; Tensor shape + i64 values; blob u64 length + bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/serialization_detail.h"

namespace torusml::circuit::serialization_detail {

using tfhe::SerializedKind;

inline constexpr std::size_t kMaxStringBytes = 4096;
inline constexpr std::uint64_t kMaxRank = 64;
/// Bound on the absolute value of the integer attributes that describe shapes (axes, extents,
/// slices, indices, pads, strides, ...): keeps shape arithmetic far from int64 overflow.
inline constexpr std::int64_t kMaxAttributeMagnitude = std::int64_t{1} << 48;

/// Throws SerializationError(message).
[[noreturn]] void fail(const std::string& message);

// ---- Primitive encodings ----

void write_bool(ByteWriter& w, bool v);
bool read_bool(ByteReader& r, const char* field);
/// Throws InvalidArgument if `s` exceeds kMaxStringBytes.
void write_string(ByteWriter& w, std::string_view s, const char* field);
std::string read_string(ByteReader& r, const char* field);
void write_i64s(ByteWriter& w, std::span<const std::int64_t> values);
std::vector<std::int64_t> read_i64s(ByteReader& r, const char* field);
void write_i32s(ByteWriter& w, std::span<const std::int32_t> values);
std::vector<std::int32_t> read_i32s(ByteReader& r, const char* field);
void write_shape(ByteWriter& w, const Shape& shape);
/// Rank <= kMaxRank, extents >= 0, at most kMaxSerializedElements elements.
Shape read_shape(ByteReader& r, const char* field);
void write_tensor(ByteWriter& w, const Tensor& t);
Tensor read_tensor(ByteReader& r, const char* field);
void write_encoding(ByteWriter& w, const Encoding& e);
/// Width <= 62.
Encoding read_encoding(ByteReader& r, const char* field);
void write_blob(ByteWriter& w, std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> read_blob(ByteReader& r, const char* field);

/// Element count of a shape already read (<= kMaxSerializedElements).
std::size_t elements_of(const Shape& shape);

// ---- Parameters ----

/// Throws InvalidArgument unless the parameters are usable (PbsParameters::validate(), or a
/// leveled dimension in [1, 2^21] and a valid noise distribution).
void validate_parameters(const CircuitParameters& p);
/// "PBS parameters tfhe_4bit (fingerprint 0x...)" or "leveled parameters n=..., ...".
std::string describe_parameters(const CircuitParameters& p);
std::string hex64(std::uint64_t v);
void write_parameters(ByteWriter& w, const CircuitParameters& p);
/// Validated (SerializationError).
CircuitParameters read_parameters(ByteReader& r);

// ---- Framing ----

/// Header (with p's fingerprint), payload, checksum.
std::vector<std::uint8_t> seal(SerializedKind kind, const CircuitParameters& p,
                               std::vector<std::uint8_t> payload);

/// Checks the framing of one object of `kind`; with `expected`, that the header's fingerprint is
/// its own (ParameterMismatch ending with `advice` otherwise). Returns the header and payload.
std::pair<tfhe::SerializedHeader, std::span<const std::uint8_t>> open(
    std::span<const std::uint8_t> bytes, SerializedKind kind, const CircuitParameters* expected,
    const char* advice);

/// SerializationError unless the parameters stored in a payload have the header's fingerprint.
void require_header_fingerprint(const tfhe::SerializedHeader& header, const CircuitParameters& p);

/// Runs parse(reader) on the payload and requires that it consumes every byte; SerializationError
/// messages are prefixed with the kind.
template <class Parse>
auto parse_payload(SerializedKind kind, std::span<const std::uint8_t> payload, Parse&& parse) {
  return tfhe::serialization_detail::parse_payload(kind, payload, std::forward<Parse>(parse));
}

/// Runs check() and turns its InvalidArgument or ParameterMismatch (nested records disagreeing)
/// into a SerializationError saying that the loaded `what` is inconsistent; InsecureParameters
/// passes through with its own type.
template <class Check>
void check_loaded(const char* what, Check&& check) {
  try {
    check();
  } catch (const InsecureParameters&) {
    throw;
  } catch (const InvalidArgument& e) {
    fail(std::string("the loaded ") + what + " is inconsistent: " + e.what());
  } catch (const ParameterMismatch& e) {
    fail(std::string("the loaded ") + what + " is inconsistent: " + e.what());
  }
}

// ---- Object payloads ----

/// Unvalidated writers (the public serializers validate first).
void write_server_program(ByteWriter& w, const ServerProgram& sp);
void write_client_specification(ByteWriter& w, const ClientSpecification& spec);
ClientSpecification read_client_specification(ByteReader& r);
void write_encrypted_tensor(ByteWriter& w, const EncryptedTensor& t);

/// Structural readers: bounded counts, known tags, operands preceding their node; the caller
/// validates the whole object afterwards.
ServerProgram read_server_program(ByteReader& r);

/// Throws ParameterMismatch (wrong dimension) or InvalidArgument (count != elements of the shape,
/// malformed list) for a tensor that cannot be written with `p`.
void check_writable_tensor(const EncryptedTensor& t, const CircuitParameters& p);
/// A tensor whose ciphertexts have p's encryption dimension (SerializationError otherwise).
EncryptedTensor read_encrypted_tensor(ByteReader& r, const CircuitParameters& p);

}  // namespace torusml::circuit::serialization_detail
