// fold_batch_normalization: same outputs, fewer nodes; cases that must not fold.
#include "torusml/onnx/fold_batch_normalization.h"

#include <gtest/gtest.h>

#include "model_builder.h"

namespace torusml::onnx {
namespace {

using namespace testing;

void add_bn(ModelBuilder& b, const std::string& in, const std::string& out, std::int64_t c) {
  std::vector<double> scale, bias, mean, var;
  for (std::int64_t i = 0; i < c; ++i) {
    scale.push_back(0.5 + static_cast<double>(i));
    bias.push_back(-0.25 * static_cast<double>(i));
    mean.push_back(0.125 * static_cast<double>(i + 1));
    var.push_back(1.5 + static_cast<double>(i));
  }
  b.initializer(out + "_s", T({c}, scale)).initializer(out + "_b", T({c}, bias));
  b.initializer(out + "_m", T({c}, mean)).initializer(out + "_v", T({c}, var));
  b.node("BatchNormalization", {in, out + "_s", out + "_b", out + "_m", out + "_v"}, {out},
         out + "_bn");
}

TEST(FoldBatchNormalization, ConvAndGemm) {
  ModelBuilder b;
  b.input("x", {2, 2, 3, 3});
  b.initializer("k", T({3, 2, 2, 2}, {1, -1, 2,  0, 0.5, 1, -2, 1, 0,  1,  1, 0,
                                      2, 2,  -1, 0, 1,   1, 1,  1, -1, -1, 0, 3}));
  b.initializer("kb", T({3}, {0.5, 0, -1}));
  b.node("Conv", {"x", "k", "kb"}, {"c"}, "conv");
  add_bn(b, "c", "n", 3);
  b.node("Flatten", {"n"}, {"f"}, "flatten");
  FloatTensor w({12, 2});
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<double>(i % 5) - 2;
  b.initializer("w", w);
  b.node("Gemm", {"f", "w"}, {"g"}, "fc");
  add_bn(b, "g", "m", 2);
  b.output("m");
  Graph g = b.load();
  FloatTensor x({2, 2, 3, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>((i * 5) % 7) - 3;
  const FloatTensor before = evaluate_graph(g, std::vector{x})[0];
  EXPECT_EQ(fold_batch_normalization(g), 2u);
  EXPECT_EQ(g.op_counts().count("BatchNormalization"), 0u);
  EXPECT_EQ(g.nodes.size(), 3u);
  expect_near(evaluate_graph(g, std::vector{x})[0], before, 1e-12);
  EXPECT_EQ(g.find_initializer("n_s"), nullptr);  // unused parameters are dropped
}

TEST(FoldBatchNormalization, KeepsSharedOrUnfoldableInputs) {
  ModelBuilder b;
  b.input("x", {1, 2, 2, 2});
  add_bn(b, "x", "n", 2);  // fed by a graph input: nothing to fold into
  b.output("n");
  Graph g = b.load();
  EXPECT_EQ(fold_batch_normalization(g), 0u);

  ModelBuilder c;
  c.input("x", {1, 1, 2, 2});
  c.initializer("k", T({2, 1, 1, 1}, {1, 2}));
  c.node("Conv", {"x", "k"}, {"c"}, "conv");
  add_bn(c, "c", "n", 2);
  c.output("n").output("c");  // the Conv output is also a graph output
  Graph g2 = c.load();
  EXPECT_EQ(fold_batch_normalization(g2), 0u);
}

}  // namespace
}  // namespace torusml::onnx
