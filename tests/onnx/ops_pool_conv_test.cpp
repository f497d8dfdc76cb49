// Conv, ConvTranspose and the pools against hand-computed values (1-D and 2-D; strides, pads,
// auto_pad, dilations, groups, ceil_mode, count_include_pad, output_padding, output_shape).
#include <gtest/gtest.h>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

const FloatTensor k3x3 = T({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
const FloatTensor kDiag = T({1, 1, 2, 2}, {1, 0, 0, 1});

TEST(OpsConv, Plain2D) {
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)}), T({1, 1, 2, 2}, {6, 8, 12, 14}));
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag), constant(T({1}, {1}))}),
              T({1, 1, 2, 2}, {7, 9, 13, 15}));
}

TEST(OpsConv, PadsStridesDilations) {
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)},
                      [](auto& n) {
                        set_ints(n, "pads", {1, 1, 1, 1});
                        set_ints(n, "strides", {2, 2});
                      }),
              T({1, 1, 2, 2}, {1, 3, 7, 14}));
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)},
                      [](auto& n) {
                        set_ints(n, "dilations", {2, 2});
                      }),
              T({1, 1, 1, 1}, {10}));
}

TEST(OpsConv, AutoPad) {
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)},
                      [](auto& n) { set_string(n, "auto_pad", "SAME_UPPER"); }),
              T({1, 1, 3, 3}, {6, 8, 3, 12, 14, 6, 7, 8, 9}));
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)},
                      [](auto& n) { set_string(n, "auto_pad", "SAME_LOWER"); }),
              T({1, 1, 3, 3}, {1, 2, 3, 4, 6, 8, 7, 12, 14}));
  expect_near(run_op1("Conv", {{k3x3}, constant(kDiag)},
                      [](auto& n) { set_string(n, "auto_pad", "VALID"); }),
              T({1, 1, 2, 2}, {6, 8, 12, 14}));
}

