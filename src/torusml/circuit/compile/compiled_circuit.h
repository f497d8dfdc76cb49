// A compiled circuit: the program, its measured encodings, the chosen cryptographic parameters
// and the lowered instructions the runtime executes (the "server program"), plus what a client
// needs to encrypt inputs and decrypt outputs (the "client specification").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/compile/linear_map.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::circuit {

/// How an encrypted value is encoded: (v mod 2^(width+1)) * 2^(63 - width), under the big key of
/// partition `partition` (multi-parameter circuits, CircuitParameters; 0 in the others).
struct Encoding {
  unsigned width = 0;
  bool is_signed = false;
  std::uint32_t partition = 0;
  bool operator==(const Encoding&) const = default;
};

/// Largest dimension of a leveled circuit's key.
inline constexpr std::size_t kMaxLeveledDimension = std::size_t{1} << 21;

/// Largest number of parameter partitions of a multi-parameter circuit.
inline constexpr std::size_t kMaxPartitions = 16;

/// Cryptographic parameters of a circuit: with bootstraps (a KS-PBS set) or leveled only (one LWE
/// key, no evaluation key).
///
/// Multi-parameter circuits (Concrete's multi-parameter optimization; issue 12): the lookups are
/// split into partitions, each with its own KS-PBS set (partition 0 is `pbs`, the others
/// `extra_partitions`) and keys. A value lives under one partition's big key (Encoding::partition);
/// linear operations combine values of one partition; a lookup of partition q reading a value of
/// partition p != q keyswitches it with the cross keyswitching key p -> q (big key of p to small
/// key of q, decomposition cross_keyswitches[i].ks, noise q's lwe_noise) before q's bootstrap.
struct CircuitParameters {
  bool uses_pbs = false;
  tfhe::PbsParameters pbs;                // when uses_pbs: partition 0
  tfhe::LweDimension leveled_dimension;   // when !uses_pbs
  tfhe::NoiseDistribution leveled_noise;  // when !uses_pbs
  /// Multi-parameter circuits only (uses_pbs): partitions 1.., and the keyswitches between
  /// partitions, sorted by (from, to), each pair at most once. Empty for single-parameter circuits.
  std::vector<tfhe::PbsParameters> extra_partitions;
  std::vector<CrossKeyswitchParameters> cross_keyswitches;
  /// Small-key inputs (single-parameter PBS circuits whose encrypted inputs reach nothing but
  /// linear operations and table lookups; compile/small_key_inputs.h): the client encrypts every
  /// encrypted input under the small LWE key (dimension n, noise lwe_noise), packed
  /// kSmallKeyPackingSize values per mask, and the lookups that read them skip the keyswitch.
  /// n is then a multiple of kSmallKeyPackingSize.
  bool small_key_inputs = false;

