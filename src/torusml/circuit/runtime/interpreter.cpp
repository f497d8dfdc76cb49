#include "torusml/circuit/runtime/interpreter.h"

#include <bit>
#include <cmath>
#include <random>
#include <sstream>

#include "torusml/circuit/compile/exact_rounding.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"

namespace torusml::circuit {

namespace {

bool fits(std::int64_t v, const Encoding& e) {
  if (e.is_signed)
    return v >= -(std::int64_t{1} << (e.width - 1)) && v < (std::int64_t{1} << (e.width - 1));
  return v >= 0 && v < (std::int64_t{1} << e.width);
}

std::string range_text(const Encoding& e) {
  std::ostringstream os;
  if (e.is_signed)
    os << "[" << -(std::int64_t{1} << (e.width - 1)) << ", "
       << (std::int64_t{1} << (e.width - 1)) - 1 << "]";
  else
    os << "[0, " << (std::int64_t{1} << e.width) - 1 << "]";
  return os.str();
}

[[noreturn]] void report_out_of_range(const Node& node, std::int64_t v, const Encoding& e) {
  std::ostringstream os;
  os << "value " << v << " of '" << node.label << "' is outside the range its " << e.width
     << "-bit encoding was sized for at compile time " << range_text(e)
     << ": under encryption it would wrap. Compile with an input set that covers these inputs";
  throw InvalidArgument(os.str());
}

// Per-sample evaluation state.
struct Sampler {
  bool simulate;
  std::mt19937_64 rng;
  std::normal_distribution<double> normal{0.0, 1.0};
  double gaussian(double std) { return std > 0 ? std * normal(rng) : 0.0; }
};

// Noise (in LSBs) reduced modulo 2^period_bits into [-2^(period_bits-1), 2^(period_bits-1)]:
// all that a value encoded on period_bits bits (padding included) sees of it, since its phase
// wraps modulo that period. Exact for any finite noise (fmod is exact); the result converts to
// int64 without overflow (period_bits <= 63).
double wrapped_noise(double noise, unsigned period_bits) {
  const double period = std::ldexp(1.0, static_cast<int>(period_bits));
  double r = std::fmod(noise, period);
  if (r > period / 2) r -= period;
  if (r < -period / 2) r += period;
  return r;
}

Tensor run_linear(const ServerProgram& sp, const Instruction& ins,
                  const std::vector<Tensor>& values) {
  const Node& n = sp.program.node(ins.node);
  LinearMap dynamic;
  const LinearMap* map = &ins.map;
  if (!ins.map_is_static) {
    std::vector<const Tensor*> ops;
    for (NodeId in : n.inputs)
      ops.push_back(sp.program.node(in).encrypted ? nullptr
                                                  : &values[static_cast<std::size_t>(in)]);
    dynamic = build_linear_map(sp.program, n, ops);
    map = &dynamic;
  }
  std::vector<std::int64_t> out(static_cast<std::size_t>(map->outputs), 0);
  for (std::int64_t r = 0; r < map->outputs; ++r) {
    std::uint64_t acc =
        map->constant.empty()
            ? 0
            : static_cast<std::uint64_t>(map->constant[static_cast<std::size_t>(r)]);
    for (auto t = map->row_start[static_cast<std::size_t>(r)];
         t < map->row_start[static_cast<std::size_t>(r) + 1]; ++t) {
      const auto u = static_cast<std::size_t>(t);
      const Tensor& src =
          values[static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(map->slot[u])])];
      acc += static_cast<std::uint64_t>(map->coeff[u]) *
             static_cast<std::uint64_t>(src[static_cast<std::size_t>(map->index[u])]);
    }
    out[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(acc);
  }
  return Tensor(n.shape, std::move(out));
}

Tensor run_bootstrap(const ServerProgram& sp, const Instruction& ins,
                     const std::vector<Tensor>& values, Sampler& s) {
  const Node& n = sp.program.node(ins.node);
  const BootstrapInstruction& b = ins.bootstrap;
  const Tensor& src = values[static_cast<std::size_t>(b.source)];
  const Encoding& out_enc = sp.encodings[static_cast<std::size_t>(ins.node)];
  const unsigned index_bits = b.input_width - b.lsbs_removed;
  const std::int64_t boxes = std::int64_t{1} << index_bits;
  // In the clear, a fused approximate rounding uses the rounding node's exact value.
  const bool via_round = n.op == OpKind::TableLookup && n.inputs[0] != b.source;
  const std::int64_t count = element_count(n.shape);
  std::vector<std::int64_t> out(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t v = src[static_cast<std::size_t>(i)];
    std::int64_t index;
    if (s.simulate) {
      // The phase lives modulo 2^(input_width + 1) LSBs: reducing the noise modulo that period
      // changes no index (taken modulo 2 * boxes below) and keeps every conversion in range.
      const double noise = wrapped_noise(s.gaussian(b.noise_std_lsb), b.input_width + 1);
      const double u = static_cast<double>(v + b.offset) + noise;
      // Only the index modulo 2 * boxes matters (below): reduce before converting.
      index = static_cast<std::int64_t>(
          std::fmod(std::floor(u / std::ldexp(1.0, static_cast<int>(b.lsbs_removed)) + 0.5),
                    2.0 * static_cast<double>(boxes)));
    } else if (b.lsbs_removed == 0) {
      index = v + b.offset;
    } else {
      const std::int64_t rounded =
          via_round || n.op == OpKind::Round ? round_shift(v, b.lsbs_removed) : v >> b.lsbs_removed;
      index = rounded + (b.offset >> b.lsbs_removed);
    }
    if (!s.simulate && (index < 0 || index >= boxes))
      report_out_of_range(sp.program.node(b.source), v,
                          sp.encodings[static_cast<std::size_t>(b.source)]);
    // Negacyclic wrap (simulation only): index in [boxes, 2 boxes) gives -table(index - boxes).
    std::int64_t m = index % (2 * boxes);
    if (m < 0) m += 2 * boxes;
    const auto t = static_cast<std::size_t>(
        b.element_table.empty() ? 0 : b.element_table[static_cast<std::size_t>(i)]);
    std::int64_t y = m < boxes ? b.tables[t][static_cast<std::size_t>(m)]
                               : -b.tables[t][static_cast<std::size_t>(m - boxes)];
    if (s.simulate) y = decode_value(encode_value(y, out_enc.width), out_enc.width);
    out[static_cast<std::size_t>(i)] = y;
  }
  return Tensor(n.shape, std::move(out));
}

// An exact rounding by digits. Clear: the node's semantics (evaluate_node), after checking that
// the input fits the encoding its sign read assumes. Simulate: the steps of the instruction on
// the noiseless torus phase (exact_rounding.h), each read with Gaussian noise of its modelled
// variance (so that it picks a neighbouring box with the modelled probability), as the runtime
// computes them.
Tensor run_exact_round(const ServerProgram& sp, const Instruction& ins,
                       const std::vector<Tensor>& values, Sampler& s) {
  const Node& n = sp.program.node(ins.node);
  const ExactRoundInstruction& er = ins.rounding;
  const Tensor& src = values[static_cast<std::size_t>(er.source)];
  if (!s.simulate) {
    const Encoding& e = sp.encodings[static_cast<std::size_t>(er.source)];
    for (std::int64_t v : src.values())
      if (!fits(v, e)) report_out_of_range(sp.program.node(er.source), v, e);
    const Tensor* ops[] = {&src};
    return evaluate_node(n, ops);
  }
  using tfhe::Torus;
  const unsigned width = er.input_width;
  std::vector<std::int64_t> out(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    Torus acc = encode_value(src[i], width) + encode_half_lsb(er.initial, width);
    for (const RoundingStep& step : er.steps) {
      const auto bits = static_cast<unsigned>(std::countr_zero(step.table.size()));
      const Torus phase = (acc << step.shift) + step.offset;
      // The phase in units of the table's box (2^(63 - bits)), plus the noise: the index of the
      // nearest box centre, modulo 2 * 2^bits (the whole torus).
      const unsigned low = 63 - bits;
      const double u =
          static_cast<double>(phase >> low) +
          std::ldexp(static_cast<double>(phase & ((Torus{1} << low) - 1)), -static_cast<int>(low)) +
          wrapped_noise(s.gaussian(step.noise_std_box), bits + 1);
      const auto boxes = static_cast<std::int64_t>(step.table.size());
      std::int64_t m = static_cast<std::int64_t>(std::floor(u + 0.5)) % (2 * boxes);
      if (m < 0) m += 2 * boxes;
      // Negacyclic: the second half of the torus gives the negated entries.
      const Torus y = encode_half_lsb(step.table[static_cast<std::size_t>(m % boxes)], width);
      acc += (m < boxes ? y : Torus{0} - y) + encode_half_lsb(step.constant, width);
    }
    out[i] = decode_value(acc, width);
  }
  return Tensor(n.shape, std::move(out));
}

Tensor run_clear(const ServerProgram& sp, const Instruction& ins,
                 const std::vector<Tensor>& values) {
  const Node& n = sp.program.node(ins.node);
  if (n.op == OpKind::TableLookup) {
    const Tensor& x = values[static_cast<std::size_t>(n.inputs[0])];
    const auto& attr = std::get<TableAttr>(n.attributes);
    std::vector<std::int64_t> out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto& table = ins.clear_tables[attr.element_table.empty()
                                               ? 0
                                               : static_cast<std::size_t>(attr.element_table[i])];
      std::int64_t k = 0;
      if (__builtin_sub_overflow(x[i], ins.clear_table_min, &k) || k < 0 ||
          k >= static_cast<std::int64_t>(table.size())) {
        std::ostringstream os;
        os << "value " << x[i] << " entering clear table lookup '" << n.label
           << "' is outside the range measured at compile time [" << ins.clear_table_min << ", "
           << ins.clear_table_min + static_cast<std::int64_t>(table.size()) - 1
           << "]; compile with an input set that covers these inputs";
        throw InvalidArgument(os.str());
      }
      out[i] = table[static_cast<std::size_t>(k)];
    }
    return Tensor(n.shape, std::move(out));
  }
  std::vector<const Tensor*> ops;
  for (NodeId in : n.inputs) ops.push_back(&values[static_cast<std::size_t>(in)]);
  return evaluate_node(n, ops);
}

}  // namespace

