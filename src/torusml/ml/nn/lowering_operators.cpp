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

void NetworkLowering::lower_max_pool(const Node& node, const std::vector<std::string>& enc) {
  const Encrypted x = materialize(enc.at(0));
  const std::vector<std::int64_t> kernel = node.ints_attribute("kernel_shape", {});
  if (kernel.size() != 2) unsupported(node, "a MaxPool other than 2-D");
  if (node.int_attribute("ceil_mode", 0) != 0) unsupported(node, "ceil_mode");
  std::vector<std::int64_t> strides = node.ints_attribute("strides", {1, 1});
  std::vector<std::int64_t> pads = node.ints_attribute("pads", {0, 0, 0, 0});
  std::vector<std::int64_t> dil = node.ints_attribute("dilations", {1, 1});
  Value in = x.q;
  if (std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; }))
    in = circuit::pad(in, {0, 0, pads[0], pads[1]}, {0, 0, pads[2], pads[3]}, 0);
  const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
  Value result;
  for (std::int64_t i = 0; i < kernel[0]; ++i)
    for (std::int64_t j = 0; j < kernel[1]; ++j) {
      const std::int64_t h0 = i * dil[0], w0 = j * dil[1];
      const Value s =
          circuit::slice(in, {0, 0, h0, w0},
                         {out_shape[0], out_shape[1], h0 + (out_shape[2] - 1) * strides[0] + 1,
                          w0 + (out_shape[3] - 1) * strides[1] + 1},
                         {1, 1, strides[0], strides[1]});
      result = result.valid() ? circuit::maximum(result, s) : s;
    }
  // The maxima stay in the activations' narrow encoding: the next consumer re-encodes them with
  // one lookup (activation false), so the comparisons never read a wide accumulator's encoding.
  Encrypted r = x;
  r.q = result;
  r.activation = false;
  r.base = node.outputs.at(0);
  const std::size_t comparisons = static_cast<std::size_t>(onnx::element_count(out_shape)) *
                                  static_cast<std::size_t>(kernel[0] * kernel[1] - 1);
  out_.lookups.push_back({r.base, {"MaxPool"}, comparisons, 1, 0, 0, result.id()});
  values_[r.base] = r;
}

void NetworkLowering::lower_add(const Node& node, const std::vector<std::string>& enc) {
  if (enc.size() != 2) unsupported(node, "this operand combination");
  if (graph_.value_info(enc[0]).shape != graph_.value_info(enc[1]).shape)
    unsupported(node, "an addition of encrypted tensors of different shapes");
  Encrypted a = materialize(enc[0]), c = materialize(enc[1]);
  if (a.scale != c.scale) {
    // Re-quantize both onto the scale of the sum's range.
    const auto [lo, hi] = range_of(node.outputs.at(0));
    const double span = std::max({std::abs(lo), std::abs(hi), 1e-12});
    const double target =
        span / static_cast<double>((std::int64_t{1} << options_.bits.op_inputs) - 1);
    a = rescale(a, enc[0], target);
    c = rescale(c, enc[1], target);
  }
  Encrypted r;
  const bool add = node.op_type == "Add";
  r.q = add ? a.q + c.q : a.q - c.q;
  r.scale = a.scale;
  r.zero_point = add ? a.zero_point + c.zero_point : a.zero_point - c.zero_point;
  r.base = node.outputs.at(0);
  values_[r.base] = r;
}

