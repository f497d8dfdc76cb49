#include "fuzz_common.h"

#include <cxxabi.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <typeinfo>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::fuzz {

namespace {

constexpr std::uint8_t kMagic[4] = {'T', 'R', 'M', 'L'};
constexpr std::size_t kHeader = tfhe::kSerializedHeaderBytes;
constexpr std::size_t kChecksum = tfhe::kSerializedChecksumBytes;

const char* g_target = "torusml fuzz target";

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Offsets of the records in `bytes`: every "TRML" magic whose header announces a payload that
// fits, except those inside the header of an earlier record (a fingerprint may hold "TRML").
std::vector<std::size_t> record_starts(const Bytes& bytes) {
  std::vector<std::size_t> out;
  if (bytes.size() < kHeader + kChecksum) return out;
  const std::uint8_t* begin = bytes.data();
  const std::uint8_t* end = begin + (bytes.size() - kHeader - kChecksum + 4);
  for (const std::uint8_t* p = begin; p < end;) {
    p = std::search(p, end, std::begin(kMagic), std::end(kMagic));
    if (p >= end) break;
    const auto at = static_cast<std::size_t>(p - begin);
    ++p;
    const std::uint64_t payload = get_u64(bytes.data() + at + 16);
    if (payload > bytes.size() - at - kHeader - kChecksum) continue;
    if (!out.empty() && at < out.back() + kHeader) continue;
    out.push_back(at);
  }
  return out;
}

// Format versions of every record set to this build's; checksums recomputed.
Bytes normalized(Bytes bytes) {
  for (std::size_t p : record_starts(bytes)) {
    bytes[p + 4] = static_cast<std::uint8_t>(tfhe::kSerializationFormatVersion & 0xff);
    bytes[p + 5] = static_cast<std::uint8_t>(tfhe::kSerializationFormatVersion >> 8);
  }
  repair_records(bytes, false);
  return bytes;
}

std::string hex_window(std::span<const std::uint8_t> bytes, std::size_t at) {
  std::ostringstream os;
  const std::size_t from = at >= 8 ? at - 8 : 0;
  const std::size_t to = std::min(bytes.size(), at + 8);
  char buf[4];
  for (std::size_t i = from; i < to; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
    os << (i == at ? "[" : "") << buf << (i == at ? "]" : "") << (i + 1 < to ? " " : "");
  }
  return os.str();
}

std::size_t first_difference(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return n;
}

std::string demangled(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

bool strict_enabled() {
  static const bool strict = [] {
    const char* v = std::getenv("TORUSML_FUZZ_STRICT");
    return v == nullptr || std::string(v) != "0";
  }();
  return strict;
}

tfhe::Seed seed_of(std::uint8_t v) {
  tfhe::Seed s{};
  s.fill(v);
  return s;
}

}  // namespace

namespace {
// Per-process statistics, printed at exit (libFuzzer exits normally at the end of a run): the
// slowest input always (scripts/fuzz reads it; TORUSML_FUZZ_SLOWEST=<path> also saves it), the
// successful loads per kind with TORUSML_FUZZ_STATS=1.
struct Stats {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> loads;
  double slowest_ms = -1;
  unsigned slowest_loader = 0;
  Bytes slowest_input;
  ~Stats() {
    if (slowest_ms >= 0) {
      std::fprintf(stderr, "torusml-fuzz: slowest input: %.1f ms (loader %u, %zu bytes)\n",
                   slowest_ms, slowest_loader, slowest_input.size());
      if (const char* path = std::getenv("TORUSML_FUZZ_SLOWEST")) {
        if (std::FILE* f = std::fopen(path, "wb")) {
          std::fwrite(slowest_input.data(), 1, slowest_input.size(), f);
          std::fclose(f);
        }
      }
    }
    const char* v = std::getenv("TORUSML_FUZZ_STATS");
    if (v == nullptr || std::string(v) == "0") return;
    for (const auto& [what, n] : loads)
      std::fprintf(stderr, "torusml-fuzz: %llu successful loads of %s\n",
                   static_cast<unsigned long long>(n), what.c_str());
  }
};
Stats g_stats;
}  // namespace

void count_load(const char* what) {
  std::lock_guard lock(g_stats.mutex);
  ++g_stats.loads[what];
}

// ---- Input layout ----------------------------------------------------------------------------

Input parse_input(const std::uint8_t* data, std::size_t size, unsigned loaders) {
  Input in;
  if (size == 0) return in;
  const std::uint8_t c = data[0];
  in.loader = (c & 7u) % (loaders == 0 ? 1 : loaders);
  const unsigned mode = (c >> 3) & 3u;
  in.repair = mode >= 2 ? 2 : mode;
  in.expected = (c >> 5) & 1u;
  in.deep = (c >> 6) & 1u;
  in.alt = (c >> 7) & 1u;
  in.bytes.assign(data + 1, data + size);
  if (in.repair != 0) repair_records(in.bytes, in.repair == 2);
  return in;
}

std::uint8_t control_byte(unsigned loader, bool expected, bool deep, bool alt) {
  return static_cast<std::uint8_t>((loader & 7u) | (1u << 3) | (expected ? 1u << 5 : 0u) |
                                   (deep ? 1u << 6 : 0u) | (alt ? 1u << 7 : 0u));
}

void repair_records(Bytes& bytes, bool fix_outer_length) {
  if (fix_outer_length && bytes.size() >= kHeader + kChecksum &&
      std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin())) {
    put_u64(bytes.data() + 16, bytes.size() - kHeader - kChecksum);
  }
  const std::vector<std::size_t> starts = record_starts(bytes);
  // Innermost (latest) records first, so that a container's checksum covers its repaired records.
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
    const std::size_t p = *it;
    const std::size_t body = kHeader + static_cast<std::size_t>(get_u64(bytes.data() + p + 16));
    crypto_generichash(bytes.data() + p + body, kChecksum, bytes.data() + p, body, nullptr, 0);
  }
}

