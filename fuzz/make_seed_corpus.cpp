// Writes the seed corpus of every fuzz target: real serialized objects (keys of
// fuzz_parameters() and tiny key components, ciphertexts, compiled circuits and their key sets
// and ciphertexts), each behind the control byte of fuzz_common.h that selects its loader; and
// small ONNX models (fuzz_onnx_load: the control byte picks the batch size).
//
//   torusml_fuzz_seeds <corpus dir>     writes <corpus dir>/<target>/<seed name>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/deploy/server/key_store.h"
#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/seeded_lwe.h"
#include "torusml/tfhe/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace tf = torusml::tfhe;
namespace c = torusml::circuit;
namespace fs = std::filesystem;

namespace {

fs::path g_root;
std::size_t g_count = 0, g_bytes = 0;

tf::Seed seed(std::uint8_t v) {
  tf::Seed s{};
  s.fill(v);
  return s;
}

void write(const std::string& target, const std::string& name, std::uint8_t control,
           const Bytes& object) {
  Bytes out;
  out.reserve(object.size() + 1);
  out.push_back(control);
  out.insert(out.end(), object.begin(), object.end());
  fs::create_directories(g_root / target);
  write_file_bytes((g_root / target / name).string(), out);
  ++g_count;
  g_bytes += out.size();
}

void tfhe_seeds() {
  const tf::PbsParameters& p = fuzz_parameters();
  const tf::ClientKey& key = fuzz_client_key();

  // Parameters and secret keys.
  const std::string sk = "fuzz_tfhe_secret_keys";
  write(sk, "parameters_fuzz_minimal", control_byte(0, false, true, false),
        tf::serialize_parameters(p));
  for (const tf::PbsParameters& preset : tf::all_presets())
    write(sk, "parameters_" + preset.name, control_byte(0, false, false, false),
          tf::serialize_parameters(preset));
  write(sk, "lwe_secret_key_small", control_byte(1, true, false, false),
        tf::serialize_lwe_secret_key(key.small_key, &p));
  write(sk, "lwe_secret_key_big_unbound", control_byte(1, false, false, false),
        tf::serialize_lwe_secret_key(key.big_key.as_lwe_key()));
  write(sk, "glwe_secret_key", control_byte(2, true, false, false),
        tf::serialize_glwe_secret_key(key.big_key, &p));
  write(sk, "client_key", control_byte(3, true, false, false), tf::serialize_client_key(key));
  write(
      sk, "client_key_tfhe_1bit", control_byte(3, false, false, false),
      tf::serialize_client_key(tf::generate_client_key(tf::preset_by_name("tfhe_1bit"), seed(3))));

  // Ciphertexts.
  const std::string ct = "fuzz_tfhe_ciphertexts";
  tf::EncryptionGenerator gen(seed(4), seed(5));
  write(ct, "lwe_big", control_byte(0, false, true, false),
        tf::serialize_lwe_ciphertext(tf::encrypt(key, 1, gen), p));
  write(
      ct, "lwe_small", control_byte(0, false, true, false),
      tf::serialize_lwe_ciphertext(tf::encrypt_lwe(key.small_key, p.delta(), p.lwe_noise, gen), p));
  tf::LweCiphertextList list(p.big_lwe_dimension(), 3);
  for (std::size_t i = 0; i < list.size(); ++i)
    tf::encrypt_lwe(key.big_key.as_lwe_key(), p.delta() * i, p.glwe_noise, gen, list[i]);
  write(ct, "list_big", control_byte(1, false, true, false),
        tf::serialize_lwe_ciphertext_list(list, p));
  tf::LweCiphertextList small(p.lwe_dimension, 2);
  for (std::size_t i = 0; i < small.size(); ++i)
    tf::encrypt_lwe(key.small_key, p.delta() * i, p.lwe_noise, gen, small[i]);
  write(ct, "list_small", control_byte(1, false, false, false),
        tf::serialize_lwe_ciphertext_list(small, p));
  tf::Csprng noise(seed(6));
  const std::vector<tf::Torus> plain = {0, p.delta(), 2 * p.delta(), 3 * p.delta()};
  write(ct, "seeded_list_big", control_byte(2, false, true, false),
        tf::serialize_seeded_lwe_ciphertext_list(
            tf::encrypt_lwe_list_seeded(key.big_key.as_lwe_key(), plain, p.glwe_noise, seed(7),
                                        noise),
            p));
  write(ct, "seeded_list_small", control_byte(2, false, false, false),
        tf::serialize_seeded_lwe_ciphertext_list(
            tf::encrypt_lwe_list_seeded(key.small_key, plain, p.lwe_noise, seed(8), noise), p));

  // Key components: tiny shapes, without parameters (a few KiB).
  const std::string kc = "fuzz_tfhe_key_components";
  tf::Csprng rng(seed(9));
  const tf::LweSecretKey out_key = tf::generate_lwe_secret_key(tf::LweDimension(4), rng);
  const tf::GlweSecretKey glwe =
      tf::generate_glwe_secret_key(tf::GlweDimension(1), tf::PolynomialSize(256), rng);
  const tf::NoiseDistribution noise_d = tf::NoiseDistribution::gaussian(std::exp2(-30.0));
  const tf::SeededLweKeyswitchKey ksk = tf::generate_seeded_keyswitch_key(
      glwe.as_lwe_key(), out_key, {tf::DecompositionBaseLog(4), tf::DecompositionLevelCount(3)},
      noise_d, seed(10), seed(11));
  write(kc, "keyswitch_key", control_byte(0, false, false, false),
        tf::serialize_keyswitch_key(tf::decompress_keyswitch_key(ksk)));
  write(kc, "seeded_keyswitch_key", control_byte(1, false, false, false),
        tf::serialize_seeded_keyswitch_key(ksk));
  const tf::SeededLweBootstrapKey bsk = tf::generate_seeded_bootstrap_key(
      out_key, glwe, {tf::DecompositionBaseLog(15), tf::DecompositionLevelCount(1)}, noise_d,
      seed(12), seed(13));
  write(kc, "bootstrap_key", control_byte(2, false, true, false),
        tf::serialize_bootstrap_key(tf::decompress_bootstrap_key(bsk)));
  write(kc, "seeded_bootstrap_key", control_byte(3, false, true, true),
        tf::serialize_seeded_bootstrap_key(bsk));

  // Server keys (the one seed of a few MB: the smallest secure compressed server key).
  const std::string sv = "fuzz_tfhe_server_keys";
  const Bytes csk = tf::serialize_compressed_server_key(fuzz_compressed_server_key());
  write(sv, "compressed_server_key", control_byte(0, true, true, false), csk);
  write(sv, "load_server_key", control_byte(1, false, false, false), csk);
}

void circuit_seeds() {
  const std::string pr = "fuzz_circuit_programs";
  for (const CircuitFixture& f : circuit_fixtures()) {
    const bool leveled = f.name == "leveled";
    const bool small_pbs =
        f.program.parameters.fingerprint() == small_pbs_fixture().program.parameters.fingerprint();
    write(pr, "server_program_" + f.name, control_byte(0, leveled || small_pbs, true, small_pbs),
          c::serialize_server_program(f.program));
    write(pr, "client_specification_" + f.name,
          control_byte(1, leveled || small_pbs, true, small_pbs),
          c::serialize_client_specification(f.spec));
  }

  // The rich programs with the largest noise values the loaders accept (2^32 lsb when written):
  // the simulation's arithmetic at its bounds. Skipped if the bound is lower now.
  for (const CircuitFixture* f : {&circuit_fixtures()[0], &circuit_fixtures()[4]}) {
    c::ServerProgram program = f->program;
    for (c::Instruction& ins : program.instructions) {
      if (ins.kind != c::InstructionKind::Bootstrap) continue;
      ins.bootstrap.noise_std_lsb = 0x1.0p32;
      ins.bootstrap.log2_p_error = -1e6;
    }
    c::ClientSpecification spec = f->spec;
    for (std::size_t o = 0; o < spec.outputs.size(); ++o)
      if (spec.outputs[o].encrypted) spec.output_noise_std_lsb[o] = 0x1.0p32;
    try {
      write(pr, "server_program_" + f->name + "_max_noise", control_byte(0, false, true, false),
            c::serialize_server_program(program));
      write(pr, "client_specification_" + f->name + "_max_noise",
            control_byte(1, false, true, false), c::serialize_client_specification(spec));
    } catch (const InvalidArgument& e) {
      std::cerr << "torusml_fuzz_seeds: no max-noise seed for " << f->name << ": " << e.what()
                << "\n";
    }
  }

  const std::string ck = "fuzz_circuit_client_keys";
  const std::string ek = "fuzz_circuit_evaluation_keys";
  const std::string ct = "fuzz_circuit_ciphertexts";
  for (const CircuitFixture* f : {&leveled_fixture(), &small_pbs_fixture()}) {
    const bool pbs = f->program.parameters.uses_pbs;
    const std::string tag = pbs ? "small_pbs" : "leveled";
    const c::KeySet& keys = *keys_for(f->program.parameters);
    write(ck, "client_keys_" + tag, control_byte(0, true, true, pbs),
          c::serialize_client_keys(keys.client));
    write(ek, "evaluation_keys_" + tag, control_byte(0, true, true, pbs),
          c::serialize_evaluation_keys(keys.evaluation));
    const c::RunArguments args = c::encrypt_inputs(keys.client, f->spec, f->batch);
    const auto& params = f->program.parameters;
    write(ct, "encrypted_tensor_" + tag, control_byte(0, false, true, pbs),
          c::serialize_encrypted_tensor(args.encrypted.at(0), params));
    const auto outs = c::run(f->program, args, keys.evaluation);
    write(ct, "encrypted_tensors_" + tag, control_byte(1, false, true, pbs),
          c::serialize_encrypted_tensors(outs, params));
    write(ct, "run_arguments_" + tag, control_byte(2, false, true, pbs),
          c::serialize_run_arguments(args, params));
    // What clients upload: seeded LWE (leveled) or packed (PBS) ciphertexts.
    write(ct, "seeded_run_arguments_" + tag, control_byte(2, false, true, pbs),
          c::serialize_seeded_run_arguments(
              c::encrypt_inputs_seeded(keys.client, f->spec, f->batch), params));
  }
}

// fuzz_server_request: real requests ("METHOD target\n" headers "\n" body) on the small PBS
// fixture, whose evaluation keys the target stores at start.
void server_seeds() {
  const std::string t = "fuzz_server_request";
  const CircuitFixture& f = small_pbs_fixture();
  const c::KeySet& keys = *keys_for(f.program.parameters);
  const std::string id = deploy::server::key_id_of(c::serialize_evaluation_keys(keys.evaluation));
  auto request = [](const std::string& head, const Bytes& body) {
    Bytes out(head.begin(), head.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
  };
  const std::uint8_t plain = control_byte(0, false, false, false);
  for (const char* path : {"/health", "/model", "/model/client", "/metrics"}) {
    std::string name = std::string("get") + path;
    for (char& ch : name) ch = ch == '/' ? '_' : ch;
    write(t, name, plain, request(std::string("GET ") + path + "\n\n", {}));
  }
  write(t, "get_key", plain, request("GET /keys/" + id + "\n\n", {}));
  const Bytes args = c::serialize_run_arguments(c::encrypt_inputs(keys.client, f.spec, f.batch),
                                                f.program.parameters);
  write(t, "run", plain, request("POST /run\nX-Key-Id: " + id + "\n\n", args));
  write(t, "run_query", plain, request("POST /run?key_id=" + id + "\n\n", args));
  const c::KeySet& leveled = *keys_for(leveled_fixture().program.parameters);
  write(t, "keys_of_another_model", plain,
        request("POST /keys\n\n", c::serialize_evaluation_keys(leveled.evaluation)));
  write(t, "secret_key_upload", plain,
        request("POST /keys\n\n", c::serialize_client_keys(leveled.client)));
  const Bytes ek = c::serialize_evaluation_keys(keys.evaluation);
  write(t, "keys_prefix", plain, request("POST /keys\n\n", Bytes(ek.begin(), ek.begin() + 4096)));
}

}  // namespace

// A float initializer or graph input/output of that shape.
void add_tensor(::onnx::GraphProto& g, const std::string& name, std::vector<std::int64_t> shape,
                float fill) {
  ::onnx::TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(::onnx::TensorProto::FLOAT);
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    t->add_dims(d);
    n *= d;
  }
  for (std::int64_t i = 0; i < n; ++i) t->add_float_data(fill * static_cast<float>(i % 7 - 3));
}

