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
  constants_[node.outputs.at(0)] = evaluate_alone(node, inputs, types);
  if (node.op_type == "DequantizeLinear") {
    const onnx::QuantizationParameters p = onnx::quantization_parameters(graph_, node);
    if (!p.axis && p.scale.size() == 1 && p.zero_point[0] == 0 && p.scale[0] > 0)
      weight_grid_[node.outputs.at(0)] = p.scale[0];
  }
}

void NetworkLowering::lower_linear(const Node& node, const std::vector<std::string>& enc) {
  const std::string& op = node.op_type;
  if (enc.size() != 1 || enc[0] != node.inputs.at(0) ||
      (op == "MatMul" && constant(node.inputs.at(1)) == nullptr))
    unsupported(node, "a product with an encrypted second operand");
  const FloatTensor* w = constant(node.inputs.at(1));
  if (w == nullptr) unsupported(node, "non-constant weights");
  const Encrypted x = materialize(enc[0], true);
  double alpha = 1.0;
  if (op == "Gemm") alpha = node.float_attribute("alpha", 1.0);
  // Symmetric signed weights of op_weights bits, or the quantization-aware model's own
  // (weights dequantized by a per-tensor DequantizeLinear with zero point 0: exact integers).
  double w_max = 0;
  for (double v : w->values()) w_max = std::max(w_max, std::abs(v * alpha));
  const unsigned wb = options_.bits.op_weights;
  const double levels = wb >= 2 ? static_cast<double>((std::int64_t{1} << (wb - 1)) - 1) : 1.0;
  double w_scale = w_max > 0 ? w_max / levels : 1.0;
  const auto grid = weight_grid_.find(node.inputs.at(1));
  if (grid != weight_grid_.end() && alpha > 0) w_scale = grid->second * alpha;
  FloatTensor wq = *w;
  for (double& v : wq.data()) v = std::nearbyint(v * alpha / w_scale);
  const double scale = x.scale * w_scale;
  // Bias: Gemm's beta C, Conv's B, quantized at the accumulator's scale.
  std::vector<FloatTensor> inputs{
      FloatTensor(
          graph_.value_info(enc[0]).shape,
          std::vector<double>(
              static_cast<std::size_t>(onnx::element_count(graph_.value_info(enc[0]).shape)), 0.0)),
      wq};
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const FloatTensor* c = constant(node.inputs[2]);
    if (c == nullptr) unsupported(node, "a non-constant bias");
    FloatTensor cq = *c;
    const double beta = op == "Gemm" ? node.float_attribute("beta", 1.0) : 1.0;
    for (double& v : cq.data()) v = std::nearbyint(v * beta / scale);
    inputs.push_back(std::move(cq));
  }
  Node integer_node = node;
  if (op == "Gemm") {
    integer_node.attributes.erase("alpha");
    integer_node.attributes.erase("beta");
  }
  // The input centered first (x - z: float 0 is integer 0, so padding adds zeros, and no
  // intermediate is wider than the accumulator); the constant term is then the bias alone.
  const FloatTensor offset = evaluate_alone(integer_node, inputs);
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
  acc = acc + to_int_tensor(offset);
  Encrypted r;
  r.q = acc;
  r.scale = scale;
  r.zero_point = 0;
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

void NetworkLowering::lower_sum(const Node& node, const std::vector<std::string>& enc) {
  // A sum is linear: it reads an accumulator as it is (Conv -> AveragePool -> Relu is one lookup
  // per pooled element, after the pooling), and a pending univariate chain through its lookup.
  Encrypted x = encrypted(enc.at(0));
  if (!x.chain.empty() || x.client_only != nullptr) x = materialize(enc.at(0));
  // Only a sum of activations stays narrow enough for a linear layer to read it directly.
  const bool summed = x.activation || x.summed;
  const std::string& op = node.op_type;
  const onnx::Shape& in_shape = graph_.value_info(enc[0]).shape;
  const onnx::Shape& out_shape = graph_.value_info(node.outputs.at(0)).shape;
  const double count = static_cast<double>(onnx::element_count(in_shape)) /
                       static_cast<double>(onnx::element_count(out_shape));
  Value s;
  double divisor = 1.0;
  if (op == "GlobalAveragePool") {
    std::vector<std::int64_t> axes;
    for (std::size_t d = 2; d < in_shape.size(); ++d) axes.push_back(static_cast<std::int64_t>(d));
    s = circuit::sum(x.q, axes, true);
    divisor = count;
  } else if (op == "ReduceSum" || op == "ReduceMean") {
    std::vector<std::int64_t> axes = node.ints_attribute("axes", {});
    const bool keep = node.int_attribute("keepdims", 1) != 0;
    s = circuit::sum(x.q, axes, keep);
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
    r.scale = x.scale / divisor;
    r.zero_point = padded ? 0 : x.zero_point * kernel[0] * kernel[1];
    r.summed = summed;
    r.base = node.outputs.at(0);
    values_[r.base] = r;
    return;
  }
  Encrypted r;
  r.q = circuit::reshape(s, out_shape);
  r.scale = x.scale / divisor;
  r.zero_point = static_cast<std::int64_t>(std::llround(count)) * x.zero_point;
  r.summed = summed;
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
