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

FloatTensor NetworkLowering::evaluate_alone(const Node& node,
                                            const std::vector<FloatTensor>& inputs,
                                            const std::vector<onnx::ElementType>& types) const {
  onnx::Graph g;
  g.name = "node";
  g.opset = graph_.opset;
  Node copy = node;
  for (std::size_t i = 0; i < copy.inputs.size(); ++i) {
    if (copy.inputs[i].empty()) continue;
    const std::string name = "in" + std::to_string(i);
    copy.inputs[i] = name;
    g.initializers[name] = inputs.at(i);
    g.values[name] = {i < types.size() ? types[i] : onnx::ElementType::Float, inputs.at(i).shape()};
  }
  for (const std::string& o : copy.outputs)
    if (!o.empty()) g.values[o] = graph_.value_info(o);
  g.outputs.push_back({copy.outputs.at(0), graph_.value_info(copy.outputs.at(0))});
  g.nodes.push_back(std::move(copy));
  return onnx::evaluate_graph(g, {}).at(0);
}

void NetworkLowering::lower_constant(const Node& node) {
  std::vector<FloatTensor> inputs;
  std::vector<onnx::ElementType> types;
  for (const std::string& i : node.inputs) {
    const FloatTensor* c = constant(i);
    if (!i.empty() && c == nullptr) unsupported(node, "an operand computed from no input");
    inputs.push_back(c ? *c : FloatTensor());
    types.push_back(i.empty() ? onnx::ElementType::Float : graph_.value_info(i).type);
  }
  const std::string& out = node.outputs.at(0);
  constants_[out] = evaluate_alone(node, inputs, types);
  const std::string& op = node.op_type;
  if (op == "DequantizeLinear") {
    // (q - zero_point) * scale: the integers q - zero_point on a grid of that scale, one per
    // tensor or one per index along the axis.
    const onnx::QuantizationParameters p = onnx::quantization_parameters(graph_, node);
    const onnx::Shape& shape = constants_[out].shape();
    FloatTensor grid(shape);
    std::size_t dim = 1, inner = 1;
    if (p.axis) {
      const auto axis = static_cast<std::size_t>(*p.axis);
      dim = static_cast<std::size_t>(shape.at(axis));
      for (std::size_t d = axis + 1; d < shape.size(); ++d)
        inner *= static_cast<std::size_t>(shape[d]);
    }
    if (p.scale.size() != dim) return;
    for (std::size_t i = 0; i < grid.size(); ++i) {
      const double s = p.scale[(i / inner) % dim];
      if (!(s > 0) || !std::isfinite(s)) return;
      grid.data()[i] = s;
    }
    weight_grid_[out] = std::move(grid);
  } else if ((op == "Identity" || op == "Transpose" || op == "Reshape" || op == "Flatten" ||
              op == "Squeeze" || op == "Unsqueeze") &&
             weight_grid_.count(node.inputs.at(0)) != 0) {
    // Data movement keeps each weight on its grid.
    inputs[0] = weight_grid_.at(node.inputs[0]);
    weight_grid_[out] = evaluate_alone(node, inputs, types);
  }
}

