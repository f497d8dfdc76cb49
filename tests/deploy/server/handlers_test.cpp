// The endpoints without sockets: handle_request() on a loaded model, a key store in a temporary
// directory and real keys.
#include <gtest/gtest.h>

#include <random>

#include "server_test_util.h"
#include "torusml/deploy/server/handlers.h"
#include "torusml/deploy/server/json.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::deploy::server::testing {
namespace {

// A service over the tiny model with its own key directory.
struct Harness {
  explicit Harness(ServiceLimits limits = {}, KeyStoreLimits key_limits = {})
      : model(load_model_directory(tiny_model().dir->path())),
        keys(dir.path(), model.program.parameters, key_limits),
        service{model, keys, metrics, limits} {}
  Response call(const std::string& method, const std::string& target, const Bytes& body = {},
                const std::string& key_id = "") {
    Request r;
    r.method = method;
    parse_target(target, r.path, r.query);
    if (!key_id.empty()) r.headers["x-key-id"] = key_id;
    body_ = as_string(body);
    r.body = body_;
    return handle_request(service, r);
  }
  TempDir dir;
  ModelArtifacts model;
  KeyStore keys;
  Metrics metrics;
  Service service;
  std::string body_;
};

const Client& alice() {
  static const Client c = make_client(tiny_model(), 10);
  return c;
}

// An error response: the status in [400, 500) and a JSON {"error": message} body.
void expect_client_error(const Response& r, int status = 0) {
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  if (status != 0) {
    EXPECT_EQ(r.status, status) << r.body;
  }
  EXPECT_EQ(r.content_type, kJsonType);
  const auto message = json_string_field(r.body, "error");
  ASSERT_TRUE(message.has_value()) << r.body;
  EXPECT_GT(message->size(), 10u) << r.body;
}

std::string upload(Harness& h, const Bytes& keys) {
  const Response r = h.call("POST", "/keys", keys);
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
  return json_string_field(r.body, "key_id").value_or("");
}

TEST(Json, QuotesAndReadsBack) {
  const std::string text = "a \"quoted\" \\ path\n\ttab \x01 \xff end \xc3\xa9";
  const std::string quoted = json_quote(text);
  EXPECT_EQ(quoted.find('\n'), std::string::npos);
  EXPECT_NE(quoted.find("\\u0001"), std::string::npos);
  EXPECT_NE(quoted.find("\\ufffd"), std::string::npos);   // invalid UTF-8 byte replaced
  EXPECT_NE(quoted.find("\xc3\xa9"), std::string::npos);  // valid UTF-8 kept
  const auto back = json_string_field("{\"x\": 1, \"error\": " + quoted + "}", "error");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->substr(0, 20), text.substr(0, 20));
  EXPECT_FALSE(json_string_field("{\"error\": 3}", "error").has_value());
  EXPECT_FALSE(json_string_field("{\"error\": \"unterminated", "error").has_value());
}

TEST(Handlers, ParseTarget) {
  std::string path;
  std::map<std::string, std::string> query;
  parse_target("/run?key_id=ab%63&x&key_id=zz", path, query);
  EXPECT_EQ(path, "/run");
  EXPECT_EQ(query.at("key_id"), "abc");
  EXPECT_EQ(query.at("x"), "");
  parse_target("/health", path, query);
  EXPECT_EQ(path, "/health");
  EXPECT_TRUE(query.empty());
}