std::int64_t round_shift(std::int64_t v, unsigned k) {
  if (k == 0) return v;
  const std::int64_t half = std::int64_t{1} << (k - 1);
  return v >= 0 ? (v + half) >> k : -((-v + half) >> k);
}

std::vector<Tensor> split_batch(const Tensor& batched, const Shape& sample_shape,
                                const std::string& name) {
  const Shape& s = batched.shape();
  if (s.size() != sample_shape.size() + 1 ||
      !std::equal(sample_shape.begin(), sample_shape.end(), s.begin() + 1)) {
    Shape expected{-1};
    expected.insert(expected.end(), sample_shape.begin(), sample_shape.end());
    throw InvalidArgument("input '" + name + "' has shape " + shape_to_string(s) +
                          " but the circuit expects (batch, " + shape_to_string(sample_shape) +
                          "): pass one row per sample");
  }
  const std::size_t per = static_cast<std::size_t>(element_count(sample_shape));
  std::vector<Tensor> out;
  for (std::int64_t b = 0; b < s[0]; ++b) {
    const auto begin =
        batched.values().begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(b) * per);
    out.emplace_back(sample_shape,
                     std::vector<std::int64_t>(begin, begin + static_cast<std::ptrdiff_t>(per)));
  }
  return out;
}

