// Shared payload encodings of the circuit serialization units: primitives, CircuitParameters,
// framing with circuit fingerprints, encrypted tensors and client specifications (layouts in
// serialization_detail.h).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "torusml/circuit/serialization/serialization_detail.h"
#include "torusml/circuit/serialization/validity.h"

namespace torusml::circuit::serialization_detail {

namespace tsd = tfhe::serialization_detail;

// ---- Primitives ----

void fail(const std::string& message) {
  tsd::fail(message);
}

void write_bool(ByteWriter& w, bool v) {
  w.u8(v ? 1 : 0);
}

bool read_bool(ByteReader& r, const char* field) {
  const std::uint8_t v = r.u8(field);
  if (v > 1) fail(std::string("'") + field + "' is " + std::to_string(v) + ", not a bool (0 or 1)");
  return v == 1;
}

void write_string(ByteWriter& w, std::string_view s, const char* field) {
  if (s.size() > kMaxStringBytes) {
    throw InvalidArgument(std::string("cannot serialize a ") + field + " of " +
                          std::to_string(s.size()) + " bytes (at most " +
                          std::to_string(kMaxStringBytes) + "): shorten it");
  }
  w.string(s);
}

std::string read_string(ByteReader& r, const char* field) {
  return r.string(field, kMaxStringBytes);
}

void write_i64s(ByteWriter& w, std::span<const std::int64_t> values) {
  w.u64(values.size());
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()));
}

std::vector<std::int64_t> read_i64s(ByteReader& r, const char* field) {
  const std::uint64_t count = tsd::read_count(r, field, 8);
  std::vector<std::int64_t> out(static_cast<std::size_t>(count));
  if (count != 0)
    r.u64_values(std::span(reinterpret_cast<std::uint64_t*>(out.data()), out.size()), field);
  return out;
}

void write_i32s(ByteWriter& w, std::span<const std::int32_t> values) {
  w.u64(values.size());
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()));
}

std::vector<std::int32_t> read_i32s(ByteReader& r, const char* field) {
  const std::uint64_t count = tsd::read_count(r, field, 4);
  std::vector<std::int32_t> out(static_cast<std::size_t>(count));
  if (count != 0)
    r.bytes(std::span(reinterpret_cast<std::uint8_t*>(out.data()), out.size() * 4), field);
  return out;
}

void write_shape(ByteWriter& w, const Shape& shape) {
  w.u64(shape.size());
  for (std::int64_t e : shape) w.i64(e);
}

Shape read_shape(ByteReader& r, const char* field) {
  const std::uint64_t rank = r.u64(field);
  if (rank > kMaxRank) {
    fail(std::string("'") + field + "' has rank " + std::to_string(rank) + ", more than " +
         std::to_string(kMaxRank));
  }
  Shape shape(static_cast<std::size_t>(rank));
  std::int64_t count = 1;
  for (auto& e : shape) {
    e = r.i64(field);
    if (e < 0 || e > kMaxSerializedElements || __builtin_mul_overflow(count, e, &count) ||
        count > kMaxSerializedElements) {
      fail(std::string("'") + field + "' has extent " + std::to_string(e) +
           ": extents must be >= 0 with at most 2^48 elements in all");
    }
  }
  return shape;
}

std::size_t elements_of(const Shape& shape) {
  return static_cast<std::size_t>(element_count(shape));
}

void write_tensor(ByteWriter& w, const Tensor& t) {
  write_shape(w, t.shape());
  write_i64s(w, t.values());
}

Tensor read_tensor(ByteReader& r, const char* field) {
  Shape shape = read_shape(r, field);
  std::vector<std::int64_t> values = read_i64s(r, field);
  if (values.size() != elements_of(shape)) {
    fail(std::string("'") + field + "' holds " + std::to_string(values.size()) +
         " values for shape " + shape_to_string(shape));
  }
  return Tensor(std::move(shape), std::move(values));
}

void write_encoding(ByteWriter& w, const Encoding& e, bool with_partition) {
  w.u8(static_cast<std::uint8_t>(e.width));
  write_bool(w, e.is_signed);
  if (with_partition) w.u32(e.partition);
}

