#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/ml/nn/network_lowering_detail.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::ml::detail {

std::vector<const Node*> NetworkLowering::qdq_after(const std::string& value) const {
  std::vector<const Node*> chain;
  std::string v = value;
  for (const char* op : {"Clip", "QuantizeLinear", "Clip", "DequantizeLinear"}) {
    const std::vector<const Node*> c = consumers(v);
    if (c.size() != 1 || c[0]->op_type != op || c[0]->inputs.at(0) != v) {
      if (std::string(op) == "Clip") continue;  // optional
      return {};
    }
    chain.push_back(c[0]);
    v = c[0]->outputs.at(0);
  }
  return chain;
}

namespace {

// The parameters of a QuantizeLinear or DequantizeLinear on an encrypted value: per tensor.
onnx::QuantizationParameters per_tensor_parameters(const onnx::Graph& graph, const Node& node) {
  onnx::QuantizationParameters p = onnx::quantization_parameters(graph, node);
  if (p.axis || p.scale.size() != 1)
    throw UnsupportedOperator(
        node.describe() +
        ": per-axis quantization of an encrypted value (one scale per channel of an activation) "
        "cannot be imported exactly; quantize activations per tensor (torch's per_tensor_affine "
        "or per_tensor_symmetric observers)");
  if (!(p.scale[0] > 0) || !std::isfinite(p.scale[0]))
    throw UnsupportedOperator(node.describe() + ": its scale " + std::to_string(p.scale[0]) +
                              " is not a finite positive number");
  return p;
}

// x as an integer when it is one (up to float rounding of the model's float32 constants).
std::optional<std::int64_t> near_integer(double x) {
  const double r = std::nearbyint(x);
  if (!std::isfinite(x) || std::abs(x - r) > 1e-6 * std::max(1.0, std::abs(x))) return std::nullopt;
  return static_cast<std::int64_t>(r);
}

}  // namespace

std::optional<NetworkLowering::ChainQuantizer> NetworkLowering::qdq_quantizer(
    const std::vector<const Node*>& chain) const {
  // The last DequantizeLinear and what follows it (checked below to keep its grid).
  std::size_t t = chain.size();
  while (t > 0 && chain[t - 1]->op_type != "DequantizeLinear") --t;
  if (t == 0) return std::nullopt;
  const std::size_t d = t - 1;
  const Node& dequantize = *chain[d];
  const onnx::QuantizationParameters dq = per_tensor_parameters(graph_, dequantize);
  const double scale = dq.scale[0];
  const auto zp = static_cast<std::int64_t>(dq.zero_point[0]);
  // The integers the DequantizeLinear reads: its type's range, narrowed by integer Clips (torch's
  // quant ranges narrower than the type: QuantizeLinear -> Clip -> DequantizeLinear) and by a
  // float Clip before the QuantizeLinear (Clip -> QuantizeLinear -> DequantizeLinear).
  auto qlo = static_cast<std::int64_t>(onnx::type_min(dq.zero_point_type));
  auto qhi = static_cast<std::int64_t>(onnx::type_max(dq.zero_point_type));
  auto feeds = [&](std::size_t i, std::size_t j) {  // chain[i] is chain[j]'s operand
    return chain[j]->inputs.at(0) == chain[i]->outputs.at(0);
  };
  std::size_t first = d;
  while (first > 0 && chain[first - 1]->op_type == "Clip" && feeds(first - 1, first)) {
    const Node& clip = *chain[--first];
    if (clip.has_attribute("min"))
      qlo = std::max(qlo, static_cast<std::int64_t>(std::ceil(clip.float_attribute("min", 0))));
    if (clip.has_attribute("max"))
      qhi = std::min(qhi, static_cast<std::int64_t>(std::floor(clip.float_attribute("max", 0))));
  }
  if (first > 0 && chain[first - 1]->op_type == "QuantizeLinear" && feeds(first - 1, first)) {
    const Node& quantize = *chain[--first];
    const onnx::QuantizationParameters q = per_tensor_parameters(graph_, quantize);
    const auto qzp = static_cast<double>(q.zero_point[0]);
    if (first > 0 && chain[first - 1]->op_type == "Clip" && feeds(first - 1, first)) {
      const Node& clip = *chain[first - 1];
      if (clip.has_attribute("min"))
        qlo = std::max(qlo, static_cast<std::int64_t>(
                                std::nearbyint(clip.float_attribute("min", 0) / q.scale[0]) + qzp));
      if (clip.has_attribute("max"))
        qhi = std::min(qhi, static_cast<std::int64_t>(
                                std::nearbyint(clip.float_attribute("max", 0) / q.scale[0]) + qzp));
    }
  }
  // What follows: Relu, Identity and Clips to bounds on the grid keep it (and narrow the range);
  // anything else would need a quantizer the model does not have.
  for (std::size_t i = t; i < chain.size(); ++i) {
    const Node& n = *chain[i];
    if (n.op_type == "Identity") continue;
    std::optional<std::int64_t> lo, hi;
    if (n.op_type == "Relu") {
      lo = zp;
    } else if (n.op_type == "Clip") {
      lo = n.has_attribute("min")
               ? near_integer(n.float_attribute("min", 0) / scale + static_cast<double>(zp))
               : qlo;
      hi = n.has_attribute("max")
               ? near_integer(n.float_attribute("max", 0) / scale + static_cast<double>(zp))
               : qhi;
    }
    if ((n.op_type != "Relu" && n.op_type != "Clip") || !lo || (n.op_type == "Clip" && !hi))
      throw UnsupportedOperator(
          n.describe() + " cannot be imported exactly: it takes the encrypted values that " +
          dequantize.describe() +
          " put on its quantization grid off that grid before the next layer reads them; "
          "fake-quantize its output too (QuantizeLinear -> DequantizeLinear after it: in "
          "torch, an observer or a QuantStub), or move it before the QuantizeLinear");
    qlo = std::max(qlo, *lo);
    qhi = std::max(qhi, *lo);
    if (hi) {
      qlo = std::min(qlo, *hi);
      qhi = std::min(qhi, *hi);
    }
  }
  if (qhi < qlo) qhi = qlo;
  const auto levels = static_cast<std::uint64_t>(qhi - qlo) + 1;
  const auto bits = std::max(1u, static_cast<unsigned>(std::bit_width(levels - 1)));
  if (bits > 16)
    throw UnsupportedOperator(dequantize.describe() + ": its " + std::to_string(bits) +
                              "-bit integers are too wide for a lookup (at most 16 bits)");
  return ChainQuantizer{UniformQuantizer({bits, false, false}, scale, zp - qlo), first, levels};
}

