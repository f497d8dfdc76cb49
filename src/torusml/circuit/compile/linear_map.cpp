#include "torusml/circuit/compile/linear_map.h"

#include <algorithm>
#include <numeric>

#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/common/check.h"

namespace torusml::circuit {

namespace {

// Tensor of `shape` whose elements are offset + 1 + their flat index (0 stays free for padding).
Tensor index_tensor(const Shape& shape, std::int64_t offset) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
  std::iota(v.begin(), v.end(), offset + 1);
  return Tensor(shape, std::move(v));
}

// For each element of `target`, the flat index of the element of `shape` it broadcasts from.
std::vector<std::int64_t> broadcast_indices(const Shape& shape, const Shape& target) {
  const Tensor idx = index_tensor(shape, -1);  // values = flat index
  if (shape == target) return {idx.values().begin(), idx.values().end()};
  Node n;
  n.op = OpKind::BroadcastTo;
  n.attributes = BroadcastAttr{target};
  n.shape = target;
  const Tensor* in[] = {&idx};
  const Tensor out = evaluate_node(n, in);
  return {out.values().begin(), out.values().end()};
}

class MapBuilder {
 public:
  explicit MapBuilder(std::int64_t outputs) {
    map_.outputs = outputs;
    map_.row_start.reserve(static_cast<std::size_t>(outputs) + 1);
    map_.row_start.push_back(0);
  }
  void term(std::int32_t slot, std::int64_t index, std::int64_t coeff) {
    if (coeff == 0) return;
    map_.slot.push_back(slot);
    map_.index.push_back(index);
    map_.coeff.push_back(coeff);
  }
  void constant(std::int64_t row, std::int64_t value) {
    if (value == 0) return;
    if (map_.constant.empty()) map_.constant.assign(static_cast<std::size_t>(map_.outputs), 0);
    map_.constant[static_cast<std::size_t>(row)] += value;
  }
  void end_row() { map_.row_start.push_back(static_cast<std::int64_t>(map_.coeff.size())); }
  LinearMap take() {
    TORUSML_CHECK_EQ(static_cast<std::int64_t>(map_.row_start.size()), map_.outputs + 1);
    return std::move(map_);
  }

 private:
  LinearMap map_;
};

LinearMap data_movement_map(const Program& program, const Node& node) {
  // Evaluate the op on index tensors: each output value names its source (0: padding).
  std::vector<Tensor> idx;
  std::vector<std::int64_t> offsets;
  std::int64_t offset = 0;
  for (NodeId in : node.inputs) {
    const Shape& s = program.node(in).shape;
    idx.push_back(index_tensor(s, offset));
    offsets.push_back(offset);
    offset += element_count(s);
  }
  std::vector<const Tensor*> ptrs;
  for (const auto& t : idx) ptrs.push_back(&t);
  Node copy = node;
  std::int64_t pad_value = 0;
  if (node.op == OpKind::Pad) {
    pad_value = std::get<PadAttr>(node.attributes).value;
    std::get<PadAttr>(copy.attributes).value = 0;
  }
  const Tensor out = evaluate_node(copy, ptrs);
  MapBuilder b(static_cast<std::int64_t>(out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t v = out[i];
    if (v == 0) {
      b.constant(static_cast<std::int64_t>(i), pad_value);
    } else {
      const auto it = std::upper_bound(offsets.begin(), offsets.end(), v - 1) - 1;
      const auto slot = static_cast<std::int32_t>(it - offsets.begin());
      b.term(slot, v - 1 - *it, 1);
    }
    b.end_row();
  }
  return b.take();
}

LinearMap elementwise_map(const Program& program, const Node& node,
                          std::span<const Tensor* const> operands) {
  const std::int64_t count = element_count(node.shape);
  MapBuilder b(count);
  std::vector<std::vector<std::int64_t>> bidx;
  for (NodeId in : node.inputs)
    bidx.push_back(broadcast_indices(program.node(in).shape, node.shape));
  for (std::int64_t i = 0; i < count; ++i) {
    const auto u = static_cast<std::size_t>(i);
    switch (node.op) {
      case OpKind::Neg:
        b.term(0, bidx[0][u], -1);
        break;
      case OpKind::Add:
      case OpKind::Sub:
        for (std::size_t k = 0; k < 2; ++k) {
          const std::int64_t sign = (node.op == OpKind::Sub && k == 1) ? -1 : 1;
          if (operands[k])
            b.constant(i, sign * (*operands[k])[static_cast<std::size_t>(bidx[k][u])]);
          else
            b.term(static_cast<std::int32_t>(k), bidx[k][u], sign);
        }
        break;
      case OpKind::Mul: {
        const std::size_t e = operands[0] ? 1 : 0;
        TORUSML_CHECK(operands[1 - e] != nullptr, "Mul needs one clear operand");
        b.term(static_cast<std::int32_t>(e), bidx[e][u],
               (*operands[1 - e])[static_cast<std::size_t>(bidx[1 - e][u])]);
        break;
      }
      default:
        TORUSML_CHECK(false, "not an elementwise op: " << to_string(node.op));
    }
    b.end_row();
  }
  return b.take();
}

LinearMap matmul_map(const Program& program, const Node& node,
                     std::span<const Tensor* const> operands) {
  const Shape xs0 = program.node(node.inputs[0]).shape, ys0 = program.node(node.inputs[1]).shape;
  const bool x1 = xs0.size() == 1, y1 = ys0.size() == 1;
  Shape xs = x1 ? Shape{1, xs0[0]} : xs0;
  Shape ys = y1 ? Shape{ys0[0], 1} : ys0;
  const std::int64_t m = xs[xs.size() - 2], k = xs.back(), n = ys.back();
  // Broadcast batch dimensions.
  Shape xb(xs.begin(), xs.end() - 2), yb(ys.begin(), ys.end() - 2);
  const std::size_t rank = std::max(xb.size(), yb.size());
  Shape batch(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t a = i + xb.size() >= rank ? xb[i + xb.size() - rank] : 1;
    const std::int64_t c = i + yb.size() >= rank ? yb[i + yb.size() - rank] : 1;
    batch[i] = std::max(a, c);
  }
  Shape xt = batch, yt = batch;
  xt.insert(xt.end(), {m, k});
  yt.insert(yt.end(), {k, n});
  const auto xi = broadcast_indices(xs, xt);
  const auto yi = broadcast_indices(ys, yt);
  const std::int64_t batches = element_count(batch);
  MapBuilder b(batches * m * n);
  TORUSML_CHECK_EQ(batches * m * n, element_count(node.shape));
  const bool x_enc = operands[0] == nullptr;
  for (std::int64_t bt = 0; bt < batches; ++bt) {
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        for (std::int64_t t = 0; t < k; ++t) {
          const auto xe =
              static_cast<std::size_t>(xi[static_cast<std::size_t>((bt * m + i) * k + t)]);
          const auto ye =
              static_cast<std::size_t>(yi[static_cast<std::size_t>((bt * k + t) * n + j)]);
          if (x_enc)
            b.term(0, static_cast<std::int64_t>(xe), (*operands[1])[ye]);
          else
            b.term(1, static_cast<std::int64_t>(ye), (*operands[0])[xe]);
        }
        b.end_row();
      }
    }
  }
  return b.take();
}

