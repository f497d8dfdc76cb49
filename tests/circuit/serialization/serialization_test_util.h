// Shared helpers of the circuit serialization tests (serialization_test.cpp,
// serialization_damage_test.cpp): programs exercising every instruction kind, compiled circuits
// with keys (built once per test binary), byte helpers and field-by-field comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
// White-box: the unvalidated payload writers and seal() build crafted payloads with a valid
// checksum, to reach the checks behind it.
#include "torusml/circuit/serialization/serialization_detail.h"

namespace torusml::circuit::testing {

using Bytes = std::vector<std::uint8_t>;
using tfhe::SerializedKind;
namespace sdc = serialization_detail;

// ---- Programs and circuits -------------------------------------------------------------------

// Linear operations, a convolution, per-element tables, a fused approximate rounding, a clear
// input with a clear table lookup and products with it (dynamic linear maps), and a clear output.
/// Compile options that keep every input under the big key (a keyswitch before every lookup):
/// for tests of what small-key inputs leave out (many-LUT bootstraps, partitions).
inline CompileOptions keyswitched_inputs() {
  CompileOptions o;
  o.small_key_inputs = false;
  return o;
}

inline Program rich_program() {
  Builder b;
  Value x = b.input("x", {1, 1, 3, 3});
  Value k = b.input("k", {4}, /*encrypted=*/false);
  const Tensor w({2, 1, 2, 2}, {1, -1, 0, 1, 1, 0, 1, -1});
  Value c = conv2d(x, w, Tensor::vector({1, 0}));  // (1, 2, 2, 2)
  Value f = reshape(c, {8});
  const std::vector<TableFunction> fns = {
      {[](std::int64_t v) { return v > 0 ? v : 0; }, "relu"},
      {[](std::int64_t v) { return (v * v) % 5; }, "square_mod5"},
      {[](std::int64_t v) { return 3 - v; }, "three_minus"}};
  Value t = apply_tables(f, fns, {0, 1, 2, 0, 1, 2, 0, 1});
  Value kt = apply_table(
      k, [](std::int64_t v) { return 2 * v - 1; }, "affine");  // clear lookup
  Value s = slice(t, {1}, {5}) * k + kt;  // dynamic maps: clear non-constant operands
  Value m = matmul(s, Tensor({4, 2}, {1, 0, 1, 1, 0, 2, 1, -1}));
  Value r = round_bit_pattern(m - 3, 2, RoundingMode::Approximate);
  Value y = apply_table(
      r, [](std::int64_t v) { return v / 4; }, "quarter");  // fused rounding
  Value z = concatenate(std::vector<Value>{sum(t, {0}, true), -y}, 0);
  b.output(y);
  b.output(transpose(pad(reshape(z, {1, 3}), {0, 1}, {1, 0}, 7)));
  b.output(kt * 3);  // a clear output
  return b.build();
}

inline std::vector<std::vector<Tensor>> rich_inputset() {
  std::mt19937_64 rng(11);
  std::vector<std::vector<Tensor>> set;
  for (int i = 0; i < 40; ++i)
    set.push_back(
        {random_tensors(rng, {1, 1, 3, 3}, 0, 3, 1)[0], random_tensors(rng, {4}, 0, 3, 1)[0]});
  return set;
}

// A leveled linear model with a clear bias input: no bootstrap, no evaluation key.
inline Program leveled_program(std::int64_t scale) {
  Builder b;
  Value x = b.input("x", {3});
  Value bias = b.input("bias", {2}, /*encrypted=*/false);
  b.output(matmul(x, Tensor({3, 2}, {1, -2, 3, 4, -5, scale})) + bias);
  return b.build();
}

// A fixed input set (no random generator: the known-answer digest depends on it).
inline std::vector<std::vector<Tensor>> leveled_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 12; ++i) {
    set.push_back(
        {Tensor::vector({i % 16, (3 * i) % 16, (7 * i + 1) % 16}), Tensor::vector({i - 6, 2 * i})});
  }
  return set;
}

// A 12-bit signed accumulator rounded exactly to 6 bits (by digits: an ExactRound instruction)
// and looked up.
inline Program wide_rounding_program() {
  Builder b;
  Value acc = b.input("a", {3}) * 3 - b.input("b", {3});
  Value r = round_bit_pattern(acc, 6, RoundingMode::Exact);
  b.output(apply_table(
      r, [](std::int64_t v) { return v / 64; }, "scaled"));
  b.output(r);
  return b.build();
}

