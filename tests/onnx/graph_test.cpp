// Node attribute reads, element types, the graph summary.
#include "torusml/onnx/graph.h"

#include <gtest/gtest.h>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

TEST(Graph, TypedAttributeReads) {
  Node n;
  n.op_type = "Conv";
  n.name = "c1";
  Attribute i;
  i.kind = AttributeKind::Int;
  i.i = 3;
  n.attributes["group"] = i;
  Attribute s;
  s.kind = AttributeKind::String;
  s.s = "SAME_UPPER";
  n.attributes["auto_pad"] = s;
  EXPECT_EQ(n.int_attribute("group", 1), 3);
  EXPECT_EQ(n.int_attribute("missing", 7), 7);
  EXPECT_EQ(n.float_attribute("group", 0), 3.0);  // ints read as floats
  EXPECT_EQ(n.string_attribute("auto_pad", ""), "SAME_UPPER");
  try {
    (void)n.int_attribute("auto_pad", 0);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("c1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("auto_pad"), std::string::npos);
  }
  EXPECT_THROW(n.tensor_attribute("value"), InvalidArgument);
}

TEST(Graph, ElementTypes) {
  EXPECT_EQ(element_type_from_onnx(7), ElementType::Int64);
  EXPECT_THROW(element_type_from_onnx(8), InvalidArgument);  // string
  EXPECT_THROW(element_type_from_onnx(99), InvalidArgument);
  EXPECT_TRUE(is_integer(ElementType::Bool));
  EXPECT_TRUE(is_float(ElementType::Float16));
  EXPECT_EQ(type_min(ElementType::Int8), -128);
  EXPECT_EQ(type_max(ElementType::UInt8), 255);
  EXPECT_THROW(type_max(ElementType::Float), InvalidArgument);
  EXPECT_EQ(to_string(ElementType::BFloat16), "bfloat16");
}

TEST(Graph, SummaryListsNodesAndShapes) {
  testing::ModelBuilder b;
  b.input("x", {1, 3});
  b.initializer("w", testing::T({3, 2}, {1, 2, 3, 4, 5, 6}));
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  b.output("y");
  const Graph g = b.load();
  const std::string s = summarize_graph(g);
  EXPECT_NE(s.find("MatMul 'mm' (x:float[1, 3], w:float[3, 2]) -> (y:float[1, 2])"),
            std::string::npos)
      << s;
  EXPECT_EQ(g.op_counts().at("MatMul"), 1u);
}

}  // namespace
}  // namespace torusml::onnx
