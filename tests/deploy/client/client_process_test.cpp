// The torusml-client executable against a real torusml-server process on 127.0.0.1, with real
// keys: `predict` gives the labels (classifier) or values (regressor) of the in-process client
// and server on the same keys, uploads its keys once and remembers the server's client artifact
// and key id in the key directory; keygen / encrypt / decrypt (and --raw) round trip through the
// server's endpoints; bad CSV, missing options, damaged results and an unreachable server exit
// non-zero with a message saying what is wrong. Also the CSV reader on its own.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <sstream>

#include "server_test_util.h"
#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/csv_matrix.h"
#include "torusml/deploy/model_server.h"
#include "torusml/deploy/server/remote_server.h"

namespace torusml::deploy {
namespace {

using server::testing::TempDir;

ml::Matrix data(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  ml::Matrix m(rows, cols);
  for (double& v : m.values()) v = n(rng);
  return m;
}

// A logistic model over 3 features (leveled circuit: small keys, exact under encryption).
const ml::QuantizedLinear& linear_model() {
  static const ml::QuantizedLinear model = [] {
    ml::QuantizedLinear m(ml::Matrix(3, 1, {0.8, -1.2, 0.5}), std::vector<double>{0.1},
                          data(40, 3, 1), {4, 4});
    m.compile(data(40, 3, 1), {}, server::testing::seed_of(7));
    return m;
  }();
  return model;
}

ModelTransform classifier() {
  ModelTransform t;
  t.task = Task::Classification;
  t.probability = ProbabilityMethod::Sigmoid;
  t.targets = {{0, 1, {"no", "yes"}}};
  return t;
}

ModelTransform regressor() {
  ModelTransform t;
  t.task = Task::Regression;
  t.output_is_1d = true;
  return t;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct ClientRun {
  int status = -1;
  std::string out, err;
};

// Runs torusml-client with `args`; its stdout and stderr captured through files in `tmp`.
ClientRun client(const TempDir& tmp, const std::vector<std::string>& args) {
  std::string cmd = quote(TORUSML_CLIENT_EXECUTABLE);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += quote(a);
  }
  cmd += " >";
  cmd += quote(tmp / "stdout");
  cmd += " 2>";
  cmd += quote(tmp / "stderr");
  const int raw = std::system(cmd.c_str());
  ClientRun r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(tmp / "stdout");
  r.err = slurp(tmp / "stderr");
  return r;
}

void write_csv(const std::string& path, const ml::Matrix& x, bool header) {
  std::ofstream out(path);
  if (header) out << "a, b, c\r\n";
  out << format_csv_matrix(x) << "\n";
}

// The in-process predictions of the key directory's keys (ModelServer, same circuit).
Prediction in_process(const std::string& model_dir, const std::string& keys, const ml::Matrix& x) {
  Client c = Client::load(model_dir);
  c.load_keys(keys);
  const ModelServer server = ModelServer::load(model_dir);
  return c.deserialize_decrypt_dequantize(
      server.run(c.quantize_encrypt_serialize(x), c.serialized_evaluation_keys()));
}

std::string labels_text(const Prediction& p) {
  std::string s;
  for (const auto& l : p.labels.at(0)) s += l + "\n";
  return s;
}

TEST(CsvMatrix, ParsesAndReportsLineNumbers) {
  const ml::Matrix m = parse_csv_matrix("x,y\n\n 1.5 ,-2\r\n3e-1,4\n", "in.csv");
  EXPECT_EQ(m, ml::Matrix(2, 2, {1.5, -2, 0.3, 4}));
  EXPECT_EQ(parse_csv_matrix(format_csv_matrix(data(3, 2, 9)), "t"), data(3, 2, 9));
  const auto message = [](const std::string& text) {
    try {
      parse_csv_matrix(text, "in.csv");
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("1,2\n3,x\n").find("in.csv, line 2, field 2: 'x' is not a finite number"),
            std::string::npos);
  EXPECT_NE(message("1,2\n\n3\n").find("line 3: 1 values, but the first row has 2"),
            std::string::npos);
  EXPECT_NE(message("a,b,c\n1,2\n").find("line 2: 2 values, but the header has 3"),
            std::string::npos);
  EXPECT_NE(message("1,,2\n").find("line 1, field 2: empty field"), std::string::npos);
  EXPECT_NE(message("1,inf\n").find("not a finite number"), std::string::npos);
  EXPECT_NE(message("a,b\n").find("no data row"), std::string::npos);
  EXPECT_NE(message("").find("no data row"), std::string::npos);
}

TEST(ClientExecutable, PredictEqualsInProcessAndUploadsKeysOnce) {
  const auto& model = linear_model();
  const TempDir tmp, model_dir, server_keys;
  save_artifacts(model_dir.path(), model.compiled_circuit().server_program(),
                 make_client_artifact(model, classifier()));
  server::testing::ServerProcess server(model_dir.path(), server_keys.path());
  const ml::Matrix x = data(8, 3, 21);
  write_csv(tmp / "x.csv", x, true);
  const std::string keys = tmp / "keys";

  const ClientRun first =
      client(tmp, {"predict", "--server", server.url(), "--keys", keys, "--input", tmp / "x.csv"});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.err.find("uploaded"), std::string::npos) << first.err;
  // The server's client artifact and the key id are kept in the key directory.
  EXPECT_EQ(slurp(keys + "/client.bin"), slurp(model_dir / "client.bin"));
  EXPECT_NE(slurp(keys + "/server_keys.txt").find(server.url()), std::string::npos);
  const Prediction expected = in_process(model_dir.path(), keys, x);
  EXPECT_EQ(first.out, labels_text(expected));
  // Both classes occur (a real comparison), and they are the model's clear labels.
  const ml::Matrix scores = model.predict(x, circuit::Mode::Clear);
  int yes = 0;
  for (std::size_t r = 0; r < x.rows(); ++r) {
    EXPECT_EQ(expected.labels[0][r], scores(r, 0) > 0 ? "yes" : "no");
    yes += scores(r, 0) > 0;
  }
  EXPECT_GT(yes, 0);
  EXPECT_LT(yes, 8);

  // Again, into a file: no second upload.
  const ClientRun second = client(tmp, {"predict", "--server", server.url(), "--keys", keys,
                                        "--input", tmp / "x.csv", "--output", tmp / "y.csv"});
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.err.find("uploaded"), std::string::npos) << second.err;
  EXPECT_EQ(slurp(tmp / "y.csv"), first.out);
  // A server that forgot the keys (the remembered id is stale): uploaded again.
  server::RemoteServer remote(server.url());
  std::ifstream ids(keys + "/server_keys.txt");
  std::string url, id;
  ids >> url >> id;
  EXPECT_TRUE(remote.delete_keys(id));
  const ClientRun third =
      client(tmp, {"predict", "--server", server.url(), "--keys", keys, "--input", tmp / "x.csv"});
  ASSERT_EQ(third.status, 0) << third.err;
  EXPECT_NE(third.err.find("uploaded"), std::string::npos);
  EXPECT_EQ(third.out, first.out);

