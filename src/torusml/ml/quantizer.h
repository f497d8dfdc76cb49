// Uniform affine quantization (Concrete ML semantics).
//
// A quantizer with n bits, scale s > 0 and integer zero point z maps a real x to
//
//     q = clip(round(x / s) + z, q_min, q_max)          (round: to nearest, ties to even, as rint)
//
// with [q_min, q_max] = [0, 2^n - 1] (unsigned) or [-2^(n-1), 2^(n-1) - 1] (signed), and back by
//
//     x' = s * (q - z).
//
// Calibration from data (min/max over the values, rmin and rmax):
//  * asymmetric (the default): s = (rmax - rmin) / (2^n - 1) and z = round(q_min - rmin / s), so
//    that rmin maps to q_min and rmax to q_max. z may lie outside [q_min, q_max] (when the data
//    does not contain 0); it is any integer of magnitude at most 2^52.
//  * symmetric: z = 0 and s = max(|rmin|, |rmax|) / (2^(n-1) - 1) (signed: values map to
//    [-(2^(n-1) - 1), 2^(n-1) - 1]; needs n >= 2), or s = rmax / (2^n - 1) (unsigned: negative
//    values clip to 0).
//  * constant data (rmin == rmax == v != 0) is calibrated on the range between v and 0, so that
//    both are represented exactly; constant zeros get s = 1, z = 0.
// Quantizers are immutable values; every function checks its arguments and throws InvalidArgument
// with what to do (NaN or infinite values, empty data, n_bits outside [1, 16], ...).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace torusml::ml {

/// Widest quantizer supported (inputs and weights of the ml layer).
inline constexpr unsigned kMaxQuantizationBits = 16;

struct QuantizerOptions {
  unsigned n_bits = 8;        // in [1, kMaxQuantizationBits]
  bool is_signed = false;     // integer range [-2^(n-1), 2^(n-1) - 1] instead of [0, 2^n - 1]
  bool is_symmetric = false;  // zero point 0
  bool operator==(const QuantizerOptions&) const = default;
};

class UniformQuantizer {
 public:
  /// An 8-bit unsigned quantizer with scale 1 and zero point 0.
  UniformQuantizer() = default;
  /// Explicit parameters. Throws InvalidArgument if n_bits is outside [1, 16], scale is not a
  /// finite positive normal number, |zero_point| > 2^52, or a symmetric quantizer has a non-zero
  /// zero point.
  UniformQuantizer(QuantizerOptions options, double scale, std::int64_t zero_point);

  /// Calibrates on the min and max of `values` (see the header comment). Throws InvalidArgument if
  /// `values` is empty or holds NaN or infinities, if the range is too wide for doubles, or for a
  /// symmetric signed quantizer of 1 bit.
  static UniformQuantizer calibrate(std::span<const double> values, QuantizerOptions options);
  /// Calibrates on a known range [rmin, rmax] (rmin <= rmax, both finite).
  static UniformQuantizer from_range(double rmin, double rmax, QuantizerOptions options);

  const QuantizerOptions& options() const { return options_; }
  unsigned n_bits() const { return options_.n_bits; }
  bool is_signed() const { return options_.is_signed; }
  bool is_symmetric() const { return options_.is_symmetric; }
  double scale() const { return scale_; }
  std::int64_t zero_point() const { return zero_point_; }
  /// The integer range: [0, 2^n - 1] or [-2^(n-1), 2^(n-1) - 1].
  std::int64_t q_min() const;
  std::int64_t q_max() const;

  /// clip(round(x / scale) + zero_point). Throws InvalidArgument for NaN or infinite x.
  std::int64_t quantize(double x) const;
  /// scale * (q - zero_point) (any integer q is accepted).
  double dequantize(std::int64_t q) const;
  /// Elementwise; `out` must have x.size() elements (InvalidArgument otherwise).
  void quantize(std::span<const double> x, std::span<std::int64_t> out) const;
  std::vector<std::int64_t> quantize(std::span<const double> x) const;
  void dequantize(std::span<const std::int64_t> q, std::span<double> out) const;
  std::vector<double> dequantize(std::span<const std::int64_t> q) const;

  /// "UniformQuantizer(n_bits=8, unsigned, scale=0.0125, zero_point=-3)".
  std::string to_string() const;
  bool operator==(const UniformQuantizer&) const = default;

 private:
  QuantizerOptions options_;
  double scale_ = 1.0;
  std::int64_t zero_point_ = 0;
};

/// Throws InvalidArgument (naming `what` and the accepted range) unless 1 <= n_bits <= 16.
void require_valid_bits(long long n_bits, const char* what);

}  // namespace torusml::ml
