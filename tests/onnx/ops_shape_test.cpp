// Shape and data-movement operators and reductions against hand-computed values, in the opsets
// where their operands are attributes and where they are inputs.
#include <gtest/gtest.h>

#include <limits>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

FloatTensor iota(Shape shape) {
  FloatTensor t(std::move(shape));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<double>(i);
  return t;
}

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TEST(OpsShape, ReshapeCopiesZeroAndInfersMinusOne) {
  const FloatTensor y = run_op1("Reshape", {{iota({2, 3, 2})}, ints({0, -1})});
  expect_near(y, iota({2, 6}));
  EXPECT_THROW(run_op1("Reshape", {{iota({2, 3})}, ints({4, -1})}), InvalidArgument);
}

TEST(OpsShape, Flatten) {
  expect_near(run_op1("Flatten", {{iota({2, 3, 4})}}, [](auto& n) { set_int(n, "axis", 2); }),
              iota({6, 4}));
  expect_near(run_op1("Flatten", {{iota({2, 3, 4})}}, [](auto& n) { set_int(n, "axis", 0); }),
              iota({1, 24}));
  expect_near(run_op1("Flatten", {{iota({2, 3, 4})}}), iota({2, 12}));
}

TEST(OpsShape, SqueezeAndUnsqueezeAcrossOpsets) {
  expect_near(run_op1("Squeeze", {{iota({2, 1, 3})}, ints({1})}), iota({2, 3}));
  expect_near(run_op1(
                  "Squeeze", {{iota({2, 1, 3})}}, [](auto& n) { set_ints(n, "axes", {-2}); }, 11),
              iota({2, 3}));
  expect_near(run_op1("Squeeze", {{iota({1, 2, 1})}}), iota({2}));
  expect_near(run_op1("Unsqueeze", {{iota({2, 3})}, ints({0, 3})}), iota({1, 2, 3, 1}));
  expect_near(run_op1(
                  "Unsqueeze", {{iota({2, 3})}}, [](auto& n) { set_ints(n, "axes", {1}); }, 11),
              iota({2, 1, 3}));
}

TEST(OpsShape, Transpose) {
  expect_near(run_op1("Transpose", {{iota({2, 3})}},
                      [](auto& n) {
                        set_ints(n, "perm", {1, 0});
                      }),
              T({3, 2}, {0, 3, 1, 4, 2, 5}));
  expect_near(run_op1("Transpose", {{T({2, 1, 2}, {1, 2, 3, 4})}}), T({2, 1, 2}, {1, 3, 2, 4}));
  expect_near(run_op1("Transpose", {{iota({1, 2, 3})}},
                      [](auto& n) {
                        set_ints(n, "perm", {2, 0, 1});
                      }),
              T({3, 1, 2}, {0, 3, 1, 4, 2, 5}));
}

TEST(OpsShape, Concat) {
  expect_near(run_op1("Concat", {{T({2, 1}, {1, 2})}, constant(T({2, 2}, {3, 4, 5, 6}))},
                      [](auto& n) { set_int(n, "axis", 1); }),
              T({2, 3}, {1, 3, 4, 2, 5, 6}));
  expect_near(run_op1("Concat", {{T({1, 2}, {1, 2})}, {T({1, 2}, {3, 4})}},
                      [](auto& n) { set_int(n, "axis", -2); }),
              T({2, 2}, {1, 2, 3, 4}));
}

