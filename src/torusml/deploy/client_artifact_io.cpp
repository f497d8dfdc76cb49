#include "torusml/deploy/client_artifact_io.h"

#include <string>
#include <utility>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/graph_encoding.h"
#include "torusml/tfhe/serialization_detail.h"

namespace torusml::deploy {

namespace {

namespace tsd = tfhe::serialization_detail;
constexpr auto kKind = tfhe::SerializedKind::ClientArtifact;

void write_f64s(ByteWriter& w, const std::vector<double>& v) {
  w.u64(v.size());
  for (double x : v) w.f64(x);
}
std::vector<double> read_f64s(ByteReader& r, const char* field) {
  const std::uint64_t n = tsd::read_count(r, field, 8);
  std::vector<double> v(n);
  for (double& x : v) x = r.f64(field);
  return v;
}
bool read_flag(ByteReader& r, const char* field) {
  const std::uint8_t v = r.u8(field);
  if (v > 1) tsd::fail(std::string(field) + " is " + std::to_string(v) + ", not 0 or 1");
  return v == 1;
}

void write_quantizer(ByteWriter& w, const ml::UniformQuantizer& q) {
  w.u8(static_cast<std::uint8_t>(q.n_bits()));
  w.u8(q.is_signed() ? 1 : 0);
  w.u8(q.is_symmetric() ? 1 : 0);
  w.f64(q.scale());
  w.i64(q.zero_point());
}
ml::UniformQuantizer read_quantizer(ByteReader& r) {
  ml::QuantizerOptions o;
  o.n_bits = r.u8("quantizer bits");
  o.is_signed = read_flag(r, "quantizer signed");
  o.is_symmetric = read_flag(r, "quantizer symmetric");
  const double scale = r.f64("quantizer scale");
  const std::int64_t zero = r.i64("quantizer zero point");
  try {
    return ml::UniformQuantizer(o, scale, zero);
  } catch (const InvalidArgument& e) {
    tsd::fail(std::string("invalid input quantizer: ") + e.what());
  }
}

void write_payload(ByteWriter& w, const ClientArtifact& a) {
  w.u8(static_cast<std::uint8_t>(a.kind));
  const auto spec = circuit::serialize_client_specification(a.specification);
  w.u64(spec.size());
  w.bytes(spec);
  const InputTransform& in = a.input;
  w.u64(in.n_features);
  write_f64s(w, in.offset);
  write_f64s(w, in.scale);
  w.u64(in.quantizers.size());
  for (const auto& q : in.quantizers) write_quantizer(w, q);
  w.u8(static_cast<std::uint8_t>(in.encoding));
  w.u8(static_cast<std::uint8_t>(in.encoding_bits));
  const OutputDequantization& out = a.output;
  w.u8(out.sum_axis1 ? 1 : 0);
  write_f64s(w, out.scale);
  write_f64s(w, out.zero);
  w.u8(out.has_post_processing() ? 1 : 0);
  if (out.has_post_processing()) detail::write_graph(w, out.post_processing);
  const ModelTransform& t = a.transform;
  write_f64s(w, t.value_scale);
  write_f64s(w, t.value_offset);
  w.u8(static_cast<std::uint8_t>(t.task));
  w.u8(static_cast<std::uint8_t>(t.link));
  w.u8(static_cast<std::uint8_t>(t.probability));
  w.u8(static_cast<std::uint8_t>(t.label_rule));
  w.u64(t.targets.size());
  for (const ClassTarget& c : t.targets) {
    w.u64(c.start);
    w.u64(c.width);
    w.u64(c.classes.size());
    for (const std::string& s : c.classes) w.string(s);
  }
  w.u8(t.output_is_1d ? 1 : 0);
}

ClientArtifact read_payload(ByteReader& r) {
  ClientArtifact a;
  a.kind = static_cast<ModelKind>(r.u8("model kind"));
  const std::uint64_t spec_bytes = tsd::read_count(r, "client specification length", 1);
  std::vector<std::uint8_t> spec(spec_bytes);
  r.bytes(spec, "client specification");
  a.specification = circuit::deserialize_client_specification(spec);
  InputTransform& in = a.input;
  in.n_features = tsd::read_bounded(r, "n_features", 1, kMaxArtifactFeatures);
  in.offset = read_f64s(r, "standardization offset");
  in.scale = read_f64s(r, "standardization scale");
  const std::uint64_t nq = tsd::read_count(r, "quantizer count", 19);
  for (std::uint64_t k = 0; k < nq; ++k) in.quantizers.push_back(read_quantizer(r));
  in.encoding = static_cast<ml::TreeInputEncoding>(r.u8("input encoding"));
  in.encoding_bits = r.u8("encoding bits");
  OutputDequantization& out = a.output;
  out.sum_axis1 = read_flag(r, "sum_axis1");
  out.scale = read_f64s(r, "output scale");
  out.zero = read_f64s(r, "output zero point");
  if (read_flag(r, "has post-processing")) {
    out.post_processing = detail::read_graph(r);
    if (out.post_processing.nodes.empty()) tsd::fail("an empty post-processing graph is stored");
  }
  ModelTransform& t = a.transform;
  t.value_scale = read_f64s(r, "value scale");
  t.value_offset = read_f64s(r, "value offset");
  t.task = static_cast<Task>(r.u8("task"));
  t.link = static_cast<ml::Link>(r.u8("link"));
  t.probability = static_cast<ProbabilityMethod>(r.u8("probability method"));
  t.label_rule = static_cast<LabelRule>(r.u8("label rule"));
  const std::uint64_t nt = tsd::read_count(r, "target count", 24);
  for (std::uint64_t k = 0; k < nt; ++k) {
    ClassTarget c;
    c.start = r.u64("target start");
    c.width = r.u64("target width");
    const std::uint64_t nc = tsd::read_count(r, "class count", 4);
    for (std::uint64_t i = 0; i < nc; ++i) c.classes.push_back(r.string("class label", 4096));
    t.targets.push_back(std::move(c));
  }
  t.output_is_1d = read_flag(r, "output_is_1d");
  return a;
}

}  // namespace

std::vector<std::uint8_t> serialize_client_artifact(const ClientArtifact& artifact) {
  validate_client_artifact(artifact);
  ByteWriter w;
  write_payload(w, artifact);
  return tsd::seal(kKind, artifact.specification.parameters.fingerprint(), w.take());
}

ClientArtifact deserialize_client_artifact(std::span<const std::uint8_t> bytes,
                                           const circuit::CircuitParameters* expected) {
  const auto [header, payload] = tsd::open(bytes, kKind);
  if (expected != nullptr && header.parameters_fingerprint != expected->fingerprint())
    throw ParameterMismatch(
        "this client artifact belongs to a circuit compiled with other parameters than the "
        "expected ones: use the client.bin saved with this model's server.bin (save both again "
        "with FHEModelDev after recompiling)");
  ClientArtifact a = tsd::parse_payload(kKind, payload, [](ByteReader& r) {
    ClientArtifact loaded = read_payload(r);
    try {
      validate_client_artifact(loaded);
    } catch (const InsecureParameters&) {
      throw;
    } catch (const SerializationError&) {
      throw;
    } catch (const Error& e) {  // InvalidArgument, UnsupportedOperator, ParameterMismatch, ...
      tsd::fail(std::string("the loaded artifact is inconsistent: ") + e.what());
    }
    return loaded;
  });
  if (a.specification.parameters.fingerprint() != header.parameters_fingerprint)
    tsd::fail("the client artifact's header fingerprint is not its specification's");
  return a;
}

}  // namespace torusml::deploy
