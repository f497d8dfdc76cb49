// Internal helpers shared by the circuit serialization units (serialization*.cpp) and their
// tests: the payload encodings, framing with CircuitParameters fingerprints, and the unvalidated
// payload writers (tests use them to craft payloads). Not part of the public API.
//
// Payload layouts (format version 2; integers little-endian; "list<T>" = u64 count + items). The
// multi-parameter layouts (CircuitParameters tag 2 and what follows from it) were added to version
// 2 without changing the single-parameter ones:
//
//   CircuitParameters  u8 tag: 0 (leveled) u64 leveled_dimension, u8 noise kind, i32 bound_log2,
//                      f64 std_dev | 1 (PBS) blob (a tfhe PbsParameters record) |
//                      2 (multi-parameter PBS, kMultiParameterTag) blob of partition 0,
//                      list<blob> of partitions 1.. (1 to kMaxPartitions - 1),
//                      list of cross keyswitches: u32 from, u32 to, u64 base_log,
//                      u64 level_count (sorted by (from, to); CircuitParameters::validate()) |
//                      3 (PBS with small-key inputs, kSmallKeyInputsTag) blob, as tag 1
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
//     encoding         u8 width, bool is_signed; multi-parameter circuits (tag 2): u32 partition
//   ClientSpecification  CircuitParameters, u64 count + inputs, u64 count + outputs,
//                        list<f64> output_noise_std_lsb; argument: string name, shape,
//                        bool encrypted, encoding
//   CircuitClientKeys  CircuitParameters, blob: tfhe ClientKey (PBS) or LweSecretKey (leveled);
//                      tag 2: then list<blob> of the ClientKeys of partitions 1..
//   CircuitEvaluationKeys  CircuitParameters, bool has_key, blob: tfhe CompressedServerKey (PBS);
//                      tag 2: then list<blob> of the CompressedServerKeys of partitions 1.., and
//                      list<blob> of the SeededLweKeyswitchKeys of the cross keyswitches (in
//                      their order, written without parameters: fingerprint 0)
//   EncryptedTensor    shape, u64 dimension (of some partition's big key), u64 count,
//                      count * (dimension + 1) u64 torus values
//   EncryptedTensorList  u64 count, encrypted tensors
//   RunArguments       u64 count, encrypted tensors, u64 count, Tensors
//   SeededRunArguments u64 count, seeded tensors, u64 count, Tensors; seeded tensor: shape,
//                      u64 dimension, 32-byte mask seed, u64 count, count u64 bodies
//   PackedRunArguments (kind 108, added without changing the others) u64 count, tensors, u64
//                      count, Tensors; tensor: shape, u8 form: 0 the seeded tensor's fields
//                      after its shape | 1 packed (tfhe/packed_lwe.h): u64 glwe_dimension,
//                      u64 polynomial_size, 32-byte mask seed, u64 count, count u64 bodies
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
/// With `with_partition` (objects of multi-parameter circuits, has_partitions()), the partition
/// too.
void write_encoding(ByteWriter& w, const Encoding& e, bool with_partition);
/// Width <= 62 (the partition is checked against the parameters by the validity checks).
Encoding read_encoding(ByteReader& r, const char* field, bool with_partition);
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
/// The CircuitParameters tag of multi-parameter circuits (0: leveled, 1: one PBS parameter set).
inline constexpr std::uint8_t kMultiParameterTag = 2;
/// The tag of single-parameter PBS circuits with small-key inputs (CircuitParameters).
inline constexpr std::uint8_t kSmallKeyInputsTag = 3;
/// Whether the parameters have partition fields (a multi-parameter circuit): its objects use the
/// multi-parameter layouts (tag 2, encodings with their partition, the partitions' keys).
bool has_partitions(const CircuitParameters& p);
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
/// "2048" or, for partitions of several big key dimensions, "1536 or 2048".
std::string describe_encryption_dimensions(const CircuitParameters& p);
/// A u64 ciphertext dimension that is one of p's encryption dimensions (a big key's of some
/// partition): SerializationError naming `what` otherwise.
std::uint64_t read_encryption_dimension(ByteReader& r, const CircuitParameters& p,
                                        const char* what);
/// A tensor whose ciphertexts have one of p's encryption dimensions (SerializationError
/// otherwise).
EncryptedTensor read_encrypted_tensor(ByteReader& r, const CircuitParameters& p);

}  // namespace torusml::circuit::serialization_detail
