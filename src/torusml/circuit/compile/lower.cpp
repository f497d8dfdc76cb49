// Lowering of an analysed program to the server program and client specification: parameter
// choice, encodings, instructions with materialized tables, statistics.
#include "torusml/circuit/compile/lower.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "torusml/circuit/compile/exact_rounding.h"
#include "torusml/circuit/compile/many_lut.h"
#include "torusml/circuit/compile/partition.h"
#include "torusml/circuit/compile/small_key_inputs.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/validity.h"

namespace torusml::circuit {

namespace {

// Tables of a lookup (or lowered rounding) node over its PBS indices: index b stands for the
// input value b * 2^lsbs - offset; the node's own semantics (evaluate_node) give the outputs.
std::vector<std::vector<std::int64_t>> materialize_tables(const Node& node, unsigned index_bits,
                                                          std::int64_t lsbs, std::int64_t offset) {
  const std::int64_t size = std::int64_t{1} << index_bits;
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(size));
  for (std::int64_t b = 0; b < size; ++b)
    inputs[static_cast<std::size_t>(b)] = b * (std::int64_t{1} << lsbs) - offset;
  const Tensor in({size}, inputs);
  const Tensor* ptr[] = {&in};
  std::vector<std::vector<std::int64_t>> out;
  Node probe = node;
  probe.shape = {size};
  probe.inputs.resize(1);
  if (node.op == OpKind::TableLookup) {
    const auto& attr = std::get<TableAttr>(node.attributes);
    for (const auto& fn : attr.tables) {
      probe.attributes = TableAttr{{fn}, {}};
      const Tensor t = evaluate_node(probe, ptr);
      out.emplace_back(t.values().begin(), t.values().end());
    }
  } else {
    const Tensor t = evaluate_node(probe, ptr);
    out.emplace_back(t.values().begin(), t.values().end());
  }
  return out;
}

// Tables of a clear lookup over the measured range of its input.
void materialize_clear_tables(const Node& node, const ValueRange& input, Instruction& ins) {
  const std::int64_t size = input.max - input.min + 1;
  if (size > (std::int64_t{1} << 24)) {
    std::ostringstream os;
    os << "compile: clear table lookup '" << node.label << "' spans " << size
       << " input values; at most 2^24 are supported";
    throw CompileError(os.str());
  }
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(size));
  std::iota(inputs.begin(), inputs.end(), input.min);
  const Tensor in({size}, inputs);
  const Tensor* ptr[] = {&in};
  Node probe = node;
  probe.shape = {size};
  ins.clear_table_min = input.min;
  const auto& attr = std::get<TableAttr>(node.attributes);
  for (const auto& fn : attr.tables) {
    probe.attributes = TableAttr{{fn}, {}};
    const Tensor t = evaluate_node(probe, ptr);
    ins.clear_tables.emplace_back(t.values().begin(), t.values().end());
  }
}