TEST(Handlers, HealthModelClientArtifactAndManifest) {
  Harness h;
  const Response health = h.call("GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json_string_field(health.body, "status"), "ok");
  EXPECT_EQ(json_string_field(health.body, "fingerprint"),
            fingerprint_hex(tiny_model().parameters()));

  const Response model = h.call("GET", "/model");
  EXPECT_EQ(model.status, 200);
  EXPECT_NE(model.body.find("\"shape\": [4]"), std::string::npos) << model.body;
  EXPECT_NE(model.body.find("\"encrypted\": true"), std::string::npos);
  EXPECT_NE(model.body.find("\"pbs_per_sample\": 4"), std::string::npos) << model.body;
  EXPECT_EQ(json_string_field(model.body, "fingerprint"),
            fingerprint_hex(tiny_model().parameters()));

  const Response client = h.call("GET", "/model/client");
  EXPECT_EQ(client.status, 200);
  EXPECT_EQ(client.content_type, kBinaryType);
  EXPECT_EQ(as_bytes(client.body), read_file_bytes(*tiny_model().dir / "client.bin"));
  EXPECT_EQ(h.call("GET", "/model/manifest").body, "{\"name\": \"test model\"}");
}

TEST(Handlers, UploadAndRunMatchInProcessRun) {
  Harness h;
  const Response first = h.call("POST", "/keys", alice().evaluation_keys);
  EXPECT_EQ(first.status, 201) << first.body;
  const std::string id = json_string_field(first.body, "key_id").value_or("");
  EXPECT_EQ(id, key_id_of(alice().evaluation_keys));
  const Response again = h.call("POST", "/keys", alice().evaluation_keys);
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("\"created\": false"), std::string::npos);
  EXPECT_EQ(h.call("GET", "/keys/" + id).status, 200);

  std::mt19937_64 rng(1);
  const circuit::Tensor batch = random_batch(rng, 3);
  const Bytes args = encrypt(tiny_model(), alice(), batch);
  const Response out = h.call("POST", "/run", args, id);
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(out.content_type, kBinaryType);
  EXPECT_EQ(as_bytes(out.body), run_in_process(tiny_model(), alice(), args));
  EXPECT_EQ(decrypted_values(tiny_model(), alice(), as_bytes(out.body)),
            expected_values(tiny_model(), batch));
  // The key id as a query parameter.
  EXPECT_EQ(h.call("POST", "/run?key_id=" + id, args).status, 200);
  // Deleted keys are gone.
  EXPECT_EQ(h.call("DELETE", "/keys/" + id).status, 200);
  expect_client_error(h.call("POST", "/run", args, id), 404);
  expect_client_error(h.call("DELETE", "/keys/" + id), 404);
}

TEST(Handlers, RefusesSecretKeys) {
  Harness h;
  const circuit::ClientKeySet& secret = alice().secret;
  const tfhe::PbsParameters& p = secret.parameters.pbs;
  const std::vector<Bytes> uploads = {circuit::serialize_client_keys(secret),
                                      tfhe::serialize_client_key(secret.pbs_key),
                                      tfhe::serialize_lwe_secret_key(secret.pbs_key.small_key, &p),
                                      tfhe::serialize_glwe_secret_key(secret.pbs_key.big_key, &p)};
  for (const Bytes& upload_bytes : uploads) {
    const Response r = h.call("POST", "/keys", upload_bytes);
    expect_client_error(r, 400);
    EXPECT_NE(r.body.find("secret key"), std::string::npos) << r.body;
    // Even truncated, damaged, or sent as inference arguments.
    Bytes damaged(upload_bytes.begin(), upload_bytes.begin() + 40);
    expect_client_error(h.call("POST", "/keys", damaged), 400);
    expect_client_error(h.call("POST", "/run", upload_bytes, std::string(64, 'a')), 400);
  }
  EXPECT_EQ(h.keys.size(), 0u);
  EXPECT_TRUE(fs::is_empty(h.dir.path()));
}

TEST(Handlers, KeysAndCiphertextsOfAnotherModel) {
  Harness h;
  const Client bob = make_client(other_model(), 20);
  const Response keys = h.call("POST", "/keys", bob.evaluation_keys);
  expect_client_error(keys, 409);
  EXPECT_NE(keys.body.find("another model"), std::string::npos) << keys.body;

  const std::string id = upload(h, alice().evaluation_keys);
  std::mt19937_64 rng(2);
  const Response run =
      h.call("POST", "/run", encrypt(other_model(), bob, random_batch(rng, 1)), id);
  expect_client_error(run, 422);
  EXPECT_NE(run.body.find("another model"), std::string::npos) << run.body;
}

