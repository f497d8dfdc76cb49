// Convolutions and pooling over 1-D and 2-D spatial inputs (N, C, L) and (N, C, H, W): Conv,
// ConvTranspose, AveragePool, MaxPool (strides, pads, auto_pad, dilations, groups, ceil_mode),
// GlobalAveragePool and GlobalMaxPool (any rank). 1-D operators run as 2-D ones of height 1.
#include <algorithm>
#include <cmath>
#include <limits>

#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

namespace {

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

// Guards the window arithmetic against overflow from absurd attribute values.
constexpr std::int64_t kMaxWindowValue = std::int64_t{1} << 31;

struct Window2D {
  std::int64_t in[2]{1, 1};
  std::int64_t kernel[2]{1, 1};
  std::int64_t stride[2]{1, 1};
  std::int64_t dilation[2]{1, 1};
  std::int64_t pad_begin[2]{0, 0};
  std::int64_t pad_end[2]{0, 0};
  std::int64_t out[2]{1, 1};
  std::int64_t extent(std::size_t d) const { return (kernel[d] - 1) * dilation[d] + 1; }
};

// Number of spatial dimensions of an (N, C, ...) input: 1 or 2.
std::size_t spatial_rank(const OpContext& ctx, const FloatTensor& x) {
  if (x.rank() == 3 || x.rank() == 4) return x.rank() - 2;
  if (x.rank() < 3)
    ctx.fail("its input must be (N, C, L) or (N, C, H, W), not of shape " +
             shape_to_string(x.shape()));
  ctx.unsupported(std::to_string(x.rank() - 2) + "-D spatial input (only 1-D and 2-D)");
}

std::vector<std::int64_t> ints_of_size(const OpContext& ctx, const char* key, std::size_t n,
                                       std::int64_t fallback) {
  std::vector<std::int64_t> v =
      ctx.node.ints_attribute(key, std::vector<std::int64_t>(n, fallback));
  if (v.size() != n)
    ctx.fail(std::string("attribute '") + key + "' must have " + std::to_string(n) + " entries");
  for (const std::int64_t e : v)
    if (e < -kMaxWindowValue || e > kMaxWindowValue)
      ctx.fail(std::string("attribute '") + key + "' has the out-of-range entry " +
               std::to_string(e));
  return v;
}

// Fills kernel/stride/dilation/pads of a window over `nd` spatial dims of x (height 1 first for
// 1-D) from the node's attributes; `pads_apply` false for ConvTranspose (pads handled there).
Window2D window_from_attributes(const OpContext& ctx, const FloatTensor& x, std::size_t nd,
                                const std::vector<std::int64_t>& kernel) {
  Window2D w;
  const std::size_t off = 2 - nd;
  const auto strides = ints_of_size(ctx, "strides", nd, 1);
  const auto dilations = ints_of_size(ctx, "dilations", nd, 1);
  for (std::size_t i = 0; i < nd; ++i) {
    w.in[off + i] = x.dim(2 + i);
    w.kernel[off + i] = kernel[i];
    w.stride[off + i] = strides[i];
    w.dilation[off + i] = dilations[i];
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1)
      ctx.fail("kernel sizes, strides and dilations must be >= 1");
  }
  return w;
}