// The first preset (by increasing cost) that meets every requirement, or nullopt.
std::optional<OptimizerResult> preset_meeting(std::span<const PbsRequirement> pbs,
                                              std::span<const OutputRequirement> outputs,
                                              const OptimizerOptions& opt) {
  std::uint64_t total = 0;
  for (const auto& r : pbs) total += r.count;
  for (const auto& r : outputs) total += r.count;
  const double target =
      opt.global_p_error
          ? *opt.global_p_error / static_cast<double>(std::max<std::uint64_t>(total, 1))
          : opt.p_error;
  unsigned widest = 1;
  for (const auto& r : pbs) widest = std::max(widest, r.precision_bits);
  for (const tfhe::PbsParameters& preset : tfhe::all_presets()) {
    if (preset.message_bits < widest) continue;
    const double out = tfhe::variance_pbs_output(preset);
    const double fresh = preset.glwe_noise.variance();
    const tfhe::PbsNoise base = tfhe::pbs_noise(preset, 0.0, 1.0);
    double worst = -std::numeric_limits<double>::infinity(),
           log2_sum = -std::numeric_limits<double>::infinity();
    auto account = [&](double variance, unsigned bits, std::uint64_t count) {
      const double lp =
          tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(bits) - 2), variance);
      worst = std::max(worst, lp);
      const double l = lp + std::log2(static_cast<double>(count));
      log2_sum = std::isinf(log2_sum)
                     ? l
                     : std::max(log2_sum, l) + std::log2(1.0 + std::exp2(-std::fabs(log2_sum - l)));
    };
    for (const auto& r : pbs)
      account(r.pbs_weight * out + r.fresh_weight * fresh + base.keyswitch + base.modulus_switch,
              r.precision_bits, r.count);
    for (const auto& r : outputs)
      account(r.pbs_weight * out + r.fresh_weight * fresh, r.width_bits, r.count);
    if (worst > std::log2(target)) continue;
    OptimizerResult res;
    res.parameters = preset;
    res.estimated_pbs_seconds = estimate_pbs_seconds(preset);
    res.log2_worst_p_error = worst;
    res.log2_global_p_error = log2_sum;
    res.summary = "preset " + preset.name;
    return res;
  }
  return std::nullopt;
}

OptimizerResult choose_pbs_parameters(std::span<const PbsRequirement> pbs,
                                      std::span<const OutputRequirement> outputs,
                                      const OptimizerOptions& opt,
                                      CompileOptions::ParameterSource source) {
  if (source == CompileOptions::ParameterSource::Presets) {
    if (auto r = preset_meeting(pbs, outputs, opt)) return *r;
    throw CompileError(
        "compile: no parameter preset meets this circuit's precision and failure probability; "
        "use the optimizer (the default), fewer bits, or a larger p_error");
  }
  try {
    return optimize_pbs_parameters(pbs, outputs, opt);
  } catch (const CompileError&) {
    if (auto r = preset_meeting(pbs, outputs, opt)) return *r;  // the presets are the fallback
    throw;
  }
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000.0 && u < 4) {
    b /= 1000.0;
    ++u;
  }
  std::ostringstream os;
  os.precision(b < 10 ? 2 : 3);
  os << b << " " << units[u];
  return os.str();
}

}  // namespace

