// Clear integer tensors and shapes of the circuit layer.
//
// A Tensor is a dense, row-major array of int64 values with a Shape (a vector of non-negative
// extents; the empty shape is a scalar). Encrypted tensors have the same shapes and layout (one
// LWE ciphertext per element, see runtime.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace torusml::circuit {

using Shape = std::vector<std::int64_t>;

/// Number of elements of a shape (1 for a scalar). Throws InvalidArgument on a negative extent
/// or an overflow.
std::int64_t element_count(const Shape& shape);

/// "(2, 3)" style rendering, for messages.
std::string shape_to_string(const Shape& shape);

/// Row-major strides of a shape (in elements).
std::vector<std::int64_t> row_major_strides(const Shape& shape);

class Tensor {
 public:
  /// A scalar 0.
  Tensor() : values_(1, 0) {}
  /// Throws InvalidArgument unless values.size() == element_count(shape).
  Tensor(Shape shape, std::vector<std::int64_t> values);
  static Tensor scalar(std::int64_t v) { return Tensor({}, {v}); }
  static Tensor full(Shape shape, std::int64_t v);
  static Tensor zeros(Shape shape) { return full(std::move(shape), 0); }
  /// A 1-D tensor of the given values.
  static Tensor vector(std::vector<std::int64_t> values);
  /// A 2-D tensor from rows (all of the same length; throws InvalidArgument otherwise).
  static Tensor matrix(const std::vector<std::vector<std::int64_t>>& rows);

  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  std::size_t size() const { return values_.size(); }
  std::span<const std::int64_t> values() const { return values_; }
  std::span<std::int64_t> values() { return values_; }
  std::int64_t operator[](std::size_t flat) const { return values_[flat]; }
  std::int64_t& operator[](std::size_t flat) { return values_[flat]; }
  /// Element at a multi-index (bounds-checked; throws InvalidArgument).
  std::int64_t at(std::initializer_list<std::int64_t> index) const;

  bool operator==(const Tensor&) const = default;

 private:
  Shape shape_;
  std::vector<std::int64_t> values_;
};

std::string to_string(const Tensor& t);

}  // namespace torusml::circuit