TEST(OpsConv, ChannelsAndGroups) {
  const FloatTensor x = T({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_near(run_op1("Conv", {{x}, constant(T({1, 2, 1, 1}, {1, 2}))}),
              T({1, 1, 2, 2}, {11, 14, 17, 20}));
  // Depthwise: group = channels.
  expect_near(
      run_op1("Conv", {{T({1, 2, 1, 2}, {1, 2, 3, 4})}, constant(T({2, 1, 1, 1}, {10, 100}))},
              [](auto& n) { set_int(n, "group", 2); }),
      T({1, 2, 1, 2}, {10, 20, 300, 400}));
  // Two groups of two input channels, one output channel each; batch of 2.
  const FloatTensor x2 = T({2, 4, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_near(run_op1("Conv", {{x2}, constant(T({2, 2, 1, 1}, {1, 1, 1, -1}))},
                      [](auto& n) { set_int(n, "group", 2); }),
              T({2, 2, 1, 1}, {3, -1, 11, -1}));
}

TEST(OpsConv, OneDimensional) {
  const FloatTensor x = T({1, 1, 4}, {1, 2, 3, 4});
  const FloatTensor w = T({1, 1, 2}, {1, -1});
  expect_near(run_op1("Conv", {{x}, constant(w)}), T({1, 1, 3}, {-1, -1, -1}));
  expect_near(run_op1("Conv", {{x}, constant(w)},
                      [](auto& n) {
                        set_ints(n, "pads", {1, 0});
                      }),
              T({1, 1, 4}, {-1, -1, -1, -1}));
  expect_near(run_op1("Conv", {{x}, constant(w)}, [](auto& n) { set_ints(n, "strides", {2}); }),
              T({1, 1, 2}, {-1, -1}));
}

TEST(OpsConv, ThreeDimensionalIsUnsupported) {
  EXPECT_THROW(
      run_op1("Conv", {{FloatTensor({1, 1, 2, 2, 2})}, constant(FloatTensor({1, 1, 1, 1, 1}))}),
      UnsupportedOperator);
}

TEST(OpsConvTranspose, StridesPadsOutputPadding) {
  const FloatTensor x = T({1, 1, 2, 2}, {1, 2, 3, 4});
  const FloatTensor ones = T({1, 1, 2, 2}, {1, 1, 1, 1});
  expect_near(run_op1("ConvTranspose", {{x}, constant(ones)}),
              T({1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4}));
  expect_near(run_op1("ConvTranspose", {{x}, constant(ones)},
                      [](auto& n) {
                        set_ints(n, "strides", {2, 2});
                      }),
              T({1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  expect_near(run_op1("ConvTranspose", {{x}, constant(ones)},
                      [](auto& n) {
                        set_ints(n, "pads", {1, 1, 1, 1});
                      }),
              T({1, 1, 1, 1}, {10}));
  const FloatTensor padded =
      run_op1("ConvTranspose", {{x}, constant(ones), constant(T({1}, {0.5}))}, [](auto& n) {
        set_ints(n, "strides", {2, 2});
        set_ints(n, "output_padding", {1, 1});
      });
  ASSERT_EQ(padded.shape(), (Shape{1, 1, 5, 5}));
  EXPECT_EQ(padded[0], 1.5);
  EXPECT_EQ(padded[4], 0.5);   // last column: only the bias
  EXPECT_EQ(padded[24], 0.5);  // last row
  EXPECT_EQ(padded[18], 4.5);
}

TEST(OpsConvTranspose, GroupsOneDimensionalAndOutputShape) {
  expect_near(
      run_op1("ConvTranspose", {{T({1, 2, 1, 1}, {1, 2})}, constant(T({2, 1, 1, 1}, {3, 4}))},
              [](auto& n) { set_int(n, "group", 2); }),
      T({1, 2, 1, 1}, {3, 8}));
  const FloatTensor x = T({1, 1, 2}, {1, 2});
  const FloatTensor w = T({1, 1, 2}, {1, 1});
  expect_near(run_op1("ConvTranspose", {{x}, constant(w)}), T({1, 1, 3}, {1, 3, 2}));
  expect_near(run_op1("ConvTranspose", {{x}, constant(w)},
                      [](auto& n) {
                        set_ints(n, "strides", {2});
                        set_string(n, "auto_pad", "SAME_UPPER");
                      }),
              T({1, 1, 4}, {1, 1, 2, 2}));
  expect_near(run_op1("ConvTranspose", {{x}, constant(w)},
                      [](auto& n) {
                        set_ints(n, "strides", {2});
                        set_ints(n, "output_shape", {3});
                      }),
              T({1, 1, 3}, {1, 2, 2}));
}

TEST(OpsPool, AveragePool) {
  expect_near(run_op1("AveragePool", {{k3x3}},
                      [](auto& n) {
                        set_ints(n, "kernel_shape", {2, 2});
                      }),
              T({1, 1, 2, 2}, {3, 4, 6, 7}));
  const auto padded = [](std::int64_t include_pad) {
    return [include_pad](auto& n) {
      set_ints(n, "kernel_shape", {2, 2});
      set_ints(n, "strides", {2, 2});
      set_ints(n, "pads", {1, 1, 1, 1});
      set_int(n, "count_include_pad", include_pad);
    };
  };
  expect_near(run_op1("AveragePool", {{k3x3}}, padded(0)), T({1, 1, 2, 2}, {1, 2.5, 5.5, 7}));
  expect_near(run_op1("AveragePool", {{k3x3}}, padded(1)), T({1, 1, 2, 2}, {0.25, 1.25, 2.75, 7}));
  expect_near(run_op1("AveragePool", {{k3x3}},
                      [](auto& n) {
                        set_ints(n, "kernel_shape", {2, 2});
                        set_ints(n, "strides", {2, 2});
                        set_int(n, "ceil_mode", 1);
                      }),
              T({1, 1, 2, 2}, {3, 4.5, 7.5, 9}));
}

TEST(OpsPool, MaxPool) {
  expect_near(run_op1("MaxPool", {{k3x3}},
                      [](auto& n) {
                        set_ints(n, "kernel_shape", {2, 2});
                      }),
              T({1, 1, 2, 2}, {5, 6, 8, 9}));
  expect_near(run_op1("MaxPool", {{k3x3}},
                      [](auto& n) {
                        set_ints(n, "kernel_shape", {2, 2});
                        set_ints(n, "strides", {2, 2});
                        set_ints(n, "pads", {1, 1, 1, 1});
                      }),
              T({1, 1, 2, 2}, {1, 3, 7, 9}));
  const FloatTensor x = T({1, 1, 5}, {1, 3, 2, 5, 4});
  const auto pool1d = [](std::int64_t ceil) {
    return [ceil](auto& n) {
      set_ints(n, "kernel_shape", {2});
      set_ints(n, "strides", {2});
      set_int(n, "ceil_mode", ceil);
    };
  };
  expect_near(run_op1("MaxPool", {{x}}, pool1d(0)), T({1, 1, 2}, {3, 5}));
  expect_near(run_op1("MaxPool", {{x}}, pool1d(1)), T({1, 1, 3}, {3, 5, 4}));
}

TEST(OpsPool, MaxPoolIndicesAreUnsupported) {
  ModelBuilder b;
  b.input("x", {1, 1, 2, 2});
  set_ints(b.node("MaxPool", {"x"}, {"y", "i"}, "pool"), "kernel_shape", {2, 2});
  b.output("y").output("i", ElementType::Int64);
  EXPECT_THROW(b.load(), UnsupportedOperator);
}

TEST(OpsPool, GlobalAveragePool) {
  expect_near(run_op1("GlobalAveragePool", {{T({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}}),
              T({1, 2, 1, 1}, {2.5, 6.5}));
  expect_near(run_op1("GlobalAveragePool", {{T({2, 1, 3}, {1, 2, 3, 4, 5, 9})}}),
              T({2, 1, 1}, {2, 6}));
}

}  // namespace
}  // namespace torusml::onnx