void NetworkLowering::lower_binary(const Node& node, const std::vector<std::string>& enc) {
  if (info(enc[0]).shape != info(enc[1]).shape ||
      info(enc[0]).shape != graph_.value_info(node.outputs.at(0)).shape)
    unsupported(node, "this operator on encrypted tensors of different shapes");
  Encrypted a = materialize(enc[0]), c = materialize(enc[1]);
  const std::string& op = node.op_type;
  const std::size_t elements =
      static_cast<std::size_t>(onnx::element_count(graph_.value_info(node.outputs.at(0)).shape));
  Encrypted r;
  r.base = node.outputs.at(0);
  if (op == "Mul" || op == "Div") {
    r.q = circuit::multiply(a.q - a.zero_point, c.q - c.zero_point);
    r.scale = a.scale * c.scale;
    out_.lookups.push_back({r.base, {op}, 2 * elements, 2, 0, 0, r.q.id()});
    values_[r.base] = r;
    return;
  }
  if (op == "And" || op == "Or" || op == "Xor") {
    // Each operand to 0 / 1 (a lookup unless it already is a boolean, e.g. a comparison's
    // result), their sum (0, 1 or 2), and one lookup of the sum.
    std::size_t conversions = 0;
    auto boolean = [&](const Encrypted& e, const std::string& name) {
      const auto [lo, hi] = range_of(name);
      const Value v = e.q - e.zero_point;
      if (e.scale == 1.0 && e.zero_point == 0 && lo >= 0 && hi <= 1) return v;
      ++conversions;
      return circuit::apply_table(
          v, [](std::int64_t t) -> std::int64_t { return t != 0 ? 1 : 0; }, name + " != 0");
    };
    const Value sum = boolean(a, enc[0]) + boolean(c, enc[1]);
    r.q = circuit::apply_table(
        sum,
        [op](std::int64_t t) -> std::int64_t {
          return op == "And" ? t == 2 : op == "Or" ? t >= 1 : t == 1;
        },
        op);
    r.scale = 1.0;
    r.activation = true;
    out_.lookups.push_back(
        {r.base, {op}, (1 + conversions) * elements, 1 + conversions, 0, 0, r.q.id()});
    values_[r.base] = r;
    return;
  }
  if (a.scale != c.scale) {
    const auto [alo, ahi] = range_of(enc[0]);
    const auto [clo, chi] = range_of(enc[1]);
    const double span =
        std::max({std::abs(alo), std::abs(ahi), std::abs(clo), std::abs(chi), 1e-12});
    const double target =
        span / static_cast<double>((std::int64_t{1} << options_.bits.op_inputs) - 1);
    a = rescale(a, enc[0], target);
    c = rescale(c, enc[1], target);
  }
  const Value x = a.q - a.zero_point, y = c.q - c.zero_point;
  if (op == "Max" || op == "Min") {
    r.q = op == "Max" ? circuit::maximum(x, y) : circuit::minimum(x, y);
    r.scale = a.scale;
  } else {
    r.q = op == "Greater"          ? circuit::greater(x, y)
          : op == "GreaterOrEqual" ? circuit::greater_equal(x, y)
          : op == "Less"           ? circuit::less(x, y)
          : op == "LessOrEqual"    ? circuit::less_equal(x, y)
                                   : circuit::equal(x, y);
    r.scale = 1.0;
    r.activation = true;
  }
  out_.lookups.push_back({r.base, {op}, elements, 1, 0, 0, r.q.id()});
  values_[r.base] = r;
}

void NetworkLowering::lower_division(const Node& node, const std::vector<std::string>& enc) {
  const auto [lo, hi] = range_of(enc[1]);
  if (lo <= 0 && hi >= 0)
    unsupported(node,
                "a division by an encrypted value that is 0 or changes sign on the input set");
  Node& reciprocal = synthetic_.emplace_back();
  reciprocal.op_type = "Reciprocal";
  reciprocal.name = node.name + ".reciprocal";
  reciprocal.inputs = {enc[1]};
  const std::string name = enc[1] + ".reciprocal(" + node.name + ")";
  reciprocal.outputs = {name};
  extra_values_[name] = info(enc[1]);
  ranges_[name] = {std::min(1 / lo, 1 / hi), std::max(1 / lo, 1 / hi)};
  Encrypted b = encrypted(enc[1]);
  b.chain.push_back(&reciprocal);
  values_[name] = b;
  lower_binary(node, {enc[0], name});
}

void NetworkLowering::lower_expand(const Node& node, const std::vector<std::string>& enc) {
  if (enc.size() != 1 || enc[0] != node.inputs.at(0))
    unsupported(node, "an Expand of a constant by an encrypted shape");
  Encrypted x = materialize(enc[0]);
  const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
  x.q = circuit::broadcast_to(x.q, out_shape);
  x.base = node.outputs.at(0);
  values_[x.base] = x;
}

