// Arithmetic kernels: broadcast elementwise operations, matmul, sum, conv2d and sum pooling.
#include "torusml/circuit/evaluate/evaluate_kernels.h"

#include <algorithm>
#include <limits>

#include "torusml/circuit/ir/messages.h"
#include "torusml/common/check.h"

namespace torusml::circuit::detail {

namespace {

constexpr std::uint64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

std::size_t to_size(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

std::uint64_t max_magnitude(std::span<const std::int64_t> values) {
  std::uint64_t m = 0;
  for (std::int64_t v : values) {
    const std::uint64_t magnitude =
        v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    m = std::max(m, magnitude);
  }
  return m;
}

// True if sum_{terms} |a_i * b_i| + |extra| <= INT64_MAX for |a_i| <= max_a, |b_i| <= max_b:
// then no partial sum of a dot product can overflow and the unchecked kernels are exact.
bool products_fit(std::uint64_t max_a, std::uint64_t max_b, std::uint64_t terms,
                  std::uint64_t extra) {
  std::uint64_t bound = 0;
  if (__builtin_mul_overflow(max_a, max_b, &bound)) return false;
  if (__builtin_mul_overflow(bound, terms, &bound)) return false;
  if (__builtin_add_overflow(bound, extra, &bound)) return false;
  return bound <= kInt64Max;
}

template <bool kChecked>
inline void multiply_add(std::int64_t& acc, std::int64_t a, std::int64_t b, bool& overflow) {
  if constexpr (kChecked) {
    std::int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) overflow = true;
    if (__builtin_add_overflow(acc, product, &acc)) overflow = true;
  } else {
    acc += a * b;
  }
}

template <class F>
Tensor broadcast_elementwise(const Tensor& a, const Tensor& b, const Shape& shape, F f,
                             std::string_view label) {
  Tensor out = Tensor::zeros(shape);
  const std::int64_t* pa = a.values().data();
  const std::int64_t* pb = b.values().data();
  std::int64_t* po = out.values().data();
  bool overflow = false;
  if (a.shape() == shape && b.shape() == shape) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (f(pa[i], pb[i], &po[i])) overflow = true;
    }
  } else if (a.shape() == shape && b.size() == 1) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (f(pa[i], pb[0], &po[i])) overflow = true;
    }
  } else if (b.shape() == shape && a.size() == 1) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (f(pa[0], pb[i], &po[i])) overflow = true;
    }
  } else {
    std::int64_t k = 0;
    for_each_row<2>(
        shape, {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)}, {0, 0},
        [&](const auto& offsets, std::int64_t count, const auto& inner) {
          for (std::int64_t j = 0; j < count; ++j, ++k) {
            if (f(pa[offsets[0] + j * inner[0]], pb[offsets[1] + j * inner[1]], &po[k])) {
              overflow = true;
            }
          }
        });
  }
  if (overflow) throw_overflow(label);
  return out;
}

