// Dense row-major matrices of doubles: the clear, real-valued side of the ml layer (float inputs,
// weights, dequantized outputs, probabilities). Integer data travels as circuit::Tensor.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/ir/tensor.h"

namespace torusml::ml {

class Matrix {
 public:
  /// An empty 0 x 0 matrix.
  Matrix() = default;
  /// rows x cols zeros.
  Matrix(std::size_t rows, std::size_t cols);
  /// rows x cols from row-major values. Throws InvalidArgument unless values.size() == rows*cols.
  Matrix(std::size_t rows, std::size_t cols, std::vector<double> values);
  /// From a list of rows of equal length (throws InvalidArgument otherwise).
  static Matrix from_rows(const std::vector<std::vector<double>>& rows);
  /// rows x cols, every element `value`.
  static Matrix full(std::size_t rows, std::size_t cols, double value);
  /// A single column (n x 1).
  static Matrix column(std::vector<double> values);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }
  std::span<const double> values() const { return values_; }
  std::span<double> values() { return values_; }
  std::span<const double> row(std::size_t r) const { return {values_.data() + r * cols_, cols_}; }
  std::span<double> row(std::size_t r) { return {values_.data() + r * cols_, cols_}; }
  double operator()(std::size_t r, std::size_t c) const { return values_[r * cols_ + c]; }
  double& operator()(std::size_t r, std::size_t c) { return values_[r * cols_ + c]; }
  /// Bounds-checked element access (throws InvalidArgument).
  double at(std::size_t r, std::size_t c) const;
  /// The transpose (cols x rows).
  Matrix transposed() const;

  bool operator==(const Matrix&) const = default;

 private:
  std::size_t rows_ = 0, cols_ = 0;
  std::vector<double> values_;
};

/// "(rows, cols)", for messages.
std::string shape_to_string(const Matrix& m);

/// Throws InvalidArgument naming `what`, the first offending position and what to do when `m`
/// holds a NaN or an infinity.
void require_finite(const Matrix& m, const char* what);

/// The values of a 2-D integer tensor as doubles (a Matrix of the same shape). Throws
/// InvalidArgument unless `t` has rank 2.
Matrix to_matrix(const circuit::Tensor& t);

}  // namespace torusml::ml
