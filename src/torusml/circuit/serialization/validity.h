// What a valid object of the circuit layer is: the one place that states it (SEAL's valcheck is
// the model). Every serializer checks its object before writing it and every loader checks what it
// parsed before returning it; key generation and compilation check their parameters
// (CircuitParameters::validate(), which includes 128-bit security). An object that passes may be
// used by the runtime and the interpreter without further checks: they index tables, ciphertext
// lists and operands directly, and the bounds checked here (shapes, widths, noise values) keep
// their arithmetic within int64 and their float-to-integer conversions in range.
//
// Each function throws InvalidArgument naming the first field out of range, its value and the
// allowed range (InsecureParameters for parameters below 128-bit security, ParameterMismatch for
// nested records that belong to other parameters than their container).
#pragma once

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/runtime/runtime.h"

namespace torusml::circuit {

/// Largest noise (standard deviation in units of a value's least significant bit) that a server
/// program or client specification may carry for simulation: far above any compiled circuit's
/// (below 1 for a correct one) and far below what could overflow the simulation's arithmetic.
inline constexpr double kMaxNoiseStdLsb = 0x1.0p32;

/// Checks that a ServerProgram is internally consistent, as compile() produces it: parameters
/// valid; nodes with known operations, operands preceding them, the attributes of their operation
/// with values in sane ranges, shapes of at most kMaxSerializedElements elements; inputs listed in
/// node order; Program::validate(); one encoding per node (width 0 for clear values, 1..62 for
/// encrypted ones); one instruction per node, of the kind the node needs (Clear, Input, Alias for
/// fused approximate roundings, Linear, Bootstrap, ExactRound for an exact rounding by digits, or
/// FusedLookup for a table lookup computed by an earlier Bootstrap lookup of the same input whose
/// many-LUT group fits the polynomial: 2^(p + ceil(log2 group size) + 1) <= N),
/// with consistent static linear maps (CSR row starts, operand slots of encrypted operands,
/// element indices in range), bootstrap tables of 2^(input_width - lsbs_removed) entries that fit
/// the PBS polynomial, element tables matching the node's, exact roundings by digits reading their
/// node's input in its encoding (the result's) with 1 <= r < width, 1 to 2r + 1 steps of shifts
/// below 64 and tables of 2^p entries (p >= 1, 2^(p+1) <= N), clear tables of the clear lookups (1
/// to 2^24 entries from a start in
/// [-2^62, 2^62]), and no data in the fields its kind does not use.
/// Multi-parameter circuits (CircuitParameters::extra_partitions): every encoding's partition
/// exists (0 for clear values and for single-parameter and leveled circuits); Linear and Alias
/// nodes are in their encrypted operands' partition, ExactRound nodes in their source's; a
/// Bootstrap node's partition is its bootstrap's, and reading a source of another partition
/// needs the cross keyswitch between them in the parameters; a many-LUT group (leader and
/// FusedLookup members) is in its input's partition; tables (bootstraps, exact rounding steps,
/// many-LUT groups) fit the polynomial size of their node's partition.
/// Throws InvalidArgument describing the first inconsistency.
void validate_server_program(const ServerProgram& program);

/// Checks parameters, argument names, shapes and encodings (partitions of the circuit for
/// encrypted arguments, 0 for clear ones), and one noise value per output.
/// Throws InvalidArgument describing the first inconsistency.
void validate_client_specification(const ClientSpecification& spec);

/// Throws ParameterMismatch unless `spec` describes `program`: same parameters, and inputs and
/// outputs of the same names, shapes, encryption and encodings (ship both parts of one compile()).
void check_client_specification(const ServerProgram& program, const ClientSpecification& spec);

/// A client key set: valid parameters; for PBS circuits a TFHE client key per partition (one
/// extra key per extra partition, else InvalidArgument), each of its partition's parameter set
/// (fingerprint, else ParameterMismatch) with secret keys of its dimensions and binary
/// coefficients; for leveled ones an LWE key of the leveled dimension with binary coefficients.
void validate_client_keys(const ClientKeySet& keys);

/// An evaluation key set: valid parameters; for PBS circuits a compressed server key of the same
/// parameter set with the shapes it gives (and, if expanded, a server key of the same shapes);
/// for multi-parameter circuits likewise for every partition (compressed and expanded keys: all
/// of them or none, and every key in one form at least) and one keyswitching key per cross
/// keyswitch (seeded and/or expanded) of its shape: from's big key dimension to to's small key
/// dimension with its decomposition (else ParameterMismatch) and the data that shape needs; for
/// leveled ones no key at all.
void validate_evaluation_keys(const EvaluationKeySet& keys);

/// An encrypted tensor of a circuit with parameters `p`: one ciphertext per element of a shape of
/// rank <= 64 and at most 2^48 elements, ciphertexts of one of p's encryption dimensions (the big
/// key dimension of some partition; run() checks each input against its own partition); packed
/// ones GLWEs of some partition's big key shape, holding their elements. Throws
/// ParameterMismatch for another dimension or GLWE shape, InvalidArgument otherwise.
void validate_encrypted_tensor(const EncryptedTensor& tensor, const CircuitParameters& p);

}  // namespace torusml::circuit
