#include "torusml/onnx/float_tensor.h"

#include <gtest/gtest.h>

#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

TEST(FloatTensor, ShapesAndElements) {
  const FloatTensor s;
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.size(), 1u);
  FloatTensor t({2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(t.dim(1), 3);
  EXPECT_EQ(t.at(std::vector<std::int64_t>{1, 2}), 5);
  EXPECT_THROW(t.at(std::vector<std::int64_t>{2, 0}), InvalidArgument);
  EXPECT_THROW(t.dim(2), InvalidArgument);
  EXPECT_EQ(t.reshaped({3, 2}).shape(), (Shape{3, 2}));
  EXPECT_THROW(t.reshaped({4}), InvalidArgument);
  EXPECT_EQ(FloatTensor({0, 5}).size(), 0u);
  EXPECT_EQ(FloatTensor::scalar(2.5)[0], 2.5);
}

TEST(FloatTensor, RejectsInvalidShapes) {
  EXPECT_THROW(FloatTensor({2}, {1, 2, 3}), InvalidArgument);
  EXPECT_THROW(FloatTensor(Shape{-1}), InvalidArgument);
  EXPECT_THROW(element_count(Shape{1LL << 40, 1LL << 40}), InvalidArgument);
  EXPECT_EQ(element_count(Shape{}), 1);
  EXPECT_EQ(shape_to_string(Shape{1, 3}), "[1, 3]");
}

}  // namespace
}  // namespace torusml::onnx