// ---- Findings and expected errors -------------------------------------------------------------

void set_target(const char* name) {
  g_target = name;
  if (sodium_init() < 0) finding("libsodium failed to initialise");
}

void finding(const std::string& message) {
  std::fprintf(stderr, "\n==== TorusML fuzz finding in %s: %s\n", g_target, message.c_str());
  std::fflush(stderr);
  std::abort();
}

bool attempt(const char* step, const std::function<void()>& fn) {
  try {
    fn();
    return true;
  } catch (const InternalError& e) {
    finding(std::string(step) + ": InternalError (a broken invariant): " + e.what());
  } catch (const Error&) {
    return false;  // a typed error: the expected answer to bad bytes or mismatched objects
  } catch (const std::exception& e) {
    finding(std::string(step) + ": unexpected exception of type " + demangled(typeid(e)) + ": " +
            e.what());
  } catch (...) {
    finding(std::string(step) + ": unexpected exception of a non-std type");
  }
}

int run_one(const std::uint8_t* data, std::size_t size, unsigned loaders,
            const std::function<void(const Input&)>& body) {
  if (size == 0) return 0;
  const auto start = std::chrono::steady_clock::now();
  const Input in = parse_input(data, size, loaders);
  // The header readers of every kind (damaged objects are described, not rejected).
  attempt("describe_serialized", [&] {
    (void)tfhe::describe_serialized(in.bytes);
    (void)tfhe::read_serialized_header(in.bytes);
  });
  attempt("load", [&] { body(in); });
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(g_stats.mutex);
  if (ms > g_stats.slowest_ms) {
    g_stats.slowest_ms = ms;
    g_stats.slowest_loader = in.loader;
    g_stats.slowest_input.assign(data, data + size);
  }
  return 0;
}

// ---- Canonical encoding ---------------------------------------------------------------------

std::optional<Header> read_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeader || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    return std::nullopt;
  Header h;
  h.version = static_cast<std::uint16_t>(bytes[4] | (bytes[5] << 8));
  h.kind = static_cast<std::uint16_t>(bytes[6] | (bytes[7] << 8));
  h.fingerprint = get_u64(bytes.data() + 8);
  return h;
}

void compare_canonical(const char* what, std::span<const std::uint8_t> input, const Bytes& first,
                       const Bytes& second, bool strict,
                       std::optional<std::uint64_t> outer_fingerprint) {
  if (first != second) {
    const std::size_t at = first_difference(first, second);
    finding(std::string(what) +
            ": not canonical: serialize(deserialize(serialize(x))) differs from serialize(x) "
            "(sizes " +
            std::to_string(first.size()) + " and " + std::to_string(second.size()) +
            ", first difference at byte " + std::to_string(at) + ": " + hex_window(first, at) +
            " vs " + hex_window(second, at) + ")");
  }
  if (!strict || !strict_enabled()) return;
  const Bytes in = normalized(Bytes(input.begin(), input.end()));
  Bytes out = first;
  if (outer_fingerprint && out.size() >= kHeader) put_u64(out.data() + 8, *outer_fingerprint);
  out = normalized(std::move(out));
  if (in != out) {
    const std::size_t at = first_difference(in, out);
    finding(std::string(what) +
            ": a non-canonical encoding loads: re-serializing the loaded object gives other bytes "
            "than the input (sizes " +
            std::to_string(in.size()) + " and " + std::to_string(out.size()) +
            ", first difference at byte " + std::to_string(at) + ": input " + hex_window(in, at) +
            " vs re-serialized " + hex_window(out, at) +
            "; format versions and checksums normalized)");
  }
}

