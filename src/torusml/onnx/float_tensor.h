// FloatTensor: the value type of the onnx layer's float graph (graph.h) and its evaluator
// (evaluate_graph.h). A shape (dimensions >= 0, rank 0 for a scalar) and its elements in row-major
// order as doubles. Integer and boolean ONNX tensors are held as doubles too (exact up to 2^53;
// booleans are 0 and 1); the element type lives next to the tensor in the graph (ElementType).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace torusml::onnx {

using Shape = std::vector<std::int64_t>;

/// The number of elements of `shape` (1 for a scalar). Throws InvalidArgument if a dimension is
/// negative or the product exceeds 2^62.
std::int64_t element_count(std::span<const std::int64_t> shape);

/// "[1, 3, 32, 32]" ("[]" for a scalar).
std::string shape_to_string(std::span<const std::int64_t> shape);

class FloatTensor {
 public:
  /// A scalar 0.
  FloatTensor() : data_(1, 0.0) {}
  /// Zeros of the given shape. Throws InvalidArgument for a negative dimension.
  explicit FloatTensor(Shape shape);
  /// The given elements (row-major). Throws InvalidArgument unless data.size() equals the number
  /// of elements of `shape`.
  FloatTensor(Shape shape, std::vector<double> data);

  static FloatTensor scalar(double value) { return FloatTensor({}, {value}); }

  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  /// Dimension `axis` (0 <= axis < rank(); InvalidArgument otherwise).
  std::int64_t dim(std::size_t axis) const;
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  std::span<const double> data() const { return data_; }
  std::span<double> data() { return data_; }
  const std::vector<double>& values() const { return data_; }
  double operator[](std::size_t i) const { return data_[i]; }
  double& operator[](std::size_t i) { return data_[i]; }
  /// The element at a multi-index (one coordinate per dimension, each in range; InvalidArgument
  /// otherwise).
  double at(std::span<const std::int64_t> index) const;

  /// The same elements under another shape with as many elements (InvalidArgument otherwise).
  FloatTensor reshaped(Shape shape) const;

  bool operator==(const FloatTensor&) const = default;

 private:
  Shape shape_;
  std::vector<double> data_;
};

}  // namespace torusml::onnx
