// The deploy layer with real keys: client artifacts of a linear model and a tree ensemble round
// trip (equal after save and load, known-answer digests of their records), the whole client /
// server path (seeded inputs, server.bin, encrypted run, decryption, post-processing) equals the
// model's own execute mode, seeded run arguments (size, round trip, fresh seeds, known-answer
// digest), damaged or truncated bytes give SerializationError, keys and results of another model
// or key set give clear errors, key directories reload the same keys with private permissions.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/client_artifact_io.h"
#include "torusml/deploy/model_server.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::deploy {
namespace {

namespace fs = std::filesystem;

tfhe::Seed seed_of(std::uint8_t v) {
  tfhe::Seed s{};
  s.fill(v);
  return s;
}

std::string hex_digest(std::span<const std::uint8_t> bytes) {
  std::uint8_t out[32];
  crypto_generichash(out, sizeof out, bytes.data(), bytes.size(), nullptr, 0);
  char buf[65];
  for (int i = 0; i < 32; ++i) std::snprintf(buf + 2 * i, 3, "%02x", out[i]);
  return std::string(buf, 64);
}

ml::Matrix data(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  ml::Matrix m(rows, cols);
  for (double& v : m.values()) v = n(rng);
  return m;
}

fs::path temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("torusml_deploy_test_" + name);
  fs::remove_all(p);
  return p;
}

// A binary logistic model (one output, 3 features) compiled to a leveled circuit.
const ml::QuantizedLinear& linear_model() {
  static const ml::QuantizedLinear model = [] {
    const ml::Matrix w(3, 1, {0.8, -1.2, 0.5});
    const std::vector<double> b = {0.1};
    ml::QuantizedLinear m(w, b, data(40, 3, 1), {4, 4});
    m.compile(data(40, 3, 1), {}, seed_of(7));
    return m;
  }();
  return model;
}

ModelTransform logistic_transform() {
  ModelTransform t;
  t.task = Task::Classification;
  t.probability = ProbabilityMethod::Sigmoid;
  t.targets = {{0, 1, {"no", "yes"}}};
  return t;
}

// A 3-output tree ensemble of two depth-2 trees over 2 features (PBS circuit).
const ml::QuantizedTreeEnsemble& tree_model() {
  static const ml::QuantizedTreeEnsemble model = [] {
    ml::DecisionTree t;
    t.feature = {0, 1, -1, -1, -1};
    t.threshold = {0.0, 0.5, 0, 0, 0};
    t.left = {1, 3, -1, -1, -1};
    t.right = {2, 4, -1, -1, -1};
    t.value = ml::Matrix(5, 3, {0, 0, 0, 0, 0, 0, 0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6});
    ml::DecisionTree u = t;
    u.feature = {1, 0, -1, -1, -1};
    const std::vector<ml::DecisionTree> trees = {t, u};
    ml::QuantizedTreeEnsemble m(trees, data(40, 2, 2), {3, 4});
    m.compile(data(40, 2, 2), {}, seed_of(8));
    return m;
  }();
  return model;
}

ModelTransform forest_transform() {
  ModelTransform t;
  t.value_scale = {0.5};  // a forest of two trees averages them
  t.task = Task::Classification;
  t.probability = ProbabilityMethod::Frequency;
  t.label_rule = LabelRule::Probabilities;
  t.targets = {{0, 3, {"a", "b", "c"}}};
  return t;
}

TEST(ClientArtifact, LinearRoundTripsAndItsRecordIsPinned) {
  const ClientArtifact a = make_client_artifact(linear_model(), logistic_transform());
  const auto bytes = serialize_client_artifact(a);
  EXPECT_EQ(deserialize_client_artifact(bytes), a);
  EXPECT_EQ(deserialize_client_artifact(bytes, &a.specification.parameters), a);
  EXPECT_EQ(tfhe::read_serialized_header(bytes).kind, tfhe::SerializedKind::ClientArtifact);
  // Known answer: a fixed artifact (fixed parameters, quantizers and transform).
  ClientArtifact fixed = a;
  fixed.specification.parameters.leveled_dimension = tfhe::LweDimension(1024);
  fixed.specification.parameters.leveled_noise = tfhe::NoiseDistribution::tuniform(42);
  fixed.specification.output_noise_std_lsb = {0.5};
  fixed.input.quantizers = {ml::UniformQuantizer({4, false, false}, 0.25, 3)};
  fixed.output.scale = {0.125};
  const auto pinned = serialize_client_artifact(fixed);
  EXPECT_EQ(hex_digest(pinned), "ea086f4d007a27a6acd90edbcac5b1c823d73937a74580a3d687fd8715c1ff09");
}

