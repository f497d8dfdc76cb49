// Internal: conversions between ONNX TensorProtos and FloatTensors (used by the loader; the tests
// use tensor_to_proto to build models).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "torusml/onnx/float_tensor.h"
#include "torusml/onnx/graph.h"

namespace torusml::onnx::detail {

struct TypedTensor {
  FloatTensor tensor;
  ElementType type = ElementType::Float;
};

/// The tensor's elements as doubles, from its typed fields or raw_data (little-endian). Throws
/// InvalidArgument naming `what` for strings, complex numbers, external or segmented data, or a
/// data size that does not match the dimensions.
TypedTensor tensor_from_proto(const ::onnx::TensorProto& proto, const std::string& what);

/// A TensorProto of element type `type` holding the tensor (integers truncated; raw data).
::onnx::TensorProto tensor_to_proto(const FloatTensor& tensor, ElementType type,
                                    const std::string& name);

/// Half-precision (IEEE binary16) and bfloat16 bit patterns as doubles.
double half_to_double(std::uint16_t bits);
double bfloat16_to_double(std::uint16_t bits);

}  // namespace torusml::onnx::detail
