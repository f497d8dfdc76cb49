#include "torusml/onnx/tensor_proto.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "torusml/common/error.h"
#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

double half_to_double(std::uint16_t bits) {
  const int sign = (bits >> 15) & 1;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double v = 0.0;
  if (exponent == 0) {
    v = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    v = mantissa == 0 ? INFINITY : NAN;
  } else {
    v = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -v : v;
}

double bfloat16_to_double(std::uint16_t bits) {
  return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16));
}

namespace {

std::size_t element_size(ElementType t) {
  switch (t) {
    case ElementType::UInt8:
    case ElementType::Int8:
    case ElementType::Bool:
      return 1;
    case ElementType::UInt16:
    case ElementType::Int16:
    case ElementType::Float16:
    case ElementType::BFloat16:
      return 2;
    case ElementType::Float:
    case ElementType::Int32:
    case ElementType::UInt32:
      return 4;
    case ElementType::Double:
    case ElementType::Int64:
    case ElementType::UInt64:
      return 8;
  }
  return 8;
}

template <class T>
T read_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64 and ARM64 Linux are little-endian, as ONNX's raw_data
  return v;
}

double decode_raw(const char* p, ElementType t) {
  switch (t) {
    case ElementType::Float:
      return static_cast<double>(read_le<float>(p));
    case ElementType::Double:
      return read_le<double>(p);
    case ElementType::UInt8:
      return read_le<std::uint8_t>(p);
    case ElementType::Int8:
      return read_le<std::int8_t>(p);
    case ElementType::Bool:
      return read_le<std::uint8_t>(p) != 0 ? 1.0 : 0.0;
    case ElementType::UInt16:
      return read_le<std::uint16_t>(p);
    case ElementType::Int16:
      return read_le<std::int16_t>(p);
    case ElementType::Int32:
      return read_le<std::int32_t>(p);
    case ElementType::UInt32:
      return read_le<std::uint32_t>(p);
    case ElementType::Int64:
      return static_cast<double>(read_le<std::int64_t>(p));
    case ElementType::UInt64:
      return static_cast<double>(read_le<std::uint64_t>(p));
    case ElementType::Float16:
      return half_to_double(read_le<std::uint16_t>(p));
    case ElementType::BFloat16:
      return bfloat16_to_double(read_le<std::uint16_t>(p));
  }
  return 0.0;
}

}  // namespace

TypedTensor tensor_from_proto(const ::onnx::TensorProto& proto, const std::string& what) {
  if (proto.has_segment())
    throw InvalidArgument(what + " is a segmented tensor, which is not supported");
  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL)
    throw InvalidArgument(what +
                          " stores its data in an external file, which is not supported; save "
                          "the model with its tensors inside (onnx.save(model, path, "
                          "save_as_external_data=False))");
  TypedTensor out;
  try {
    out.type = element_type_from_onnx(proto.data_type());
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(what + ": " + e.what());
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  std::int64_t count = 0;
  try {
    count = element_count(shape);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(what + ": " + e.what());
  }
  const auto n = static_cast<std::size_t>(count);
  const auto mismatch = [&](std::size_t held) {
    return InvalidArgument(what + " has shape " + shape_to_string(shape) + " (" +
                           std::to_string(count) + " elements) but holds " + std::to_string(held) +
                           " values");
  };
  std::vector<double> data;
  const ElementType t = out.type;
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    const std::size_t es = element_size(t);
    if (raw.size() % es != 0 || raw.size() / es != n) throw mismatch(raw.size() / es);
    data.resize(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = decode_raw(raw.data() + i * es, t);
  } else if (t == ElementType::Float) {
    if (static_cast<std::size_t>(proto.float_data_size()) != n)
      throw mismatch(proto.float_data_size());
    data.assign(proto.float_data().begin(), proto.float_data().end());
  } else if (t == ElementType::Double) {
    if (static_cast<std::size_t>(proto.double_data_size()) != n)
      throw mismatch(proto.double_data_size());
    data.assign(proto.double_data().begin(), proto.double_data().end());
  } else if (t == ElementType::Int64) {
    if (static_cast<std::size_t>(proto.int64_data_size()) != n)
      throw mismatch(proto.int64_data_size());
    for (const std::int64_t v : proto.int64_data()) data.push_back(static_cast<double>(v));
  } else if (t == ElementType::UInt32 || t == ElementType::UInt64) {
    if (static_cast<std::size_t>(proto.uint64_data_size()) != n)
      throw mismatch(proto.uint64_data_size());
    for (const std::uint64_t v : proto.uint64_data()) data.push_back(static_cast<double>(v));
  } else {
    if (static_cast<std::size_t>(proto.int32_data_size()) != n)
      throw mismatch(proto.int32_data_size());
    for (const std::int32_t v : proto.int32_data()) {
      const auto bits = static_cast<std::uint16_t>(static_cast<std::uint32_t>(v) & 0xffffu);
      if (t == ElementType::Float16)
        data.push_back(half_to_double(bits));
      else if (t == ElementType::BFloat16)
        data.push_back(bfloat16_to_double(bits));
      else if (t == ElementType::Bool)
        data.push_back(v != 0 ? 1.0 : 0.0);
      else
        data.push_back(static_cast<double>(v));
    }
  }
  out.tensor = FloatTensor(std::move(shape), std::move(data));
  return out;
}

::onnx::TensorProto tensor_to_proto(const FloatTensor& tensor, ElementType type,
                                    const std::string& name) {
  ::onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(static_cast<int>(type));
  for (const std::int64_t d : tensor.shape()) p.add_dims(d);
  for (const double v : tensor.data()) {
    switch (type) {
      case ElementType::Float:
        p.add_float_data(static_cast<float>(v));
        break;
      case ElementType::Double:
        p.add_double_data(v);
        break;
      case ElementType::Int64:
        p.add_int64_data(to_int64(v));
        break;
      case ElementType::UInt32:
      case ElementType::UInt64:
        p.add_uint64_data(static_cast<std::uint64_t>(to_int64(v)));
        break;
      case ElementType::Float16:
      case ElementType::BFloat16:
        throw InvalidArgument("tensor_to_proto: 16-bit float tensors are not supported");
      default:
        p.add_int32_data(static_cast<std::int32_t>(to_int64(v)));
        break;
    }
  }
  return p;
}

}  // namespace torusml::onnx::detail