std::string CircuitStatistics::to_string(const CircuitParameters& p) const {
  std::ostringstream os;
  os << "FHE circuit statistics (per sample)\n";
  os << "  programmable bootstraps: " << pbs_count << " (" << table_lookup_nodes
     << " table-lookup nodes), keyswitches: " << keyswitch_count << "\n";
  if (exact_rounding_pbs_count > 0)
    os << "  of which exact roundings by digits: " << exact_rounding_pbs_count
       << " bootstraps reading at most " << exact_rounding_max_bits << " bits\n";
  if (many_lut_lookups > 0)
    os << "  many-LUT: " << many_lut_lookups << " table lookups in " << many_lut_pbs_count
       << " bootstraps (" << many_lut_lookups - many_lut_pbs_count << " saved)\n";
  os << "  linear multiply-accumulates of ciphertexts: " << linear_terms << "\n";
  os << "  widest encrypted value: " << max_bit_width
     << " bits, widest table input: " << max_table_bits << " bits\n";
  const auto print_set = [&](const tfhe::PbsParameters& q) {
    os << q.name << ": n=" << q.lwe_dimension.value() << " k=" << q.glwe_dimension.value()
       << " N=" << q.polynomial_size.value() << " pbs=2^" << q.pbs.base_log.value() << "x"
       << q.pbs.level_count.value() << " ks=2^" << q.ks.base_log.value() << "x"
       << q.ks.level_count.value();
    if (q.is_multi_bit()) os << " multi-bit g=" << q.grouping_factor.value();
  };
  if (p.uses_pbs && p.partition_count() > 1) {
    os << "  parameters: " << p.partition_count()
       << " partitions (multi-parameter, 128-bit security each)\n";
    for (std::size_t q = 0; q < p.partition_count(); ++q) {
      os << "    partition " << q << ": ";
      print_set(p.partition(q));
      if (q < partitions.size()) {
        const Partition& s = partitions[q];
        os << "; " << s.pbs_count << " PBS of at most " << s.max_table_bits << " bits";
        if (s.cross_keyswitch_count > 0)
          os << " (" << s.cross_keyswitch_count << " keyswitched from another partition)";
        os << ", " << s.estimated_pbs_seconds * 1e3 << " ms each";
      }
      os << "\n";
    }
    for (const CrossKeyswitchParameters& c : p.cross_keyswitches)
      os << "    keyswitch " << c.from << " -> " << c.to << ": 2^" << c.ks.base_log.value() << "x"
         << c.ks.level_count.value() << "\n";
    if (single_parameter_estimated_seconds > 0)
      os << "  one parameter set would cost " << single_parameter_estimated_seconds * 1e3
         << " ms of bootstraps per sample on one core (in batches)\n";
  } else if (p.uses_pbs) {
    os << "  parameters: ";
    print_set(p.pbs);
    os << " (128-bit security)\n";
    if (p.small_key_inputs)
      os << "  inputs encrypted under the small key (n=" << p.pbs.lwe_dimension.value()
         << ", packed " << kSmallKeyPackingSize
         << " per mask): lookups on them skip the keyswitch\n";
  } else {
    os << "  parameters: leveled only (no bootstrap), LWE n=" << p.leveled_dimension.value()
       << ", noise std 2^" << std::log2(std::sqrt(p.leveled_noise.variance()))
       << " (128-bit security)\n";
  }
  os << "  failure probability of one evaluation: 2^" << log2_global_p_error << "\n";
  os << "  estimated cost: " << estimated_pbs_seconds * 1e3 << " ms per PBS on one core ("
     << estimated_batched_pbs_seconds * 1e3 << " in a batch), latency "
     << estimated_latency_seconds * 1e3 << " ms per sample on all cores (batched)\n";
  os << "  keys: client " << human_bytes(static_cast<double>(client_key_bytes)) << ", evaluation "
     << human_bytes(static_cast<double>(evaluation_key_bytes)) << " (seeded "
     << human_bytes(static_cast<double>(evaluation_key_seeded_bytes)) << ")\n";
  os << "  ciphertexts per sample: inputs "
     << human_bytes(static_cast<double>(input_ciphertext_bytes)) << " (seeded "
     << human_bytes(static_cast<double>(input_seeded_bytes)) << "), outputs "
     << human_bytes(static_cast<double>(output_ciphertext_bytes)) << "\n";
  return os.str();
}