std::vector<double> NetworkLowering::weight_channel_scales(const Node& node, const FloatTensor& w,
                                                           double alpha) const {
  const auto grid = weight_grid_.find(node.inputs.at(1));
  if (grid == weight_grid_.end() || grid->second.shape() != w.shape() || !(alpha > 0)) return {};
  // The output channel each weight contributes to.
  const onnx::Shape& shape = w.shape();
  const std::size_t rank = shape.size();
  const std::string& op = node.op_type;
  std::size_t axis = 0, channels = 1;  // of the weights
  std::size_t group_size = 0, per_group = 0;
  if (op == "Conv") {
    channels = static_cast<std::size_t>(shape.at(0));
  } else if (op == "ConvTranspose") {  // (C_in, C_out / group, ...): out = g * C_out/g + j
    const auto groups = static_cast<std::size_t>(node.int_attribute("group", 1));
    axis = 1;
    per_group = static_cast<std::size_t>(shape.at(1));
    group_size = static_cast<std::size_t>(shape.at(0)) / groups;
    channels = groups * per_group;
  } else if (op == "Gemm") {
    axis = node.int_attribute("transB", 0) != 0 ? 0 : 1;
    channels = static_cast<std::size_t>(shape.at(axis));
  } else if (rank >= 2) {  // MatMul: the last axis (a 1-D right operand has no output axis)
    axis = rank - 1;
    channels = static_cast<std::size_t>(shape.back());
  }
  std::vector<std::size_t> strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;)
    strides[d - 1] = strides[d] * static_cast<std::size_t>(shape[d]);
  constexpr double kUnset = -1.0;
  std::vector<double> scales(channels, kUnset);
  for (std::size_t i = 0; i < w.size(); ++i) {
    std::size_t c = 0;
    if (rank > 0 && channels > 1) {
      c = (i / strides[axis]) % static_cast<std::size_t>(shape[axis]);
      if (per_group != 0) c += (i / strides[0] / group_size) * per_group;
    }
    const double g = grid->second[i];
    const double k = w[i] / g;
    // Every weight an integer on its grid, one scale per output channel (a per-axis grid on an
    // input axis gives none: the sum of products would mix scales).
    if (std::abs(k - std::nearbyint(k)) > 1e-6 || (scales[c] != kUnset && scales[c] != g))
      return {};
    scales[c] = g;
  }
  for (double& s : scales) s = s == kUnset ? alpha : s * alpha;
  return scales;
}

void NetworkLowering::lower_linear(const Node& node, const std::vector<std::string>& enc) {
  const std::string& op = node.op_type;
  if (enc.size() != 1 || enc[0] != node.inputs.at(0) ||
      (op == "MatMul" && constant(node.inputs.at(1)) == nullptr))
    unsupported(node, "a product with an encrypted second operand");
  const FloatTensor* w = constant(node.inputs.at(1));
  if (w == nullptr) unsupported(node, "non-constant weights");
  const Encrypted x = materialize(enc[0], true);
  TORUSML_CHECK(x.scales.empty(), "a linear layer reads values of one scale");
  double alpha = 1.0;
  if (op == "Gemm") alpha = node.float_attribute("alpha", 1.0);
  // The quantization-aware model's own integers (weights dequantized by a DequantizeLinear, per
  // tensor or per output channel: exact), else symmetric signed weights of op_weights bits.
  std::vector<double> w_scales = weight_channel_scales(node, *w, alpha);
  FloatTensor wq = *w;
  if (!w_scales.empty()) {
    const FloatTensor& grid = weight_grid_.at(node.inputs.at(1));
    for (std::size_t i = 0; i < wq.size(); ++i) wq.data()[i] = std::nearbyint((*w)[i] / grid[i]);
  } else {
    double w_max = 0;
    for (double v : w->values()) w_max = std::max(w_max, std::abs(v * alpha));
    const unsigned wb = options_.bits.op_weights;
    const double levels = wb >= 2 ? static_cast<double>((std::int64_t{1} << (wb - 1)) - 1) : 1.0;
    const double w_scale = w_max > 0 ? w_max / levels : 1.0;
    for (double& v : wq.data()) v = std::nearbyint(v * alpha / w_scale);
    w_scales = {w_scale};
  }
  // The accumulator's scale: x's times the weight scale of each element's output channel (axis
  // 1 of a convolution's or Gemm's output, the last of MatMul's).
  const onnx::Shape& out_shape = graph_.value_info(node.outputs.at(0)).shape;
  const auto elements = static_cast<std::size_t>(onnx::element_count(out_shape));
  std::vector<double> scales(elements, x.scale * w_scales[0]);
  if (w_scales.size() > 1) {
    const std::size_t axis = op == "MatMul" ? out_shape.size() - 1 : 1;
    TORUSML_CHECK_EQ(static_cast<std::size_t>(out_shape.at(axis)), w_scales.size());
    std::size_t inner = 1;
    for (std::size_t d = axis + 1; d < out_shape.size(); ++d)
      inner *= static_cast<std::size_t>(out_shape[d]);
    for (std::size_t p = 0; p < elements; ++p)
      scales[p] = x.scale * w_scales[(p / inner) % w_scales.size()];
  }
  // Bias: Gemm's beta C, Conv's B, broadcast to the output (the node run on a zero input) and
  // quantized at each element's accumulator scale.
  std::vector<std::int64_t> offset(elements, 0);
  std::vector<double> residuals;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const FloatTensor* c = constant(node.inputs[2]);
    if (c == nullptr) unsupported(node, "a non-constant bias");
    const onnx::Shape& x_shape = graph_.value_info(enc[0]).shape;
    const FloatTensor bias = evaluate_alone(
        node,
        {FloatTensor(x_shape, std::vector<double>(
                                  static_cast<std::size_t>(onnx::element_count(x_shape)), 0.0)),
         *w, *c});
    residuals.assign(elements, 0.0);
    for (std::size_t p = 0; p < elements; ++p) {
      const double units = bias[p] / scales[p];
      offset[p] = static_cast<std::int64_t>(std::nearbyint(units));
      // A bias on the grid up to float32 rounding (a model that put it there) has none.
      const double r = units - static_cast<double>(offset[p]);
      residuals[p] = std::abs(r) <= 1e-6 * std::max(1.0, std::abs(units)) ? 0.0 : r;
    }
    if (std::all_of(residuals.begin(), residuals.end(), [](double v) { return v == 0.0; }))
      residuals.clear();
  }
  // The input centered first (x - z: float 0 is integer 0, so padding adds zeros, and no
  // intermediate is wider than the accumulator); the constant term is then the bias alone.
  const Value centered = x.zero_point != 0 ? x.q - x.zero_point : x.q;
  Value acc;
  const circuit::Tensor wt = to_int_tensor(wq);
  if (op == "Conv") {
    acc = lower_conv(node, centered, wt);
  } else if (op == "ConvTranspose") {
    acc = lower_conv_transpose(node, centered, wt);
  } else if (op == "Gemm") {
    acc = circuit::gemm(centered, wt, std::nullopt, 1, 1, node.int_attribute("transA", 0) != 0,
                        node.int_attribute("transB", 0) != 0);
  } else {
    acc = circuit::matmul(centered, wt);
  }
  acc = acc + circuit::Tensor(out_shape, std::move(offset));
  Encrypted r;
  r.q = acc;
  r.set_scales(std::move(scales));
  r.zero_point = 0;
  r.residuals = std::move(residuals);
  r.base = node.outputs.at(0);
  values_[r.base] = r;
}