Encrypted NetworkLowering::lookup(const Encrypted& e, const std::string& name, unsigned n_bits) {
  const auto [out_lo, out_hi] = range_of(name);
  // A chain ending in quantization-aware nodes keeps their quantizer (exact QAT integers).
  const std::optional<ChainQuantizer> qat = qdq_quantizer(e.chain);
  // A re-encoding of integers already on an activation's grid (maxima of activations) keeps
  // that quantizer: the identity on them.
  const bool regrid = e.chain.empty() && e.grid_bits > 0 && e.scales.empty();
  const UniformQuantizer quantizer =
      qat      ? qat->quantizer
      : regrid ? UniformQuantizer({e.grid_bits, false, false}, e.scale, e.zero_point)
               : UniformQuantizer::from_range(out_lo, out_hi, {n_bits, false, false});
  // The integer range of q on the input set, from the base value's float range.
  const std::pair<double, double> in_range = range_of(e.base);
  const double in_lo = in_range.first, in_hi = in_range.second;
  auto ilo = static_cast<std::int64_t>(std::floor(in_lo / e.scale)) + e.zero_point;
  auto ihi = static_cast<std::int64_t>(std::ceil(in_hi / e.scale)) + e.zero_point;
  const onnx::Graph chain = chain_graph(e, name);
  const onnx::Shape& shape = graph_.value_info(e.base).shape;
  const auto elements = static_cast<std::size_t>(onnx::element_count(shape));
  if (!e.scales.empty()) {  // per-element scales: each element's integer range at its own scale
    const auto& [elo, ehi] = element_ranges_.at(e.base);
    TORUSML_CHECK(elo.size() == elements && e.scales.size() == elements, "per-element ranges");
    ilo = std::numeric_limits<std::int64_t>::max();
    ihi = std::numeric_limits<std::int64_t>::min();
    for (std::size_t p = 0; p < elements; ++p) {
      ilo = std::min(ilo, static_cast<std::int64_t>(std::floor(elo[p] / e.scales[p])));
      ihi = std::max(ihi, static_cast<std::int64_t>(std::ceil(ehi[p] / e.scales[p])));
    }
    ilo += e.zero_point;
    ihi += e.zero_point;
  }
  auto lsbs_for = [&](unsigned bits) -> unsigned {
    if (options_.rounding_threshold_bits != 0) {
      const unsigned keep = options_.rounding_threshold_bits;
      return bits > keep ? bits - keep : 0;
    }
    // The slope of the operations before a quantization-aware model's own output quantization
    // (its QuantizeLinear / DequantizeLinear staircase is the output step itself).
    Encrypted smooth = e;
    if (qat) smooth.chain.resize(qat->first);
    const std::string smooth_name =
        smooth.chain.empty() ? smooth.base : smooth.chain.back()->outputs.at(0);
    return automatic_lsbs(smooth, qat ? chain_graph(smooth, smooth_name) : chain, quantizer.scale(),
                          in_lo, in_hi, bits);
  };
  // Per-element centring: each element minus the middle of its own integer range on the input
  // set (a multiple of the rounding step), so that the lookup reads the widest element's span
  // rather than the whole tensor's. The accumulator itself may then exceed the lookup's width:
  // linear operations are exact modulo the encoding, only what the lookup reads must fit.
  std::int64_t lo = ilo, hi = ihi;
  unsigned bits = bit_length(ilo, ihi);
  unsigned lsbs = lsbs_for(bits);
  std::vector<std::int64_t> offsets;
  if (const auto it = element_ranges_.find(e.base);
      it != element_ranges_.end() && it->second.first.size() == elements && elements > 1) {
    auto centre = [&](unsigned quantum_bits, std::vector<std::int64_t>& o, std::int64_t& clo,
                      std::int64_t& chi) {
      const double quantum = std::ldexp(1.0, static_cast<int>(quantum_bits));
      o.assign(elements, 0);
      clo = std::numeric_limits<std::int64_t>::max();
      chi = std::numeric_limits<std::int64_t>::min();
      for (std::size_t p = 0; p < elements; ++p) {
        const auto plo =
            static_cast<std::int64_t>(std::floor(it->second.first[p] / e.scale_at(p))) +
            e.zero_point;
        const auto phi =
            static_cast<std::int64_t>(std::ceil(it->second.second[p] / e.scale_at(p))) +
            e.zero_point;
        o[p] =
            static_cast<std::int64_t>(std::llround(0.5 * static_cast<double>(plo + phi) / quantum) *
                                      static_cast<std::int64_t>(quantum));
        clo = std::min(clo, plo - o[p]);
        chi = std::max(chi, phi - o[p]);
      }
    };
    std::vector<std::int64_t> o;
    std::int64_t clo = 0, chi = 0;
    centre(0, o, clo, chi);
    const unsigned centred_bits = bit_length(clo, chi);
    if (centred_bits < bits) {
      // The rounding step of the narrower input, then offsets on that step's grid (so that
      // rounding the centred value rounds the accumulator on the same grid).
      const unsigned centred_lsbs = lsbs_for(centred_bits);
      centre(centred_lsbs, o, clo, chi);
      const unsigned rounded_bits = bit_length(clo, chi);
      if (rounded_bits < bits &&
          rounded_bits - std::min(rounded_bits, centred_lsbs) < bits - std::min(bits, lsbs)) {
        offsets = std::move(o);
        lo = clo;
        hi = chi;
        bits = rounded_bits;
        lsbs = centred_lsbs;
      }
    }
  }
  Value input = e.q;
  if (!offsets.empty()) {
    TORUSML_CHECK_EQ(static_cast<std::size_t>(circuit::element_count(input.shape())), elements);
    input = input - circuit::Tensor(input.shape(), offsets);
  }
  if (lsbs > 0) input = circuit::round_bit_pattern(input, lsbs, options_.rounding_mode);
  // Tabulate over the range with a margin of a quarter on each side (values outside it map to
  // the nearest end): every position's function, grouped into distinct tables.
  const std::int64_t step = std::int64_t{1} << lsbs;
  const std::int64_t margin = (hi - lo) / 4 + 2 * step;
  const std::int64_t first = floor_div(lo - margin, step), last = ceil_div(hi + margin, step);
  std::vector<std::vector<std::int64_t>> columns(elements);
  std::vector<double> xs(elements);
  for (std::int64_t k = first; k <= last; ++k) {
    for (std::size_t p = 0; p < elements; ++p)
      xs[p] = e.scale_at(p) *
              (static_cast<double>(k * step + (offsets.empty() ? 0 : offsets[p]) - e.zero_point) +
               e.residual_at(p));
    const FloatTensor filled(shape, xs);
    const FloatTensor y =
        e.chain.empty() ? filled : onnx::evaluate_graph(chain, std::span(&filled, 1)).at(0);
    for (std::size_t p = 0; p < elements; ++p)
      columns[p].push_back(std::isfinite(y[p]) ? quantizer.quantize(y[p])
                                               : (y[p] > 0 ? quantizer.q_max() : 0));
  }
  std::map<std::vector<std::int64_t>, std::int32_t> table_of;
  std::vector<circuit::TableFunction> tables;
  std::vector<std::int32_t> element_table(elements);
  for (std::size_t p = 0; p < elements; ++p) {
    auto [it, added] = table_of.emplace(columns[p], static_cast<std::int32_t>(tables.size()));
    if (added) {
      auto values = std::make_shared<const std::vector<std::int64_t>>(columns[p]);
      tables.push_back({[values, first, step](std::int64_t v) {
                          const std::int64_t k = std::clamp<std::int64_t>(
                              floor_div(v, step) - first, 0,
                              static_cast<std::int64_t>(values->size()) - 1);
                          return (*values)[static_cast<std::size_t>(k)];
                        },
                        name});
    }
    element_table[p] = it->second;
  }
  if (tables.size() == 1) element_table.clear();
  Encrypted a;
  a.q = circuit::apply_tables(input, std::move(tables), std::move(element_table));
  a.scale = quantizer.scale();
  a.zero_point = quantizer.zero_point();
  a.activation = true;
  a.grid_bits = quantizer.n_bits();
  a.quantization_aware = qat.has_value() || (regrid && e.quantization_aware);
  a.base = name;
  NetworkLookup l{name, {}, elements, table_of.size(), bits, lsbs, a.q.id()};
  l.output_bits = quantizer.n_bits();
  l.quantization_aware = a.quantization_aware;
  for (const Node* n : e.chain) l.ops.push_back(n->op_type);
  if (l.ops.empty()) l.ops.push_back("Identity");
  out_.lookups.push_back(std::move(l));
  return a;
}