void add_value(::google::protobuf::RepeatedPtrField<::onnx::ValueInfoProto>* list,
               const std::string& name, std::vector<std::int64_t> shape, bool dynamic_batch) {
  ::onnx::ValueInfoProto* v = list->Add();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(::onnx::TensorProto::FLOAT);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    auto* d = tt->mutable_shape()->add_dim();
    if (i == 0 && dynamic_batch)
      d->set_dim_param("N");
    else
      d->set_dim_value(shape[i]);
  }
}

::onnx::NodeProto* add_node(::onnx::GraphProto& g, const std::string& op,
                            std::vector<std::string> inputs, const std::string& output) {
  ::onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(output + "_node");
  for (const std::string& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

void set_ints(::onnx::NodeProto* n, const std::string& key, std::vector<std::int64_t> v) {
  ::onnx::AttributeProto* a = n->add_attribute();
  a->set_name(key);
  a->set_type(::onnx::AttributeProto::INTS);
  for (std::int64_t x : v) a->add_ints(x);
}

void write_model(const std::string& name, const ::onnx::GraphProto& g, std::uint8_t batch) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("torusml_fuzz_seeds");
  m.add_opset_import()->set_version(13);
  *m.mutable_graph() = g;
  const std::string bytes = m.SerializeAsString();
  write("fuzz_onnx_load", name, batch, Bytes(bytes.begin(), bytes.end()));
}

// Small models of the operators a network uses: dense, convolutional, shapes, quantized.
void onnx_seeds() {
  {  // x (N, 4) -> Gemm -> Relu -> MatMul -> Add -> Softmax
    ::onnx::GraphProto g;
    g.set_name("mlp");
    add_value(g.mutable_input(), "x", {1, 4}, true);
    add_tensor(g, "w1", {3, 4}, 0.25F);
    add_tensor(g, "b1", {3}, 0.1F);
    auto* gemm = add_node(g, "Gemm", {"x", "w1", "b1"}, "h");
    ::onnx::AttributeProto* t = gemm->add_attribute();
    t->set_name("transB");
    t->set_type(::onnx::AttributeProto::INT);
    t->set_i(1);
    add_node(g, "Relu", {"h"}, "r");
    add_tensor(g, "w2", {3, 2}, 0.5F);
    add_node(g, "MatMul", {"r", "w2"}, "m");
    add_tensor(g, "b2", {2}, 0.2F);
    add_node(g, "Add", {"m", "b2"}, "logits");
    add_node(g, "Softmax", {"logits"}, "y");
    add_value(g.mutable_output(), "y", {1, 2}, true);
    write_model("mlp", g, 0);
  }
  {  // x (1, 1, 6, 6) -> Conv 3x3 pad 1 -> Relu -> MaxPool 2 -> AveragePool 1 -> Flatten -> Gemm
    ::onnx::GraphProto g;
    g.set_name("cnn");
    add_value(g.mutable_input(), "x", {1, 1, 6, 6}, false);
    add_tensor(g, "k", {2, 1, 3, 3}, 0.2F);
    auto* conv = add_node(g, "Conv", {"x", "k"}, "c");
    set_ints(conv, "pads", {1, 1, 1, 1});
    set_ints(conv, "kernel_shape", {3, 3});
    add_node(g, "Relu", {"c"}, "r");
    auto* pool = add_node(g, "MaxPool", {"r"}, "p");
    set_ints(pool, "kernel_shape", {2, 2});
    set_ints(pool, "strides", {2, 2});
    auto* avg = add_node(g, "AveragePool", {"p"}, "a");
    set_ints(avg, "kernel_shape", {1, 1});
    add_node(g, "Flatten", {"a"}, "f");
    add_tensor(g, "w", {18, 3}, 0.1F);
    add_node(g, "MatMul", {"f", "w"}, "y");
    add_value(g.mutable_output(), "y", {1, 3}, false);
    write_model("cnn", g, 1);
  }
  {  // Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Transpose, Slice, QDQ
    ::onnx::GraphProto g;
    g.set_name("shapes");
    add_value(g.mutable_input(), "x", {1, 2, 3}, true);
    add_node(g, "Shape", {"x"}, "s");
    add_node(g, "Transpose", {"x"}, "t");
    add_tensor(g, "scale", {}, 0.5F);
    add_node(g, "QuantizeLinear", {"t", "scale"}, "q");
    add_node(g, "DequantizeLinear", {"q", "scale"}, "dq");
    add_node(g, "Flatten", {"dq"}, "y");
    add_value(g.mutable_output(), "y", {1, 6}, true);
    write_model("shapes_qdq", g, 2);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus dir>\n";
    return 2;
  }
  g_root = argv[1];
  try {
    tfhe_seeds();
    circuit_seeds();
    server_seeds();
    onnx_seeds();
  } catch (const std::exception& e) {
    std::cerr << "torusml_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "wrote " << g_count << " seeds (" << g_bytes << " bytes) under " << g_root.string()
            << "\n";
  return 0;
}
