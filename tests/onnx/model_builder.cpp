#include "model_builder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "torusml/onnx/tensor_proto.h"

namespace torusml::onnx::testing {

ModelBuilder::ModelBuilder(std::int64_t opset) {
  model.set_ir_version(8);
  model.set_producer_name("torusml-tests");
  auto* id = model.add_opset_import();
  id->set_domain("");
  id->set_version(opset);
  model.mutable_graph()->set_name("test");
}

namespace {

void set_type(::onnx::ValueInfoProto* vi, ElementType type, const std::optional<Shape>& shape) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(type));
  if (!shape) return;
  auto* s = tt->mutable_shape();
  for (const std::int64_t d : *shape) {
    if (d == kDynamic)
      s->add_dim()->set_dim_param("batch");
    else
      s->add_dim()->set_dim_value(d);
  }
}

}  // namespace

ModelBuilder& ModelBuilder::input(const std::string& name, const Shape& shape, ElementType type) {
  auto* vi = model.mutable_graph()->add_input();
  vi->set_name(name);
  set_type(vi, type, shape);
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name, ElementType type,
                                   std::optional<Shape> shape) {
  auto* vi = model.mutable_graph()->add_output();
  vi->set_name(name);
  set_type(vi, type, shape);
  return *this;
}

ModelBuilder& ModelBuilder::initializer(const std::string& name, const FloatTensor& value,
                                        ElementType type) {
  *model.mutable_graph()->add_initializer() = detail::tensor_to_proto(value, type, name);
  return *this;
}

::onnx::NodeProto& ModelBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& outputs,
                                      const std::string& name) {
  auto* n = model.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

std::string ModelBuilder::bytes() const {
  return model.SerializeAsString();
}

Graph ModelBuilder::load(const LoadOptions& options) const {
  const std::string b = bytes();
  return load_onnx_model(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()),
      options);
}

std::vector<FloatTensor> ModelBuilder::run(const std::vector<FloatTensor>& inputs,
                                           const LoadOptions& options) const {
  return evaluate_graph(load(options), inputs);
}

namespace {

::onnx::AttributeProto* add_attribute(::onnx::NodeProto& n, const std::string& key,
                                      ::onnx::AttributeProto::AttributeType type) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(type);
  return a;
}

}  // namespace

void set_int(::onnx::NodeProto& n, const std::string& key, std::int64_t v) {
  add_attribute(n, key, ::onnx::AttributeProto::INT)->set_i(v);
}
void set_float(::onnx::NodeProto& n, const std::string& key, float v) {
  add_attribute(n, key, ::onnx::AttributeProto::FLOAT)->set_f(v);
}
void set_string(::onnx::NodeProto& n, const std::string& key, const std::string& v) {
  add_attribute(n, key, ::onnx::AttributeProto::STRING)->set_s(v);
}
void set_ints(::onnx::NodeProto& n, const std::string& key, const std::vector<std::int64_t>& v) {
  auto* a = add_attribute(n, key, ::onnx::AttributeProto::INTS);
  for (const auto x : v) a->add_ints(x);
}
void set_floats(::onnx::NodeProto& n, const std::string& key, const std::vector<float>& v) {
  auto* a = add_attribute(n, key, ::onnx::AttributeProto::FLOATS);
  for (const auto x : v) a->add_floats(x);
}
void set_tensor(::onnx::NodeProto& n, const std::string& key, const FloatTensor& v,
                ElementType type) {
  *add_attribute(n, key, ::onnx::AttributeProto::TENSOR)->mutable_t() =
      detail::tensor_to_proto(v, type, "");
}

std::vector<FloatTensor> run_op(const std::string& op, const std::vector<OpInput>& inputs,
                                const std::function<void(::onnx::NodeProto&)>& attributes,
                                std::int64_t opset, std::vector<ElementType> output_types,
                                const std::string& domain) {
  std::vector<FloatTensor> results[2];
  for (int folded = 0; folded < 2; ++folded) {
    ModelBuilder b(opset);
    if (!domain.empty()) {
      auto* id = b.model.add_opset_import();
      id->set_domain(domain);
      id->set_version(1);
    }
    std::vector<std::string> names;
    std::vector<FloatTensor> values;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const OpInput& in = inputs[i];
      if (in.omitted) {
        names.push_back("");
        continue;
      }
      names.push_back("in" + std::to_string(i));
      if (in.constant || folded) {
        b.initializer(names.back(), in.value, in.type);
      } else {
        b.input(names.back(), in.value.shape(), in.type);
        values.push_back(in.value);
      }
    }
    std::vector<std::string> outs;
    for (std::size_t i = 0; i < output_types.size(); ++i) outs.push_back("out" + std::to_string(i));
    auto& n = b.node(op, names, outs, "the_" + op);
    n.set_domain(domain);
    if (attributes) attributes(n);
    for (std::size_t i = 0; i < outs.size(); ++i) b.output(outs[i], output_types[i]);
    const Graph g = b.load();
    if (folded && op != "QuantizeLinear" && op != "DequantizeLinear") {
      EXPECT_EQ(g.nodes.size(), 0u) << op << " was not folded";
    }
    results[folded] = evaluate_graph(g, values);
  }
  EXPECT_EQ(results[0].size(), results[1].size());
  for (std::size_t i = 0; i < results[0].size() && i < results[1].size(); ++i) {
    EXPECT_EQ(results[0][i].shape(), results[1][i].shape());
    if (results[0][i].shape() == results[1][i].shape())
      for (std::size_t j = 0; j < results[0][i].size(); ++j) {
        const double a = results[0][i][j], c = results[1][i][j];
        EXPECT_TRUE(a == c || (std::isnan(a) && std::isnan(c))) << op << " element " << j;
      }
  }
  return results[0];
}

FloatTensor run_op1(const std::string& op, const std::vector<OpInput>& inputs,
                    const std::function<void(::onnx::NodeProto&)>& attributes, std::int64_t opset,
                    ElementType output_type) {
  auto out = run_op(op, inputs, attributes, opset, {output_type});
  return out.empty() ? FloatTensor() : out[0];
}

void expect_near(const FloatTensor& actual, const FloatTensor& expected, double tolerance) {
  ASSERT_EQ(actual.shape(), expected.shape())
      << shape_to_string(actual.shape()) << " vs " << shape_to_string(expected.shape());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "element " << i;
      continue;
    }
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0, std::fabs(expected[i])))
        << "element " << i;
  }
}

}  // namespace torusml::onnx::testing