Value NetworkLowering::lower_conv(const Node& node, Value x, const circuit::Tensor& w) {
  const std::size_t rank = w.shape().size();
  if (rank != 3 && rank != 4) unsupported(node, "a convolution other than 1-D or 2-D");
  const std::string auto_pad = node.string_attribute("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    unsupported(node, "auto_pad " + auto_pad + " (export with explicit padding)");
  const std::size_t spatial = rank - 2;
  std::vector<std::int64_t> strides = node.ints_attribute("strides", {});
  std::vector<std::int64_t> dilations = node.ints_attribute("dilations", {});
  std::vector<std::int64_t> pads = node.ints_attribute("pads", {});
  if (strides.empty()) strides.assign(spatial, 1);
  if (dilations.empty()) dilations.assign(spatial, 1);
  if (pads.empty() || auto_pad == "VALID") pads.assign(2 * spatial, 0);
  circuit::Conv2dAttr a;
  a.groups = node.int_attribute("group", 1);
  if (spatial == 2) {
    a.strides = strides;
    a.dilations = dilations;
    a.pads = pads;  // ONNX: top, left, bottom, right
    return circuit::conv2d(x, w, std::nullopt, a);
  }
  // 1-D: as 2-D with a height of 1.
  circuit::Shape xs = x.shape();
  const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
  const Value x2 = circuit::reshape(x, {xs[0], xs[1], 1, xs[2]});
  const circuit::Shape& ws = w.shape();
  const circuit::Tensor w2({ws[0], ws[1], 1, ws[2]},
                           std::vector<std::int64_t>(w.values().begin(), w.values().end()));
  a.strides = {1, strides[0]};
  a.dilations = {1, dilations[0]};
  a.pads = {0, pads[0], 0, pads[1]};
  return circuit::reshape(circuit::conv2d(x2, w2, std::nullopt, a), out_shape);
}

namespace {

// The scale of each element of a sum over `axes` (normalized; empty: all) of elements with
// per-element `scales` (row-major over `shape`), in the sum's row-major order; empty if the
// scales differ within a sum.
std::vector<double> summed_scales(const onnx::Shape& shape, const std::vector<double>& scales,
                                  const std::vector<std::int64_t>& axes) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (std::int64_t a : axes) reduced.at(static_cast<std::size_t>(a)) = true;
  std::size_t n = 1;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (!reduced[d]) n *= static_cast<std::size_t>(shape[d]);
  constexpr double kUnset = -1.0;
  std::vector<double> out(n, kUnset);
  std::vector<std::int64_t> index(shape.size(), 0);
  for (double s : scales) {
    std::size_t o = 0;
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (!reduced[d])
        o = o * static_cast<std::size_t>(shape[d]) + static_cast<std::size_t>(index[d]);
    if (out[o] != kUnset && out[o] != s) return {};
    out[o] = s;
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

}  // namespace

void NetworkLowering::lower_sum(const Node& node, const std::vector<std::string>& enc) {
  // A sum is linear: it reads an accumulator as it is (Conv -> AveragePool -> Relu is one lookup
  // per pooled element, after the pooling), and a pending univariate chain through its lookup.
  Encrypted x = encrypted(enc.at(0));
  if (!x.chain.empty() || x.client_only != nullptr) x = materialize(enc.at(0));
  const std::string& op = node.op_type;
  const onnx::Shape& in_shape = graph_.value_info(enc[0]).shape;
  const onnx::Shape& out_shape = graph_.value_info(node.outputs.at(0)).shape;
  // The summed axes: the spatial ones of the pooling (whose windows stay within one channel),
  // the reduction's.
  std::vector<std::int64_t> axes;
  if (op == "ReduceSum" || op == "ReduceMean") {
    for (std::int64_t a : node.ints_attribute("axes", {}))
      axes.push_back(a < 0 ? a + static_cast<std::int64_t>(in_shape.size()) : a);
  } else {
    for (std::size_t d = 2; d < in_shape.size(); ++d) axes.push_back(static_cast<std::int64_t>(d));
  }
  // Per-channel scales (a per-channel quantized layer's accumulator) add up within a channel; a
  // sum across channels of different scales reads them re-quantized to one scale (a lookup).
  std::vector<double> sum_scales;
  if (!x.scales.empty()) {
    sum_scales = summed_scales(in_shape, x.scales, axes);
    if (sum_scales.empty()) x = materialize(enc.at(0));
  }
  // Only a sum of activations stays narrow enough for a linear layer to read it directly.
  const bool summed = x.activation || x.summed;
  const double count = static_cast<double>(onnx::element_count(in_shape)) /
                       static_cast<double>(onnx::element_count(out_shape));
  // The result's scales: the summed scales over the divisor (each pooled element of a channel
  // at that channel's).
  auto set_scales = [&](Encrypted& r, double divisor) {
    r.scale = x.scale / divisor;
    if (sum_scales.empty()) return;
    const auto elements = static_cast<std::size_t>(onnx::element_count(out_shape));
    const std::size_t per_sum = elements / sum_scales.size();
    std::vector<double> s(elements);
    for (std::size_t p = 0; p < elements; ++p) s[p] = sum_scales[p / per_sum] / divisor;
    r.set_scales(std::move(s));
  };
  Value s;
  double divisor = 1.0;
  // The residuals of the summed elements add up (padding holds none): the node's mean of them
  // times the divisor.
  auto sum_residuals = [&](Encrypted& r) {
    if (x.residuals.empty()) return;
    std::vector<FloatTensor> inputs{FloatTensor(in_shape, x.residuals)};
    for (std::size_t i = 1; i < node.inputs.size(); ++i) {
      const FloatTensor* c = constant(node.inputs[i]);
      inputs.push_back(c != nullptr ? *c : FloatTensor());
    }
    const FloatTensor mean = evaluate_alone(node, inputs);
    r.residuals.assign(mean.values().begin(), mean.values().end());
    for (double& v : r.residuals) v *= divisor;
  };
  if (op == "GlobalAveragePool") {
    s = circuit::sum(x.q, axes, true);
    divisor = count;
  } else if (op == "ReduceSum" || op == "ReduceMean") {
    const bool keep = node.int_attribute("keepdims", 1) != 0;
    s = circuit::sum(x.q, node.ints_attribute("axes", {}), keep);
    if (op == "ReduceMean") divisor = count;
  } else {  // AveragePool
    const std::vector<std::int64_t> kernel = node.ints_attribute("kernel_shape", {});
    std::vector<std::int64_t> pads = node.ints_attribute("pads", {});
    const bool padded = std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; });
    if (kernel.size() != 2) unsupported(node, "an AveragePool other than 2-D");
    if (padded && node.int_attribute("count_include_pad", 0) == 0)
      unsupported(node, "a padded AveragePool without count_include_pad");
    if (node.int_attribute("ceil_mode", 0) != 0) unsupported(node, "ceil_mode");
    circuit::Pool2dAttr a;
    a.kernel = kernel;
    a.strides = node.ints_attribute("strides", {1, 1});
    a.pads = pads.empty() ? std::vector<std::int64_t>{0, 0, 0, 0} : pads;
    // Padding reads 0 = float -scale * zero_point: subtract the zero point first.
    const Value centered = padded ? x.q - x.zero_point : x.q;
    s = circuit::sum_pool2d(centered, a);
    divisor = static_cast<double>(kernel[0] * kernel[1]);
    Encrypted r;
    r.q = s;
    set_scales(r, divisor);
    r.zero_point = padded ? 0 : x.zero_point * kernel[0] * kernel[1];
    r.summed = summed;
    sum_residuals(r);
    r.base = node.outputs.at(0);
    values_[r.base] = r;
    return;
  }
  Encrypted r;
  r.q = circuit::reshape(s, out_shape);
  set_scales(r, divisor);
  r.zero_point = static_cast<std::int64_t>(std::llround(count)) * x.zero_point;
  r.summed = summed;
  sum_residuals(r);
  r.base = node.outputs.at(0);
  values_[r.base] = r;
}

