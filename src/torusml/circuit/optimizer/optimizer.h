// Choice of cryptographic parameters for a compiled circuit, from the noise model
// (tfhe/noise_model.h) and the 128-bit security curve (tfhe/security.h).
//
// The compiler summarises a circuit as requirements: for every group of programmable bootstraps,
// the precision they must resolve and the variance of their input as a linear combination of PBS
// outputs and fresh encryptions (the squared 2-norms of the weights); for every decrypted output,
// its bit width and variance likewise. The optimizer searches, in the style of Concrete's
// optimizer (Bergerat et al., "Parameter Optimization and Larger Precision for (T)FHE", JoC 2023),
// the cheapest KS-PBS parameter set (n, k, N, PBS and KS decompositions; noise distributions at
// the security curve's minimum for their dimensions) such that every PBS fails with probability
// at most p_error (or the whole circuit at most global_p_error) and every output decrypts
// correctly with at least the same confidence.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "torusml/tfhe/parameters.h"

namespace torusml::circuit {

struct CircuitParameters;  // compile/compiled_circuit.h

/// A group of identical PBS requirements.
struct PbsRequirement {
  /// Bits the PBS must resolve (its table's input width): the error at the blind rotation must
  /// stay below 2^-(precision_bits + 2) of the torus (half a box).
  unsigned precision_bits = 1;
  /// Input variance = pbs_weight * Var(PBS output) + fresh_weight * Var(fresh encryption): the
  /// squared 2-norms of the linear combination feeding the PBS.
  double pbs_weight = 0.0;
  double fresh_weight = 1.0;
  /// How many PBS share this requirement (cost model and global failure probability).
  std::uint64_t count = 1;
  /// The input is a linear combination of fresh encryptions under the small key (the client
  /// encrypts such inputs under it, kSmallKeyPackingSize values per mask): no keyswitch, and the
  /// input variance is fresh_weight * Var(lwe_noise) + MS (pbs_weight must be 0).
  bool small_key_input = false;
};

/// Polynomial size under which small-key inputs are packed: the small key of dimension n is read
/// as a GLWE key of n / kSmallKeyPackingSize polynomials of this size (tfhe/packed_lwe.h,
/// lwe_key_as_glwe_key), so n is a multiple of it when some requirement has small_key_input.
inline constexpr std::size_t kSmallKeyPackingSize = 32;

/// A decrypted output (or any value that must decrypt correctly): width_bits of message.
struct OutputRequirement {
  unsigned width_bits = 1;
  double pbs_weight = 0.0;
  double fresh_weight = 1.0;
  std::uint64_t count = 1;
};

/// A modulus switch the optimizer may choose (tfhe/parameters.h, ModulusSwitchKind): for the
/// Drift kinds, zeros_count encryptions of zero and at most max_rounds rounds
/// (tfhe/modulus_switch_noise_reduction.h; their noise is the small key's).
struct ModulusSwitchCandidate {
  tfhe::ModulusSwitchKind kind = tfhe::ModulusSwitchKind::CenteredMean;
  std::size_t zeros_count = 0, max_rounds = 0;
};

/// CenteredMean, and DriftCenteredMean with (Z, R) = (256, 1), (1024, 1), (1024, 2), (4096, 2).
/// (Drift is left out: at equal Z and R it costs the same as DriftCenteredMean and leaves a larger
/// error, noise_model.h.)
std::vector<ModulusSwitchCandidate> default_modulus_switch_candidates();

struct OptimizerOptions {
  /// Failure probability allowed for each PBS (and each output decryption).
  double p_error = 0x1.0p-40;
  /// If set, the probability that any PBS or output of one circuit evaluation fails; p_error is
  /// then derived from it (and ignored).
  std::optional<double> global_p_error;
  /// Bounds of the search.
  unsigned min_log2_polynomial_size = 8, max_log2_polynomial_size = 17;
  unsigned max_glwe_dimension = 6;
  /// The modulus switches to choose from: the cheapest parameter set over all of them wins (the
  /// Drift kinds' noise reduction counted in the cost model). Empty: the default candidates.
  std::vector<ModulusSwitchCandidate> modulus_switch_candidates;
  /// The blind rotations to choose from (tfhe::PbsParameters::grouping_factor): 1 the classic
  /// one, 2..4 the multi-bit one of that grouping factor. Crossed with the modulus switch
  /// candidates, a multi-bit factor only with the Standard and CenteredMean ones; the cheapest
  /// set by the cost model wins. Empty: default_grouping_factors(). Each must be in [1, 4]
  /// (InvalidArgument otherwise, and when no (factor, modulus switch) pair is compatible, e.g.
  /// {2} with only Drift candidates). Multi-bit keys are larger: (2^g - 1)/g times the classic
  /// bootstrapping key for the same n (tfhe::expanded_server_key_bytes).
  std::vector<std::size_t> grouping_factors;
  /// The small LWE dimension n is a multiple of this (>= 1; kSmallKeyPackingSize is applied
  /// whenever a requirement has small_key_input).
  std::size_t lwe_dimension_multiple = 1;
};

/// {1, 2}: the classic blind rotation and the multi-bit one of grouping factor 2, the cheaper by
/// the batched cost model (estimate_batched_pbs_seconds). Measured on the model benchmarks
/// (bench/ml_trees.py, bench/ml_nn.py, 2026-11-30): g = 2 makes 4- and 5-bit tree ensembles
/// 1.2-1.3x faster and the 6-bit CNN 1.25x for a 1.5x bootstrapping key; g = 3 adds 2-7% for a
/// 2.3x key (the XGBoost circuit's seeded keys stay under 40 MB with g = 2: 29 MB; with g = 3 a
/// 5-bit forest's grow from 41 to 64 MB), so it is weighed only when asked ({1, 2, 3}). g = 4
/// combines 15 GGSWs per group and never costs less than g = 3 here.
std::vector<std::size_t> default_grouping_factors();

/// The chosen parameters, their estimated cost and their failure probabilities.
struct OptimizerResult {
  /// message_bits = the widest PBS precision; name "optimized_<bits>bit", with "_mb<g>" appended
  /// for a multi-bit set (grouping_factor g > 1).
  tfhe::PbsParameters parameters;
  double estimated_pbs_seconds = 0;  // cost model: one KS + PBS on one core
  double log2_worst_p_error = 0;     // the largest per-PBS failure probability
  double log2_global_p_error = 0;    // P(any PBS or output fails), union bound
  std::string summary;               // one human-readable line
};

/// Variance at the blind rotation of a PBS of `p` whose input combines fresh encryptions under the
/// small key with squared 2-norm fresh_weight (PbsRequirement::small_key_input): fresh_weight *
/// Var(lwe_noise) + the modulus switch (no keyswitch).
double small_key_pbs_variance(const tfhe::PbsParameters& p, double fresh_weight);

/// Parameters for a circuit with bootstraps: the cheapest set by estimate_batched_pbs_seconds over
/// the search space (classic and multi-bit blind rotations, OptimizerOptions::grouping_factors).
/// Every requirement is checked with the noise model (PBS outputs of variance
/// tfhe::variance_pbs_output). Throws InvalidArgument on invalid requirements or options,
/// CompileError (naming the widest precision and the target) if no 128-bit-secure set in the
/// search space satisfies the requirements.
OptimizerResult optimize_pbs_parameters(std::span<const PbsRequirement> pbs,
                                        std::span<const OutputRequirement> outputs,
                                        const OptimizerOptions& options = {});

/// Multi-parameter circuits (Concrete's "multi-parameter" optimization): lookups of different
/// precisions get their own KS-PBS parameter sets. Partition p has its own keys (small key n_p,
/// big key k_p N_p); every value lives under one partition's big key. A PBS requirement names the
/// partition whose bootstrapping key runs it (its output is under that partition's big key) and
/// the source partition whose big key its input is under: its weights refer to the source's PBS
/// outputs and fresh encryptions. When source != partition the PBS keyswitches with a cross key
/// (source's big key -> partition's small key, CrossKeyswitchParameters), so its input variance
/// at the blind rotation is
///   w Var_out(s) + f Var_fresh(s) + variance_keyswitch(k_s N_s, ks, lwe_noise_p) + MS(p)
/// with Var_out(s) = tfhe::variance_pbs_output(s's parameters) (classic or multi-bit, each
/// partition its own grouping factor), Var_fresh(s) = Var(glwe_noise_s).
struct PartitionedPbsRequirement {
  PbsRequirement requirement;
  /// Whose bootstrapping key runs the PBS (and whose big key its output is under).
  std::uint32_t partition = 0;
  /// Under whose big key the input lives (the weights refer to it).
  std::uint32_t source = 0;
};
struct PartitionedOutputRequirement {
  OutputRequirement requirement;
  std::uint32_t partition = 0;  // the key it is decrypted with
};
/// A keyswitch from partition `from`'s big key to partition `to`'s small key (noise: `to`'s
/// lwe_noise).
struct CrossKeyswitchParameters {
  std::uint32_t from = 0, to = 0;
  tfhe::DecompositionParameters ks;
  bool operator==(const CrossKeyswitchParameters&) const = default;
};
struct PartitionedOptimizerResult {
  /// One per partition (message_bits = its widest PBS precision; name
  /// "optimized_<bits>bit[_mb<g>]", with "_p<partition>" appended when there are several).
  std::vector<tfhe::PbsParameters> partitions;
  /// One per (source, partition) pair with source != partition among the requirements, sorted
  /// by (from, to).
  std::vector<CrossKeyswitchParameters> cross;
  /// Per partition: one KS + PBS with its own keyswitch (estimate_pbs_seconds).
  std::vector<double> estimated_pbs_seconds;
  /// Sum over the PBS requirements of count * (KS from the source's big key + PBS), one core,
  /// lone (estimate_pbs_seconds) and in a batch (estimate_batched_pbs_seconds).
  double estimated_total_seconds = 0;
  double estimated_batched_total_seconds = 0;
  double log2_worst_p_error = 0;   // the largest per-PBS failure probability
  double log2_global_p_error = 0;  // P(any PBS or output fails), union bound
  std::string summary;             // one line per partition, then one of totals
};
/// Parameters for a partitioned circuit: the cheapest sets found (estimated_batched_total_seconds)
/// such that every PBS and output fails with probability at most p_error (or global_p_error divided
/// by the total count, as optimize_pbs_parameters). Preconditions (else InvalidArgument):
/// partition_count >= 1, every partition and source < partition_count, every partition
/// 0..partition_count-1 runs at least one PBS requirement, weights and precisions as for
/// optimize_pbs_parameters. Throws CompileError (naming the partition when one alone is
/// infeasible) if no 128-bit-secure sets meet the requirements. With one partition the set is
/// optimize_pbs_parameters'. Deterministic; a few searches of optimize_pbs_parameters' kind.
PartitionedOptimizerResult optimize_partitioned_parameters(
    std::span<const PartitionedPbsRequirement> pbs,
    std::span<const PartitionedOutputRequirement> outputs, std::size_t partition_count,
    const OptimizerOptions& options = {});

/// Parameters of a circuit without bootstraps: one LWE key (dimension n, noise at the security
/// curve) large enough that every output decrypts correctly. Leveled circuits need no
/// evaluation key.
struct LeveledParameters {
  tfhe::LweDimension lwe_dimension;
  tfhe::NoiseDistribution noise;
  double log2_global_p_error = 0;
  std::string summary;
};
LeveledParameters optimize_leveled_parameters(std::span<const OutputRequirement> outputs,
                                              const OptimizerOptions& options = {});

/// Cost model (seconds on one core of this machine class) of one KS + PBS with `p`, dispatching
/// on p.grouping_factor. Classic (g = 1):
///   n [fft (k+1)(l+1)(N/2)log2(N/2) + key (k+1)^2 l N + extra_level (k+1)^2 (l-1) N [N >= 8192]]
///   + keyswitch k N l_ks (n+1)
/// (n CMuxes: forward and inverse FFTs and one pass over a GGSW; the keyswitching key's rows),
/// plus, for the Drift modulus switch kinds, tfhe::estimate_noise_reduction_seconds(p).
/// Multi-bit (g > 1):
///   ceil(n/g) [mb_fft (k+1)(l+1)(N/2)log2(N/2) + mb_key (2^g - 1)(k+1)^2 l N]
///   + keyswitch k N l_ks (n+1)
/// (per group one external product's FFTs and the combination of its 2^g - 1 GGSWs in the
/// Fourier domain). Both kinds measured alike: one lone KS + PBS on one thread. Precondition: p
/// well formed (grouping_factor in [1, 4]).
double estimate_pbs_seconds(const tfhe::PbsParameters& p);

/// Cost model of one KS + PBS of `p` whose keyswitch reads a big key of dimension `ks_input`
/// (a cross keyswitch, instead of p's own k*N): the keyswitch term is ks_input l_ks (n+1).
double estimate_pbs_seconds(const tfhe::PbsParameters& p, tfhe::LweDimension ks_input);

/// Cost model of one KS + PBS of `p` inside batches on every core, in core-seconds: the terms
/// above with constants fitted to batches (a batch walks the keys in lockstep, 16 ciphertexts per
/// thread, classic CMuxes in pairs, so each key is read once per walk and the Fourier work
/// dominates: 0.3-0.8 of a lone one). The optimizers rank parameter sets by this cost, the way
/// circuits run their lookups (in batches on every core); the circuits' latency estimate uses it
/// too. The second overload keyswitches from a big key of dimension `ks_input`, as
/// estimate_pbs_seconds's.
double estimate_batched_pbs_seconds(const tfhe::PbsParameters& p);
double estimate_batched_pbs_seconds(const tfhe::PbsParameters& p, tfhe::LweDimension ks_input);

/// The cost model's constants (seconds per unit of each term above), lone or batched, fitted to
/// measurements by bench/cost_model_fit (which prints a refit of both for the machine it runs on).
struct CostModelConstants {
  double fft = 0, key = 0, keyswitch = 0, extra_level = 0;
  double multi_bit_fft = 0, multi_bit_key = 0;
};
CostModelConstants cost_model_constants(bool batched = false);

/// Cost model (seconds on one core) of a client's encryption of one input ciphertext of
/// dimension `dimension` (the uniform mask drawn from the CSPRNG, the key product, the noise):
/// linear in dimension + 1, calibrated with bench_tfhe encrypt/<preset>.
double estimate_encryption_seconds(tfhe::LweDimension dimension);

/// Cost model (seconds on one core) of a client's encryption of `values` inputs of partition p
/// as encrypt_inputs() does it: PBS circuits pack them, N per GLWE of the partition's big key
/// (per GLWE: k*N mask words and k exact products with the key, by 16-bit limbs in the Fourier
/// domain; per value a noise sample), counted as values / N GLWEs since a batch's values share
/// them; with small-key inputs, kSmallKeyPackingSize per GLWE of the small key (about n / 2
/// additions per value); leveled circuits encrypt an LWE ciphertext per value
/// (estimate_encryption_seconds). Calibrated with bench_tfhe encrypt_packed/<preset> and
/// encrypt_packed_small/<preset>.
double estimate_input_encryption_seconds(const CircuitParameters& parameters, double values,
                                         std::uint32_t partition = 0);

}  // namespace torusml::circuit
