// Elementwise operators against hand-computed values (literals computed independently), through
// one-node models run with graph inputs and folded as constants (model_builder.h).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

const FloatTensor kX = T({5}, {-1.5, -0.5, 0.0, 0.5, 2.0});

TEST(OpsElementwise, UnaryFunctionsMatchReferenceValues) {
  const std::map<std::string, std::vector<double>> expected = {
      {"Sigmoid",
       {0.18242552380635632, 0.3775406687981454, 0.5, 0.6224593312018546, 0.8807970779778825}},
      {"Tanh",
       {-0.9051482536448665, -0.46211715726000974, 0.0, 0.46211715726000974, 0.9640275800758169}},
      {"Softplus",
       {0.20141327798275238, 0.4740769841801067, 0.6931471805599453, 0.9740769841801067,
        2.1269280110429722}},
      {"Softsign", {-0.6, -0.3333333333333333, 0.0, 0.3333333333333333, 0.6666666666666666}},
      {"Erf",
       {-0.9661051464753108, -0.5204998778130465, 0.0, 0.5204998778130465, 0.9953222650189527}},
      {"Exp", {0.22313016014842982, 0.6065306597126334, 1.0, 1.6487212707001282, 7.38905609893065}},
      {"Elu", {-0.7768698398515702, -0.3934693402873666, 0.0, 0.5, 2.0}},
      {"HardSwish", {-0.375, -0.20833333333333334, 0.0, 0.2916666666666667, 1.6666666666666665}},
      {"Sin",
       {-0.9974949866040544, -0.47942553860420295, 0.0, 0.47942553860420295, 0.9092974268256816}},
      {"Cos",
       {0.0707372016677029, 0.8775825618903725, 1.0, 0.8775825618903725, -0.4161468365471424}},
      {"Tan",
       {-14.10141994717172, -0.5463024898437905, 0.0, 0.5463024898437905, -2.185039863261519}},
      {"Atan",
       {-0.982793723247329, -0.4636476090008061, 0.0, 0.4636476090008061, 1.1071487177940904}},
      {"Sinh",
       {-2.1292794550948173, -0.5210953054937474, 0.0, 0.5210953054937474, 3.6268604078470186}},
      {"Cosh",
       {2.352409615243247, 1.1276259652063807, 1.0, 1.1276259652063807, 3.7621956910836314}},
      {"Asinh",
       {-1.1947632172871092, -0.48121182505960347, 0.0, 0.48121182505960347, 1.4436354751788103}},
      {"Relu", {0, 0, 0, 0.5, 2}},
      {"Neg", {1.5, 0.5, -0.0, -0.5, -2}},
      {"Abs", {1.5, 0.5, 0, 0.5, 2}},
      {"Sign", {-1, -1, 0, 1, 1}},
      {"Floor", {-2, -1, 0, 0, 2}},
      {"Round", {-2, -0.0, 0, 0, 2}},  // half to even
      {"Identity", {-1.5, -0.5, 0.0, 0.5, 2.0}},
      {"LeakyRelu", {-0.015, -0.005, 0, 0.5, 2}},  // alpha 0.01
      {"HardSigmoid", {0.2, 0.4, 0.5, 0.6, 0.9}},  // alpha 0.2, beta 0.5
      {"ThresholdedRelu", {0, 0, 0, 0, 2}},        // alpha 1
  };
  for (const auto& [op, values] : expected) {
    SCOPED_TRACE(op);
    expect_near(run_op1(op, {{kX}}), T({5}, values), 1e-7);
  }
}

TEST(OpsElementwise, SeluAndCeluAndGelu) {
  expect_near(run_op1("Selu", {{kX}}),
              T({5}, {-1.3658143533672527, -0.6917581878028713, 0.0, 0.5253504936777402,
                      2.101401974710961}),
              1e-7);
  expect_near(run_op1("Celu", {{kX}}, [](auto& n) { set_float(n, "alpha", 2.0f); }),
              T({5}, {-1.0552668945179706, -0.44239843385719024, 0.0, 0.5, 2.0}));
  const std::vector<double> gelu = {-0.10021080190328713, -0.15426876936299344, 0.0,
                                    0.34573123063700656, 1.9544997361036416};
  const std::vector<double> gelu_tanh = {-0.10042842301976707, -0.15428599017485606, 0.0,
                                         0.34571400982514394, 1.954597694087775};
  // Gelu as ONNX Runtime's contrib operator (ONNX 1.12 predates ai.onnx's Gelu).
  auto out = run_op("Gelu", {{kX}}, {}, 17, {ElementType::Float}, "com.microsoft");
  expect_near(out.at(0), T({5}, gelu));
  out = run_op(
      "Gelu", {{kX}}, [](auto& n) { set_string(n, "approximate", "tanh"); }, 17,
      {ElementType::Float}, "com.microsoft");
  expect_near(out.at(0), T({5}, gelu_tanh));
}