unsigned NetworkLowering::automatic_lsbs(const Encrypted& e, const onnx::Graph& chain,
                                         double step_out, double in_lo, double in_hi,
                                         unsigned bits) const {
  double slope = 1.0;  // a re-quantization: the identity
  if (!e.chain.empty() && in_hi > in_lo) {
    const onnx::Shape& shape = graph_.value_info(e.base).shape;
    const auto elements = static_cast<std::size_t>(onnx::element_count(shape));
    constexpr int kPoints = 257;
    const double dx = (in_hi - in_lo) / (kPoints - 1);
    slope = 0;
    std::vector<double> previous;
    for (int i = 0; i < kPoints; ++i) {
      const FloatTensor filled(shape, std::vector<double>(elements, in_lo + i * dx));
      const FloatTensor y = onnx::evaluate_graph(chain, std::span(&filled, 1)).at(0);
      if (!previous.empty())
        for (std::size_t p = 0; p < elements; ++p) {
          const double d = std::abs(y[p] - previous[p]) / dx;
          if (std::isfinite(d)) slope = std::max(slope, d);
        }
      previous.assign(y.values().begin(), y.values().end());
    }
  }
  int lsbs = 0;
  if (slope > 0)
    lsbs = static_cast<int>(std::floor(std::log2(step_out / (slope * e.scale))));
  else
    lsbs = static_cast<int>(bits);  // a constant function: any input will do
  const int most = static_cast<int>(bits) - 2,
            least = static_cast<int>(bits) - static_cast<int>(kAutomaticRoundingBits);
  return static_cast<unsigned>(std::max({0, least, std::min(lsbs, most)}));
}