// c[m x n] = a[m x k] @ b[k x n], all row-major and contiguous.
template <bool kChecked>
void matrix_product(const std::int64_t* a, const std::int64_t* b, std::int64_t* c, std::int64_t m,
                    std::int64_t k, std::int64_t n, bool& overflow) {
  for (std::int64_t i = 0; i < m; ++i) {
    std::int64_t* row = c + i * n;
    std::fill(row, row + n, std::int64_t{0});
    for (std::int64_t p = 0; p < k; ++p) {
      const std::int64_t a_ip = a[i * k + p];
      if (a_ip == 0) continue;
      const std::int64_t* b_row = b + p * n;
      for (std::int64_t j = 0; j < n; ++j) multiply_add<kChecked>(row[j], a_ip, b_row[j], overflow);
    }
  }
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

template <bool kChecked>
void conv2d_direct(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dAttr& attr,
                   Tensor& out, bool& overflow) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const Shape& os = out.shape();
  const std::int64_t batch = xs[0], channels = xs[1], height = xs[2], width = xs[3];
  const std::int64_t out_channels = ws[0], group_channels = ws[1], kh = ws[2], kw = ws[3];
  const std::int64_t out_h = os[2], out_w = os[3];
  const std::int64_t sh = attr.strides[0], sw = attr.strides[1];
  const std::int64_t dh = attr.dilations[0], dw = attr.dilations[1];
  const std::int64_t pt = attr.pads[0], pl = attr.pads[1];
  const std::int64_t out_per_group = out_channels / attr.groups;
  const std::int64_t* px = x.values().data();
  const std::int64_t* pw = w.values().data();
  std::int64_t* po = out.values().data();
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t oc = 0; oc < out_channels; ++oc) {
      std::int64_t* plane = po + (n * out_channels + oc) * out_h * out_w;
      std::fill(plane, plane + out_h * out_w, bias != nullptr ? (*bias)[to_size(oc)] : 0);
      const std::int64_t first_channel = (oc / out_per_group) * group_channels;
      for (std::int64_t icl = 0; icl < group_channels; ++icl) {
        const std::int64_t* in_plane = px + (n * channels + first_channel + icl) * height * width;
        for (std::int64_t i = 0; i < kh; ++i) {
          for (std::int64_t j = 0; j < kw; ++j) {
            const std::int64_t weight = pw[((oc * group_channels + icl) * kh + i) * kw + j];
            if (weight == 0) continue;
            // Output columns whose input column ow * sw - pl + j * dw lies in [0, width).
            const std::int64_t shift = j * dw - pl;
            const std::int64_t ow_begin = std::max<std::int64_t>(0, floor_div(-shift + sw - 1, sw));
            const std::int64_t ow_end = std::min(out_w, floor_div(width - 1 - shift, sw) + 1);
            for (std::int64_t oh = 0; oh < out_h; ++oh) {
              const std::int64_t ih = oh * sh - pt + i * dh;
              if (ih < 0 || ih >= height) continue;
              const std::int64_t* in_row = in_plane + ih * width;
              std::int64_t* out_row = plane + oh * out_w;
              for (std::int64_t ow = ow_begin; ow < ow_end; ++ow) {
                multiply_add<kChecked>(out_row[ow], weight, in_row[ow * sw + shift], overflow);
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

void throw_overflow(std::string_view label) {
  fail(label, "int64 overflow: the program's values exceed 64 bits; use smaller inputs, weights ",
       "or constants (e.g. quantise with fewer bits)");
}

std::vector<std::int64_t> broadcast_strides(const Shape& from, const Shape& to) {
  const std::vector<std::int64_t> strides = row_major_strides(from);
  std::vector<std::int64_t> result(to.size(), 0);
  for (std::size_t i = 0; i < from.size(); ++i) {
    const std::size_t from_axis = from.size() - 1 - i;
    if (from[from_axis] != 1) result[to.size() - 1 - i] = strides[from_axis];
  }
  return result;
}

Tensor eval_binary(OpKind op, const Tensor& a, const Tensor& b, const Shape& shape,
                   std::string_view label) {
  switch (op) {
    case OpKind::Add:
      return broadcast_elementwise(
          a, b, shape,
          [](std::int64_t x, std::int64_t y, std::int64_t* r) {
            return __builtin_add_overflow(x, y, r);
          },
          label);
    case OpKind::Sub:
      return broadcast_elementwise(
          a, b, shape,
          [](std::int64_t x, std::int64_t y, std::int64_t* r) {
            return __builtin_sub_overflow(x, y, r);
          },
          label);
    case OpKind::Mul:
      return broadcast_elementwise(
          a, b, shape,
          [](std::int64_t x, std::int64_t y, std::int64_t* r) {
            return __builtin_mul_overflow(x, y, r);
          },
          label);
    default:
      break;
  }
  TORUSML_CHECK(false, "eval_binary: not a binary operation: " << to_string(op));
  return {};
}

Tensor eval_matmul(const Tensor& a, const Tensor& b, const Shape& shape, std::string_view label) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const std::int64_t m = as.size() >= 2 ? as[as.size() - 2] : 1;
  const std::int64_t k = as.back();
  const std::int64_t n = bs.size() >= 2 ? bs.back() : 1;
  // The batch axes: the result's leading axes (all but the matrix axes kept by the operands).
  const std::size_t matrix_axes = (as.size() >= 2 ? 1 : 0) + (bs.size() >= 2 ? 1 : 0);
  const Shape batch(shape.begin(), shape.end() - static_cast<std::ptrdiff_t>(matrix_axes));
  const Shape a_batch(as.begin(), as.end() - std::min<std::ptrdiff_t>(2, std::ssize(as)));
  const Shape b_batch(bs.begin(), bs.end() - std::min<std::ptrdiff_t>(2, std::ssize(bs)));
  std::vector<std::int64_t> a_strides = broadcast_strides(a_batch, batch);
  std::vector<std::int64_t> b_strides = broadcast_strides(b_batch, batch);
  for (auto& s : a_strides) s *= m * k;
  for (auto& s : b_strides) s *= k * n;

  Tensor out = Tensor::zeros(shape);
  const bool exact = products_fit(max_magnitude(a.values()), max_magnitude(b.values()),
                                  static_cast<std::uint64_t>(k), 0);
  bool overflow = false;
  std::int64_t* po = out.values().data();
  for_each_row<2>(batch, {a_strides, b_strides}, {0, 0},
                  [&](const auto& offsets, std::int64_t count, const auto& inner) {
                    for (std::int64_t j = 0; j < count; ++j, po += m * n) {
                      const std::int64_t* pa = a.values().data() + offsets[0] + j * inner[0];
                      const std::int64_t* pb = b.values().data() + offsets[1] + j * inner[1];
                      if (exact) {
                        matrix_product<false>(pa, pb, po, m, k, n, overflow);
                      } else {
                        matrix_product<true>(pa, pb, po, m, k, n, overflow);
                      }
                    }
                  });
  if (overflow) throw_overflow(label);
  return out;
}

Tensor eval_sum(const Tensor& x, const SumAttr& attr, const Shape& shape, std::string_view label) {
  const Shape& xs = x.shape();
  std::vector<bool> reduced(xs.size(), attr.axes.empty());
  for (std::int64_t axis : attr.axes) reduced[to_size(axis)] = true;
  // Strides of the result read along the input's axes: 0 along reduced axes.
  Shape kept;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!reduced[i]) kept.push_back(xs[i]);
  }
  const std::vector<std::int64_t> kept_strides = row_major_strides(kept);
  std::vector<std::int64_t> strides(xs.size(), 0);
  for (std::size_t i = 0, k = 0; i < xs.size(); ++i) {
    if (!reduced[i]) strides[i] = kept_strides[k++];
  }
  Tensor out = Tensor::zeros(shape);
  std::int64_t* po = out.values().data();
  const std::int64_t* px = x.values().data();
  bool overflow = false;
  for_each_row<1>(xs, {strides}, {0},
                  [&](const auto& offsets, std::int64_t count, const auto& inner) {
                    for (std::int64_t j = 0; j < count; ++j) {
                      std::int64_t& acc = po[offsets[0] + j * inner[0]];
                      if (__builtin_add_overflow(acc, *px++, &acc)) overflow = true;
                    }
                  });
  if (overflow) throw_overflow(label);
  return out;
}

Tensor eval_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dAttr& attr,
                   const Shape& shape, std::string_view label) {
  Tensor out = Tensor::zeros(shape);
  const Shape& ws = w.shape();
  const auto terms = static_cast<std::uint64_t>(ws[1] * ws[2] * ws[3]);
  const std::uint64_t max_bias = bias != nullptr ? max_magnitude(bias->values()) : 0;
  bool overflow = false;
  if (products_fit(max_magnitude(x.values()), max_magnitude(w.values()), terms, max_bias)) {
    conv2d_direct<false>(x, w, bias, attr, out, overflow);
  } else {
    conv2d_direct<true>(x, w, bias, attr, out, overflow);
  }
  if (overflow) throw_overflow(label);
  return out;
}

Tensor eval_sum_pool2d(const Tensor& x, const Pool2dAttr& attr, const Shape& shape,
                       std::string_view label) {
  Tensor out = Tensor::zeros(shape);
  const Shape& xs = x.shape();
  const std::int64_t height = xs[2], width = xs[3], out_h = shape[2], out_w = shape[3];
  const std::int64_t* px = x.values().data();
  std::int64_t* po = out.values().data();
  bool overflow = false;
  for (std::int64_t plane = 0; plane < xs[0] * xs[1]; ++plane) {
    const std::int64_t* in = px + plane * height * width;
    for (std::int64_t oh = 0; oh < out_h; ++oh) {
      const std::int64_t h0 = oh * attr.strides[0] - attr.pads[0];
      const std::int64_t h_begin = std::max<std::int64_t>(h0, 0);
      const std::int64_t h_end = std::min(h0 + attr.kernel[0], height);
      for (std::int64_t ow = 0; ow < out_w; ++ow, ++po) {
        const std::int64_t w0 = ow * attr.strides[1] - attr.pads[1];
        const std::int64_t w_begin = std::max<std::int64_t>(w0, 0);
        const std::int64_t w_end = std::min(w0 + attr.kernel[1], width);
        std::int64_t acc = 0;
        for (std::int64_t h = h_begin; h < h_end; ++h) {
          for (std::int64_t c = w_begin; c < w_end; ++c) {
            if (__builtin_add_overflow(acc, in[h * width + c], &acc)) overflow = true;
          }
        }
        *po = acc;
      }
    }
  }
  if (overflow) throw_overflow(label);
  return out;
}

}  // namespace torusml::circuit::detail