  /// 1 + extra_partitions.size() (1 for leveled circuits).
  std::size_t partition_count() const { return 1 + extra_partitions.size(); }
  /// The KS-PBS set of partition p (< partition_count(); PBS circuits).
  const tfhe::PbsParameters& partition(std::size_t p) const {
    return p == 0 ? pbs : extra_partitions.at(p - 1);
  }
  /// Index in cross_keyswitches of the keyswitch from -> to, or -1 if there is none.
  std::ptrdiff_t cross_keyswitch_index(std::uint32_t from, std::uint32_t to) const;
  /// The encryption key's dimension and noise (big key of partition p for PBS circuits).
  tfhe::LweDimension encryption_dimension(std::uint32_t p = 0) const {
    return uses_pbs ? partition(p).big_lwe_dimension() : leveled_dimension;
  }
  tfhe::NoiseDistribution encryption_noise(std::uint32_t p = 0) const {
    return uses_pbs ? partition(p).glwe_noise : leveled_noise;
  }
  /// The key dimension and noise of encrypted program inputs of partition p: the small key's
  /// with small_key_inputs, else encryption_dimension(p) and encryption_noise(p).
  tfhe::LweDimension input_dimension(std::uint32_t p = 0) const {
    return small_key_inputs ? pbs.lwe_dimension : encryption_dimension(p);
  }
  tfhe::NoiseDistribution input_noise(std::uint32_t p = 0) const {
    return small_key_inputs ? pbs.lwe_noise : encryption_noise(p);
  }
  /// The GLWE shape packed inputs of partition p have (PBS circuits): the small key read as
  /// n / kSmallKeyPackingSize polynomials of kSmallKeyPackingSize coefficients with
  /// small_key_inputs, else the partition's GLWE key (k, N).
  tfhe::GlweDimension input_glwe_dimension(std::uint32_t p = 0) const {
    return small_key_inputs ? tfhe::GlweDimension(pbs.lwe_dimension.value() / kSmallKeyPackingSize)
                            : partition(p).glwe_dimension;
  }
  tfhe::PolynomialSize input_polynomial_size(std::uint32_t p = 0) const {
    return small_key_inputs ? tfhe::PolynomialSize(kSmallKeyPackingSize)
                            : partition(p).polynomial_size;
  }
  /// Whether some partition's big key has dimension d, or with small_key_inputs the small key
  /// (ciphertexts of this circuit have one).
  bool is_encryption_dimension(tfhe::LweDimension d) const;
  /// Whether packed inputs of some partition have GLWE shape (k, n) (input_glwe_dimension,
  /// input_polynomial_size; PBS circuits).
  bool is_input_packing_shape(tfhe::GlweDimension k, tfhe::PolynomialSize n) const;
  /// A 64-bit digest of every field (stored in serialized objects to detect mismatches); the
  /// partition fields enter it only when non-empty (single-parameter digests are unchanged).
  std::uint64_t fingerprint() const;
  /// The one definition of valid circuit parameters, called by compilation, key generation and
  /// every loader: PbsParameters::validate() (well formed, 128-bit secure) for PBS circuits, for
  /// every partition (at most kMaxPartitions), and cross keyswitches between distinct existing
  /// partitions, sorted by (from, to) without repeats, with base_log * level_count in [1, 32]; for
  /// leveled ones a dimension in [1, 2^21], a well-formed noise (the other kind's field zero, so
  /// that the encoding is canonical), 128-bit security and no partition fields. Throws
  /// InvalidArgument naming the field and InsecureParameters (tfhe/security.h).
  void validate() const;
  bool operator==(const CircuitParameters& o) const { return fingerprint() == o.fingerprint(); }
};

enum class InstructionKind : std::uint8_t {
  Input = 1,        // an encrypted program input
  Clear = 2,        // a clear value computed in the clear (evaluate_node)
  Linear = 3,       // LinearMap over encrypted operands
  Alias = 4,        // a fused rounding: the same ciphertexts as its input
  Bootstrap = 5,    // keyswitch + PBS per element with materialized tables
  ExactRound = 6,   // exact rounding by digits: a few keyswitch + PBS per element (below)
  FusedLookup = 7,  // a table lookup computed by an earlier lookup's many-LUT bootstrap
};

/// A table lookup (or a lowered rounding) as the runtime executes it: for each element, the
/// input ciphertext (of `source`, offset by `offset`) is bootstrapped with the table
/// tables[element_table[i]] over indices b in [0, 2^(input_width - lsbs_removed)), where index b
/// stands for the input value b * 2^lsbs_removed - offset.
struct BootstrapInstruction {
  NodeId source = -1;
  unsigned input_width = 0;
  unsigned lsbs_removed = 0;
  std::int64_t offset = 0;
  std::vector<std::vector<std::int64_t>> tables;
  std::vector<std::int32_t> element_table;
  /// Gaussian noise standard deviation at the blind rotation, in units of the input value's
  /// least significant bit (for simulation).
  double noise_std_lsb = 0;
  double log2_p_error = 0;
  /// FusedLookup only: the earlier node (a Bootstrap lookup of the same input) whose many-LUT
  /// bootstrap also computes this node (compile/many_lut.h); -1 otherwise. A Bootstrap node named
  /// by FusedLookup nodes runs one bootstrap per element for itself and them, output j for the
  /// j-th of the group in node order (itself first).
  NodeId fused_into = -1;
};

/// One bootstrap of an exact rounding by digits (exact_rounding.h, ExactRoundingStep): acc is
/// read as 2^shift * acc + offset (modulo 2^64), bootstrapped with the table `table`
/// (2^p entries for a p-bit read, values in units of 2^(62 - input_width): half the input's least
/// significant bit) and the output plus `constant` (same units) is added to acc.
struct RoundingStep {
  unsigned shift = 0;
  tfhe::Torus offset = 0;
  std::vector<std::int64_t> table;
  std::int64_t constant = 0;
  /// Gaussian noise standard deviation of the read phase at the blind rotation, in units of the
  /// table's box (2^-(p+1) of the torus), and the read's failure probability (for simulation).
  double noise_std_box = 0;
  double log2_p_error = 0;
  bool operator==(const RoundingStep&) const = default;
};

