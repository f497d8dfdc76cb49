#include "torusml/onnx/float_tensor.h"

#include <sstream>
#include <utility>

#include "torusml/common/error.h"

namespace torusml::onnx {

std::int64_t element_count(std::span<const std::int64_t> shape) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 62;
  std::int64_t n = 1;
  for (const std::int64_t d : shape) {
    if (d < 0)
      throw InvalidArgument("tensor shape " + shape_to_string(shape) +
                            " has a negative dimension; dimensions must be >= 0");
    if (d != 0 && n > kLimit / d)
      throw InvalidArgument("tensor shape " + shape_to_string(shape) +
                            " has more than 2^62 elements");
    n *= d;
  }
  return n;
}

std::string shape_to_string(std::span<const std::int64_t> shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

FloatTensor::FloatTensor(Shape shape) : shape_(std::move(shape)) {
  data_.assign(static_cast<std::size_t>(element_count(shape_)), 0.0);
}

FloatTensor::FloatTensor(Shape shape, std::vector<double> data)
    : shape_(std::move(shape)), data_(std::move(data)) {
  if (element_count(shape_) != static_cast<std::int64_t>(data_.size()))
    throw InvalidArgument("a tensor of shape " + shape_to_string(shape_) + " needs " +
                          std::to_string(element_count(shape_)) + " elements, not " +
                          std::to_string(data_.size()));
}

std::int64_t FloatTensor::dim(std::size_t axis) const {
  if (axis >= shape_.size())
    throw InvalidArgument("axis " + std::to_string(axis) +
                          " is out of range for a tensor of rank " + std::to_string(shape_.size()));
  return shape_[axis];
}

double FloatTensor::at(std::span<const std::int64_t> index) const {
  if (index.size() != shape_.size())
    throw InvalidArgument("index of rank " + std::to_string(index.size()) +
                          " for a tensor of shape " + shape_to_string(shape_));
  std::int64_t flat = 0;
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0 || index[i] >= shape_[i])
      throw InvalidArgument("index " + shape_to_string(index) + " is out of range for shape " +
                            shape_to_string(shape_));
    flat = flat * shape_[i] + index[i];
  }
  return data_[static_cast<std::size_t>(flat)];
}

FloatTensor FloatTensor::reshaped(Shape shape) const {
  return FloatTensor(std::move(shape), data_);
}

}  // namespace torusml::onnx