Encoding read_encoding(ByteReader& r, const char* field, bool with_partition) {
  Encoding e;
  e.width = r.u8(field);
  if (e.width > 62) fail(std::string("'") + field + "' width " + std::to_string(e.width) + " > 62");
  e.is_signed = read_bool(r, field);
  if (with_partition) e.partition = r.u32(field);
  return e;
}

void write_blob(ByteWriter& w, std::span<const std::uint8_t> bytes) {
  w.u64(bytes.size());
  w.bytes(bytes);
}

std::vector<std::uint8_t> read_blob(ByteReader& r, const char* field) {
  const std::uint64_t length = r.u64(field);
  if (length > r.remaining()) {
    fail(std::string("'") + field + "' claims " + std::to_string(length) + " bytes but only " +
         std::to_string(r.remaining()) + " remain");
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(length));
  r.bytes(out, field);
  return out;
}

// ---- Parameters ----

std::string hex64(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << std::setw(16) << std::setfill('0') << v;
  return os.str();
}

void validate_parameters(const CircuitParameters& p) {
  p.validate();
}

std::string describe_parameters(const CircuitParameters& p) {
  std::ostringstream os;
  if (p.uses_pbs) {
    os << "PBS parameters " << (p.pbs.name.empty() ? "(unnamed)" : p.pbs.name);
    if (p.small_key_inputs) os << " (small-key inputs)";
    if (has_partitions(p)) {
      os << " + partitions";
      for (const tfhe::PbsParameters& q : p.extra_partitions)
        os << " " << (q.name.empty() ? "(unnamed)" : q.name);
    }
  } else {
    os << "leveled parameters n=" << p.leveled_dimension.value();
  }
  os << " (circuit fingerprint " << hex64(p.fingerprint()) << ")";
  return os.str();
}

bool has_partitions(const CircuitParameters& p) {
  return !p.extra_partitions.empty() || !p.cross_keyswitches.empty();
}

namespace {

// The partition fields of a multi-parameter circuit (tag 2): at least one extra partition, so
// that single-parameter circuits have one encoding only (tag 1).
void read_partitions(ByteReader& r, CircuitParameters& p) {
  // A PbsParameters record takes more than 64 bytes, a cross keyswitch 24.
  const std::uint64_t extra = tsd::read_count(r, "partition count", 64);
  if (extra < 1 || extra + 1 > kMaxPartitions) {
    fail("a multi-parameter circuit has " + std::to_string(extra + 1) +
         " partitions (allowed: 2 to " + std::to_string(kMaxPartitions) + ")");
  }
  for (std::uint64_t k = 0; k < extra; ++k)
    p.extra_partitions.push_back(tfhe::deserialize_parameters(read_blob(r, "partition")));
  const std::uint64_t cross = tsd::read_count(r, "cross keyswitch count", 24);
  if (cross > kMaxPartitions * (kMaxPartitions - 1))
    fail("a multi-parameter circuit lists " + std::to_string(cross) + " cross keyswitches");
  for (std::uint64_t k = 0; k < cross; ++k) {
    CrossKeyswitchParameters c;
    c.from = r.u32("cross keyswitch source");
    c.to = r.u32("cross keyswitch destination");
    c.ks = tsd::read_decomposition(r, "cross keyswitch decomposition");
    p.cross_keyswitches.push_back(c);
  }
}

}  // namespace

void write_parameters(ByteWriter& w, const CircuitParameters& p) {
  const bool multi = p.uses_pbs && has_partitions(p);
  w.u8(multi ? kMultiParameterTag : !p.uses_pbs ? 0 : p.small_key_inputs ? kSmallKeyInputsTag : 1);
  if (p.uses_pbs) {
    write_blob(w, tfhe::serialize_parameters(p.pbs));
    if (multi) {
      w.u64(p.extra_partitions.size());
      for (const tfhe::PbsParameters& q : p.extra_partitions)
        write_blob(w, tfhe::serialize_parameters(q));
      w.u64(p.cross_keyswitches.size());
      for (const CrossKeyswitchParameters& c : p.cross_keyswitches) {
        w.u32(c.from);
        w.u32(c.to);
        tsd::write_decomposition(w, c.ks);
      }
    }
    return;
  }
  w.u64(p.leveled_dimension.value());
  w.u8(static_cast<std::uint8_t>(p.leveled_noise.kind));
  w.u32(static_cast<std::uint32_t>(p.leveled_noise.bound_log2));
  w.f64(p.leveled_noise.std_dev);
}

