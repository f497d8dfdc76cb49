#include "torusml/circuit/ir/tensor.h"

#include <sstream>

#include "torusml/common/error.h"

namespace torusml::circuit {

std::int64_t element_count(const Shape& shape) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) {
    if (extent < 0) {
      throw InvalidArgument("shape " + shape_to_string(shape) +
                            " has a negative extent; extents must be >= 0");
    }
    if (__builtin_mul_overflow(count, extent, &count)) {
      throw InvalidArgument("shape " + shape_to_string(shape) +
                            " has too many elements (more than 2^63); use a smaller shape");
    }
  }
  return count;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) os << ", ";
    os << shape[i];
  }
  if (shape.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i > 1; --i) strides[i - 2] = strides[i - 1] * shape[i - 1];
  return strides;
}

Tensor::Tensor(Shape shape, std::vector<std::int64_t> values)
    : shape_(std::move(shape)), values_(std::move(values)) {
  const std::int64_t count = element_count(shape_);
  if (static_cast<std::int64_t>(values_.size()) != count) {
    std::ostringstream os;
    os << "Tensor: " << values_.size() << " values given for shape " << shape_to_string(shape_)
       << ", which has " << count << " elements; pass exactly one value per element (row-major)";
    throw InvalidArgument(os.str());
  }
}

Tensor Tensor::full(Shape shape, std::int64_t v) {
  const auto count = static_cast<std::size_t>(element_count(shape));
  return Tensor(std::move(shape), std::vector<std::int64_t>(count, v));
}

Tensor Tensor::vector(std::vector<std::int64_t> values) {
  Shape shape{static_cast<std::int64_t>(values.size())};
  return Tensor(std::move(shape), std::move(values));
}

Tensor Tensor::matrix(const std::vector<std::vector<std::int64_t>>& rows) {
  const std::size_t columns = rows.empty() ? 0 : rows.front().size();
  std::vector<std::int64_t> values;
  values.reserve(rows.size() * columns);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns) {
      std::ostringstream os;
      os << "Tensor::matrix: row " << r << " has " << rows[r].size() << " values but row 0 has "
         << columns << "; all rows must have the same length";
      throw InvalidArgument(os.str());
    }
    values.insert(values.end(), rows[r].begin(), rows[r].end());
  }
  return Tensor({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(columns)},
                std::move(values));
}

std::int64_t Tensor::at(std::initializer_list<std::int64_t> index) const {
  if (index.size() != shape_.size()) {
    std::ostringstream os;
    os << "Tensor::at: " << index.size() << " indices given for a tensor of shape "
       << shape_to_string(shape_) << "; pass one index per axis";
    throw InvalidArgument(os.str());
  }
  std::int64_t flat = 0;
  std::size_t axis = 0;
  for (std::int64_t i : index) {
    if (i < 0 || i >= shape_[axis]) {
      std::ostringstream os;
      os << "Tensor::at: index " << i << " is out of range for axis " << axis << " of shape "
         << shape_to_string(shape_) << "; indices must be in [0, extent)";
      throw InvalidArgument(os.str());
    }
    flat = flat * shape_[axis] + i;
    ++axis;
  }
  return values_[static_cast<std::size_t>(flat)];
}

namespace {

// Writes the sub-array starting at `offset` spanning axes [axis, rank) in numpy's nested-list
// style, eliding the middle of long axes when `summarise` is set.
void write_nested(std::ostringstream& os, const Tensor& t, const std::vector<std::int64_t>& strides,
                  std::size_t axis, std::int64_t offset, bool summarise) {
  if (axis == t.rank()) {
    os << t[static_cast<std::size_t>(offset)];
    return;
  }
  constexpr std::int64_t kEdge = 3;
  const std::int64_t extent = t.shape()[axis];
  os << '[';
  for (std::int64_t i = 0; i < extent; ++i) {
    if (i > 0) os << ", ";
    if (summarise && extent > 2 * kEdge && i == kEdge) {
      os << "..., ";
      i = extent - kEdge;
    }
    write_nested(os, t, strides, axis + 1, offset + i * strides[axis], summarise);
  }
  os << ']';
}

}  // namespace

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  write_nested(os, t, row_major_strides(t.shape()), 0, 0, t.size() > 1000);
  return os.str();
}

}  // namespace torusml::circuit