TEST(ClientArtifact, TreeRoundTrips) {
  const ClientArtifact a = make_client_artifact(tree_model(), forest_transform());
  EXPECT_TRUE(a.output.sum_axis1);
  EXPECT_EQ(a.output_columns(), 3u);
  EXPECT_EQ(deserialize_client_artifact(serialize_client_artifact(a)), a);
}

TEST(ClientArtifact, PostProcessingGraphRoundTripsAndRuns) {
  ClientArtifact a = make_client_artifact(linear_model(), logistic_transform());
  onnx::Graph& g = a.output.post_processing;
  g.name = "post";
  g.opset = 14;
  g.inputs = {{"y", {onnx::ElementType::Float, {1}}}};
  g.outputs = {{"z", {onnx::ElementType::Float, {1}}}};
  g.values = {{"y", {onnx::ElementType::Float, {1}}}, {"z", {onnx::ElementType::Float, {1}}}};
  onnx::Node n;
  n.op_type = "Sigmoid";
  n.name = "s";
  n.inputs = {"y"};
  n.outputs = {"z"};
  g.nodes = {n};
  validate_client_artifact(a);
  const ClientArtifact loaded = deserialize_client_artifact(serialize_client_artifact(a));
  EXPECT_EQ(loaded, a);
  const ml::Matrix y = dequantize_output(loaded, circuit::Tensor({2, 1}, {0, 8}));
  EXPECT_DOUBLE_EQ(y(0, 0), 0.5);
  EXPECT_DOUBLE_EQ(y(1, 0), ml::sigmoid(8 * linear_model().output_scale()));
  // An operator that is not elementwise is refused.
  a.output.post_processing.nodes[0].op_type = "MatMul";
  EXPECT_THROW(validate_client_artifact(a), InvalidArgument);
}

TEST(ClientArtifact, InvalidTransformsAreRefused) {
  ModelTransform t = logistic_transform();
  t.targets[0].width = 2;  // two classes take one column
  EXPECT_THROW(make_client_artifact(linear_model(), t), InvalidArgument);
  t = logistic_transform();
  t.targets[0].start = 1;
  EXPECT_THROW(make_client_artifact(linear_model(), t), InvalidArgument);
  t = logistic_transform();
  t.value_scale = {1.0, 2.0, 3.0};
  EXPECT_THROW(make_client_artifact(linear_model(), t), InvalidArgument);
  const ml::QuantizedLinear uncompiled(ml::Matrix(1, 1, {1.0}), std::vector<double>{0.0},
                                       data(5, 1, 3));
  EXPECT_THROW(make_client_artifact(uncompiled, logistic_transform()), InvalidArgument);
}

TEST(ClientArtifact, DamagedBytesAreSerializationErrors) {
  const auto bytes =
      serialize_client_artifact(make_client_artifact(tree_model(), forest_transform()));
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 8) {
    const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    EXPECT_THROW(deserialize_client_artifact(cut), SerializationError) << n;
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    auto damaged = bytes;
    damaged[rng() % damaged.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    EXPECT_THROW(deserialize_client_artifact(damaged), SerializationError);
  }
  // Another circuit's parameters: ParameterMismatch.
  const auto& other = linear_model().compiled_circuit().client_specification().parameters;
  EXPECT_THROW(deserialize_client_artifact(bytes, &other), ParameterMismatch);
}