std::size_t batch_size_of(std::span<const Tensor> batched_inputs, const ClientSpecification& spec) {
  if (batched_inputs.size() != spec.inputs.size()) {
    std::ostringstream os;
    os << "the circuit takes " << spec.inputs.size() << " inputs, got " << batched_inputs.size();
    throw InvalidArgument(os.str());
  }
  std::size_t batch = 0;
  for (std::size_t i = 0; i < batched_inputs.size(); ++i) {
    const Shape& s = batched_inputs[i].shape();
    if (s.empty())
      throw InvalidArgument("input '" + spec.inputs[i].name + "' needs a leading batch axis");
    const auto b = static_cast<std::size_t>(s[0]);
    if (i > 0 && b != batch)
      throw InvalidArgument("inputs have different batch sizes; pass the same number of rows");
    batch = b;
  }
  return batch;
}

std::vector<Tensor> interpret(const ServerProgram& sp, const ClientSpecification& spec,
                              std::span<const Tensor> batched_inputs, bool simulate,
                              std::uint64_t seed) {
  const std::size_t batch = batch_size_of(batched_inputs, spec);
  std::vector<std::vector<Tensor>> samples_of_input;
  for (std::size_t i = 0; i < spec.inputs.size(); ++i)
    samples_of_input.push_back(
        split_batch(batched_inputs[i], spec.inputs[i].shape, spec.inputs[i].name));
  const Program& p = sp.program;
  std::vector<bool> is_input_or_output(p.nodes.size(), false);
  for (NodeId id : p.inputs) is_input_or_output[static_cast<std::size_t>(id)] = true;
  for (NodeId id : p.outputs) is_input_or_output[static_cast<std::size_t>(id)] = true;
  std::vector<std::vector<Tensor>> results(batch);
  parallel_for(batch, [&](std::size_t row) {
    Sampler s{simulate, std::mt19937_64(seed * 0x9E3779B97F4A7C15ULL + row)};
    std::vector<Tensor> values(p.nodes.size());
    std::size_t next_input = 0;
    for (std::size_t i = 0; i < p.nodes.size(); ++i) {
      const Instruction& ins = sp.instructions[i];
      const Node& n = p.nodes[i];
      if (n.op == OpKind::Input) {
        values[i] = samples_of_input[next_input++][row];
      } else {
        switch (ins.kind) {
          case InstructionKind::Input:
          case InstructionKind::Clear:
          case InstructionKind::Alias:
            values[i] = run_clear(sp, ins, values);
            break;
          case InstructionKind::Linear:
            values[i] = run_linear(sp, ins, values);
            break;
          case InstructionKind::Bootstrap:
          case InstructionKind::FusedLookup:  // its own tables; noise drawn per lookup
            values[i] = run_bootstrap(sp, ins, values, s);
            break;
          case InstructionKind::ExactRound:
            values[i] = run_exact_round(sp, ins, values, s);
            break;
        }
      }
      const Encoding& e = sp.encodings[i];
      if (e.width == 0) continue;
      for (auto& v : values[i].values()) {
        if (fits(v, e)) continue;
        // Exact values are checked where they are read (bootstrap inputs above, inputs and
        // outputs here); other values may wrap under encryption (linear operations are exact
        // modulo the encoding), so they are kept exact.
        if (!simulate) {
          if (is_input_or_output[i]) report_out_of_range(n, v, e);
          continue;
        }
        v = decode_value(encode_value(v, e.width), e.width);  // wrap as under encryption
      }
    }
    for (std::size_t o = 0; o < p.outputs.size(); ++o) {
      Tensor t = values[static_cast<std::size_t>(p.outputs[o])];
      if (simulate && spec.outputs[o].encrypted) {
        const unsigned w = spec.outputs[o].encoding.width;
        for (auto& v : t.values()) {
          const double noise = wrapped_noise(s.gaussian(spec.output_noise_std_lsb[o]), w + 1);
          // Wrapping addition: exact modulo 2^64, hence modulo the encoding's 2^(w + 1).
          const auto sum =
              static_cast<std::uint64_t>(v) + static_cast<std::uint64_t>(std::llround(noise));
          v = decode_value(encode_value(static_cast<std::int64_t>(sum), w), w);
        }
      }
      results[row].push_back(std::move(t));
    }
  });
  // Stack samples into batched outputs.
  std::vector<Tensor> out;
  for (std::size_t o = 0; o < p.outputs.size(); ++o) {
    Shape shape{static_cast<std::int64_t>(batch)};
    const Shape& s = p.node(p.outputs[o]).shape;
    shape.insert(shape.end(), s.begin(), s.end());
    std::vector<std::int64_t> v;
    v.reserve(static_cast<std::size_t>(element_count(shape)));
    for (std::size_t row = 0; row < batch; ++row) {
      auto src = results[row][o].values();
      v.insert(v.end(), src.begin(), src.end());
    }
    out.emplace_back(std::move(shape), std::move(v));
  }
  return out;
}

}  // namespace torusml::circuit