inline std::vector<std::vector<Tensor>> wide_rounding_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 8; ++i)
    set.push_back({Tensor::vector({i * 80 - 320, 300 - i * 70, 7 * i}),
                   Tensor::vector({i * 130 - 500, 32 * i, 400 - 3 * i})});
  return set;
}

inline const CompiledCircuit& wide_rounding() {
  static const CompiledCircuit c = compile(wide_rounding_program(), wide_rounding_inputset());
  return c;
}

struct Fixture {
  CompiledCircuit circuit;
  ClientKeySet client;
  EvaluationKeySet evaluation;  // compressed only
  std::vector<Tensor> batch;
};

inline Fixture make_fixture(CompiledCircuit c, const std::vector<std::vector<Tensor>>& set,
                            std::size_t rows, std::uint8_t seed) {
  Fixture f;
  f.circuit = std::move(c);
  f.client = generate_client_keys(f.circuit.parameters(), seed_of(seed));
  f.evaluation = generate_evaluation_keys(f.client, seed_of(static_cast<std::uint8_t>(seed + 1)));
  f.batch = stack(std::vector<std::vector<Tensor>>(set.begin(), set.begin() + rows));
  return f;
}

inline const Fixture& rich() {
  static const Fixture f = [] {
    const auto set = rich_inputset();
    return make_fixture(compile(rich_program(), set), set, 2, 1);
  }();
  return f;
}

inline const Fixture& leveled() {
  static const Fixture f = [] {
    const auto set = leveled_inputset();
    return make_fixture(compile(leveled_program(6), set), set, 3, 3);
  }();
  return f;
}

// ---- Byte helpers ------------------------------------------------------------------------