// ---- TFHE fixtures ----------------------------------------------------------------------------

const tfhe::PbsParameters& fuzz_parameters() {
  static const tfhe::PbsParameters p = [] {
    using namespace tfhe;
    PbsParameters q;
    q.name = "fuzz_minimal";
    q.source =
        "fuzz/fuzz_common.cpp: near the smallest keys the 128-bit security curve accepts (n >= "
        "450, k*N = 512; n = 480, a multiple of 32 as circuits with small-key inputs need); not "
        "for computing";
    q.message_bits = 2;
    q.lwe_dimension = LweDimension(480);
    q.glwe_dimension = GlweDimension(2);
    q.polynomial_size = PolynomialSize(256);
    // Security curve: log2(std) >= -0.0257 n + 2.676: -9.66 at n = 480, -10.48 at k*N = 512.
    q.lwe_noise = NoiseDistribution::gaussian(std::exp2(-8.5));
    q.glwe_noise = NoiseDistribution::gaussian(std::exp2(-10.0));
    q.pbs = {DecompositionBaseLog(15), DecompositionLevelCount(1)};
    q.ks = {DecompositionBaseLog(4), DecompositionLevelCount(3)};
    q.modulus_switch = ModulusSwitchKind::CenteredMean;
    q.max_two_norm = 1.0;
    q.validate();
    return q;
  }();
  return p;
}

const tfhe::ClientKey& fuzz_client_key() {
  static const tfhe::ClientKey k = tfhe::generate_client_key(fuzz_parameters(), seed_of(0x11));
  return k;
}

const tfhe::CompressedServerKey& fuzz_compressed_server_key() {
  static const tfhe::CompressedServerKey k =
      tfhe::generate_compressed_server_key(fuzz_client_key(), seed_of(0x22));
  return k;
}

const tfhe::ServerKey& fuzz_server_key() {
  static const tfhe::ServerKey k = tfhe::decompress_server_key(fuzz_compressed_server_key());
  return k;
}

// ---- Circuit fixtures -------------------------------------------------------------------------

namespace {

using namespace circuit;

// tests/circuit/serialization/serialization_test_util.h: linear operations, a convolution,
// per-element tables, a fused approximate rounding, a clear input with a clear table lookup and
// products with it (dynamic linear maps), and a clear output.
Program rich_program() {
  Builder b;
  Value x = b.input("x", {1, 1, 3, 3});
  Value k = b.input("k", {4}, /*encrypted=*/false);
  const Tensor w({2, 1, 2, 2}, {1, -1, 0, 1, 1, 0, 1, -1});
  Value c = conv2d(x, w, Tensor::vector({1, 0}));
  Value f = reshape(c, {8});
  const std::vector<TableFunction> fns = {
      {[](std::int64_t v) { return v > 0 ? v : 0; }, "relu"},
      {[](std::int64_t v) { return (v * v) % 5; }, "square_mod5"},
      {[](std::int64_t v) { return 3 - v; }, "three_minus"}};
  Value t = apply_tables(f, fns, {0, 1, 2, 0, 1, 2, 0, 1});
  Value kt = apply_table(
      k, [](std::int64_t v) { return 2 * v - 1; }, "affine");
  Value s = slice(t, {1}, {5}) * k + kt;
  Value m = matmul(s, Tensor({4, 2}, {1, 0, 1, 1, 0, 2, 1, -1}));
  Value r = round_bit_pattern(m - 3, 2, RoundingMode::Approximate);
  Value y = apply_table(
      r, [](std::int64_t v) { return v / 4; }, "quarter");
  Value z = concatenate(std::vector<Value>{sum(t, {0}, true), -y}, 0);
  b.output(y);
  b.output(transpose(pad(reshape(z, {1, 3}), {0, 1}, {1, 0}, 7)));
  b.output(kt * 3);
  return b.build();
}

std::vector<std::vector<Tensor>> rich_inputset() {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::int64_t> d(0, 3);
  auto random = [&](const Shape& shape) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
    for (auto& x : v) x = d(rng);
    return Tensor(shape, std::move(v));
  };
  std::vector<std::vector<Tensor>> set;
  for (int i = 0; i < 40; ++i) {
    Tensor a = random({1, 1, 3, 3});
    Tensor b = random({4});
    set.push_back({std::move(a), std::move(b)});
  }
  return set;
}

