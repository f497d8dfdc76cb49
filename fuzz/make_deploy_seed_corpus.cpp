// Seed corpus of fuzz_deploy_artifacts (scripts/fuzz runs it after torusml_fuzz_seeds): the
// client artifacts of a compiled linear model (with and without a post-processing graph) and of
// a compiled tree ensemble, and seeded run arguments of the leveled and small PBS fixtures; and
// those of fuzz_c_api_loaders: its fixture model's client artifact (c_api_fixture.h) and results
// of that model's server on inputs encrypted with the target's keys.
#include <filesystem>
#include <iostream>
#include <random>

#include "c_api_fixture.h"
#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/client_artifact_io.h"
#include "torusml/deploy/model_server.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTarget = "fuzz_deploy_artifacts";

void write(const fs::path& root, const std::string& name, std::uint8_t control, const Bytes& b,
           const char* target = kTarget) {
  Bytes out{control};
  out.insert(out.end(), b.begin(), b.end());
  fs::create_directories(root / target);
  write_file_bytes((root / target / name).string(), out);
}

ml::Matrix data(std::size_t rows, std::size_t cols) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> n;
  ml::Matrix m(rows, cols);
  for (double& v : m.values()) v = n(rng);
  return m;
}

tfhe::Seed seed_of(std::uint8_t v) {
  tfhe::Seed s{};
  s.fill(v);
  return s;
}

// The seeds of fuzz_c_api_loaders.
void write_c_api_seeds(const fs::path& root) {
  constexpr const char* target = "fuzz_c_api_loaders";
  const Bytes& artifact = c_api_artifact();
  write(root, "artifact", control_byte(0, false, false, false), artifact, target);
  write(root, "artifact_deep", control_byte(0, false, true, false), artifact, target);
  deploy::Client client(deploy::deserialize_client_artifact(artifact));
  client.generate_keys(c_api_key_seed());
  const deploy::ModelServer server(c_api_model().compiled_circuit().server_program());
  for (std::size_t rows : {1, 3}) {
    ml::Matrix x = data(rows, 3);
    const Bytes result =
        server.run(client.quantize_encrypt_serialize(x), client.serialized_evaluation_keys());
    write(root, "result_" + std::to_string(rows), control_byte(1, false, false, false), result,
          target);
    write(root, "result_alt_" + std::to_string(rows), control_byte(1, false, false, true), result,
          target);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus dir>\n";
    return 2;
  }
  const fs::path root = argv[1];
  // A linear classifier.
  ml::QuantizedLinear linear(ml::Matrix(3, 1, {0.8, -1.2, 0.5}), std::vector<double>{0.1},
                             data(30, 3), {4, 4});
  linear.compile(data(30, 3), {}, seed_of(1));
  deploy::ModelTransform t;
  t.task = deploy::Task::Classification;
  t.probability = deploy::ProbabilityMethod::Sigmoid;
  t.targets = {{0, 1, {"no", "yes"}}};
  deploy::ClientArtifact a = deploy::make_client_artifact(linear, t);
  write(root, "linear", control_byte(0, false, false, false), deploy::serialize_client_artifact(a));
  onnx::Graph& g = a.output.post_processing;
  g.name = "post";
  g.opset = 14;
  g.inputs = {{"y", {onnx::ElementType::Float, {1}}}};
  g.outputs = {{"z", {onnx::ElementType::Float, {1}}}};
  g.values = {{"y", {onnx::ElementType::Float, {1}}}, {"z", {onnx::ElementType::Float, {1}}}};
  onnx::Node n;
  n.op_type = "Clip";
  n.name = "clip";
  n.inputs = {"y"};
  n.outputs = {"z"};
  n.attributes["min"] = onnx::Attribute{onnx::AttributeKind::Float, 0, -1.0, "", {}, {}, {},
                                        onnx::ElementType::Float};
  g.nodes = {n};
  write(root, "linear_graph", control_byte(0, false, false, false),
        deploy::serialize_client_artifact(a));
  // A tree ensemble of one tree, three classes.
  ml::DecisionTree tree;
  tree.feature = {0, 1, -1, -1, -1};
  tree.threshold = {0.0, 0.5, 0, 0, 0};
  tree.left = {1, 3, -1, -1, -1};
  tree.right = {2, 4, -1, -1, -1};
  tree.value = ml::Matrix(5, 3, {0, 0, 0, 0, 0, 0, 0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6});
  ml::QuantizedTreeEnsemble trees(std::vector<ml::DecisionTree>{tree}, data(30, 2), {3, 4});
  trees.compile(data(30, 2), {}, seed_of(2));
  deploy::ModelTransform tt;
  tt.task = deploy::Task::Classification;
  tt.probability = deploy::ProbabilityMethod::Frequency;
  tt.label_rule = deploy::LabelRule::Probabilities;
  tt.targets = {{0, 3, {"a", "b", "c"}}};
  write(root, "tree", control_byte(0, false, false, false),
        deploy::serialize_client_artifact(deploy::make_client_artifact(trees, tt)));
  // Seeded run arguments of the fixtures.
  for (const CircuitFixture* f : {&leveled_fixture(), &small_pbs_fixture()}) {
    const bool pbs = f->program.parameters.uses_pbs;
    const circuit::KeySet& keys = *keys_for(f->program.parameters);
    const auto args = circuit::encrypt_inputs_seeded(keys.client, f->spec, f->batch);
    write(root, pbs ? "seeded_args_small_pbs" : "seeded_args_leveled",
          control_byte(1, false, false, pbs),
          circuit::serialize_seeded_run_arguments(args, f->program.parameters));
  }
  write_c_api_seeds(root);
  std::cout << "wrote the seeds of " << kTarget << " and fuzz_c_api_loaders into " << root << "\n";
  return 0;
}
