// Small-key inputs: lookups on fresh inputs without a keyswitch.
//
// A KS-PBS circuit computes on ciphertexts under the big key (dimension k N) and keyswitches each
// lookup's input to the small key (dimension n) before the blind rotation. A lookup whose input is
// a linear combination of the client's fresh encryptions need not: if the client encrypts those
// inputs under the small key itself, the server combines them there and bootstraps them directly.
// That saves the keyswitch (about a tenth of a 4-bit lookup) and its noise, which is most of a
// fresh lookup's budget: the input's variance is then ||w||^2 Var(lwe_noise) + MS instead of
// ||w||^2 Var(glwe_noise) + KS + MS, so the optimizer can choose a smaller n (fewer blind rotation
// steps). Tree ensembles whose comparisons are input bits (thermometer code) are such circuits: a
// layer of lookups on fresh inputs, then linear operations on their outputs.
//
// The client packs the inputs under the small key read as a GLWE key of polynomial size
// kSmallKeyPackingSize (tfhe/packed_lwe.h, lwe_key_as_glwe_key): one mask of n words per 32
// values, so n is a multiple of 32.
//
// Which values are under the small key ("the small-key region"): the encrypted program inputs, and
// every fused rounding and encrypted linear operation all of whose encrypted operands are. A
// circuit may use small-key inputs when every encrypted reader of a region value is in the region
// or a table lookup through one bootstrap (it then skips the keyswitch), and no region value is a
// program output; the other lookups keyswitch as usual. compile() weighs it with the cost model
// (lower.cpp) and uses it for single-parameter circuits only.
#pragma once

#include <optional>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit {

/// Per node: whether its ciphertexts are under the small key when the circuit's inputs are (see
/// the header). Defined by the program alone, so that compile() and run() agree.
std::vector<char> small_key_region(const Program& program);

/// Whether `program` may take small-key inputs (see the header): some lookup reads the region,
/// and every encrypted reader of a region value is in it or a lookup through one bootstrap (not an
/// exact rounding by digits, per `analysis`), and no region value is an output.
bool allows_small_key_inputs(const Program& program, const ProgramAnalysis& analysis);

/// A parameter set for small-key inputs and its cost per bootstrap in batches (core-seconds,
/// estimate_batched_pbs_seconds: without the keyswitch for the lookups on the region).
struct SmallKeyChoice {
  OptimizerResult result;
  double batched_seconds_per_pbs = 0;
};

/// The optimizer's set for `program` with small-key inputs (its region's lookups flagged
/// PbsRequirement::small_key_input) if the program allows them and its bootstraps then cost less
/// than `current_batched_seconds` (the current choice's, per evaluation, in batches); nullopt
/// otherwise, also when no set meets the requirements that way.
std::optional<SmallKeyChoice> choose_small_key_inputs(const Program& program,
                                                      const ProgramAnalysis& analysis,
                                                      const OptimizerOptions& options,
                                                      double current_batched_seconds);

}  // namespace torusml::circuit