CircuitParameters read_parameters(ByteReader& r) {
  CircuitParameters p;
  const std::uint8_t tag = r.u8("uses_pbs");
  if (tag > kSmallKeyInputsTag) {
    fail("'uses_pbs' is " + std::to_string(tag) +
         ", not 0 (leveled), 1 (PBS), 2 (multi-parameter PBS) or 3 (PBS, small-key inputs)");
  }
  p.uses_pbs = tag != 0;
  p.small_key_inputs = tag == kSmallKeyInputsTag;
  if (p.uses_pbs) {
    p.pbs = tfhe::deserialize_parameters(read_blob(r, "PBS parameters"));
    if (tag == kMultiParameterTag) read_partitions(r, p);
  } else {
    p.leveled_dimension = tfhe::LweDimension(r.u64("leveled dimension"));
    p.leveled_noise.kind = static_cast<tfhe::NoiseDistribution::Kind>(r.u8("leveled noise kind"));
    p.leveled_noise.bound_log2 = static_cast<std::int32_t>(r.u32("leveled noise bound"));
    p.leveled_noise.std_dev = r.f64("leveled noise std_dev");
  }
  try {
    validate_parameters(p);
  } catch (const InsecureParameters&) {
    throw;  // well formed but below 128-bit security: refused with its own type
  } catch (const InvalidArgument& e) {
    fail(std::string("stored parameters are invalid (") + e.what() + ")");
  }
  return p;
}

// ---- Framing ----

std::vector<std::uint8_t> seal(SerializedKind kind, const CircuitParameters& p,
                               std::vector<std::uint8_t> payload) {
  return tsd::seal(kind, p.fingerprint(), std::move(payload));
}

std::pair<tfhe::SerializedHeader, std::span<const std::uint8_t>> open(
    std::span<const std::uint8_t> bytes, SerializedKind kind, const CircuitParameters* expected,
    const char* advice) {
  if (expected != nullptr) expected->validate();  // the caller's parameters
  auto opened = tsd::open(bytes, kind);
  const std::uint64_t found = opened.first.parameters_fingerprint;
  if (expected != nullptr && found != expected->fingerprint()) {
    throw ParameterMismatch(std::string(tfhe::serialized_kind_name(kind)) +
                            " belongs to a circuit with parameter fingerprint " + hex64(found) +
                            ", but " + describe_parameters(*expected) + " was expected: " + advice);
  }
  return opened;
}

void require_header_fingerprint(const tfhe::SerializedHeader& header, const CircuitParameters& p) {
  if (header.parameters_fingerprint != p.fingerprint()) {
    fail("inconsistent " + std::string(tfhe::serialized_kind_name(header.kind)) +
         ": the header's fingerprint " + hex64(header.parameters_fingerprint) +
         " is not that of the stored parameters (" + hex64(p.fingerprint()) +
         "); the object was written by a faulty tool");
  }
}

// ---- Encrypted tensors ----

std::string describe_encryption_dimensions(const CircuitParameters& p) {
  std::vector<std::uint64_t> dimensions;
  for (std::size_t q = 0; q < p.partition_count(); ++q) {
    const std::uint64_t d = p.encryption_dimension(static_cast<std::uint32_t>(q)).value();
    if (std::find(dimensions.begin(), dimensions.end(), d) == dimensions.end())
      dimensions.push_back(d);
  }
  if (p.small_key_inputs) dimensions.push_back(p.pbs.lwe_dimension.value());  // the inputs
  std::string out;
  for (std::size_t k = 0; k < dimensions.size(); ++k)
    out += (k == 0 ? "" : " or ") + std::to_string(dimensions[k]);
  return out;
}