TEST(Handlers, KeyIdsRoutesAndMethods) {
  Harness h;
  std::mt19937_64 rng(3);
  const Bytes args = encrypt(tiny_model(), alice(), random_batch(rng, 1));
  expect_client_error(h.call("POST", "/run", args), 400);                        // no key id
  expect_client_error(h.call("POST", "/run", args, "not-a-key-id"), 404);        // malformed
  expect_client_error(h.call("POST", "/run", args, std::string(64, '0')), 404);  // unknown
  expect_client_error(h.call("GET", "/keys/../../etc/passwd"), 404);
  expect_client_error(h.call("GET", "/nothing"), 404);
  expect_client_error(h.call("GET", "/run"), 405);
  expect_client_error(h.call("POST", "/health", args), 405);
  expect_client_error(h.call("PUT", "/keys", args), 405);
  expect_client_error(h.call("POST", "/keys"), 400);  // empty body
  const std::string id = upload(h, alice().evaluation_keys);
  expect_client_error(h.call("POST", "/run", {}, id), 400);  // empty body
}

TEST(Handlers, BodyAndBatchLimits) {
  ServiceLimits limits;
  limits.max_batch = 2;
  limits.max_body_bytes = alice().evaluation_keys.size();
  Harness h(limits);
  const std::string id = upload(h, alice().evaluation_keys);
  std::mt19937_64 rng(4);
  EXPECT_EQ(h.call("POST", "/run", encrypt(tiny_model(), alice(), random_batch(rng, 2)), id).status,
            200);
  const Response batch =
      h.call("POST", "/run", encrypt(tiny_model(), alice(), random_batch(rng, 3)), id);
  expect_client_error(batch, 422);
  EXPECT_NE(batch.body.find("limit of 2"), std::string::npos) << batch.body;
  const Response big = h.call("POST", "/keys", Bytes(limits.max_body_bytes + 1, 0));
  expect_client_error(big, 413);
}

// Every prefix of a run body, a sample of prefixes of a key body (every length of the header
// region), and random single-byte corruptions of both: a 4xx each, and the service still serves.
TEST(Handlers, TruncatedAndCorruptedBodies) {
  Harness h;
  const std::string id = upload(h, alice().evaluation_keys);
  std::mt19937_64 rng(5);
  const circuit::Tensor batch = random_batch(rng, 1);
  const Bytes args = encrypt(tiny_model(), alice(), batch);
  for (std::size_t n = 0; n < args.size(); ++n) {
    const Response r = h.call("POST", "/run", Bytes(args.begin(), args.begin() + n), id);
    ASSERT_GE(r.status, 400) << "prefix " << n;
    ASSERT_LT(r.status, 500) << "prefix " << n << ": " << r.body;
  }
  const Bytes& keys = alice().evaluation_keys;
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n < 512; ++n) lengths.push_back(n);
  std::uniform_int_distribution<std::size_t> any_length(512, keys.size() - 1);
  for (int i = 0; i < 60; ++i) lengths.push_back(any_length(rng));
  lengths.push_back(keys.size() - 1);
  for (std::size_t n : lengths) {
    const Response r = h.call("POST", "/keys", Bytes(keys.begin(), keys.begin() + n));
    ASSERT_GE(r.status, 400) << "prefix " << n;
    ASSERT_LT(r.status, 500) << "prefix " << n << ": " << r.body;
  }
  auto corrupt = [&](const Bytes& b) {
    Bytes c = b;
    const std::size_t at = std::uniform_int_distribution<std::size_t>(0, c.size() - 1)(rng);
    c[at] = static_cast<std::uint8_t>(c[at] ^ std::uniform_int_distribution<int>(1, 255)(rng));
    return c;
  };
  for (int i = 0; i < 400; ++i) {
    const Response r = h.call("POST", "/run", corrupt(args), id);
    ASSERT_GE(r.status, 400) << r.body;
    ASSERT_LT(r.status, 500) << r.body;
  }
  for (int i = 0; i < 40; ++i) {
    const Response r = h.call("POST", "/keys", corrupt(keys));
    ASSERT_GE(r.status, 400) << r.body;
    ASSERT_LT(r.status, 500) << r.body;
  }
  EXPECT_EQ(h.keys.size(), 1u);
  const Response ok = h.call("POST", "/run", args, id);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(decrypted_values(tiny_model(), alice(), as_bytes(ok.body)),
            expected_values(tiny_model(), batch));
}

