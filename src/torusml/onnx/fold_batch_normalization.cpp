#include "torusml/onnx/fold_batch_normalization.h"

#include <cmath>
#include <set>

#include "torusml/common/error.h"

namespace torusml::onnx {

namespace {

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.values.count(name) || g.initializers.count(name); ++i)
    name = base + "_" + std::to_string(i);
  return name;
}

std::size_t uses(const Graph& g, const std::string& value) {
  std::size_t n = 0;
  for (const Node& node : g.nodes)
    for (const std::string& in : node.inputs) n += in == value;
  for (const GraphInput& o : g.outputs) n += o.name == value;
  return n;
}

std::string add_initializer(Graph& g, const std::string& base, FloatTensor t) {
  const std::string name = fresh_name(g, base);
  g.values[name] = {ElementType::Float, t.shape()};
  g.initializers[name] = std::move(t);
  return name;
}

// Tries to fold nodes[bn] into the producer of its input; true if done.
bool fold_one(Graph& g, std::size_t bn) {
  const Node& norm = g.nodes[bn];
  if (norm.inputs.size() != 5 || norm.int_attribute("training_mode", 0) != 0) return false;
  for (std::size_t i = 1; i < norm.outputs.size(); ++i)
    if (!norm.outputs[i].empty()) return false;
  const FloatTensor* params[4];
  for (std::size_t i = 0; i < 4; ++i)
    if (!(params[i] = g.find_initializer(norm.inputs[i + 1]))) return false;
  const std::string& x = norm.inputs[0];
  std::size_t p = g.nodes.size();
  for (std::size_t k = 0; k < bn; ++k)
    if (!g.nodes[k].outputs.empty() && g.nodes[k].outputs[0] == x) p = k;
  if (p == g.nodes.size() || uses(g, x) != 1) return false;
  Node& prod = g.nodes[p];
  if (prod.op_type != "Conv" && prod.op_type != "Gemm") return false;
  const FloatTensor* w = prod.inputs.size() > 1 ? g.find_initializer(prod.inputs[1]) : nullptr;
  if (w == nullptr) return false;
  const bool has_bias = prod.inputs.size() > 2 && !prod.inputs[2].empty();
  const FloatTensor* bias = has_bias ? g.find_initializer(prod.inputs[2]) : nullptr;
  if (has_bias && bias == nullptr) return false;
  const Shape& x_shape = g.value_info(x).shape;
  if (x_shape.size() < 2) return false;
  const auto channels = static_cast<std::size_t>(x_shape[1]);
  for (const FloatTensor* t : params)
    if (t->size() != channels)
      throw InvalidArgument(norm.describe() + ": its parameters must hold one value per channel");
  const double eps = norm.float_attribute("epsilon", 1e-5);
  std::vector<double> s(channels), shift(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    s[c] = (*params[0])[c] / std::sqrt((*params[3])[c] + eps);
    shift[c] = (*params[1])[c] - (*params[2])[c] * s[c];
  }
  FloatTensor new_w = *w;
  std::vector<double> new_b(channels, 0.0);
  if (prod.op_type == "Conv") {
    if (w->rank() < 1 || static_cast<std::size_t>(w->dim(0)) != channels) return false;
    if (bias && bias->size() != channels) return false;
    const std::size_t inner = w->size() / channels;
    for (std::size_t i = 0; i < w->size(); ++i) new_w[i] *= s[i / inner];
    for (std::size_t c = 0; c < channels; ++c)
      new_b[c] = (bias ? (*bias)[c] : 0.0) * s[c] + shift[c];
  } else {
    if (x_shape.size() != 2 || w->rank() != 2) return false;
    const bool tb = prod.int_attribute("transB", 0) != 0;
    if (static_cast<std::size_t>(w->dim(tb ? 0 : 1)) != channels) return false;
    const double alpha = prod.float_attribute("alpha", 1.0);
    const double beta = prod.float_attribute("beta", 1.0);
    const auto cols = static_cast<std::size_t>(w->dim(1));
    for (std::size_t i = 0; i < w->size(); ++i) new_w[i] *= alpha * s[tb ? i / cols : i % cols];
    for (std::size_t c = 0; c < channels; ++c) {
      double cv = 0.0;
      if (bias) {
        if (bias->size() == 1)
          cv = (*bias)[0];
        else if (bias->size() == channels && (bias->rank() == 1 || bias->dim(0) == 1))
          cv = (*bias)[c];
        else
          return false;
      }
      new_b[c] = beta * cv * s[c] + shift[c];
    }
    prod.attributes.erase("alpha");
    prod.attributes.erase("beta");
  }
  const std::string y = norm.outputs[0];
  prod.inputs.resize(3);
  prod.inputs[1] = add_initializer(g, prod.name + "_bn_weight", std::move(new_w));
  prod.inputs[2] =
      add_initializer(g, prod.name + "_bn_bias",
                      FloatTensor({static_cast<std::int64_t>(channels)}, std::move(new_b)));
  prod.outputs[0] = y;
  g.values.erase(x);
  g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(bn));
  return true;
}

}  // namespace

std::size_t fold_batch_normalization(Graph& graph) {
  std::size_t folded = 0;
  for (std::size_t k = 0; k < graph.nodes.size();) {
    if (graph.nodes[k].op_type == "BatchNormalization" && fold_one(graph, k)) {
      ++folded;
      continue;
    }
    ++k;
  }
  if (folded > 0) {
    std::set<std::string> used;
    for (const Node& n : graph.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    for (const GraphInput& o : graph.outputs) used.insert(o.name);
    for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
      if (used.count(it->first)) {
        ++it;
      } else {
        graph.values.erase(it->first);
        it = graph.initializers.erase(it);
      }
    }
  }
  return folded;
}

}  // namespace torusml::onnx