// A leveled linear model with a clear bias input: no bootstrap, no evaluation key.
Program leveled_program() {
  Builder b;
  Value x = b.input("x", {3});
  Value bias = b.input("bias", {2}, /*encrypted=*/false);
  b.output(matmul(x, Tensor({3, 2}, {1, -2, 3, 4, -5, 6})) + bias);
  return b.build();
}

std::vector<std::vector<Tensor>> leveled_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 12; ++i) {
    set.push_back(
        {Tensor::vector({i % 16, (3 * i) % 16, (7 * i + 1) % 16}), Tensor::vector({i - 6, 2 * i})});
  }
  return set;
}

// A few bootstraps: a table, a sum pool, take, broadcast and an exact rounding (6 PBS).
Program table_program() {
  Builder b;
  Value x = b.input("x", {1, 1, 2, 2});
  Value y = apply_table(
      x, [](std::int64_t v) { return (v * v) % 4; }, "square_mod4");
  Value p = sum_pool2d(y);
  Value t = take(reshape(y, {4}), {3, 0}, 0);
  Value s = broadcast_to(reshape(p, {1}), {2}) + t;
  b.output(round_bit_pattern(s, 1, RoundingMode::Exact));
  b.output(reshape(y, {2, 2}));
  return b.build();
}

std::vector<std::vector<Tensor>> table_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 16; ++i)
    set.push_back({Tensor({1, 1, 2, 2}, {i % 4, (i / 4) % 4, (3 * i) % 4, (i + 1) % 4})});
  return set;
}

// Two lookups of one value fused into one many-LUT bootstrap per element (a 3-bit read of 2
// tables: 4 bits, within w's 4-bit lookup): a Bootstrap leader and a FusedLookup.
Program many_lut_program() {
  Builder b;
  Value x = b.input("x", {3});
  Value w = b.input("w", {2});
  Value v = x - 4;
  b.output(relu(v));
  b.output(apply_table(
      v, [](std::int64_t t) { return t * t; }, "square"));
  b.output(apply_table(
      w, [](std::int64_t t) { return t / 2; }, "halve"));
  return b.build();
}

std::vector<std::vector<Tensor>> many_lut_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 16; ++i)
    set.push_back(
        {Tensor::vector({i % 8, (3 * i) % 8, (5 * i + 1) % 8}), Tensor::vector({i, 15 - i})});
  return set;
}

std::vector<Tensor> first_sample(const std::vector<std::vector<Tensor>>& set) {
  std::vector<Tensor> out;
  for (const Tensor& t : set[0]) {
    Shape shape{1};
    shape.insert(shape.end(), t.shape().begin(), t.shape().end());
    out.emplace_back(std::move(shape),
                     std::vector<std::int64_t>(t.values().begin(), t.values().end()));
  }
  return out;
}

CircuitFixture compiled(std::string name, const Program& program,
                        const std::vector<std::vector<Tensor>>& set) {
  const CompiledCircuit c = compile(program, set);
  return {std::move(name), c.server_program(), c.client_specification(), first_sample(set)};
}

CircuitParameters small_pbs_parameters(const CircuitParameters& compiled_parameters) {
  CircuitParameters p = compiled_parameters;
  p.pbs = fuzz_parameters();
  return p;
}

CircuitFixture retargeted(std::string name, const CircuitFixture& f) {
  CircuitFixture out = f;
  out.name = std::move(name);
  out.program.parameters = small_pbs_parameters(f.program.parameters);
  out.spec.parameters = out.program.parameters;
  return out;
}

std::unique_ptr<KeySet> make_keys(const CircuitParameters& p, std::uint8_t seed) {
  auto keys = std::make_unique<KeySet>();
  keys->client = generate_client_keys(p, seed_of(seed));
  keys->evaluation =
      generate_evaluation_keys(keys->client, seed_of(static_cast<std::uint8_t>(seed + 1)));
  keys->evaluation.expand();
  return keys;
}

}  // namespace