TEST(SeededRunArguments, CompactRoundTripAndFreshSeeds) {
  const auto& c = linear_model().compiled_circuit();
  const auto& spec = c.client_specification();
  const circuit::ClientKeySet ck = circuit::generate_client_keys(spec.parameters, seed_of(3));
  const circuit::Tensor x({2, 3}, {1, 2, 3, 4, 5, 6});
  const auto seeded = circuit::encrypt_inputs_seeded(ck, spec, std::span(&x, 1));
  ASSERT_EQ(seeded.encrypted.size(), 1u);
  const auto again = circuit::encrypt_inputs_seeded(ck, spec, std::span(&x, 1));
  EXPECT_NE(seeded.encrypted[0].ciphertexts.mask_seed, again.encrypted[0].ciphertexts.mask_seed);
  const auto bytes = circuit::serialize_seeded_run_arguments(seeded, spec.parameters);
  const auto full =
      circuit::serialize_run_arguments(circuit::decompress_run_arguments(seeded), spec.parameters);
  // 8 bytes per ciphertext (plus the framing, shape and seed) instead of (n + 1) * 8.
  const std::size_t n = spec.parameters.encryption_dimension().value();
  EXPECT_LT(bytes.size(), 6 * 8 + 200);
  EXPECT_GT(full.size(), 6 * (n + 1) * 8);
  // The server reads both kinds to the same ciphertexts, which decrypt to x.
  const circuit::RunArguments a = circuit::deserialize_run_arguments(bytes, spec.parameters);
  const circuit::RunArguments b = circuit::deserialize_run_arguments(full, spec.parameters);
  EXPECT_EQ(a.encrypted[0].ciphertexts.data().size(), b.encrypted[0].ciphertexts.data().size());
  EXPECT_TRUE(
      std::ranges::equal(a.encrypted[0].ciphertexts.data(), b.encrypted[0].ciphertexts.data()));
  for (std::size_t k = 0; k < x.size(); ++k)
    EXPECT_EQ(
        circuit::decode_value(tfhe::decrypt_lwe(ck.encryption_key(), a.encrypted[0].ciphertexts[k]),
                              spec.inputs[0].encoding.width),
        x[k]);
  // Damaged and truncated bytes.
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_THROW(circuit::deserialize_run_arguments(std::span(bytes).first(cut), spec.parameters),
                 SerializationError);
  auto damaged = bytes;
  damaged[40] ^= 1;
  EXPECT_THROW(circuit::deserialize_run_arguments(damaged, spec.parameters), SerializationError);
  // Another circuit's parameters.
  const auto& tree_params = tree_model().compiled_circuit().client_specification().parameters;
  EXPECT_THROW(circuit::deserialize_run_arguments(bytes, tree_params), ParameterMismatch);
}

TEST(SeededRunArguments, KnownAnswerDigest) {
  // A fixed object: leveled parameters of the linear circuit, a fixed seed and bodies.
  const auto& p = linear_model().compiled_circuit().client_specification().parameters;
  circuit::SeededRunArguments args;
  circuit::SeededEncryptedTensor t;
  t.shape = {1, 3};
  t.ciphertexts.dimension = p.encryption_dimension();
  t.ciphertexts.mask_seed = seed_of(9);
  t.ciphertexts.bodies = {1, 2, 3};
  args.encrypted.push_back(t);
  const auto bytes = circuit::serialize_seeded_run_arguments(args, p);
  // Header (24) + count (8) + shape (8 + 16) + dimension (8) + seed (32) + count (8) + bodies
  // (24) + clear count (8) + checksum (32).
  EXPECT_EQ(bytes.size(), 24u + 8 + 24 + 8 + 32 + 8 + 24 + 8 + 32);
  const std::vector<std::uint8_t> payload(bytes.begin() + 24, bytes.end() - 32);
  EXPECT_EQ(hex_digest(payload),
            "a8a864404df19930836e67082796bb9046d93d8bea8debc62bae12a7fa2f1928");
}