std::uint64_t read_encryption_dimension(ByteReader& r, const CircuitParameters& p,
                                        const char* what) {
  const std::uint64_t n = r.u64("ciphertext dimension");
  if (!p.is_encryption_dimension(tfhe::LweDimension(n))) {
    fail(std::string(what) + "'s ciphertext dimension is " + std::to_string(n) + " but " +
         describe_parameters(p) + " encrypts with dimension " + describe_encryption_dimensions(p) +
         " (corrupted, or written by a faulty tool)");
  }
  return n;
}

void check_writable_tensor(const EncryptedTensor& t, const CircuitParameters& p) {
  try {
    validate_encrypted_tensor(t, p);
  } catch (const ParameterMismatch& e) {
    throw ParameterMismatch(std::string("cannot serialize: ") + e.what());
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("cannot serialize: ") + e.what());
  }
}

void write_encrypted_tensor(ByteWriter& w, const EncryptedTensor& t) {
  write_shape(w, t.shape);
  // Packed inputs are written in LWE form (the seeded uploads keep them packed).
  const tfhe::LweCiphertextList unpacked =
      t.packed ? tfhe::unpack_lwe_list(*t.packed) : tfhe::LweCiphertextList();
  const tfhe::LweCiphertextList& list = t.packed ? unpacked : t.ciphertexts;
  w.u64(list.dimension().value());
  w.u64(list.size());
  tsd::write_torus_values(w, list.data());
}

EncryptedTensor read_encrypted_tensor(ByteReader& r, const CircuitParameters& p) {
  EncryptedTensor t;
  t.shape = read_shape(r, "encrypted tensor shape");
  const std::uint64_t n = read_encryption_dimension(r, p, "an encrypted tensor");
  const std::uint64_t count = tsd::read_count(r, "ciphertext count", 8 * (n + 1));
  if (count != elements_of(t.shape)) {
    fail("an encrypted tensor of shape " + shape_to_string(t.shape) + " holds " +
         std::to_string(count) + " ciphertexts instead of one per element");
  }
  t.ciphertexts = tfhe::LweCiphertextList(tfhe::LweDimension(n), static_cast<std::size_t>(count));
  if (count != 0) r.u64_values(t.ciphertexts.data(), "ciphertext values");
  return t;
}

// ---- Client specification ----

namespace {

void write_argument(ByteWriter& w, const ClientSpecification::Argument& a, bool with_partition) {
  write_string(w, a.name, "argument name");
  write_shape(w, a.shape);
  write_bool(w, a.encrypted);
  write_encoding(w, a.encoding, with_partition);
}

std::vector<ClientSpecification::Argument> read_arguments(ByteReader& r, const char* field,
                                                          bool with_partition) {
  // name length 4, rank 8, encrypted 1, encoding 2
  const std::uint64_t count = tsd::read_count(r, field, 15);
  std::vector<ClientSpecification::Argument> out;
  out.reserve(count);
  for (std::uint64_t k = 0; k < count; ++k) {
    ClientSpecification::Argument a;
    a.name = read_string(r, "argument name");
    a.shape = read_shape(r, "argument shape");
    a.encrypted = read_bool(r, "argument encrypted");
    a.encoding = read_encoding(r, "argument encoding", with_partition);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

void write_client_specification(ByteWriter& w, const ClientSpecification& spec) {
  write_parameters(w, spec.parameters);
  const bool partitions = has_partitions(spec.parameters);
  w.u64(spec.inputs.size());
  for (const auto& a : spec.inputs) write_argument(w, a, partitions);
  w.u64(spec.outputs.size());
  for (const auto& a : spec.outputs) write_argument(w, a, partitions);
  w.u64(spec.output_noise_std_lsb.size());
  for (double v : spec.output_noise_std_lsb) w.f64(v);
}

ClientSpecification read_client_specification(ByteReader& r) {
  ClientSpecification s;
  s.parameters = read_parameters(r);
  const bool partitions = has_partitions(s.parameters);
  s.inputs = read_arguments(r, "input count", partitions);
  s.outputs = read_arguments(r, "output count", partitions);
  const std::uint64_t count = tsd::read_count(r, "output noise count", 8);
  for (std::uint64_t k = 0; k < count; ++k) s.output_noise_std_lsb.push_back(r.f64("noise"));
  return s;
}

}  // namespace torusml::circuit::serialization_detail