std::int64_t NetworkLowering::floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

onnx::Graph NetworkLowering::chain_graph(const Encrypted& e, const std::string& name) const {
  onnx::Graph g;
  g.name = "chain";
  g.opset = graph_.opset;
  g.inputs.push_back({e.base, info(e.base)});
  g.outputs.push_back({name, info(name)});
  g.values[e.base] = info(e.base);
  for (const Node* n : e.chain) {
    g.nodes.push_back(*n);
    for (const std::string& i : n->inputs) {
      if (i.empty()) continue;
      if (const FloatTensor* c = constant(i)) {
        g.initializers[i] = *c;
        g.values[i] = graph_.value_info(i);
      }
    }
    for (const std::string& o : n->outputs)
      if (!o.empty()) g.values[o] = info(o);
  }
  return g;
}

Encrypted NetworkLowering::rescale(const Encrypted& e, const std::string& name, double target) {
  TORUSML_CHECK(e.scales.empty(), "re-quantizing a value of one scale");
  const auto [lo, hi] = range_of(name);
  const auto qlo = static_cast<std::int64_t>(std::floor(lo / target)) - 1;
  const auto qhi = static_cast<std::int64_t>(std::ceil(hi / target)) + 1;
  const double scale = e.scale;
  const std::int64_t zp = e.zero_point;
  Encrypted r;
  r.q = circuit::apply_table(
      e.q,
      [scale, zp, target, qlo, qhi](std::int64_t v) {
        return std::clamp<std::int64_t>(std::llround(scale * static_cast<double>(v - zp) / target),
                                        qlo, qhi);
      },
      name + ".rescale");
  r.scale = target;
  r.zero_point = 0;
  r.activation = false;
  r.base = name;
  out_.lookups.push_back(
      {name + " (rescaled)",
       {"Rescale"},
       static_cast<std::size_t>(onnx::element_count(graph_.value_info(name).shape)),
       1,
       0,
       0,
       r.q.id()});
  return r;
}

}  // namespace torusml::ml::detail