LinearMap sum_map(const Program& program, const Node& node) {
  const Shape& in = program.node(node.inputs[0]).shape;
  const auto& attr = std::get<SumAttr>(node.attributes);
  std::vector<bool> reduced(in.size(), attr.axes.empty());
  for (std::int64_t ax : attr.axes)
    reduced[static_cast<std::size_t>(ax < 0 ? ax + static_cast<std::int64_t>(in.size()) : ax)] =
        true;
  // Output index of each input element.
  const auto in_strides = row_major_strides(in);
  Shape kept;
  for (std::size_t d = 0; d < in.size(); ++d)
    if (!reduced[d]) kept.push_back(in[d]);
  const auto out_strides = row_major_strides(kept);
  const std::int64_t outputs = element_count(node.shape);
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(outputs));
  const std::int64_t count = element_count(in);
  for (std::int64_t e = 0; e < count; ++e) {
    std::int64_t rest = e, out = 0;
    std::size_t od = 0;
    for (std::size_t d = 0; d < in.size(); ++d) {
      const std::int64_t coord = rest / in_strides[d];
      rest %= in_strides[d];
      if (!reduced[d]) out += coord * out_strides[od++];
    }
    rows[static_cast<std::size_t>(out)].push_back(e);
  }
  MapBuilder b(outputs);
  for (const auto& r : rows) {
    for (std::int64_t e : r) b.term(0, e, 1);
    b.end_row();
  }
  return b.take();
}

LinearMap conv_map(const Program& program, const Node& node,
                   std::span<const Tensor* const> operands) {
  const Shape& xs = program.node(node.inputs[0]).shape;  // N C H W
  const Tensor& w = *operands[1];                        // O C/g kh kw
  const Tensor* bias = node.inputs.size() > 2 ? operands[2] : nullptr;
  const auto& a = std::get<Conv2dAttr>(node.attributes);
  const Shape& ws = w.shape();
  const Shape& os = node.shape;  // N O OH OW
  const std::int64_t groups = a.groups, cin_g = ws[1], cout_g = ws[0] / groups;
  MapBuilder b(element_count(os));
  for (std::int64_t nb = 0; nb < os[0]; ++nb)
    for (std::int64_t o = 0; o < os[1]; ++o) {
      const std::int64_t g = o / cout_g;
      for (std::int64_t oy = 0; oy < os[2]; ++oy)
        for (std::int64_t ox = 0; ox < os[3]; ++ox) {
          const std::int64_t row = ((nb * os[1] + o) * os[2] + oy) * os[3] + ox;
          for (std::int64_t c = 0; c < cin_g; ++c)
            for (std::int64_t ky = 0; ky < ws[2]; ++ky) {
              const std::int64_t iy = oy * a.strides[0] + ky * a.dilations[0] - a.pads[0];
              if (iy < 0 || iy >= xs[2]) continue;
              for (std::int64_t kx = 0; kx < ws[3]; ++kx) {
                const std::int64_t ix = ox * a.strides[1] + kx * a.dilations[1] - a.pads[1];
                if (ix < 0 || ix >= xs[3]) continue;
                const std::int64_t ch = g * cin_g + c;
                b.term(0, ((nb * xs[1] + ch) * xs[2] + iy) * xs[3] + ix,
                       w[static_cast<std::size_t>(((o * cin_g + c) * ws[2] + ky) * ws[3] + kx)]);
              }
            }
          if (bias) b.constant(row, (*bias)[static_cast<std::size_t>(o)]);
          b.end_row();
        }
    }
  return b.take();
}

