// Compile-time analysis of a program over an input set: value ranges, bit widths, encodings and
// the noise weights of every encrypted value.
//
// Encodings. Encrypted values joined by linear operations (add, subtract, negate, clear products,
// matmul, sums, convolutions, data movement) must share one scaling factor: they form an
// encoding class (a union-find over the program). A class of width W encodes each value v as
// (v mod 2^(W+1)) * 2^(63 - W), one bit of padding above W message bits; signed members use two's
// complement and are offset by 2^(W-1) before a table lookup so that the index is in [0, 2^W).
// A table lookup starts a new class with its output; an exact rounding by digits
// (exact_rounding.h) is its input plus bootstrap outputs, in its input's class. W is the widest of
// the members that are read (program inputs and outputs, the inputs of bootstraps): linear
// operations are exact modulo 2^(W+1), so the other members may wrap.
//
// Noise weights. The noise variance of an encrypted value is
//   pbs_weight * Var(PBS output) + fresh_weight * Var(fresh encryption)
// with the weights propagated through linear operations as squared 2-norms (conservatively, the
// maximum over the tensor's elements). They become the optimizer's requirements.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"
#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit {

struct ValueRange {
  std::int64_t min = 0, max = 0;
  bool is_signed() const { return min < 0; }
  /// Bits of the range: unsigned bit length, or two's complement width when negative (>= 1).
  unsigned width() const;
};

struct NodeAnalysis {
  ValueRange range;            // measured over the input set
  std::int32_t encoding = -1;  // class index for encrypted values, -1 for clear ones
  double pbs_weight = 0.0;     // noise weights (encrypted values)
  double fresh_weight = 0.0;
  /// For table lookups (and lowered roundings): bits the PBS resolves and the input's rounding.
  /// For an exact rounding by digits: the widest of its bootstraps' precisions, and its r.
  unsigned pbs_precision = 0;
  /// Low bits of the input the lookup does not read: an approximate rounding fused into it, or
  /// the zero low bits of an exact rounding's result.
  std::int64_t input_lsbs_removed = 0;
  /// An encrypted exact rounding lowered by digits (exact_rounding.h): the chunks (low first).
  /// Its result joins its input's encoding class.
  bool rounding_by_digits = false;
  std::vector<unsigned> rounding_chunks;
};

struct EncodingClass {
  unsigned width = 1;  // W: message bits
  std::vector<NodeId> members;
};

struct ProgramAnalysis {
  std::vector<NodeAnalysis> nodes;  // one per program node
  std::vector<EncodingClass> classes;
  std::size_t sample_count = 0;
  /// One per table-lookup node (and exact rounding by table), one per bootstrap step of an exact
  /// rounding by digits.
  std::vector<PbsRequirement> pbs_requirements;
  std::vector<NodeId> pbs_nodes;    // the node of each requirement
  std::vector<NodeId> pbs_sources;  // the node each requirement's bootstrap reads (its class)
  std::vector<OutputRequirement> output_requirements;  // one per encrypted output
};

struct AnalysisOptions {
  unsigned max_table_bits = 10;  // widest table input accepted (compile error beyond)
  /// Declared ranges: node -> range, unioned with the range measured over the input set. For
  /// values whose extremes the input set cannot be made to reach (e.g. a sum of terms whose
  /// joint maximum is unknown), a sound bound keeps every run inside the compiled widths.
  std::map<NodeId, ValueRange> range_hints;
};

/// Measures `program` over `inputset` (samples, each one tensor per program input), widens the
/// measured ranges by options.range_hints, and derives the analysis. Chooses for every encrypted
/// exact rounding its lowering, by table or by digits (the rule is in exact_rounding.h). Throws
/// CompileError naming the operation, its measured range and the fix when a table input (with its
/// class) is wider than max_table_bits, or an encrypted value is wider than 62 bits;
/// InvalidArgument for an empty input set, inputs of the wrong shapes, or a range hint naming no
/// node of the program or with min > max.
ProgramAnalysis analyze_program(const Program& program,
                                std::span<const std::vector<Tensor>> inputset,
                                const AnalysisOptions& options = {});

/// Whether `node` (a Round node) is fused into table lookups: approximate rounding whose every
/// consumer is a table lookup.
bool is_fused_rounding(const Program& program, NodeId node);

}  // namespace torusml::circuit
