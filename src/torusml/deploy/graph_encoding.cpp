#include "torusml/deploy/graph_encoding.h"

#include <string>
#include <utility>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/tfhe/serialization_detail.h"

namespace torusml::deploy::detail {

namespace {

namespace tsd = tfhe::serialization_detail;

constexpr std::size_t kMaxString = 4096;
constexpr std::uint64_t kMaxRank = 16;
constexpr std::int64_t kMaxElements = std::int64_t{1} << 20;

void write_string(ByteWriter& w, const std::string& s) {
  if (s.size() > kMaxString)
    throw InvalidArgument("a post-processing graph name is longer than 4096 bytes");
  w.string(s);
}
std::string read_string(ByteReader& r, const char* field) {
  return r.string(field, kMaxString);
}

void write_shape(ByteWriter& w, const onnx::Shape& shape) {
  w.u64(shape.size());
  for (std::int64_t d : shape) w.i64(d);
}
onnx::Shape read_shape(ByteReader& r) {
  const std::uint64_t rank = tsd::read_bounded(r, "shape rank", 0, kMaxRank);
  onnx::Shape shape(rank);
  std::int64_t total = 1;
  for (auto& d : shape) {
    d = r.i64("shape extent");
    if (d < 0 || d > kMaxElements) tsd::fail("a graph shape extent is outside [0, 2^20]");
    total *= d;
    if (total > kMaxElements) tsd::fail("a graph tensor has more than 2^20 elements");
  }
  return shape;
}

void write_tensor(ByteWriter& w, const onnx::FloatTensor& t) {
  write_shape(w, t.shape());
  for (double v : t.values()) w.f64(v);
}
onnx::FloatTensor read_tensor(ByteReader& r) {
  onnx::Shape shape = read_shape(r);
  const auto n = static_cast<std::uint64_t>(onnx::element_count(shape));
  if (n > r.remaining() / 8) tsd::fail("a graph tensor's values are truncated");
  std::vector<double> values(n);
  for (double& v : values) v = r.f64("tensor value");
  return onnx::FloatTensor(std::move(shape), std::move(values));
}

void write_info(ByteWriter& w, const onnx::ValueInfo& info) {
  w.i64(static_cast<std::int64_t>(info.type));
  write_shape(w, info.shape);
}
onnx::ElementType read_type(ByteReader& r, const char* field) {
  const std::int64_t code = r.i64(field);
  try {
    return onnx::element_type_from_onnx(code);
  } catch (const InvalidArgument&) {
    tsd::fail(std::string("unknown element type in ") + field);
  }
}
onnx::ValueInfo read_info(ByteReader& r) {
  onnx::ValueInfo info;
  info.type = read_type(r, "value type");
  info.shape = read_shape(r);
  return info;
}

void write_strings(ByteWriter& w, const std::vector<std::string>& v) {
  w.u64(v.size());
  for (const auto& s : v) write_string(w, s);
}
std::vector<std::string> read_strings(ByteReader& r, const char* field) {
  const std::uint64_t n = tsd::read_count(r, field, 4);
  std::vector<std::string> v;
  for (std::uint64_t i = 0; i < n; ++i) v.push_back(read_string(r, field));
  return v;
}

void write_attribute(ByteWriter& w, const onnx::Attribute& a) {
  w.u8(static_cast<std::uint8_t>(a.kind));
  w.i64(a.i);
  w.f64(a.f);
  write_string(w, a.s);
  w.u64(a.ints.size());
  for (std::int64_t v : a.ints) w.i64(v);
  w.u64(a.floats.size());
  for (double v : a.floats) w.f64(v);
  write_tensor(w, a.tensor);
  w.i64(static_cast<std::int64_t>(a.tensor_type));
}
onnx::Attribute read_attribute(ByteReader& r) {
  onnx::Attribute a;
  const std::uint8_t kind = r.u8("attribute kind");
  if (kind > static_cast<std::uint8_t>(onnx::AttributeKind::Tensor))
    tsd::fail("unknown attribute kind " + std::to_string(kind));
  a.kind = static_cast<onnx::AttributeKind>(kind);
  a.i = r.i64("attribute int");
  a.f = r.f64("attribute float");
  a.s = read_string(r, "attribute string");
  const std::uint64_t ni = tsd::read_count(r, "attribute ints", 8);
  for (std::uint64_t k = 0; k < ni; ++k) a.ints.push_back(r.i64("attribute ints"));
  const std::uint64_t nf = tsd::read_count(r, "attribute floats", 8);
  for (std::uint64_t k = 0; k < nf; ++k) a.floats.push_back(r.f64("attribute floats"));
  a.tensor = read_tensor(r);
  a.tensor_type = read_type(r, "attribute tensor type");
  return a;
}

}  // namespace

void write_graph(ByteWriter& w, const onnx::Graph& g) {
  write_string(w, g.name);
  w.i64(g.opset);
  for (const auto* list : {&g.inputs, &g.outputs}) {
    w.u64(list->size());
    for (const onnx::GraphInput& in : *list) {
      write_string(w, in.name);
      write_info(w, in.info);
    }
  }
  w.u64(g.nodes.size());
  for (const onnx::Node& n : g.nodes) {
    write_string(w, n.op_type);
    write_string(w, n.domain);
    write_string(w, n.name);
    write_strings(w, n.inputs);
    write_strings(w, n.outputs);
    w.u64(n.attributes.size());
    for (const auto& [key, a] : n.attributes) {
      write_string(w, key);
      write_attribute(w, a);
    }
  }
  w.u64(g.initializers.size());
  for (const auto& [name, t] : g.initializers) {
    write_string(w, name);
    write_tensor(w, t);
  }
  w.u64(g.values.size());
  for (const auto& [name, info] : g.values) {
    write_string(w, name);
    write_info(w, info);
  }
}

onnx::Graph read_graph(ByteReader& r) {
  onnx::Graph g;
  g.name = read_string(r, "graph name");
  g.opset = r.i64("graph opset");
  for (auto* list : {&g.inputs, &g.outputs}) {
    const std::uint64_t n = tsd::read_count(r, "graph inputs or outputs", 20);
    for (std::uint64_t k = 0; k < n; ++k) {
      onnx::GraphInput in;
      in.name = read_string(r, "graph input name");
      in.info = read_info(r);
      list->push_back(std::move(in));
    }
  }
  const std::uint64_t nodes = tsd::read_count(r, "graph nodes", 44);
  for (std::uint64_t k = 0; k < nodes; ++k) {
    onnx::Node n;
    n.op_type = read_string(r, "node op_type");
    n.domain = read_string(r, "node domain");
    n.name = read_string(r, "node name");
    n.inputs = read_strings(r, "node inputs");
    n.outputs = read_strings(r, "node outputs");
    const std::uint64_t na = tsd::read_count(r, "node attributes", 50);
    for (std::uint64_t i = 0; i < na; ++i) {
      std::string key = read_string(r, "attribute name");
      if (!n.attributes.emplace(std::move(key), read_attribute(r)).second)
        tsd::fail("a graph node has two attributes of the same name");
    }
    g.nodes.push_back(std::move(n));
  }
  const std::uint64_t inits = tsd::read_count(r, "graph initializers", 12);
  for (std::uint64_t k = 0; k < inits; ++k) {
    std::string name = read_string(r, "initializer name");
    if (!g.initializers.emplace(std::move(name), read_tensor(r)).second)
      tsd::fail("a graph has two initializers of the same name");
  }
  const std::uint64_t values = tsd::read_count(r, "graph values", 20);
  for (std::uint64_t k = 0; k < values; ++k) {
    std::string name = read_string(r, "value name");
    if (!g.values.emplace(std::move(name), read_info(r)).second)
      tsd::fail("a graph has two value infos of the same name");
  }
  return g;
}

}  // namespace torusml::deploy::detail