TEST(OpsElementwise, InverseFunctionsOnTheirDomains) {
  // Values exact in float32 (the folded run stores them as float initializers).
  const FloatTensor y = T({5}, {-0.875, -0.5, 0.0, 0.5, 0.875});
  expect_near(run_op1("Asin", {{y}}), T({5}, {-1.0654358165107394, -0.5235987755982989, 0.0,
                                              0.5235987755982989, 1.0654358165107394}));
  expect_near(run_op1("Acos", {{y}}),
              T({5}, {2.636232143305636, 2.0943951023931957, 1.5707963267948966, 1.0471975511965976,
                      0.5053605102841573}));
  expect_near(run_op1("Atanh", {{y}}), T({5}, {-1.354025100551105, -0.5493061443340549, 0.0,
                                               0.5493061443340549, 1.354025100551105}));
  const FloatTensor z = T({4}, {1.0, 1.5, 2.0, 10.0});
  expect_near(run_op1("Acosh", {{z}}),
              T({4}, {0.0, 0.9624236501192069, 1.3169578969248168, 2.993222846126381}));
  expect_near(run_op1("Log", {{z}}),
              T({4}, {0.0, 0.4054651081081644, 0.6931471805599453, 2.3025850929940455}));
}

TEST(OpsElementwise, AttributesOfActivations) {
  expect_near(run_op1("LeakyRelu", {{kX}}, [](auto& n) { set_float(n, "alpha", 0.5f); }),
              T({5}, {-0.75, -0.25, 0, 0.5, 2}));
  expect_near(run_op1("Elu", {{kX}}, [](auto& n) { set_float(n, "alpha", 2.0f); }),
              T({5}, {2 * std::expm1(-1.5), 2 * std::expm1(-0.5), 0, 0.5, 2}));
  expect_near(run_op1("HardSigmoid", {{kX}},
                      [](auto& n) {
                        set_float(n, "alpha", 0.5f);
                        set_float(n, "beta", 0.25f);
                      }),
              T({5}, {0, 0, 0.25, 0.5, 1}));
  expect_near(run_op1("ThresholdedRelu", {{kX}}, [](auto& n) { set_float(n, "alpha", 0.25f); }),
              T({5}, {0, 0, 0, 0.5, 2}));
}

TEST(OpsElementwise, BroadcastingArithmetic) {
  const FloatTensor a = T({2, 3}, {1, 2, 3, 4, 5, 6});
  const FloatTensor b = T({3}, {10, 20, 30});
  const FloatTensor col = T({2, 1}, {2, 4});
  expect_near(run_op1("Add", {{a}, {b}}), T({2, 3}, {11, 22, 33, 14, 25, 36}));
  expect_near(run_op1("Sub", {{a}, {col}}), T({2, 3}, {-1, 0, 1, 0, 1, 2}));
  expect_near(run_op1("Mul", {{col}, {b}}), T({2, 3}, {20, 40, 60, 40, 80, 120}));
  expect_near(run_op1("Div", {{a}, {col}}), T({2, 3}, {0.5, 1, 1.5, 1, 1.25, 1.5}));
  expect_near(run_op1("Pow", {{a}, {T({}, {2})}}), T({2, 3}, {1, 4, 9, 16, 25, 36}));
  expect_near(run_op1("Max", {{a}, {T({3}, {2, 2, 7})}, {T({}, {3})}}),
              T({2, 3}, {3, 3, 7, 4, 5, 7}));
  expect_near(run_op1("Min", {{a}, {T({1, 1}, {3.5})}}), T({2, 3}, {1, 2, 3, 3.5, 3.5, 3.5}));
  expect_near(run_op1("PRelu", {{T({2, 2}, {-1, 2, -3, 4})}, {T({2}, {0.5, 0.25})}}),
              T({2, 2}, {-0.5, 2, -1.5, 4}));
}