/// An exact rounding lowered by digits: acc = source + initial (units of 2^(62 - input_width)),
/// then every step in order; acc is the node's value, in the source's encoding (same class).
struct ExactRoundInstruction {
  NodeId source = -1;
  unsigned input_width = 0;   // W: the encoding width of the source and of the result
  unsigned lsbs_removed = 0;  // r
  std::int64_t initial = 0;
  std::vector<RoundingStep> steps;
  bool operator==(const ExactRoundInstruction&) const = default;
};

struct Instruction {
  InstructionKind kind = InstructionKind::Clear;
  NodeId node = -1;
  bool map_is_static = false;  // the LinearMap was built at compile time (constant operands)
  LinearMap map;
  BootstrapInstruction bootstrap;
  ExactRoundInstruction rounding;  // kind ExactRound
  /// A table lookup on clear values: materialized over [table_min, table_min + size).
  std::int64_t clear_table_min = 0;
  std::vector<std::vector<std::int64_t>> clear_tables;
};

/// Bootstraps one element of the instruction's node costs: 1 for Bootstrap, its steps for
/// ExactRound, 0 otherwise (a FusedLookup's is its leader's).
std::uint64_t bootstraps_per_element(const Instruction& ins);

/// Everything the server needs (no key): the program (table functions materialized), the
/// instructions and the parameters.
struct ServerProgram {
  Program program;
  std::vector<Instruction> instructions;  // one per node, in order
  std::vector<Encoding> encodings;        // one per node (width 0 for clear values)
  CircuitParameters parameters;
};

/// What a client needs: parameters, input and output shapes and encodings.
struct ClientSpecification {
  CircuitParameters parameters;
  struct Argument {
    std::string name;
    Shape shape;
    bool encrypted = true;
    Encoding encoding;
  };
  std::vector<Argument> inputs;
  std::vector<Argument> outputs;
  /// Decryption noise of each output, in units of its least significant bit (for simulation).
  std::vector<double> output_noise_std_lsb;
};

/// Printable statistics of a compiled circuit.
struct CircuitStatistics {
  std::uint64_t pbs_count = 0;           // per evaluation of one sample
  std::uint64_t keyswitch_count = 0;     // one per PBS
  std::uint64_t table_lookup_nodes = 0;  // table lookups and roundings through bootstraps
  /// Of pbs_count: the bootstraps of exact roundings by digits (exact_rounding.h), and the widest
  /// precision they read.
  std::uint64_t exact_rounding_pbs_count = 0;
  unsigned exact_rounding_max_bits = 0;
  /// Lookups evaluated in groups by many-LUT bootstraps (compile/many_lut.h), and the bootstraps
  /// they take (of pbs_count): many_lut_lookups - many_lut_pbs_count bootstraps saved.
  std::uint64_t many_lut_lookups = 0;
  std::uint64_t many_lut_pbs_count = 0;
  std::uint64_t linear_terms = 0;    // multiply-accumulates of ciphertexts per sample
  unsigned max_bit_width = 0;        // widest encrypted value
  unsigned max_table_bits = 0;       // widest PBS precision
  double estimated_pbs_seconds = 0;  // one KS + PBS, one core, lone (cost model)
  /// One KS + PBS in batches on every core, core-seconds (estimate_batched_pbs_seconds: how
  /// circuits run them).
  double estimated_batched_pbs_seconds = 0;
  double estimated_latency_seconds = 0;  // one sample, all cores, batched bootstraps
  double log2_global_p_error = 0;
  std::uint64_t client_key_bytes = 0, evaluation_key_bytes = 0, evaluation_key_seeded_bytes = 0;
  /// Per sample: inputs in full form (PBS circuits: packed GLWEs) and seeded (what a client
  /// uploads), outputs.
  std::uint64_t input_ciphertext_bytes = 0, input_seeded_bytes = 0, output_ciphertext_bytes = 0;
  /// Multi-parameter circuits: per partition, its bootstraps per sample, the widest precision
  /// they read, those that keyswitch from another partition's key, and one KS + PBS's cost model.
  struct Partition {
    std::uint64_t pbs_count = 0;
    unsigned max_table_bits = 0;
    std::uint64_t cross_keyswitch_count = 0;
    double estimated_pbs_seconds = 0;
  };
  std::vector<Partition> partitions;  // one per partition (one entry for PBS circuits)
  /// The estimated cost of the same circuit with one parameter set (0 if not weighed).
  double single_parameter_estimated_seconds = 0;
  std::string to_string(const CircuitParameters& parameters) const;
};

}  // namespace torusml::circuit