TEST(OpsShape, SliceWithStepsAndSentinels) {
  const FloatTensor x = iota({3, 4});
  expect_near(run_op1("Slice", {{x}, ints({0, 1}), ints({2, kMax}), ints({0, 1}), ints({1, 2})}),
              T({2, 2}, {1, 3, 5, 7}));
  // Reversal with a negative step and the INT64_MIN sentinel torch writes.
  expect_near(run_op1("Slice", {{x}, ints({-1}), ints({kMin}), ints({1}), ints({-1})}),
              T({3, 4}, {3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  // Negative start, omitted axes and steps.
  expect_near(run_op1("Slice", {{x}, ints({-1}), ints({kMax})}), T({1, 4}, {8, 9, 10, 11}));
  // Opset 9: attributes.
  expect_near(run_op1(
                  "Slice", {{x}},
                  [](auto& n) {
                    set_ints(n, "starts", {1});
                    set_ints(n, "ends", {3});
                    set_ints(n, "axes", {1});
                  },
                  9),
              T({3, 2}, {1, 2, 5, 6, 9, 10}));
  // An empty result.
  expect_near(run_op1("Slice", {{x}, ints({2}), ints({1}), ints({1})}), FloatTensor({3, 0}));
}

TEST(OpsShape, Gather) {
  const FloatTensor x = iota({3, 2});
  expect_near(run_op1("Gather", {{x}, constant(T({2}, {2, 0}), ElementType::Int64)}),
              T({2, 2}, {4, 5, 0, 1}));
  expect_near(run_op1("Gather", {{x}, constant(T({}, {-1}), ElementType::Int64)},
                      [](auto& n) { set_int(n, "axis", 1); }),
              T({3}, {1, 3, 5}));
  expect_near(run_op1("Gather", {{x}, {T({2, 1}, {1, 1}), ElementType::Int64}}),
              T({2, 1, 2}, {2, 3, 2, 3}));
  EXPECT_THROW(run_op1("Gather", {{x}, constant(T({1}, {3}), ElementType::Int64)}),
               InvalidArgument);
}

TEST(OpsShape, PadModesAcrossOpsets) {
  expect_near(run_op1("Pad", {{T({1, 2}, {1, 2})}, ints({0, 1, 1, 0}), constant(T({}, {9}))}),
              T({2, 3}, {9, 1, 2, 9, 9, 9}));
  const FloatTensor v = T({3}, {1, 2, 3});
  expect_near(
      run_op1("Pad", {{v}, ints({2, 1})}, [](auto& n) { set_string(n, "mode", "reflect"); }),
      T({6}, {3, 2, 1, 2, 3, 2}));
  expect_near(run_op1("Pad", {{v}, ints({1, 2})}, [](auto& n) { set_string(n, "mode", "edge"); }),
              T({6}, {1, 1, 2, 3, 3, 3}));
  // Negative pads crop.
  expect_near(run_op1("Pad", {{v}, ints({-1, 1})}), T({3}, {2, 3, 0}));
  // Opset 10: pads and value are attributes.
  expect_near(run_op1(
                  "Pad", {{v}},
                  [](auto& n) {
                    set_ints(n, "pads", {1, 0});
                    set_float(n, "value", -1.0f);
                  },
                  10),
              T({4}, {-1, 1, 2, 3}));
}

TEST(OpsShape, ExpandShapeAndConstantOfShape) {
  expect_near(run_op1("Expand", {{T({3, 1}, {1, 2, 3})}, ints({2, 1, 2})}),
              T({2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  expect_near(run_op1("Shape", {{iota({2, 3, 4})}}, {}, 17, ElementType::Int64), T({3}, {2, 3, 4}));
  expect_near(run_op1(
                  "Shape", {{iota({2, 3, 4})}}, [](auto& n) { set_int(n, "start", 1); }, 17,
                  ElementType::Int64),
              T({2}, {3, 4}));
  expect_near(run_op1("Range", {constant(T({}, {1})), constant(T({}, {6})), constant(T({}, {2}))}),
              T({3}, {1, 3, 5}));
  expect_near(
      run_op1("Range", {constant(T({}, {3})), constant(T({}, {1})), constant(T({}, {-0.5}))}),
      T({4}, {3, 2.5, 2, 1.5}));
  expect_near(run_op1("Range", {constant(T({}, {3})), constant(T({}, {1})), constant(T({}, {1}))}),
              T({0}, {}));
  expect_near(run_op1("ConstantOfShape", {ints({2, 2})},
                      [](auto& n) { set_tensor(n, "value", T({1}, {7})); }),
              T({2, 2}, {7, 7, 7, 7}));
  expect_near(run_op1("Constant", {},
                      [](auto& n) {
                        set_tensor(n, "value", T({2}, {1, 2}));
                      }),
              T({2}, {1, 2}));
  expect_near(run_op1(
                  "Constant", {},
                  [](auto& n) {
                    set_ints(n, "value_ints", {4, 5});
                  },
                  17, ElementType::Int64),
              T({2}, {4, 5}));
  expect_near(run_op1("Constant", {}, [](auto& n) { set_float(n, "value_float", 0.5f); }),
              T({}, {0.5}));
}

TEST(OpsShape, OneHot) {
  const OpInput indices{T({3}, {0, 2, -1}), ElementType::Int64};
  expect_near(run_op1("OneHot", {indices, ints({3}), constant(T({2}, {0, 1}))}),
              T({3, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 1}));
  expect_near(run_op1("OneHot", {indices, ints({3}), constant(T({2}, {-1, 5}))},
                      [](auto& n) { set_int(n, "axis", 0); }),
              T({3, 3}, {5, -1, -1, -1, -1, -1, -1, 5, 5}));
}

TEST(OpsShape, ReductionsAcrossOpsets) {
  const FloatTensor x = T({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_near(run_op1("ReduceSum", {{x}, ints({1})}), T({2, 1}, {6, 15}));
  expect_near(run_op1("ReduceSum", {{x}}), T({1, 1}, {21}));
  expect_near(run_op1("ReduceSum", {{x}}, [](auto& n) { set_int(n, "noop_with_empty_axes", 1); }),
              x);
  expect_near(run_op1(
                  "ReduceSum", {{x}},
                  [](auto& n) {
                    set_ints(n, "axes", {0});
                    set_int(n, "keepdims", 0);
                  },
                  11),
              T({3}, {5, 7, 9}));
  expect_near(run_op1("ReduceMean", {{x}},
                      [](auto& n) {
                        set_ints(n, "axes", {0});
                        set_int(n, "keepdims", 0);
                      }),
              T({3}, {2.5, 3.5, 4.5}));
  expect_near(run_op1("ReduceMean", {{x}}, [](auto& n) { set_ints(n, "axes", {-1}); }),
              T({2, 1}, {2, 5}));
}

}  // namespace
}  // namespace torusml::onnx