// ConvTranspose (2-D) as a convolution: the input with (stride - 1) zeros inserted between
// elements (data movement: encrypted zeros are x * 0), padded by dilation (kernel - 1) - pad on
// each side (plus output_padding at the end), convolved with the kernel flipped in space and its
// input and output channels exchanged within each group, stride 1.
Value NetworkLowering::lower_conv_transpose(const Node& node, Value x, const circuit::Tensor& w) {
  if (w.shape().size() != 4) unsupported(node, "a ConvTranspose other than 2-D");
  const std::string auto_pad = node.string_attribute("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    unsupported(node, "auto_pad " + auto_pad + " (export with explicit padding)");
  if (node.has_attribute("output_shape"))
    unsupported(node, "an explicit output_shape (export with pads and output_padding)");
  const std::vector<std::int64_t> s = node.ints_attribute("strides", {1, 1});
  const std::vector<std::int64_t> d = node.ints_attribute("dilations", {1, 1});
  std::vector<std::int64_t> p = node.ints_attribute("pads", {0, 0, 0, 0});
  if (auto_pad == "VALID") p = {0, 0, 0, 0};
  const std::vector<std::int64_t> op = node.ints_attribute("output_padding", {0, 0});
  const std::int64_t g = node.int_attribute("group", 1);
  const circuit::Shape ws = w.shape();  // (C_in, C_out / g, kh, kw)
  const std::int64_t cin = ws[0], cout_g = ws[1], kh = ws[2], kw = ws[3], cin_g = cin / g;
  // Zeros between elements, axis by axis.
  for (int axis = 0; axis < 2; ++axis) {
    const std::int64_t stride = s[static_cast<std::size_t>(axis)];
    if (stride == 1) continue;
    circuit::Shape shape = x.shape();  // (N, C, H, W)
    const auto a = static_cast<std::size_t>(2 + axis);
    const std::int64_t n = shape[a];
    circuit::Shape split = shape;
    split.insert(split.begin() + static_cast<std::ptrdiff_t>(a) + 1, 1);
    const Value column = circuit::reshape(x, split);
    circuit::Shape gap = split;
    gap[a + 1] = stride - 1;
    const Value zeros = circuit::broadcast_to(column * 0, gap);
    const Value parts[] = {column, zeros};
    circuit::Shape spread = shape;
    spread[a] = n * stride;
    const Value interleaved =
        circuit::reshape(circuit::concatenate(parts, static_cast<std::int64_t>(a) + 1), spread);
    std::vector<std::int64_t> starts(4, 0), stops(spread.begin(), spread.end());
    stops[a] = (n - 1) * stride + 1;
    x = circuit::slice(interleaved, starts, stops);
  }
  // Padding by dilation (k - 1) - pad (+ output_padding at the end); negative amounts crop.
  std::vector<std::int64_t> before(4, 0), after(4, 0), crop_begin(4, 0), crop_end(4, 0);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::int64_t k = i == 0 ? kh : kw;
    const std::int64_t lo = d[i] * (k - 1) - p[i], hi = d[i] * (k - 1) - p[i + 2] + op[i];
    before[2 + i] = std::max<std::int64_t>(lo, 0);
    after[2 + i] = std::max<std::int64_t>(hi, 0);
    crop_begin[2 + i] = std::max<std::int64_t>(-lo, 0);
    crop_end[2 + i] = std::max<std::int64_t>(-hi, 0);
  }
  x = circuit::pad(x, before, after, 0);
  if (std::any_of(crop_begin.begin(), crop_begin.end(), [](auto v) { return v != 0; }) ||
      std::any_of(crop_end.begin(), crop_end.end(), [](auto v) { return v != 0; })) {
    const circuit::Shape shape = x.shape();
    std::vector<std::int64_t> stops(shape.begin(), shape.end());
    for (std::size_t i = 0; i < 4; ++i) stops[i] -= crop_end[i];
    x = circuit::slice(x, crop_begin, stops);
  }
  // The flipped kernel, channels exchanged within each group: (C_out, C_in / g, kh, kw).
  const auto values = w.values();
  std::vector<std::int64_t> flipped(static_cast<std::size_t>(g * cout_g * cin_g * kh * kw));
  for (std::int64_t gi = 0; gi < g; ++gi)
    for (std::int64_t o = 0; o < cout_g; ++o)
      for (std::int64_t i = 0; i < cin_g; ++i)
        for (std::int64_t a = 0; a < kh; ++a)
          for (std::int64_t b = 0; b < kw; ++b) {
            const std::int64_t src =
                (((gi * cin_g + i) * cout_g + o) * kh + (kh - 1 - a)) * kw + (kw - 1 - b);
            const std::int64_t dst = (((gi * cout_g + o) * cin_g + i) * kh + a) * kw + b;
            flipped[static_cast<std::size_t>(dst)] = values[static_cast<std::size_t>(src)];
          }
  circuit::Conv2dAttr attr;
  attr.strides = {1, 1};
  attr.dilations = d;
  attr.pads = {0, 0, 0, 0};
  attr.groups = g;
  const Value y = circuit::conv2d(
      x, circuit::Tensor({g * cout_g, cin_g, kh, kw}, std::move(flipped)), std::nullopt, attr);
  const circuit::Shape expected = graph_.value_info(node.outputs.at(0)).shape;
  if (y.shape() != expected)
    unsupported(node, "this ConvTranspose geometry (lowered to shape " +
                          circuit::shape_to_string(y.shape()) + ", expected " +
                          circuit::shape_to_string(expected) + ")");
  return y;
}

}  // namespace torusml::ml::detail