// Pads (explicit or auto_pad) and output sizes of a convolution or pooling window.
void resolve_window(const OpContext& ctx, Window2D& w, std::size_t nd, bool ceil_mode) {
  const std::size_t off = 2 - nd;
  const std::string auto_pad = ctx.node.string_attribute("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const auto pads = ints_of_size(ctx, "pads", 2 * nd, 0);
    for (std::size_t i = 0; i < nd; ++i) {
      w.pad_begin[off + i] = pads[i];
      w.pad_end[off + i] = pads[i + nd];
      if (pads[i] < 0 || pads[i + nd] < 0) ctx.fail("pads must be >= 0");
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (std::size_t d = off; d < 2; ++d) {
      const std::int64_t out = (w.in[d] + w.stride[d] - 1) / w.stride[d];
      const std::int64_t total =
          std::max<std::int64_t>(0, (out - 1) * w.stride[d] + w.extent(d) - w.in[d]);
      const std::int64_t small = total / 2;
      w.pad_begin[d] = auto_pad == "SAME_UPPER" ? small : total - small;
      w.pad_end[d] = total - w.pad_begin[d];
    }
  } else if (auto_pad != "VALID") {
    ctx.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  for (std::size_t d = 0; d < 2; ++d) {
    const std::int64_t span = w.in[d] + w.pad_begin[d] + w.pad_end[d] - w.extent(d);
    if (span < 0)
      ctx.fail("its window (" + std::to_string(w.extent(d)) +
               " with dilation) is larger than its padded input (" +
               std::to_string(w.in[d] + w.pad_begin[d] + w.pad_end[d]) + ")");
    w.out[d] = span / w.stride[d] + 1;
    if (ceil_mode && span % w.stride[d] != 0) {
      ++w.out[d];
      // The last window must start inside the input or the left padding.
      if ((w.out[d] - 1) * w.stride[d] >= w.in[d] + w.pad_begin[d]) --w.out[d];
    }
  }
}

Shape output_shape(std::int64_t n, std::int64_t c, const Window2D& w, std::size_t nd) {
  if (nd == 1) return {n, c, w.out[1]};
  return {n, c, w.out[0], w.out[1]};
}

std::vector<FloatTensor> eval_conv(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const FloatTensor& weight = ctx.input(1);
  const std::size_t nd = spatial_rank(ctx, x);
  if (weight.rank() != x.rank())
    ctx.fail("its weight of shape " + shape_to_string(weight.shape()) +
             " must have the rank of its input " + shape_to_string(x.shape()));
  const std::int64_t group = ctx.node.int_attribute("group", 1);
  const std::int64_t n = x.dim(0), c = x.dim(1), m = weight.dim(0);
  if (group < 1 || c % group != 0 || m % group != 0 || weight.dim(1) * group != c)
    ctx.fail("group " + std::to_string(group) + " does not fit input channels " +
             std::to_string(c) + " and weight shape " + shape_to_string(weight.shape()));
  const std::vector<std::int64_t> kernel(weight.shape().begin() + 2, weight.shape().end());
  if (ctx.node.has_attribute("kernel_shape") && ctx.node.ints_attribute("kernel_shape") != kernel)
    ctx.fail("kernel_shape does not match the weight's shape " + shape_to_string(weight.shape()));
  Window2D w = window_from_attributes(ctx, x, nd, kernel);
  resolve_window(ctx, w, nd, false);
  if (ctx.has_input(2) && ctx.input(2).size() != sz(m))
    ctx.fail("its bias must hold " + std::to_string(m) + " values");
  FloatTensor y = ctx.allocate(output_shape(n, m, w, nd));
  const std::int64_t cg = c / group, mg = m / group;
  const std::int64_t ih = w.in[0], iw = w.in[1], oh = w.out[0], ow = w.out[1];
  const std::int64_t kh = w.kernel[0], kw = w.kernel[1];
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t oc = 0; oc < m; ++oc) {
      const std::int64_t g = oc / mg;
      double* out = &y[sz(((b * m) + oc) * oh * ow)];
      const double bias = ctx.has_input(2) ? ctx.input(2)[sz(oc)] : 0.0;
      for (std::int64_t i = 0; i < oh * ow; ++i) out[i] = bias;
      for (std::int64_t ic = 0; ic < cg; ++ic) {
        const double* in = x.data().data() + ((b * c + g * cg + ic) * ih * iw);
        const double* k = weight.data().data() + ((oc * cg + ic) * kh * kw);
        for (std::int64_t a = 0; a < kh; ++a)
          for (std::int64_t e = 0; e < kw; ++e) {
            const double kv = k[a * kw + e];
            for (std::int64_t y0 = 0; y0 < oh; ++y0) {
              const std::int64_t yy = y0 * w.stride[0] - w.pad_begin[0] + a * w.dilation[0];
              if (yy < 0 || yy >= ih) continue;
              for (std::int64_t x0 = 0; x0 < ow; ++x0) {
                const std::int64_t xx = x0 * w.stride[1] - w.pad_begin[1] + e * w.dilation[1];
                if (xx < 0 || xx >= iw) continue;
                out[y0 * ow + x0] += kv * in[yy * iw + xx];
              }
            }
          }
      }
    }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_conv_transpose(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const FloatTensor& weight = ctx.input(1);
  const std::size_t nd = spatial_rank(ctx, x);
  if (weight.rank() != x.rank())
    ctx.fail("its weight of shape " + shape_to_string(weight.shape()) +
             " must have the rank of its input " + shape_to_string(x.shape()));
  const std::int64_t group = ctx.node.int_attribute("group", 1);
  const std::int64_t n = x.dim(0), c = x.dim(1);
  if (group < 1 || weight.dim(0) != c || c % group != 0)
    ctx.fail("group " + std::to_string(group) + " does not fit input channels " +
             std::to_string(c) + " and weight shape " + shape_to_string(weight.shape()));
  const std::int64_t mg = weight.dim(1), m = mg * group, cg = c / group;
  const std::vector<std::int64_t> kernel(weight.shape().begin() + 2, weight.shape().end());
  if (ctx.node.has_attribute("kernel_shape") && ctx.node.ints_attribute("kernel_shape") != kernel)
    ctx.fail("kernel_shape does not match the weight's shape " + shape_to_string(weight.shape()));
  Window2D w = window_from_attributes(ctx, x, nd, kernel);
  const std::size_t off = 2 - nd;
  const auto output_padding = ints_of_size(ctx, "output_padding", nd, 0);
  const std::string auto_pad = ctx.node.string_attribute("auto_pad", "NOTSET");
  std::vector<std::int64_t> out_spatial;
  if (ctx.node.has_attribute("output_shape")) {
    out_spatial = ctx.node.ints_attribute("output_shape");
    if (out_spatial.size() == nd + 2)
      out_spatial.erase(out_spatial.begin(), out_spatial.begin() + 2);
    if (out_spatial.size() != nd) ctx.fail("output_shape must have one entry per spatial axis");
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (std::size_t i = 0; i < nd; ++i) out_spatial.push_back(w.in[off + i] * w.stride[off + i]);
  }
  for (std::size_t i = 0; i < nd; ++i) {
    const std::size_t d = off + i;
    if (output_padding[i] < 0) ctx.fail("output_padding must be >= 0");
    const std::int64_t full = w.stride[d] * (w.in[d] - 1) + output_padding[i] + w.extent(d);
    if (!out_spatial.empty()) {
      const std::int64_t total = full - out_spatial[i];
      const std::int64_t half = total / 2;
      w.pad_begin[d] = auto_pad == "SAME_UPPER" ? half : total - half;
      w.pad_end[d] = total - w.pad_begin[d];
      w.out[d] = out_spatial[i];
    } else {
      if (auto_pad == "NOTSET") {
        const auto pads = ints_of_size(ctx, "pads", 2 * nd, 0);
        w.pad_begin[d] = pads[i];
        w.pad_end[d] = pads[i + nd];
      } else if (auto_pad != "VALID") {
        ctx.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
      }
      w.out[d] = full - w.pad_begin[d] - w.pad_end[d];
    }
    if (w.out[d] < 0) ctx.fail("its output size is negative (pads larger than the output)");
  }
  if (ctx.has_input(2) && ctx.input(2).size() != sz(m))
    ctx.fail("its bias must hold " + std::to_string(m) + " values");
  FloatTensor y = ctx.allocate(output_shape(n, m, w, nd));
  const std::int64_t ih = w.in[0], iw = w.in[1], oh = w.out[0], ow = w.out[1];
  const std::int64_t kh = w.kernel[0], kw = w.kernel[1];
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t oc = 0; oc < m; ++oc) {
      const double bias = ctx.has_input(2) ? ctx.input(2)[sz(oc)] : 0.0;
      double* out = &y[sz((b * m + oc) * oh * ow)];
      for (std::int64_t i = 0; i < oh * ow; ++i) out[i] = bias;
    }
    for (std::int64_t ic = 0; ic < c; ++ic) {
      const std::int64_t g = ic / cg;
      const double* in = x.data().data() + ((b * c + ic) * ih * iw);
      for (std::int64_t om = 0; om < mg; ++om) {
        double* out = &y[sz((b * m + g * mg + om) * oh * ow)];
        const double* k = weight.data().data() + ((ic * mg + om) * kh * kw);
        for (std::int64_t a = 0; a < kh; ++a)
          for (std::int64_t e = 0; e < kw; ++e) {
            const double kv = k[a * kw + e];
            for (std::int64_t y0 = 0; y0 < ih; ++y0) {
              const std::int64_t yy = y0 * w.stride[0] - w.pad_begin[0] + a * w.dilation[0];
              if (yy < 0 || yy >= oh) continue;
              for (std::int64_t x0 = 0; x0 < iw; ++x0) {
                const std::int64_t xx = x0 * w.stride[1] - w.pad_begin[1] + e * w.dilation[1];
                if (xx < 0 || xx >= ow) continue;
                out[yy * ow + xx] += kv * in[y0 * iw + x0];
              }
            }
          }
      }
    }
  }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_pool(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::size_t nd = spatial_rank(ctx, x);
  const bool is_max = ctx.node.op_type == "MaxPool";
  if (!ctx.node.has_attribute("kernel_shape")) ctx.fail("its attribute kernel_shape is missing");
  const auto kernel = ints_of_size(ctx, "kernel_shape", nd, 1);
  if (is_max && ctx.node.int_attribute("storage_order", 0) != 0 && ctx.node.outputs.size() > 1)
    ctx.unsupported("storage_order");
  Window2D w = window_from_attributes(ctx, x, nd, kernel);
  resolve_window(ctx, w, nd, ctx.node.int_attribute("ceil_mode", 0) != 0);
  const bool include_pad = ctx.node.int_attribute("count_include_pad", 0) != 0;
  const std::int64_t n = x.dim(0), c = x.dim(1);
  FloatTensor y = ctx.allocate(output_shape(n, c, w, nd));
  const std::int64_t ih = w.in[0], iw = w.in[1], oh = w.out[0], ow = w.out[1];
  for (std::int64_t plane = 0; plane < n * c; ++plane) {
    const double* in = x.data().data() + (plane * ih * iw);
    double* out = &y[sz(plane * oh * ow)];
    for (std::int64_t y0 = 0; y0 < oh; ++y0)
      for (std::int64_t x0 = 0; x0 < ow; ++x0) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        std::int64_t count = 0, padded_count = 0;
        for (std::int64_t a = 0; a < w.kernel[0]; ++a) {
          const std::int64_t yy = y0 * w.stride[0] - w.pad_begin[0] + a * w.dilation[0];
          if (yy >= ih + w.pad_end[0]) continue;
          for (std::int64_t e = 0; e < w.kernel[1]; ++e) {
            const std::int64_t xx = x0 * w.stride[1] - w.pad_begin[1] + e * w.dilation[1];
            if (xx >= iw + w.pad_end[1]) continue;
            ++padded_count;
            if (yy < 0 || yy >= ih || xx < 0 || xx >= iw) continue;
            const double v = in[yy * iw + xx];
            acc = is_max ? std::max(acc, v) : acc + v;
            ++count;
          }
        }
        if (!is_max) {
          const std::int64_t div = include_pad ? padded_count : count;
          acc = div == 0 ? 0.0 : acc / static_cast<double>(div);
        }
        out[y0 * ow + x0] = acc;
      }
  }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_global_pool(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.fail("its input must have rank >= 3 (N, C, spatial...)");
  const bool is_max = ctx.node.op_type == "GlobalMaxPool";
  Shape shape(x.rank(), 1);
  shape[0] = x.dim(0);
  shape[1] = x.dim(1);
  FloatTensor y(shape);
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t inner = planes == 0 ? 0 : static_cast<std::int64_t>(x.size()) / planes;
  if (inner == 0 && planes > 0) ctx.fail("its spatial input is empty");
  for (std::int64_t p = 0; p < planes; ++p) {
    double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    for (std::int64_t i = 0; i < inner; ++i) {
      const double v = x[sz(p * inner + i)];
      acc = is_max ? std::max(acc, v) : acc + v;
    }
    y[sz(p)] = is_max ? acc : acc / static_cast<double>(inner);
  }
  return {std::move(y)};
}

}  // namespace

void register_pool_conv_ops(OpTable& t) {
  t["Conv"] = {eval_conv, 2, 3};
  t["ConvTranspose"] = {eval_conv_transpose, 2, 3};
  t["AveragePool"] = {eval_pool, 1, 1};
  t["MaxPool"] = {eval_pool, 1, 1};
  t["GlobalAveragePool"] = {eval_global_pool, 1, 1};
  t["GlobalMaxPool"] = {eval_global_pool, 1, 1};
}

}  // namespace torusml::onnx::detail