void NetworkLowering::lower_movement(const Node& node, const std::vector<std::string>& enc) {
  const std::string& op = node.op_type;
  const std::string& out = node.outputs.at(0);
  const circuit::Shape out_shape = graph_.value_info(out).shape;
  if (op == "Concat") {
    std::vector<Encrypted> parts;
    for (const std::string& i : node.inputs) {
      if (!is_encrypted(i)) unsupported(node, "a concatenation with constants");
      parts.push_back(materialize(i));
    }
    bool same = true;
    for (const Encrypted& p : parts)
      same = same && p.scale == parts[0].scale && p.zero_point == parts[0].zero_point;
    if (!same) {
      for (std::size_t k = 0; k < parts.size(); ++k) {
        Encrypted e = parts[k];
        e.chain.clear();
        parts[k] = lookup(e, node.inputs[k], options_.bits.op_inputs);
      }
      // Re-quantized separately: distinct ranges. Use one common quantizer instead.
      const auto [lo, hi] = range_of(out);
      const UniformQuantizer common =
          UniformQuantizer::from_range(lo, hi, {options_.bits.op_inputs, false, false});
      for (std::size_t k = 0; k < parts.size(); ++k) {
        const double s = parts[k].scale;
        const std::int64_t z = parts[k].zero_point;
        parts[k].q = circuit::apply_table(
            parts[k].q,
            [s, z, common](std::int64_t v) {
              return common.quantize(s * static_cast<double>(v - z));
            },
            out + ".common");
        parts[k].scale = common.scale();
        parts[k].zero_point = common.zero_point();
        parts[k].grid_bits = common.n_bits();
        parts[k].quantization_aware = false;
      }
    }
    std::vector<Value> qs;
    for (const Encrypted& p : parts) qs.push_back(p.q);
    std::int64_t axis = node.int_attribute("axis", 0);
    if (axis < 0) axis += static_cast<std::int64_t>(out_shape.size());
    Encrypted r = parts[0];
    r.q = circuit::concatenate(qs, axis);
    r.base = out;
    values_[out] = r;
    return;
  }
  if (enc.size() != 1 || enc[0] != node.inputs.at(0))
    unsupported(node, "data movement of a constant operand by an encrypted one");
  // Pending univariate operations must be applied first (position by position); a value without
  // any (an activation, a sum, an accumulator) moves as it is.
  const Encrypted x = encrypted(enc[0]).chain.empty() ? encrypted(enc[0]) : materialize(enc[0]);
  Value q = x.q;
  if (op == "Transpose") {
    q = circuit::transpose(q, node.ints_attribute("perm", {}));
  } else if (op == "Slice") {
    const circuit::Shape& in = graph_.value_info(enc[0]).shape;
    std::vector<std::int64_t> starts(in.size(), 0), stops(in.begin(), in.end()),
        steps(in.size(), 1);
    const auto s = node.ints_attribute("starts"), e = node.ints_attribute("ends");
    auto axes = node.ints_attribute("axes");
    const auto st = node.ints_attribute("steps");
    if (axes.empty())
      for (std::size_t i = 0; i < s.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const auto d = static_cast<std::size_t>(axes[i] < 0 ? axes[i] + in.size() : axes[i]);
      const std::int64_t step = st.empty() ? 1 : st[i];
      if (step <= 0) unsupported(node, "a negative slice step");
      const auto clampi = [&](std::int64_t v) {
        if (v < 0) v += in[d];
        return std::clamp<std::int64_t>(v, 0, in[d]);
      };
      starts[d] = clampi(s[i]);
      stops[d] = clampi(e[i]);
      steps[d] = step;
    }
    q = circuit::slice(q, starts, stops, steps);
  } else if (op == "Gather") {
    const FloatTensor* idx = constant(node.inputs.at(1));
    if (idx == nullptr) unsupported(node, "a Gather with encrypted indices");
    const circuit::Shape& in = graph_.value_info(enc[0]).shape;
    std::int64_t axis = node.int_attribute("axis", 0);
    if (axis < 0) axis += static_cast<std::int64_t>(in.size());
    std::vector<std::int64_t> indices;
    for (double v : idx->values()) {
      auto i = static_cast<std::int64_t>(v);
      if (i < 0) i += in[static_cast<std::size_t>(axis)];
      indices.push_back(i);
    }
    q = circuit::take(q, indices, axis);
  } else if (op == "Pad") {
    const std::string mode = node.string_attribute("mode", "constant");
    if (mode != "constant") unsupported(node, "Pad mode " + mode);
    if (node.float_attribute("value", 0.0) != 0.0) unsupported(node, "padding with non-zeros");
    const auto pads = node.ints_attribute("pads");
    const std::size_t r = pads.size() / 2;
    q = circuit::pad(q, std::vector<std::int64_t>(pads.begin(), pads.begin() + r),
                     std::vector<std::int64_t>(pads.begin() + r, pads.end()), x.zero_point);
  }
  // Reshape, Flatten, Squeeze, Unsqueeze, Identity, and the results above: the output shape.
  if (q.shape() != out_shape) q = circuit::reshape(q, out_shape);
  Encrypted r = x;
  r.q = q;
  if (!x.scales.empty()) r.set_scales(moved_scales(node, x));
  r.residuals.clear();  // an accumulator's bias residuals are not moved: its bias as rounded
  r.base = out;
  values_[out] = r;
}

std::vector<double> NetworkLowering::moved_scales(const Node& node, const Encrypted& x) const {
  std::vector<FloatTensor> inputs;
  std::vector<onnx::ElementType> types;
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string& name = node.inputs[i];
    if (i == 0) {
      inputs.emplace_back(info(name).shape, x.scales);
      types.push_back(onnx::ElementType::Float);
      continue;
    }
    const FloatTensor* c = constant(name);
    inputs.push_back(c ? *c : FloatTensor());
    types.push_back(name.empty() ? onnx::ElementType::Float : graph_.value_info(name).type);
  }
  const FloatTensor moved = evaluate_alone(node, inputs, types);
  std::vector<double> s(moved.values().begin(), moved.values().end());
  for (double& v : s)
    if (!(v > 0)) v = x.scale;
  return s;
}

}  // namespace torusml::ml::detail
