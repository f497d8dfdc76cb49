// Internal: the binary encoding of an onnx::Graph inside a client artifact (a network output's
// post-processing), with bounded readers for untrusted bytes. Not part of the public API.
//
//   Graph      string name, i64 opset, list<GraphInput> inputs, list<GraphInput> outputs,
//              list<Node> nodes, list<(string, FloatTensor)> initializers,
//              list<(string, ValueInfo)> values
//   GraphInput string name, ValueInfo
//   ValueInfo  i64 element type (ONNX code), shape
//   Node       string op_type, domain, name, list<string> inputs, outputs,
//              list<(string, Attribute)> attributes
//   Attribute  u8 kind, i64 i, f64 f, string s, list<i64> ints, list<f64> floats,
//              FloatTensor tensor, i64 tensor element type
//   FloatTensor shape, f64 values (as many as the shape's elements)
//   shape      u64 rank (<= 16), i64 extents (each in [0, 2^20], at most 2^20 elements)
//   string     u32 length + bytes (<= 4096); list<T> u64 count + items
#pragma once

#include "torusml/common/byte_io.h"
#include "torusml/onnx/graph.h"

namespace torusml::deploy::detail {

void write_graph(ByteWriter& w, const onnx::Graph& g);
/// Structure only (bounded counts, sizes and kinds); SerializationError on invalid bytes. The
/// caller validates the graph as a whole.
onnx::Graph read_graph(ByteReader& r);

}  // namespace torusml::deploy::detail
