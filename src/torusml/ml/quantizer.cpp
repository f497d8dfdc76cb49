#include "torusml/ml/quantizer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "torusml/common/error.h"

namespace torusml::ml {

namespace {

constexpr double kMaxZeroPoint = 4503599627370496.0;  // 2^52: exact in a double

std::int64_t range_min(const QuantizerOptions& o) {
  return o.is_signed ? -(std::int64_t{1} << (o.n_bits - 1)) : 0;
}

std::int64_t range_max(const QuantizerOptions& o) {
  return o.is_signed ? (std::int64_t{1} << (o.n_bits - 1)) - 1 : (std::int64_t{1} << o.n_bits) - 1;
}

void require_scale(double scale, const char* what) {
  if (!std::isfinite(scale) || !std::isnormal(scale) || scale <= 0) {
    std::ostringstream os;
    os << what << ": the scale " << scale
       << " is not a finite positive number; the data range is too wide or too narrow for "
          "doubles (rescale the data, e.g. with a StandardScaler)";
    throw InvalidArgument(os.str());
  }
}

std::int64_t checked_zero_point(double z) {
  if (!(std::fabs(z) <= kMaxZeroPoint))
    throw InvalidArgument(
        "UniformQuantizer: the data is too far from 0 relative to its spread (zero point beyond "
        "2^52); center the data (e.g. with a StandardScaler) before quantizing");
  return static_cast<std::int64_t>(z);
}

}  // namespace

void require_valid_bits(long long n_bits, const char* what) {
  if (n_bits < 1 || n_bits > static_cast<long long>(kMaxQuantizationBits)) {
    std::ostringstream os;
    os << what << " = " << n_bits << " is out of range: use an integer between 1 and "
       << kMaxQuantizationBits << " (8 is a good default)";
    throw InvalidArgument(os.str());
  }
}

UniformQuantizer::UniformQuantizer(QuantizerOptions options, double scale, std::int64_t zero_point)
    : options_(options), scale_(scale), zero_point_(zero_point) {
  require_valid_bits(options.n_bits, "UniformQuantizer: n_bits");
  require_scale(scale, "UniformQuantizer");
  if (zero_point > static_cast<std::int64_t>(kMaxZeroPoint) ||
      zero_point < -static_cast<std::int64_t>(kMaxZeroPoint))
    throw InvalidArgument("UniformQuantizer: |zero_point| must be at most 2^52");
  if (options.is_symmetric && zero_point != 0)
    throw InvalidArgument(
        "UniformQuantizer: a symmetric quantizer has zero point 0; pass is_symmetric = false for "
        "an affine one");
}

std::int64_t UniformQuantizer::q_min() const {
  return range_min(options_);
}
std::int64_t UniformQuantizer::q_max() const {
  return range_max(options_);
}

UniformQuantizer UniformQuantizer::calibrate(std::span<const double> values,
                                             QuantizerOptions options) {
  if (values.empty())
    throw InvalidArgument("UniformQuantizer::calibrate: no values to calibrate on");
  double lo = values[0], hi = values[0];
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {
      std::ostringstream os;
      os << "UniformQuantizer::calibrate: value " << i << " is "
         << (std::isnan(v) ? "NaN" : "infinite")
         << "; clean the data first (drop or impute missing values, clip infinities)";
      throw InvalidArgument(os.str());
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return from_range(lo, hi, options);
}

UniformQuantizer UniformQuantizer::from_range(double rmin, double rmax, QuantizerOptions options) {
  require_valid_bits(options.n_bits, "UniformQuantizer: n_bits");
  if (!std::isfinite(rmin) || !std::isfinite(rmax) || rmin > rmax) {
    std::ostringstream os;
    os << "UniformQuantizer::from_range: [" << rmin << ", " << rmax
       << "] is not a finite range with min <= max";
    throw InvalidArgument(os.str());
  }
  if (options.is_symmetric && options.is_signed && options.n_bits < 2)
    throw InvalidArgument(
        "UniformQuantizer: a symmetric signed quantizer needs n_bits >= 2 (1 bit holds only -1 "
        "and 0); use more bits or an asymmetric quantizer");
  const auto q_lo = static_cast<double>(range_min(options));
  const auto q_hi = static_cast<double>(range_max(options));
  if (rmin == rmax) {
    // Constant data: calibrate on the range between the value and 0, so that both are exact
    // (and a constant feature gets a resolution like the others', not one step per value).
    if (rmin == 0) return UniformQuantizer(options, 1.0, 0);
    rmin = std::min(rmin, 0.0);
    rmax = std::max(rmax, 0.0);
  }
  if (options.is_symmetric) {
    double scale = options.is_signed ? std::max(std::fabs(rmin), std::fabs(rmax)) / q_hi
                                     : std::max(rmax, 0.0) / q_hi;
    if (scale == 0) scale = 1.0;  // unsigned symmetric on non-positive data: all clip to 0
    require_scale(scale, "UniformQuantizer::calibrate");
    return UniformQuantizer(options, scale, 0);
  }
  const double spread = rmax - rmin;
  if (!std::isfinite(spread))
    throw InvalidArgument(
        "UniformQuantizer::calibrate: the data range overflows doubles; rescale the data");
  const double scale = spread / (q_hi - q_lo);
  require_scale(scale, "UniformQuantizer::calibrate");
  const std::int64_t zero_point = checked_zero_point(std::nearbyint(q_lo - rmin / scale));
  return UniformQuantizer(options, scale, zero_point);
}

std::int64_t UniformQuantizer::quantize(double x) const {
  if (!std::isfinite(x)) {
    std::ostringstream os;
    os << "quantize: the value is " << (std::isnan(x) ? "NaN" : "infinite")
       << "; clean the data first (drop or impute missing values, clip infinities)";
    throw InvalidArgument(os.str());
  }
  // Clamp in doubles first: x / scale may exceed the int64 range.
  const double q = std::nearbyint(x / scale_) + static_cast<double>(zero_point_);
  return static_cast<std::int64_t>(
      std::clamp(q, static_cast<double>(q_min()), static_cast<double>(q_max())));
}

double UniformQuantizer::dequantize(std::int64_t q) const {
  return scale_ * static_cast<double>(q - zero_point_);
}

void UniformQuantizer::quantize(std::span<const double> x, std::span<std::int64_t> out) const {
  if (out.size() != x.size())
    throw InvalidArgument("quantize: the output span does not have the input's size");
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = quantize(x[i]);
}

std::vector<std::int64_t> UniformQuantizer::quantize(std::span<const double> x) const {
  std::vector<std::int64_t> out(x.size());
  quantize(x, out);
  return out;
}

void UniformQuantizer::dequantize(std::span<const std::int64_t> q, std::span<double> out) const {
  if (out.size() != q.size())
    throw InvalidArgument("dequantize: the output span does not have the input's size");
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = dequantize(q[i]);
}

std::vector<double> UniformQuantizer::dequantize(std::span<const std::int64_t> q) const {
  std::vector<double> out(q.size());
  dequantize(q, out);
  return out;
}

std::string UniformQuantizer::to_string() const {
  std::ostringstream os;
  os.precision(6);
  os << "UniformQuantizer(n_bits=" << options_.n_bits << ", "
     << (options_.is_signed ? "signed" : "unsigned") << (options_.is_symmetric ? ", symmetric" : "")
     << ", scale=" << scale_ << ", zero_point=" << zero_point_ << ")";
  return os.str();
}

}  // namespace torusml::ml