TEST(OpsElementwise, IntegerDivisionTruncates) {
  const FloatTensor a = T({4}, {7, -7, 9, 5});
  const FloatTensor b = T({4}, {2, 2, -4, 0});
  const FloatTensor q = run_op1("Div", {{a, ElementType::Int64}, {b, ElementType::Int64}}, {}, 17,
                                ElementType::Int64);
  expect_near(q, T({4}, {3, -3, -2, 0}));
}

TEST(OpsElementwise, IncompatibleShapesNameTheNode) {
  try {
    run_op1("Add", {{T({2}, {1, 2})}, {T({3}, {1, 2, 3})}});
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("the_Add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("broadcast"), std::string::npos) << e.what();
  } catch (const SerializationError& e) {
    // ONNX's checker may reject the model first; it must still say why.
    EXPECT_NE(std::string(e.what()).find("not a valid ONNX model"), std::string::npos);
  }
}

TEST(OpsElementwise, ComparisonsAndLogic) {
  const FloatTensor a = T({4}, {1, 2, 3, 4});
  const FloatTensor b = T({4}, {2, 2, 2, 2});
  const auto cmp = [&](const char* op) {
    return run_op1(op, {{a}, {b}}, {}, 17, ElementType::Bool);
  };
  expect_near(cmp("Greater"), T({4}, {0, 0, 1, 1}));
  expect_near(cmp("GreaterOrEqual"), T({4}, {0, 1, 1, 1}));
  expect_near(cmp("Less"), T({4}, {1, 0, 0, 0}));
  expect_near(cmp("LessOrEqual"), T({4}, {1, 1, 0, 0}));
  expect_near(cmp("Equal"), T({4}, {0, 1, 0, 0}));
  const FloatTensor p = T({4}, {0, 0, 1, 1});
  const FloatTensor q = T({4}, {0, 1, 0, 1});
  const auto logic = [&](const char* op) {
    return run_op1(op, {{p, ElementType::Bool}, {q, ElementType::Bool}}, {}, 17, ElementType::Bool);
  };
  expect_near(logic("And"), T({4}, {0, 0, 0, 1}));
  expect_near(logic("Or"), T({4}, {0, 1, 1, 1}));
  expect_near(logic("Xor"), T({4}, {0, 1, 1, 0}));
  expect_near(run_op1("Not", {{p, ElementType::Bool}}, {}, 17, ElementType::Bool),
              T({4}, {1, 1, 0, 0}));
}

TEST(OpsElementwise, WhereBroadcastsItsThreeInputs) {
  const FloatTensor cond = T({2, 1}, {1, 0});
  expect_near(run_op1("Where", {{cond, ElementType::Bool}, {T({3}, {1, 2, 3})}, {T({}, {-1})}}),
              T({2, 3}, {1, 2, 3, -1, -1, -1}));
}

TEST(OpsElementwise, ClipAcrossOpsets) {
  const FloatTensor x = T({4}, {-2, -0.5, 0.5, 2});
  // Opset 11+: min and max are inputs (optional); opset 6: attributes.
  expect_near(run_op1("Clip", {{x}, constant(T({}, {-1})), constant(T({}, {1}))}),
              T({4}, {-1, -0.5, 0.5, 1}));
  expect_near(run_op1("Clip", {{x}, omitted(), constant(T({}, {0}))}), T({4}, {-2, -0.5, 0, 0}));
  expect_near(run_op1(
                  "Clip", {{x}},
                  [](auto& n) {
                    set_float(n, "min", -0.25f);
                    set_float(n, "max", 0.25f);
                  },
                  10),
              T({4}, {-0.25, -0.25, 0.25, 0.25}));
}

TEST(OpsElementwise, CastTruncatesWrapsAndMakesBooleans) {
  const FloatTensor x = T({5}, {-1.75, 2.875, 300, 0, 0.25});
  const auto cast = [&](ElementType to) {
    return run_op1(
        "Cast", {{x}}, [to](auto& n) { set_int(n, "to", static_cast<int>(to)); }, 17, to);
  };
  expect_near(cast(ElementType::Int64), T({5}, {-1, 2, 300, 0, 0}));
  expect_near(cast(ElementType::UInt8), T({5}, {255, 2, 44, 0, 0}));
  expect_near(cast(ElementType::Int8), T({5}, {-1, 2, 44, 0, 0}));
  expect_near(cast(ElementType::Bool), T({5}, {1, 1, 1, 0, 1}));
  expect_near(cast(ElementType::Double), x);
}

TEST(OpsElementwise, QuantizeRoundsHalfToEvenAndSaturates) {
  const FloatTensor x = T({6}, {0.5, 1.5, 2.5, -3.0, 1000, -1000});
  // uint8, scale 1, zero point 10: round(x) + 10 clipped to [0, 255].
  FloatTensor q = run_op1("QuantizeLinear",
                          {{x}, constant(T({}, {1.0})), constant(T({}, {10}), ElementType::UInt8)},
                          {}, 17, ElementType::UInt8);
  expect_near(q, T({6}, {10, 12, 12, 7, 255, 0}));
  q = run_op1("QuantizeLinear",
              {{x}, constant(T({}, {0.5})), constant(T({}, {-1}), ElementType::Int8)}, {}, 17,
              ElementType::Int8);
  expect_near(q, T({6}, {0, 2, 4, -7, 127, -128}));
  // Without a zero point: uint8 with zero point 0.
  q = run_op1("QuantizeLinear", {{x}, constant(T({}, {2.0}))}, {}, 17, ElementType::UInt8);
  expect_near(q, T({6}, {0, 1, 1, 0, 255, 0}));
}

TEST(OpsElementwise, QuantizePerAxis) {
  const FloatTensor x = T({2, 2}, {1, 1, 1, 1});
  const FloatTensor q = run_op1(
      "QuantizeLinear",
      {{x}, constant(T({2}, {0.5, 0.25})), constant(T({2}, {0, 3}), ElementType::Int8)},
      [](auto& n) { set_int(n, "axis", 1); }, 17, ElementType::Int8);
  expect_near(q, T({2, 2}, {2, 7, 2, 7}));
}

// Per-channel weights as torch exports them: an OIHW kernel quantized along axis 0 (one scale and
// int8 zero point per output channel; the axis also given negatively), then dequantized.
TEST(OpsElementwise, QuantizeAndDequantizePerOutputChannel) {
  const FloatTensor w = T({3, 1, 2, 1}, {1.0, -0.5, 0.25, 0.125, 3.0, -1.5});
  const FloatTensor scale = T({3}, {0.5, 0.125, 1.0});
  const FloatTensor zero = T({3}, {0, 2, -1});
  for (const std::int64_t axis : {0, -4}) {
    const auto set_axis = [axis](auto& n) { set_int(n, "axis", axis); };
    const FloatTensor q =
        run_op1("QuantizeLinear", {{w}, constant(scale), constant(zero, ElementType::Int8)},
                set_axis, 13, ElementType::Int8);
    expect_near(q, T({3, 1, 2, 1}, {2, -1, 4, 3, 2, -3}));  // round half to even: -1.5 -> -2
    const FloatTensor dq = run_op1(
        "DequantizeLinear",
        {{q, ElementType::Int8}, constant(scale), constant(zero, ElementType::Int8)}, set_axis, 13);
    expect_near(dq, T({3, 1, 2, 1}, {1.0, -0.5, 0.25, 0.125, 3.0, -2.0}));
  }
}

TEST(OpsElementwise, Dequantize) {
  const FloatTensor q = T({4}, {0, 10, 128, 255});
  const FloatTensor x = run_op1("DequantizeLinear", {{q, ElementType::UInt8},
                                                     constant(T({}, {0.5})),
                                                     constant(T({}, {128}), ElementType::UInt8)});
  expect_near(x, T({4}, {-64, -59, 0, 63.5}));
  const FloatTensor per_axis = run_op1(
      "DequantizeLinear", {{T({2, 2}, {1, 2, 3, 4}), ElementType::Int8}, constant(T({2}, {1, 10}))},
      [](auto& n) { set_int(n, "axis", 0); });
  expect_near(per_axis, T({2, 2}, {1, 2, 30, 40}));
}

}  // namespace
}  // namespace torusml::onnx