  // Errors: wrong feature count, bad CSV, an unreachable server.
  std::ofstream(tmp / "bad.csv") << "1,2,3\n4,five,6\n";
  ClientRun r = client(
      tmp, {"predict", "--server", server.url(), "--keys", keys, "--input", tmp / "bad.csv"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bad.csv, line 2, field 2"), std::string::npos) << r.err;
  write_csv(tmp / "two.csv", data(2, 2, 3), false);
  r = client(tmp,
             {"predict", "--server", server.url(), "--keys", keys, "--input", tmp / "two.csv"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("feature"), std::string::npos) << r.err;
  r = client(
      tmp, {"predict", "--server", "http://127.0.0.1:1", "--keys", keys, "--input", tmp / "x.csv"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot reach"), std::string::npos) << r.err;
  EXPECT_EQ(server.stop(), 0);
}

TEST(ClientExecutable, RegressorPredictsValues) {
  const auto& model = linear_model();
  const TempDir tmp, model_dir, server_keys;
  save_artifacts(model_dir.path(), model.compiled_circuit().server_program(),
                 make_client_artifact(model, regressor()));
  server::testing::ServerProcess server(model_dir.path(), server_keys.path());
  const ml::Matrix x = data(3, 3, 22);
  write_csv(tmp / "x.csv", x, false);
  // With --model: the local client artifact instead of the server's.
  const ClientRun r = client(tmp, {"predict", "--server", server.url(), "--keys", tmp / "keys",
                                   "--model", model_dir.path(), "--input", tmp / "x.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  const Prediction expected = in_process(model_dir.path(), tmp / "keys", x);
  EXPECT_EQ(r.out, format_csv_matrix(expected.values));
  const ml::Matrix got = parse_csv_matrix(r.out, "out"),
                   clear = model.predict(x, circuit::Mode::Clear);
  ASSERT_EQ(got.rows(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(got(i, 0), clear(i, 0), 1e-12);
}

TEST(ClientExecutable, KeygenEncryptDecryptThroughTheEndpoints) {
  const auto& model = linear_model();
  const TempDir tmp, model_dir, server_keys;
  save_artifacts(model_dir.path(), model.compiled_circuit().server_program(),
                 make_client_artifact(model, classifier()));
  const std::string keys = tmp / "keys", dir = model_dir.path();
  ClientRun r = client(tmp, {"keygen", "--model", dir, "--keys", keys});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("generated keys"), std::string::npos);
  r = client(tmp, {"keygen", "--model", dir, "--keys", keys});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("already holds"), std::string::npos);
  const ml::Matrix x = data(5, 3, 23);
  write_csv(tmp / "x.csv", x, true);
  r = client(tmp, {"encrypt", "--model", dir, "--keys", keys, "--input", tmp / "x.csv", "--output",
                   tmp / "ct.bin"});
  ASSERT_EQ(r.status, 0) << r.err;

  // The bodies of POST /keys and POST /run, as curl would send them.
  server::testing::ServerProcess server(dir, server_keys.path());
  server::RemoteServer remote(server.url());
  const std::string id = remote.upload_keys(read_file_bytes(keys + "/evaluation_keys.bin"));
  write_file_bytes(tmp / "result.bin", remote.run(id, read_file_bytes(tmp / "ct.bin")));

  r = client(tmp, {"decrypt", "--model", dir, "--keys", keys, "--input", tmp / "result.bin"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, labels_text(in_process(dir, keys, x)));
  r = client(tmp, {"decrypt", "--model", dir, "--keys", keys, "--input", tmp / "result.bin",
                   "--raw", "--output", tmp / "q.csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  Client c = Client::load(dir);
  c.load_keys(keys);
  const circuit::Tensor q = c.deserialize_decrypt(read_file_bytes(tmp / "result.bin"));
  EXPECT_EQ(parse_csv_matrix(slurp(tmp / "q.csv"), "q"), ml::to_matrix(q));

  // Another key set: meaningless integers. Damaged results, usage errors.
  r = client(tmp, {"keygen", "--model", dir, "--keys", tmp / "other"});
  ASSERT_EQ(r.status, 0);
  r = client(tmp, {"decrypt", "--model", dir, "--keys", tmp / "other", "--input",
                   tmp / "result.bin", "--raw"});
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(parse_csv_matrix(r.out, "q"), ml::to_matrix(q));
  auto damaged = read_file_bytes(tmp / "result.bin");
  damaged[damaged.size() / 2] ^= 0x10;
  write_file_bytes(tmp / "damaged.bin", damaged);
  r = client(tmp, {"decrypt", "--model", dir, "--keys", keys, "--input", tmp / "damaged.bin"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("torusml-client decrypt: "), std::string::npos);
  r = client(tmp, {"encrypt", "--model", dir, "--keys", tmp / "none", "--input", tmp / "x.csv",
                   "--output", tmp / "ct2.bin"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("run torusml-client keygen"), std::string::npos) << r.err;
  r = client(tmp, {"encrypt", "--model", dir, "--keys", keys});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("encrypt needs --input"), std::string::npos) << r.err;
  r = client(tmp, {"decrypt", "--bogus"});
  EXPECT_EQ(r.status, 2);
  r = client(tmp, {"frobnicate"});
  EXPECT_EQ(r.status, 2);
  r = client(tmp, {"predict", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: torusml-client predict"), std::string::npos);
}

}  // namespace
}  // namespace torusml::deploy
