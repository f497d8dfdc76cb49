#include "torusml/ml/matrix.h"

#include <cmath>
#include <sstream>

#include "torusml/common/error.h"

namespace torusml::ml {

Matrix::Matrix(std::size_t rows, std::size_t cols)
    : rows_(rows), cols_(cols), values_(rows * cols, 0.0) {}

Matrix Matrix::full(std::size_t rows, std::size_t cols, double value) {
  return Matrix(rows, cols, std::vector<double>(rows * cols, value));
}

Matrix::Matrix(std::size_t rows, std::size_t cols, std::vector<double> values)
    : rows_(rows), cols_(cols), values_(std::move(values)) {
  if (values_.size() != rows * cols) {
    std::ostringstream os;
    os << "Matrix: " << values_.size() << " values do not fill a (" << rows << ", " << cols
       << ") matrix";
    throw InvalidArgument(os.str());
  }
}

Matrix Matrix::from_rows(const std::vector<std::vector<double>>& rows) {
  const std::size_t cols = rows.empty() ? 0 : rows.front().size();
  std::vector<double> values;
  values.reserve(rows.size() * cols);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != cols) {
      std::ostringstream os;
      os << "Matrix::from_rows: row " << r << " has " << rows[r].size() << " values, row 0 has "
         << cols;
      throw InvalidArgument(os.str());
    }
    values.insert(values.end(), rows[r].begin(), rows[r].end());
  }
  return Matrix(rows.size(), cols, std::move(values));
}

Matrix Matrix::column(std::vector<double> values) {
  const std::size_t n = values.size();
  return Matrix(n, 1, std::move(values));
}

double Matrix::at(std::size_t r, std::size_t c) const {
  if (r >= rows_ || c >= cols_) {
    std::ostringstream os;
    os << "Matrix::at(" << r << ", " << c << ") is outside a " << shape_to_string(*this)
       << " matrix";
    throw InvalidArgument(os.str());
  }
  return (*this)(r, c);
}

Matrix Matrix::transposed() const {
  Matrix t(cols_, rows_);
  for (std::size_t r = 0; r < rows_; ++r)
    for (std::size_t c = 0; c < cols_; ++c) t(c, r) = (*this)(r, c);
  return t;
}

std::string shape_to_string(const Matrix& m) {
  std::ostringstream os;
  os << "(" << m.rows() << ", " << m.cols() << ")";
  return os.str();
}

void require_finite(const Matrix& m, const char* what) {
  for (std::size_t r = 0; r < m.rows(); ++r) {
    for (std::size_t c = 0; c < m.cols(); ++c) {
      const double v = m(r, c);
      if (std::isfinite(v)) continue;
      std::ostringstream os;
      os << what << " contains " << (std::isnan(v) ? "NaN" : "an infinite value") << " (row " << r
         << ", column " << c
         << "); clean the data first (drop or impute missing values, clip infinities)";
      throw InvalidArgument(os.str());
    }
  }
}

Matrix to_matrix(const circuit::Tensor& t) {
  if (t.rank() != 2)
    throw InvalidArgument("to_matrix: expected a 2-D tensor, got shape " +
                          circuit::shape_to_string(t.shape()));
  std::vector<double> values(t.size());
  for (std::size_t k = 0; k < t.size(); ++k) values[k] = static_cast<double>(t[k]);
  return Matrix(static_cast<std::size_t>(t.shape()[0]), static_cast<std::size_t>(t.shape()[1]),
                std::move(values));
}

}  // namespace torusml::ml