TEST(Handlers, MetricsCountRequestsErrorsAndLatency) {
  Harness h;
  h.call("GET", "/health");
  h.call("GET", "/nothing");
  h.call("POST", "/run", {}, std::string(64, '1'));
  EXPECT_EQ(h.metrics.requests(), 3u);
  EXPECT_EQ(h.metrics.errors(), 2u);
  const Response m = h.call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("\"requests\": 3"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\"404\": 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\"p99\""), std::string::npos) << m.body;
  EXPECT_EQ(h.metrics.latency().count, 4u);

  const LatencyQuantiles q = latency_quantiles({5, 1, 4, 2, 3, 6, 7, 8, 9, 10});
  EXPECT_EQ(q.p50, 5);
  EXPECT_EQ(q.p90, 9);
  EXPECT_EQ(q.p99, 10);
  Metrics small(2);
  for (double s : {100.0, 1.0, 2.0}) small.record("/run", 200, s);
  EXPECT_EQ(small.run_latency().max, 2.0);  // the window keeps the latest two
}

// GET /model for a multi-parameter circuit (issue 12): every partition's parameter set, the cross
// keyswitches, and per value its partition and the size of its own ciphertexts. The program is
// compiled with one parameter set and moved by hand to two: x under tfhe_2bit's big key (1536),
// its lookup under tfhe_3bit's (2048), keyswitched 0 -> 1.
TEST(ModelJson, MultiParameterCircuitsListTheirPartitions) {
  circuit::Builder b;
  circuit::Value x = b.input("x", {4});
  b.output(circuit::apply_table(
      x, [](std::int64_t v) { return 1 - v; }, "flip"));
  std::vector<std::vector<circuit::Tensor>> set;
  for (std::int64_t i = 0; i < 4; ++i)
    set.push_back({circuit::Tensor::vector({i % 2, i / 2, 1, 0})});
  const circuit::CompiledCircuit c = circuit::compile(b.build(), set);
  const tfhe::PbsParameters& p2 = tfhe::preset_by_name("tfhe_2bit");
  const tfhe::PbsParameters& p3 = tfhe::preset_by_name("tfhe_3bit");
  ModelArtifacts model;
  model.program = c.server_program();
  circuit::CircuitParameters& params = model.program.parameters;
  params = {};
  params.uses_pbs = true;
  params.pbs = p2;
  params.extra_partitions = {p3};
  params.cross_keyswitches = {{0, 1, p3.ks}};
  for (std::size_t i = 0; i < model.program.encodings.size(); ++i)
    model.program.encodings[i].partition =
        model.program.instructions[i].kind == circuit::InstructionKind::Bootstrap ? 1 : 0;
  ASSERT_NO_THROW(circuit::validate_server_program(model.program));
  const std::string json = describe_model_json(model);
  for (const std::string needle :
       {"\"ciphertext_bytes_per_sample\": 49184, \"partition\": 0",  // 4 * 8 * (1536 + 1)
        "\"ciphertext_bytes_per_sample\": 65568, \"partition\": 1",  // 4 * 8 * (2048 + 1)
        "\"encryption_dimension\": 1536, \"name\": \"tfhe_2bit\"",
        "\"partitions\": [{\"name\": \"tfhe_2bit\"",
        "\"polynomial_size\": 1024, \"encryption_dimension\": 2048}]",
        "\"cross_keyswitches\": [{\"from\": 0, \"to\": 1, \"base_log\": 5, \"level_count\": 3}]",
        "\"ciphertext_bytes\": 16392"})  // the widest ciphertext
    EXPECT_NE(json.find(needle), std::string::npos) << needle << "\n" << json;
  // Single-parameter circuits: no partition fields.
  EXPECT_EQ(describe_model_json(load_model_directory(tiny_model().dir->path())).find("partition"),
            std::string::npos);
}

}  // namespace
}  // namespace torusml::deploy::server::testing