inline std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  char buf[3];
  for (std::uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

inline Bytes payload_of(const Bytes& bytes) {
  return Bytes(bytes.begin() + tfhe::kSerializedHeaderBytes,
               bytes.end() - tfhe::kSerializedChecksumBytes);
}

inline std::uint64_t fingerprint_of(const Bytes& bytes) {
  return ByteReader(std::span(bytes).subspan(8, 8)).u64("fingerprint");
}

inline Bytes reseal(SerializedKind kind, std::uint64_t fingerprint, Bytes payload) {
  return tfhe::serialization_detail::seal(kind, fingerprint, std::move(payload));
}

inline void put_u64(Bytes& bytes, std::size_t offset, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// The bytes of a program / client specification written without validation (as a stranger could
/// write them), sealed with a valid checksum.
inline Bytes craft_program(const ServerProgram& sp) {
  ByteWriter w;
  sdc::write_server_program(w, sp);
  return reseal(SerializedKind::ServerProgram, sp.parameters.fingerprint(), w.take());
}
inline Bytes craft_spec(const ClientSpecification& spec) {
  ByteWriter w;
  sdc::write_client_specification(w, spec);
  return reseal(SerializedKind::ClientSpecification, spec.parameters.fingerprint(), w.take());
}

/// A serialized object and its loader (the damage tests' unit).
struct LoadSample {
  std::string name;
  Bytes bytes;
  std::function<void(std::span<const std::uint8_t>)> load;
};

/// Loads payloads crafted from a sample behind a valid checksum (same kind and fingerprint):
/// counts the ones that load; a SerializationError (or InsecureParameters, for well-formed
/// parameters below 128-bit security) is an expected refusal, anything else fails the test.
class CraftedLoader {
 public:
  explicit CraftedLoader(const LoadSample& sample)
      : sample_(sample),
        kind_(static_cast<SerializedKind>(sample.bytes[6] | (sample.bytes[7] << 8))),
        fingerprint_(fingerprint_of(sample.bytes)),
        payload_(payload_of(sample.bytes)) {}
  const Bytes& payload() const { return payload_; }
  std::size_t loaded() const { return loaded_; }
  /// The sample's bytes with this payload, resealed.
  Bytes sealed(Bytes payload) const { return reseal(kind_, fingerprint_, std::move(payload)); }
  void operator()(Bytes crafted) {
    try {
      sample_.load(sealed(std::move(crafted)));
      ++loaded_;
    } catch (const SerializationError&) {
    } catch (const InsecureParameters&) {
    }
  }

 private:
  const LoadSample& sample_;
  SerializedKind kind_;
  std::uint64_t fingerprint_;
  Bytes payload_;
  std::size_t loaded_ = 0;
};

template <class Load>
inline void expect_serialization_error(const Load& load, const Bytes& bytes,
                                       const std::string& needle) {
  try {
    load(std::span<const std::uint8_t>(bytes));
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

template <class Fn>
inline void expect_parameter_mismatch(const Fn& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no ParameterMismatch; expected one containing '" << needle << "'";
  } catch (const ParameterMismatch& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Every position of an object up to 8 KiB; else the first 512, about `spaced` more and the last
// 40 (the checksum).
inline std::vector<std::size_t> positions(std::size_t size, std::size_t spaced) {
  const std::size_t dense = size <= 8192 ? size : 512;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < dense; ++i) out.push_back(i);
  if (size > dense) {
    const std::size_t step = std::max<std::size_t>(1, (size - dense) / spaced);
    for (std::size_t i = dense; i < size; i += step) out.push_back(i);
  }
  for (std::size_t i = size > 40 ? size - 40 : 0; i < size; ++i)
    if (out.empty() || i > out.back()) out.push_back(i);
  return out;
}

// Re-serialization gives the same bytes: every serialized field survived the round trip.
inline void expect_same_server_program(const ServerProgram& a, const ServerProgram& b) {
  EXPECT_EQ(serialize_server_program(a), serialize_server_program(b));
  EXPECT_EQ(a.program.to_text(), b.program.to_text());
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.encodings, b.encodings);
  ASSERT_EQ(a.instructions.size(), b.instructions.size());
  for (std::size_t i = 0; i < a.instructions.size(); ++i) {
    const Instruction& x = a.instructions[i];
    const Instruction& y = b.instructions[i];
    EXPECT_EQ(x.kind, y.kind) << i;
    EXPECT_EQ(x.node, y.node) << i;
    EXPECT_EQ(x.map_is_static, y.map_is_static) << i;
    EXPECT_EQ(x.map.row_start, y.map.row_start) << i;
    EXPECT_EQ(x.map.slot, y.map.slot) << i;
    EXPECT_EQ(x.map.index, y.map.index) << i;
    EXPECT_EQ(x.map.coeff, y.map.coeff) << i;
    EXPECT_EQ(x.map.constant, y.map.constant) << i;
    EXPECT_EQ(x.bootstrap.source, y.bootstrap.source) << i;
    EXPECT_EQ(x.bootstrap.tables, y.bootstrap.tables) << i;
    EXPECT_EQ(x.bootstrap.element_table, y.bootstrap.element_table) << i;
    EXPECT_EQ(x.bootstrap.offset, y.bootstrap.offset) << i;
    EXPECT_EQ(x.bootstrap.noise_std_lsb, y.bootstrap.noise_std_lsb) << i;
    EXPECT_EQ(x.rounding, y.rounding) << i;
    EXPECT_EQ(x.clear_table_min, y.clear_table_min) << i;
    EXPECT_EQ(x.clear_tables, y.clear_tables) << i;
  }
}

inline void expect_same_arguments(const std::vector<ClientSpecification::Argument>& a,
                                  const std::vector<ClientSpecification::Argument>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].name, b[k].name);
    EXPECT_EQ(a[k].shape, b[k].shape);
    EXPECT_EQ(a[k].encrypted, b[k].encrypted);
    EXPECT_EQ(a[k].encoding, b[k].encoding);
  }
}

/// A tensor's ciphertexts in LWE form (packed inputs extracted).
inline tfhe::LweCiphertextList lwe_form(const EncryptedTensor& t) {
  return t.packed ? tfhe::unpack_lwe_list(*t.packed) : t.ciphertexts;
}

/// Same shapes and the same ciphertexts in LWE form (the full form's serialization unpacks).
inline void expect_same_tensors(const std::vector<EncryptedTensor>& a,
                                const std::vector<EncryptedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].shape, b[k].shape);
    EXPECT_EQ(lwe_form(a[k]), lwe_form(b[k]));
  }
}

}  // namespace torusml::circuit::testing