// PBS circuits' inputs travel packed: N values per GLWE mask, one body each.
TEST(PackedRunArguments, CompactRoundTripAndDamage) {
  const auto& c = tree_model().compiled_circuit();
  const auto& spec = c.client_specification();
  ASSERT_TRUE(spec.parameters.uses_pbs);
  const circuit::ClientKeySet& ck = tree_model().keys().client;
  const auto& in = spec.inputs[0];
  const std::int64_t per_row = circuit::element_count(in.shape);
  std::vector<std::int64_t> values(static_cast<std::size_t>(2 * per_row));
  const std::int64_t top = std::int64_t{1} << (in.encoding.width - (in.encoding.is_signed ? 1 : 0));
  for (std::size_t k = 0; k < values.size(); ++k)
    values[k] = static_cast<std::int64_t>(k * 5 % static_cast<std::size_t>(top));
  circuit::Shape shape{2};
  shape.insert(shape.end(), in.shape.begin(), in.shape.end());
  const circuit::Tensor x(shape, values);
  const auto seeded = circuit::encrypt_inputs_seeded(ck, spec, std::span(&x, 1));
  ASSERT_EQ(seeded.encrypted.size(), 1u);
  ASSERT_TRUE(seeded.encrypted[0].packed.has_value());
  const auto bytes = circuit::serialize_seeded_run_arguments(seeded, spec.parameters);
  EXPECT_EQ(tfhe::read_serialized_header(bytes).kind, tfhe::SerializedKind::PackedRunArguments);
  EXPECT_LT(bytes.size(), x.size() * 8 + 250);  // a body per value
  const circuit::RunArguments a = circuit::deserialize_run_arguments(bytes, spec.parameters);
  ASSERT_TRUE(a.encrypted[0].packed.has_value());
  const tfhe::LweCiphertextList list = tfhe::unpack_lwe_list(*a.encrypted[0].packed);
  ASSERT_EQ(list.size(), x.size());
  // Under the key inputs are encrypted with (the small key: the tree circuit has small-key inputs).
  ASSERT_TRUE(spec.parameters.small_key_inputs);
  const tfhe::GlweSecretKey input_key = ck.input_encryption_key();
  for (std::size_t k = 0; k < x.size(); ++k)
    EXPECT_EQ(circuit::decode_value(tfhe::decrypt_lwe(input_key.as_lwe_key(), list[k]),
                                    in.encoding.width),
              x[k]);
  // The server runs on them what it runs on unpacked ciphertexts.
  circuit::RunArguments unpacked = a;
  unpacked.encrypted[0].ciphertexts = list;
  unpacked.encrypted[0].packed.reset();
  const auto& keys = tree_model().keys();
  const auto out_packed = circuit::run(c.server_program(), a, keys.evaluation);
  const auto out_unpacked = circuit::run(c.server_program(), unpacked, keys.evaluation);
  ASSERT_EQ(out_packed.size(), out_unpacked.size());
  for (std::size_t o = 0; o < out_packed.size(); ++o)
    EXPECT_EQ(out_packed[o].ciphertexts, out_unpacked[o].ciphertexts);
  // Truncated and damaged bytes, and another circuit's parameters.
  for (std::size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 16)
    EXPECT_THROW(circuit::deserialize_run_arguments(std::span(bytes).first(cut), spec.parameters),
                 SerializationError);
  auto damaged = bytes;
  damaged[60] ^= 1;
  EXPECT_THROW(circuit::deserialize_run_arguments(damaged, spec.parameters), SerializationError);
  const auto& linear_params = linear_model().compiled_circuit().client_specification().parameters;
  EXPECT_THROW(circuit::deserialize_run_arguments(bytes, linear_params), ParameterMismatch);
}

TEST(PackedRunArguments, KnownAnswerDigest) {
  // A fixed object: the tree circuit's parameters (small-key inputs: GLWEs of the small key read
  // with N = 32), a fixed seed and bodies.
  const auto& p = tree_model().compiled_circuit().client_specification().parameters;
  circuit::SeededRunArguments args;
  circuit::SeededEncryptedTensor t;
  t.shape = {1, 3};
  t.packed = tfhe::SeededPackedLweCiphertextList{
      p.input_glwe_dimension(), p.input_polynomial_size(), seed_of(9), {1, 2, 3}};
  args.encrypted.push_back(t);
  const auto bytes = circuit::serialize_seeded_run_arguments(args, p);
  // Header (24) + count (8) + shape (8 + 16) + form (1) + k and N (16) + seed (32) + count (8) +
  // bodies (24) + clear count (8) + checksum (32).
  EXPECT_EQ(bytes.size(), 24u + 8 + 24 + 1 + 16 + 32 + 8 + 24 + 8 + 32);
  const std::vector<std::uint8_t> payload(bytes.begin() + 24, bytes.end() - 32);
  EXPECT_EQ(hex_digest(payload),
            "0ccf730b75ab28276adec57f7e5af35c7972d51cdde916d444943784083cbdb8");
}