LinearMap pool_map(const Program& program, const Node& node) {
  const Shape& xs = program.node(node.inputs[0]).shape;
  const auto& a = std::get<Pool2dAttr>(node.attributes);
  const Shape& os = node.shape;
  MapBuilder b(element_count(os));
  for (std::int64_t nb = 0; nb < os[0]; ++nb)
    for (std::int64_t c = 0; c < os[1]; ++c)
      for (std::int64_t oy = 0; oy < os[2]; ++oy)
        for (std::int64_t ox = 0; ox < os[3]; ++ox) {
          for (std::int64_t ky = 0; ky < a.kernel[0]; ++ky) {
            const std::int64_t iy = oy * a.strides[0] + ky - a.pads[0];
            if (iy < 0 || iy >= xs[2]) continue;
            for (std::int64_t kx = 0; kx < a.kernel[1]; ++kx) {
              const std::int64_t ix = ox * a.strides[1] + kx - a.pads[1];
              if (ix < 0 || ix >= xs[3]) continue;
              b.term(0, ((nb * xs[1] + c) * xs[2] + iy) * xs[3] + ix, 1);
            }
          }
          b.end_row();
        }
  return b.take();
}

}  // namespace

double LinearMap::max_norm2() const {
  double best = 0;
  for (std::int64_t r = 0; r < outputs; ++r) {
    double s = 0;
    for (auto t = row_start[static_cast<std::size_t>(r)];
         t < row_start[static_cast<std::size_t>(r) + 1]; ++t)
      s += static_cast<double>(coeff[static_cast<std::size_t>(t)]) *
           static_cast<double>(coeff[static_cast<std::size_t>(t)]);
    best = std::max(best, s);
  }
  return best;
}

bool is_linear_op(const Node& node) {
  switch (node.op) {
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Neg:
    case OpKind::Mul:
    case OpKind::MatMul:
    case OpKind::Sum:
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::BroadcastTo:
    case OpKind::Concatenate:
    case OpKind::Slice:
    case OpKind::Take:
    case OpKind::Pad:
    case OpKind::Conv2d:
    case OpKind::SumPool2d:
      return true;
    default:
      return false;
  }
}

LinearMap build_linear_map(const Program& program, const Node& node,
                           std::span<const Tensor* const> operands) {
  TORUSML_CHECK_EQ(operands.size(), node.inputs.size());
  switch (node.op) {
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::BroadcastTo:
    case OpKind::Concatenate:
    case OpKind::Slice:
    case OpKind::Take:
    case OpKind::Pad:
      for (std::size_t k = 0; k < operands.size(); ++k)
        TORUSML_CHECK(operands[k] == nullptr || !program.node(node.inputs[k]).encrypted,
                      "bad operand");
      if (node.op == OpKind::Concatenate) {
        // Clear pieces of an encrypted concatenation become constants: handled by evaluating
        // the data movement on indices and reading clear sources from `operands`.
        LinearMap m = data_movement_map(program, node);
        bool any_clear = false;
        for (auto* op : operands) any_clear = any_clear || op != nullptr;
        if (!any_clear) return m;
        MapBuilder b(m.outputs);
        for (std::int64_t r = 0; r < m.outputs; ++r) {
          for (auto t = m.row_start[static_cast<std::size_t>(r)];
               t < m.row_start[static_cast<std::size_t>(r) + 1]; ++t) {
            const auto u = static_cast<std::size_t>(t);
            if (operands[static_cast<std::size_t>(m.slot[u])])
              b.constant(r, (*operands[static_cast<std::size_t>(
                                m.slot[u])])[static_cast<std::size_t>(m.index[u])]);
            else
              b.term(m.slot[u], m.index[u], m.coeff[u]);
          }
          b.end_row();
        }
        return b.take();
      }
      return data_movement_map(program, node);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Neg:
    case OpKind::Mul:
      return elementwise_map(program, node, operands);
    case OpKind::MatMul:
      return matmul_map(program, node, operands);
    case OpKind::Sum:
      return sum_map(program, node);
    case OpKind::Conv2d:
      return conv_map(program, node, operands);
    case OpKind::SumPool2d:
      return pool_map(program, node);
    default:
      TORUSML_CHECK(false, "build_linear_map: not a linear op: " << to_string(node.op));
  }
  return {};
}

}  // namespace torusml::circuit