const std::vector<CircuitFixture>& circuit_fixtures() {
  static const std::vector<CircuitFixture> fixtures = [] {
    std::vector<CircuitFixture> f;
    f.push_back(compiled("rich", rich_program(), rich_inputset()));
    f.push_back(compiled("leveled", leveled_program(), leveled_inputset()));
    f.push_back(compiled("table", table_program(), table_inputset()));
    f.push_back(retargeted("table_small_pbs", f[2]));
    f.push_back(retargeted("rich_small_pbs", f[0]));
    f.push_back(compiled("many_lut", many_lut_program(), many_lut_inputset()));
    f.push_back(retargeted("many_lut_small_pbs", f[5]));
    return f;
  }();
  return fixtures;
}

const CircuitFixture& leveled_fixture() {
  return circuit_fixtures()[1];
}

const CircuitFixture& small_pbs_fixture() {
  return circuit_fixtures()[3];
}

const KeySet* keys_for(const CircuitParameters& parameters) {
  const std::uint64_t fp = parameters.fingerprint();
  if (fp == leveled_fixture().program.parameters.fingerprint()) {
    static const std::unique_ptr<KeySet> keys = make_keys(leveled_fixture().program.parameters, 3);
    return keys.get();
  }
  if (fp == small_pbs_fixture().program.parameters.fingerprint()) {
    static const std::unique_ptr<KeySet> keys =
        make_keys(small_pbs_fixture().program.parameters, 5);
    return keys.get();
  }
  return nullptr;
}

ClientSpecification specification_of(const ServerProgram& sp) {
  ClientSpecification spec;
  spec.parameters = sp.parameters;
  const Program& program = sp.program;
  for (NodeId id : program.inputs) {
    const Node& n = program.node(id);
    spec.inputs.push_back({std::get<InputAttr>(n.attributes).name, n.shape, n.encrypted,
                           sp.encodings.at(static_cast<std::size_t>(id))});
  }
  for (NodeId id : program.outputs) {
    const Node& n = program.node(id);
    spec.outputs.push_back(
        {n.label, n.shape, n.encrypted, sp.encodings.at(static_cast<std::size_t>(id))});
    spec.output_noise_std_lsb.push_back(n.encrypted ? 1.0 : 0.0);
  }
  return spec;
}

std::optional<std::vector<Tensor>> batch_for(const ClientSpecification& spec,
                                             std::int64_t max_elements) {
  std::int64_t total = 0;
  for (const auto& in : spec.inputs) {
    const std::int64_t n = element_count(in.shape);
    if (n < 0 || n > max_elements - total) return std::nullopt;
    total += n;
  }
  for (const CircuitFixture& f : circuit_fixtures()) {
    if (f.spec.inputs.size() != spec.inputs.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < spec.inputs.size() && same; ++i)
      same = f.spec.inputs[i].shape == spec.inputs[i].shape &&
             f.spec.inputs[i].encrypted == spec.inputs[i].encrypted;
    if (same) return f.batch;
  }
  std::vector<Tensor> batch;
  for (const auto& in : spec.inputs) {
    std::int64_t lo = 0, span = 3;
    if (in.encrypted) {
      const unsigned w = std::min(in.encoding.width, 62u);
      span = w >= 3 ? 8 : (std::int64_t{1} << w);
      lo = in.encoding.is_signed ? -span / 2 : 0;
    }
    Shape shape{1};
    shape.insert(shape.end(), in.shape.begin(), in.shape.end());
    std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(in.shape)));
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = lo + static_cast<std::int64_t>((i * 5 + 1) % static_cast<std::size_t>(span));
    batch.emplace_back(std::move(shape), std::move(v));
  }
  return batch;
}

std::int64_t total_elements(const Program& program) {
  std::int64_t total = 0;
  for (const Node& n : program.nodes) {
    const std::int64_t e = element_count(n.shape);
    if (e < 0 || e > kMaxRunElements || total > kMaxRunElements) return kMaxRunElements + 1;
    total += e;
  }
  return total;
}

std::int64_t bootstrapped_elements(const ServerProgram& sp) {
  std::int64_t total = 0;
  for (const Instruction& ins : sp.instructions) {
    const auto per_element = static_cast<std::int64_t>(bootstraps_per_element(ins));
    if (per_element == 0) continue;
    const std::int64_t e = element_count(sp.program.node(ins.node).shape);
    if (e < 0 || e > kMaxRunElements || total > kMaxRunElements || per_element > kMaxRunElements)
      return kMaxRunElements + 1;
    total += e * per_element;
  }
  return total;
}

}  // namespace torusml::fuzz