TEST(Deploy, LinearEndToEndEqualsExecute) {
  const fs::path dir = temp_dir("linear"), keys = temp_dir("linear_keys");
  const auto& model = linear_model();
  save_artifacts(dir, model.compiled_circuit().server_program(),
                 make_client_artifact(model, logistic_transform()));
  ASSERT_TRUE(fs::exists(dir / kManifestFile));
  EXPECT_EQ(read_file_bytes((dir / kServerProgramFile).string()),
            circuit::serialize_server_program(model.compiled_circuit().server_program()));
  Client client = Client::load(dir);
  EXPECT_TRUE(client.load_or_generate_keys(keys));
  EXPECT_EQ(fs::status(keys / kClientKeysFile).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const ModelServer server = ModelServer::load(dir);
  const ml::Matrix x = data(4, 3, 11);
  const auto result =
      server.run(client.quantize_encrypt_serialize(x), client.serialized_evaluation_keys());
  const circuit::Tensor q = client.deserialize_decrypt(result);
  EXPECT_EQ(q, model.run_integer(model.quantize_input(x), circuit::Mode::Execute));
  const Prediction p = client.deserialize_decrypt_dequantize(result);
  const ml::Matrix scores = model.predict(x, circuit::Mode::Clear);
  ASSERT_EQ(p.probabilities.size(), 1u);
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_DOUBLE_EQ(p.probabilities[0](r, 1), ml::sigmoid(scores(r, 0)));
    EXPECT_EQ(p.labels[0][r], scores(r, 0) > 0 ? "yes" : "no");
  }
  // The key directory reloads the same secret key: it decrypts the same result alike.
  Client reloaded = Client::load(dir);
  EXPECT_FALSE(reloaded.load_or_generate_keys(keys));
  EXPECT_EQ(reloaded.deserialize_decrypt(result), q);
  EXPECT_EQ(reloaded.serialized_evaluation_keys(), client.serialized_evaluation_keys());
  // Another key set does not decrypt it.
  Client other = Client::load(dir);
  other.generate_keys(seed_of(99));
  EXPECT_NE(other.deserialize_decrypt(result), q);
  fs::remove_all(dir);
  fs::remove_all(keys);
}

TEST(Deploy, TreeEndToEndEqualsExecuteAndOtherModelsAreRefused) {
  const fs::path dir = temp_dir("tree"), linear_dir = temp_dir("tree_linear");
  const auto& model = tree_model();
  save_artifacts(dir, model.compiled_circuit().server_program(),
                 make_client_artifact(model, forest_transform()));
  Client client = Client::load(dir);
  client.generate_keys(seed_of(4));
  const ModelServer server = ModelServer::load(dir);
  const ml::Matrix x = data(3, 2, 12);
  const auto inputs = client.quantize_encrypt_serialize(x);
  const auto result = server.run(inputs, client.serialized_evaluation_keys());
  EXPECT_EQ(client.deserialize_decrypt(result),
            model.run_integer(model.quantize_input(x), circuit::Mode::Clear));
  const Prediction p = client.deserialize_decrypt_dequantize(result);
  const ml::Matrix raw = model.predict_raw(x, circuit::Mode::Clear);
  for (std::size_t r = 0; r < 3; ++r) {
    double total = 0;
    for (std::size_t k = 0; k < 3; ++k) total += std::max(raw(r, k) * 0.5, 0.0);
    for (std::size_t k = 0; k < 3; ++k)
      EXPECT_NEAR(p.probabilities[0](r, k), std::max(raw(r, k) * 0.5, 0.0) / total, 1e-12);
  }
  // The linear model's keys, inputs and client artifact belong to another circuit.
  save_artifacts(linear_dir, linear_model().compiled_circuit().server_program(),
                 make_client_artifact(linear_model(), logistic_transform()));
  Client linear = Client::load(linear_dir);
  linear.generate_keys(seed_of(5));
  EXPECT_THROW(server.run(inputs, linear.serialized_evaluation_keys()), ParameterMismatch);
  EXPECT_THROW(server.run(linear.quantize_encrypt_serialize(data(1, 3, 1)),
                          client.serialized_evaluation_keys()),
               ParameterMismatch);
  EXPECT_THROW(linear.deserialize_decrypt(result), ParameterMismatch);
  const fs::path keys = temp_dir("tree_keys");
  client.save_keys(keys);
  EXPECT_THROW(linear.load_keys(keys), ParameterMismatch);
  EXPECT_THROW(save_artifacts(linear_dir, model.compiled_circuit().server_program(),
                              make_client_artifact(linear_model(), logistic_transform())),
               ParameterMismatch);
  // Damaged run arguments.
  auto damaged = inputs;
  damaged[damaged.size() / 2] ^= 0x10;
  EXPECT_THROW(server.run(damaged, client.serialized_evaluation_keys()), SerializationError);
  fs::remove_all(dir);
  fs::remove_all(linear_dir);
  fs::remove_all(keys);
}

}  // namespace
}  // namespace torusml::deploy