LoweredCircuit lower_program(const Program& program, std::span<const std::vector<Tensor>> inputset,
                             const CompileOptions& options) {
  ProgramAnalysis analysis =
      analyze_program(program, inputset, {options.max_table_bits, options.range_hints});
  OptimizerOptions opt = options.optimizer;
  opt.p_error = options.p_error;
  opt.global_p_error = options.global_p_error;

  ServerProgram server;
  server.program = program;
  CircuitStatistics stats;
  ManyLutPlan many_lut;
  // Each encoding class's partition (all 0 with one parameter set).
  std::vector<std::uint32_t> class_partition(analysis.classes.size(), 0);
  if (!analysis.pbs_requirements.empty()) {
    // Many-LUT groups (many_lut.h) and the parameters, chosen together.
    const ManyLutChoice choice = choose_many_lut_parameters(
        analysis, options.many_lut ? find_many_lut_groups(program, analysis) : ManyLutPlan{},
        [&](std::span<const PbsRequirement> reqs) {
          return choose_pbs_parameters(reqs, analysis.output_requirements, opt,
                                       options.parameter_source);
        });
    many_lut = choice.plan;
    const OptimizerResult& r = choice.parameters;
    server.parameters.uses_pbs = true;
    server.parameters.pbs = r.parameters;
    stats.estimated_pbs_seconds = r.estimated_pbs_seconds;
    stats.estimated_batched_pbs_seconds = estimate_batched_pbs_seconds(r.parameters);
    // Multi-parameter (partition.h): kept when the cost model finds it clearly cheaper.
    if (options.multi_parameter &&
        options.parameter_source == CompileOptions::ParameterSource::Optimizer) {
      std::uint64_t bootstraps = 0;
      for (const PbsRequirement& q : analysis.pbs_requirements) bootstraps += q.count;
      bootstraps -= many_lut.fused_lookups() - many_lut.bootstraps();
      const double single =
          estimate_batched_pbs_seconds(r.parameters) * static_cast<double>(bootstraps);
      stats.single_parameter_estimated_seconds = single;
      if (std::optional<PartitionChoice> m = choose_partitions(
              program, analysis, opt, single / std::max(options.multi_parameter_gain, 1.0))) {
        many_lut = {};  // many-LUT groups stay within one parameter set: not combined
        class_partition = m->plan.class_partition;
        server.parameters.pbs = m->result.partitions[0];
        server.parameters.extra_partitions.assign(m->result.partitions.begin() + 1,
                                                  m->result.partitions.end());
        server.parameters.cross_keyswitches = m->result.cross;
        stats.estimated_pbs_seconds = m->result.estimated_total_seconds /
                                      static_cast<double>(std::max<std::uint64_t>(bootstraps, 1));
        stats.estimated_batched_pbs_seconds =
            m->result.estimated_batched_total_seconds /
            static_cast<double>(std::max<std::uint64_t>(bootstraps, 1));
      }
    }
    // Small-key inputs (small_key_inputs.h, one parameter set): weighed against the choice so far
    // (one set, possibly with many-LUT groups, or partitions).
    if (options.small_key_inputs &&
        options.parameter_source == CompileOptions::ParameterSource::Optimizer) {
      std::uint64_t bootstraps = 0;
      for (const PbsRequirement& q : analysis.pbs_requirements) bootstraps += q.count;
      const std::uint64_t current = bootstraps - (many_lut.fused_lookups() - many_lut.bootstraps());
      if (const std::optional<SmallKeyChoice> small = choose_small_key_inputs(
              program, analysis, opt,
              stats.estimated_batched_pbs_seconds * static_cast<double>(current))) {
        many_lut = {};  // many-LUT bootstraps keyswitch: not combined
        std::fill(class_partition.begin(), class_partition.end(), 0);  // one parameter set
        server.parameters.extra_partitions.clear();
        server.parameters.cross_keyswitches.clear();
        server.parameters.pbs = small->result.parameters;
        server.parameters.small_key_inputs = true;
        stats.estimated_pbs_seconds = small->result.estimated_pbs_seconds;
        stats.estimated_batched_pbs_seconds = small->batched_seconds_per_pbs;
      }
    }
  } else {
    const LeveledParameters r = optimize_leveled_parameters(analysis.output_requirements, opt);
    server.parameters.uses_pbs = false;
    server.parameters.leveled_dimension = r.lwe_dimension;
    server.parameters.leveled_noise = r.noise;
  }
  const CircuitParameters& cp = server.parameters;
  // Noise of each partition: PBS outputs, fresh encryptions, modulus switch; and the keyswitch
  // from partition s's big key to partition q's small key.
  const std::size_t partitions = cp.partition_count();
  std::vector<double> var_pbs(partitions, 0.0), var_fresh(partitions, 0.0), var_ms(partitions, 0.0);
  for (std::size_t q = 0; q < partitions; ++q) {
    if (!cp.uses_pbs) {
      var_fresh[q] = cp.leveled_noise.variance();
      continue;
    }
    const tfhe::PbsParameters& p = cp.partition(q);
    var_pbs[q] = tfhe::variance_pbs_output(p);
    var_fresh[q] = p.glwe_noise.variance();
    var_ms[q] = tfhe::variance_modulus_switch(p);
  }
  const auto var_ks = [&](std::uint32_t s, std::uint32_t q) {
    const tfhe::PbsParameters& to = cp.partition(q);
    const std::ptrdiff_t c = cp.cross_keyswitch_index(s, q);
    TORUSML_CHECK(s == q || c >= 0, "lowering: no cross keyswitch " << s << " -> " << q);
    return tfhe::variance_keyswitch(
        cp.partition(s).big_lwe_dimension(),
        s == q ? to.ks : cp.cross_keyswitches[static_cast<std::size_t>(c)].ks, to.lwe_noise);
  };
  if (cp.uses_pbs) stats.partitions.resize(partitions);

  // Encodings.
  const std::size_t count = program.nodes.size();
  server.encodings.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const NodeAnalysis& na = analysis.nodes[i];
    if (na.encoding < 0) continue;
    server.encodings[i] = {analysis.classes[static_cast<std::size_t>(na.encoding)].width,
                           na.range.is_signed(),
                           class_partition[static_cast<std::size_t>(na.encoding)]};
    stats.max_bit_width = std::max(stats.max_bit_width, server.encodings[i].width);
  }

  // Instructions.
  const std::vector<std::int32_t> many_lut_group = many_lut.group_of(count);
  const std::vector<char> small_region =
      cp.small_key_inputs ? small_key_region(program) : std::vector<char>(count, 0);
  double log2_sum_p = -std::numeric_limits<double>::infinity();
  auto add_p = [&](double log2_p, double n) {
    const double l = log2_p + std::log2(n);
    const double hi = std::max(log2_sum_p, l), lo = std::min(log2_sum_p, l);
    log2_sum_p = std::isinf(lo) ? hi : hi + std::log2(1.0 + std::exp2(lo - hi));
  };
  server.instructions.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = program.nodes[i];
    Instruction& ins = server.instructions[i];
    ins.node = static_cast<NodeId>(i);
    if (!n.encrypted) {
      ins.kind = InstructionKind::Clear;
      if (n.op == OpKind::TableLookup)
        materialize_clear_tables(n, analysis.nodes[static_cast<std::size_t>(n.inputs[0])].range,
                                 ins);
      continue;
    }
    if (n.op == OpKind::Input) {
      ins.kind = InstructionKind::Input;
    } else if (is_fused_rounding(program, static_cast<NodeId>(i))) {
      ins.kind = InstructionKind::Alias;
    } else if (is_linear_op(n)) {
      ins.kind = InstructionKind::Linear;
      bool all_constant = true;
      std::vector<const Tensor*> operands;
      for (NodeId in : n.inputs) {
        const Node& src = program.node(in);
        if (src.encrypted)
          operands.push_back(nullptr);
        else if (src.op == OpKind::Constant)
          operands.push_back(&std::get<ConstantAttr>(src.attributes).value);
        else {
          operands.push_back(nullptr);
          all_constant = false;
        }
      }
      if (all_constant) {
        ins.map = build_linear_map(program, n, operands);
        ins.map_is_static = true;
        stats.linear_terms += ins.map.terms();
      }
    } else if (analysis.nodes[i].rounding_by_digits) {
      // Exact rounding by digits (exact_rounding.h): the steps of its plan, each with its noise.
      ins.kind = InstructionKind::ExactRound;
      const NodeAnalysis& na = analysis.nodes[i];
      const NodeId source = n.inputs[0];
      const Encoding& e = server.encodings[static_cast<std::size_t>(source)];
      const NodeAnalysis& src = analysis.nodes[static_cast<std::size_t>(source)];
      const std::uint32_t q = e.partition;  // the bootstraps run in the input's partition
      const auto r = static_cast<unsigned>(std::get<RoundAttr>(n.attributes).lsbs_to_remove);
      const ExactRoundingPlan plan =
          plan_exact_rounding(e.width, r, e.is_signed, na.rounding_chunks);
      ExactRoundInstruction& er = ins.rounding;
      er.source = source;
      er.input_width = e.width;
      er.lsbs_removed = r;
      er.initial = plan.initial;
      const auto elements = static_cast<double>(element_count(n.shape));
      for (const ExactRoundingStep& step : plan.steps) {
        const double scale = std::ldexp(1.0, 2 * static_cast<int>(step.shift));
        const double var = scale * ((src.pbs_weight + step.outputs_before) * var_pbs[q] +
                                    src.fresh_weight * var_fresh[q]) +
                           var_ks(q, q) + var_ms[q];
        const auto table_bits = static_cast<int>(std::countr_zero(step.table.size()));
        RoundingStep rs;
        rs.shift = step.shift;
        rs.offset = step.offset;
        rs.table = step.table;
        rs.constant = step.constant;
        rs.noise_std_box = std::sqrt(var) * std::ldexp(1.0, table_bits + 1);
        rs.log2_p_error = tfhe::log2_gaussian_tail(
            std::ldexp(1.0, -static_cast<int>(step.precision_bits) - 2), var);
        add_p(rs.log2_p_error, elements);
        er.steps.push_back(std::move(rs));
        stats.exact_rounding_max_bits =
            std::max(stats.exact_rounding_max_bits, step.precision_bits);
        stats.max_table_bits = std::max(stats.max_table_bits, step.precision_bits);
      }
      const auto pbs = static_cast<std::uint64_t>(elements) * plan.steps.size();
      stats.pbs_count += pbs;
      stats.partitions[q].pbs_count += pbs;
      for (const ExactRoundingStep& step : plan.steps)
        stats.partitions[q].max_table_bits =
            std::max(stats.partitions[q].max_table_bits, step.precision_bits);
      stats.exact_rounding_pbs_count += pbs;
      stats.table_lookup_nodes += 1;
    } else {
      // Table lookup or rounding through a bootstrap.
      ins.kind = InstructionKind::Bootstrap;
      const NodeAnalysis& na = analysis.nodes[i];
      BootstrapInstruction& b = ins.bootstrap;
      NodeId source = n.inputs[0];
      NodeId looked_up = source;  // whose sign decides the offset
      if (n.op == OpKind::TableLookup && is_fused_rounding(program, source))
        source = program.node(source).inputs[0];
      const unsigned width = server.encodings[static_cast<std::size_t>(source)].width;
      b.source = source;
      b.input_width = width;
      b.lsbs_removed = static_cast<unsigned>(na.input_lsbs_removed);
      const bool negative = analysis.nodes[static_cast<std::size_t>(looked_up)].range.is_signed() ||
                            analysis.nodes[static_cast<std::size_t>(source)].range.is_signed();
      b.offset = negative ? (std::int64_t{1} << (width - 1)) : 0;
      Node table_node = n;
      if (n.op == OpKind::Round &&
          std::get<RoundAttr>(n.attributes).mode == RoundingMode::Approximate) {
        // The PBS does the rounding: the table only re-encodes the rounded value.
        table_node.op = OpKind::TableLookup;
        table_node.attributes =
            TableAttr{{TableFunction{[](std::int64_t v) { return v; }, "identity"}}, {}};
      }
      b.tables = materialize_tables(table_node, width - b.lsbs_removed, b.lsbs_removed, b.offset);
      if (n.op == OpKind::TableLookup)
        b.element_table = std::get<TableAttr>(n.attributes).element_table;
      const NodeAnalysis& src = analysis.nodes[static_cast<std::size_t>(source)];
      // Partition q's bootstrap reading a value of partition s (a cross keyswitch if s != q).
      const std::uint32_t q = server.encodings[i].partition;
      const std::uint32_t s = server.encodings[static_cast<std::size_t>(source)].partition;
      // A small-key input skips the keyswitch (small_key_inputs.h).
      const bool small_input = small_region[static_cast<std::size_t>(source)] != 0;
      const double var = small_input
                             ? small_key_pbs_variance(cp.partition(q), src.fresh_weight)
                             : src.pbs_weight * var_pbs[s] + src.fresh_weight * var_fresh[s] +
                                   var_ks(s, q) + var_ms[q];
      const double lsb = std::ldexp(1.0, -static_cast<int>(width) - 1);  // Delta in torus units
      b.noise_std_lsb = std::sqrt(var) / lsb;
      b.log2_p_error =
          tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(na.pbs_precision) - 2), var);
      const auto elements = static_cast<double>(element_count(n.shape));
      const std::int32_t group = many_lut_group[i];
      unsigned read_bits = na.pbs_precision;
      bool runs_bootstrap = true;
      if (group >= 0) {
        // A many-LUT group (many_lut.h): a p-bit read with the switch to 2N / 2^theta for the
        // simulation, the bound of a (p + theta)-bit read for the failure probability, counted
        // once per element at the leader.
        const ManyLutGroup& g = many_lut.groups[static_cast<std::size_t>(group)];
        read_bits = g.read_bits();
        const tfhe::PbsParameters& pq = cp.partition(q);
        const double fused =
            var - var_ms[q] +
            tfhe::variance_modulus_switch(
                pq.lwe_dimension, tfhe::PolynomialSize(pq.polynomial_size.value() >> g.log2_slots),
                pq.modulus_switch, pq.ms_noise_reduction);
        b.noise_std_lsb = std::sqrt(fused) / lsb;
        b.log2_p_error =
            tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(read_bits) - 2), var);
        runs_bootstrap = g.lookups[0] == static_cast<NodeId>(i);
        if (!runs_bootstrap) {
          ins.kind = InstructionKind::FusedLookup;
          b.fused_into = g.lookups[0];
        }
        stats.many_lut_lookups += static_cast<std::uint64_t>(elements);
        if (runs_bootstrap) stats.many_lut_pbs_count += static_cast<std::uint64_t>(elements);
      }
      if (runs_bootstrap) {
        add_p(b.log2_p_error, elements);
        if (!small_input) stats.keyswitch_count += static_cast<std::uint64_t>(elements);
        stats.pbs_count += static_cast<std::uint64_t>(elements);
        stats.partitions[q].pbs_count += static_cast<std::uint64_t>(elements);
        if (s != q)
          stats.partitions[q].cross_keyswitch_count += static_cast<std::uint64_t>(elements);
      }
      stats.partitions[q].max_table_bits = std::max(stats.partitions[q].max_table_bits, read_bits);
      stats.table_lookup_nodes += 1;
      stats.max_table_bits = std::max(stats.max_table_bits, read_bits);
    }
  }
  stats.keyswitch_count += stats.exact_rounding_pbs_count;

  // Client specification.
  ClientSpecification client;
  client.parameters = server.parameters;
  for (NodeId id : program.inputs) {
    const Node& n = program.node(id);
    client.inputs.push_back({std::get<InputAttr>(n.attributes).name, n.shape, n.encrypted,
                             server.encodings[static_cast<std::size_t>(id)]});
  }
  for (NodeId id : program.outputs) {
    const Node& n = program.node(id);
    client.outputs.push_back(
        {n.label, n.shape, n.encrypted, server.encodings[static_cast<std::size_t>(id)]});
    double std_lsb = 0;
    if (n.encrypted) {
      const NodeAnalysis& na = analysis.nodes[static_cast<std::size_t>(id)];
      const std::uint32_t q = server.encodings[static_cast<std::size_t>(id)].partition;
      const double var = na.pbs_weight * var_pbs[q] + na.fresh_weight * var_fresh[q];
      const unsigned width = server.encodings[static_cast<std::size_t>(id)].width;
      std_lsb = std::sqrt(var) / std::ldexp(1.0, -static_cast<int>(width) - 1);
      add_p(tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(width) - 2), var),
            static_cast<double>(element_count(n.shape)));
      stats.output_ciphertext_bytes += static_cast<std::uint64_t>(element_count(n.shape)) *
                                       (cp.encryption_dimension(q).value() + 1) * 8;
    }
    client.output_noise_std_lsb.push_back(std_lsb);
  }
  // Inputs of one sample: packed in GLWEs of their partition's key for PBS circuits (runtime.h:
  // encrypt_inputs), an LWE ciphertext each for leveled ones; seeded, a body each and a seed.
  for (const auto& in : client.inputs) {
    if (!in.encrypted) continue;
    const auto elements = static_cast<std::uint64_t>(element_count(in.shape));
    if (cp.small_key_inputs) {
      // Packed under the small key: n / 32 mask polynomials and the body per 32 values.
      const std::uint64_t big_n = kSmallKeyPackingSize;
      stats.input_ciphertext_bytes +=
          (elements + big_n - 1) / big_n * (cp.pbs.lwe_dimension.value() + big_n) * 8;
    } else if (cp.uses_pbs) {
      const auto& p = cp.partition(in.encoding.partition);
      const std::uint64_t big_n = p.polynomial_size.value();
      stats.input_ciphertext_bytes +=
          (elements + big_n - 1) / big_n * (p.glwe_dimension.value() + 1) * big_n * 8;
    } else {
      stats.input_ciphertext_bytes +=
          elements * (cp.encryption_dimension(in.encoding.partition).value() + 1) * 8;
    }
    stats.input_seeded_bytes += elements * 8 + 32;
  }
  stats.log2_global_p_error = std::isinf(log2_sum_p) ? -1024.0 : log2_sum_p;

  // Key sizes and latency.
  if (cp.uses_pbs) {
    for (std::size_t q = 0; q < partitions; ++q) {
      const auto& p = cp.partition(q);
      const std::uint64_t k = p.glwe_dimension.value(), big_n = p.polynomial_size.value(),
                          n = p.lwe_dimension.value();
      // The bootstrapping key: n GGSWs (classic) or the multi-bit key's ceil(n/g) groups of
      // 2^g - 1 (the last one 2^(n mod g) - 1), each (k+1)^2 l N values of 8 bytes; seeded, the
      // bodies only (1/(k+1)).
      const std::uint64_t ggsws =
          p.is_multi_bit() ? tfhe::multi_bit_bootstrap_key_shape(p).ggsw_count() : n;
      const std::uint64_t bsk = ggsws * (k + 1) * (k + 1) * p.pbs.level_count.value() * big_n * 8;
      const std::uint64_t ksk = k * big_n * p.ks.level_count.value() * (n + 1) * 8;
      stats.evaluation_key_bytes += bsk + ksk;
      stats.evaluation_key_seeded_bytes +=
          bsk / (k + 1) + k * big_n * p.ks.level_count.value() * 8 + 64;
      stats.client_key_bytes += (n + k * big_n) / 8;
      stats.partitions[q].estimated_pbs_seconds = estimate_pbs_seconds(p);
    }
    for (const CrossKeyswitchParameters& c : cp.cross_keyswitches) {
      const std::uint64_t rows =
          cp.partition(c.from).big_lwe_dimension().value() * c.ks.level_count.value();
      stats.evaluation_key_bytes += rows * (cp.partition(c.to).lwe_dimension.value() + 1) * 8;
      stats.evaluation_key_seeded_bytes += rows * 8 + 64;
    }
  } else {
    stats.client_key_bytes = server.parameters.leveled_dimension.value() / 8;
  }
  // Every thread bootstraps its share; two or more run as a batch.
  const double threads = static_cast<double>(default_thread_pool().size());
  const double per_thread = std::ceil(static_cast<double>(stats.pbs_count) / threads);
  stats.estimated_latency_seconds =
      per_thread *
      (per_thread >= 2 ? stats.estimated_batched_pbs_seconds : stats.estimated_pbs_seconds);

  return LoweredCircuit{std::move(server), std::move(client), std::move(analysis),
                        std::move(stats)};
}

}  // namespace torusml::circuit
