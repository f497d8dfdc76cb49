// End to end over loopback: real torusml-server processes on 127.0.0.1 (--port 0), real keys,
// RemoteServer as the client.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "server_test_util.h"
#include "torusml/deploy/server/json.h"
#include "torusml/deploy/server/key_store.h"
#include "torusml/deploy/server/model_service.h"
#include "torusml/deploy/server/remote_server.h"

namespace torusml::deploy::server::testing {
namespace {

const Client& client_of(std::uint8_t i) {
  static std::vector<std::unique_ptr<Client>> clients(16);
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto& c = clients.at(i);
  if (!c)
    c = std::make_unique<Client>(make_client(tiny_model(), static_cast<std::uint8_t>(60 + 2 * i)));
  return *c;
}

// A 4xx with a JSON error message.
void expect_refused(const RemoteServer::RawResponse& r, const std::string& what) {
  EXPECT_GE(r.status, 400) << what << ": " << r.body;
  EXPECT_LT(r.status, 500) << what << ": " << r.body;
  EXPECT_TRUE(json_string_field(r.body, "error").has_value()) << what << ": " << r.body;
}

// A valid inference on `server` with client 0's keys `id`: correct results.
void expect_serves(RemoteServer& server, const std::string& id, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const circuit::Tensor batch = random_batch(rng, 1);
  const Bytes out = server.run(id, encrypt(tiny_model(), client_of(0), batch));
  EXPECT_EQ(decrypted_values(tiny_model(), client_of(0), out),
            expected_values(tiny_model(), batch));
}

TEST(ServerProcess, EndToEndMatchesInProcessRun) {
  TempDir keys;
  ServerProcess process(tiny_model().dir->path(), keys.path(), {"--threads", "4"});
  RemoteServer server(process.url());
  EXPECT_TRUE(server.health());
  EXPECT_EQ(json_string_field(server.model_info(), "fingerprint"),
            fingerprint_hex(tiny_model().parameters()));
  EXPECT_EQ(server.download_client_artifact(), read_file_bytes(*tiny_model().dir / "client.bin"));

  const Client& alice = client_of(0);
  const std::string id = server.upload_keys(alice.evaluation_keys);
  EXPECT_EQ(id, key_id_of(alice.evaluation_keys));
  std::mt19937_64 rng(7);
  const circuit::Tensor batch = random_batch(rng, 4);
  const Bytes args = encrypt(tiny_model(), alice, batch);
  const Bytes out = server.run(id, args);
  EXPECT_EQ(out, run_in_process(tiny_model(), alice, args));
  const auto want = expected_values(tiny_model(), batch);
  EXPECT_EQ(decrypted_values(tiny_model(), alice, out), want);
  // Another client's secret key cannot decrypt Alice's results.
  EXPECT_NE(decrypted_values(tiny_model(), client_of(1), out), want);
  EXPECT_EQ(process.stop(), 0);
}

TEST(ServerProcess, HttpsWithSelfSignedCertificate) {
  TempDir dir;
  const std::string cert = dir / "cert.pem", key = dir / "key.pem";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
      "subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl (libssl-dev's tool) is needed";
  ServerProcess process(tiny_model().dir->path(), dir / "keys", {"--cert", cert, "--key", key});
  ASSERT_EQ(process.url().rfind("https://", 0), 0u) << process.url();
  RemoteOptions options;
  options.ca_certificate_file = cert;
  RemoteServer server(process.url(), options);
  const std::string id = server.upload_keys(client_of(0).evaluation_keys);
  expect_serves(server, id, 8);
  // Plain HTTP to the HTTPS port does not get through.
  RemoteServer plain("http://127.0.0.1:" + std::to_string(process.port()));
  EXPECT_FALSE(plain.health());
  EXPECT_EQ(process.stop(), 0);
}

// 8 clients with their own keys, 200 requests in all: none lost, all correct.
TEST(ServerProcess, EightConcurrentClients) {
  constexpr int kClients = 8, kRequests = 200;
  for (std::uint8_t i = 0; i < kClients; ++i) client_of(i);  // keys generated before timing
  TempDir keys;
  ServerProcess process(tiny_model().dir->path(), keys.path(), {"--threads", "10"});
  std::vector<std::string> ids(kClients);
  {
    RemoteServer server(process.url());
    for (std::uint8_t i = 0; i < kClients; ++i)
      ids[i] = server.upload_keys(client_of(i).evaluation_keys);
  }
  // Encrypted beforehand, so that the timing is the server's.
  struct Job {
    circuit::Tensor batch;
    Bytes args;
  };
  std::vector<std::vector<Job>> jobs(kClients);
  std::mt19937_64 rng(9);
  for (int r = 0; r < kRequests; ++r) {
    const auto c = static_cast<std::uint8_t>(r % kClients);
    Job job{random_batch(rng, 1), {}};
    job.args = encrypt(tiny_model(), client_of(c), job.batch);
    jobs[c].push_back(std::move(job));
  }
  std::atomic<int> correct{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::uint8_t c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      RemoteServer server(process.url());
      for (const Job& job : jobs[c]) {
        try {
          const Bytes out = server.run(ids[c], job.args);
          const bool ok = decrypted_values(tiny_model(), client_of(c), out) ==
                          expected_values(tiny_model(), job.batch);
          (ok ? correct : failed)++;
        } catch (const std::exception& e) {
          failed++;
          std::fprintf(stderr, "client %d: %s\n", c, e.what());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(correct.load(), kRequests);
  EXPECT_EQ(failed.load(), 0);
  const long peak_kb = proc_status_kb(process.pid(), "VmHWM");
  RemoteServer server(process.url());
  const std::string metrics = server.metrics();
  std::printf(
      "[ load     ] %d clients, %d requests (batch 1, 4 PBS each) in %.2f s: %.1f "
      "requests/s; server peak RSS (VmHWM) %.1f MB\n[ load     ] metrics: %s\n",
      kClients, kRequests, seconds, kRequests / seconds, static_cast<double>(peak_kb) / 1024.0,
      metrics.c_str());
  EXPECT_GT(peak_kb, 0);
  // Bounded: 8 expanded key sets of ~85 MB and the buffers of the requests in flight.
  EXPECT_LT(peak_kb, 2L * 1024 * 1024);
  EXPECT_EQ(process.stop(), 0);
}

TEST(ServerProcess, RestartKeepsUploadedKeys) {
  TempDir keys;
  std::string id;
  {
    ServerProcess process(tiny_model().dir->path(), keys.path());
    RemoteServer server(process.url());
    id = server.upload_keys(client_of(0).evaluation_keys);
    expect_serves(server, id, 10);
    EXPECT_EQ(process.stop(), 0);
  }
  ServerProcess process(tiny_model().dir->path(), keys.path());
  RemoteServer server(process.url());
  expect_serves(server, id, 11);  // no upload after the restart
  EXPECT_NE(server.request("GET", "/health").body.find("\"keys_stored\": 1"), std::string::npos);
  EXPECT_EQ(process.stop(), 0);
}

// Truncated, corrupted, mismatched, oversized and secret uploads over the wire: 4xx each, and the
// server keeps serving valid requests.
TEST(ServerProcess, BadRequestsGetClientErrorsAndServerKeepsServing) {
  TempDir keys;
  ServerProcess process(tiny_model().dir->path(), keys.path(),
                        {"--max-body-mb", "64", "--max-batch", "4"});
  RemoteServer server(process.url());
  const Client& alice = client_of(0);
  const std::string id = server.upload_keys(alice.evaluation_keys);
  std::mt19937_64 rng(12);
  const Bytes args = encrypt(tiny_model(), alice, random_batch(rng, 1));
  const Bytes& ek = alice.evaluation_keys;

  // Truncations: every length of the headers' region, then a sample.
  std::vector<std::size_t> run_lengths, key_lengths;
  for (std::size_t n = 1; n <= 96; ++n) run_lengths.push_back(n), key_lengths.push_back(n);
  for (int i = 0; i < 20; ++i) {
    run_lengths.push_back(std::uniform_int_distribution<std::size_t>(97, args.size() - 1)(rng));
    key_lengths.push_back(std::uniform_int_distribution<std::size_t>(97, ek.size() - 1)(rng));
  }
  for (std::size_t n : run_lengths)
    expect_refused(server.request("POST", "/run", std::span(args).first(n), id), "run prefix");
  for (std::size_t n : key_lengths)
    expect_refused(server.request("POST", "/keys", std::span(ek).first(n)), "key prefix");
  expect_serves(server, id, 13);

  // Single-byte corruptions.
  auto corrupt = [&](const Bytes& b) {
    Bytes c = b;
    const std::size_t at = std::uniform_int_distribution<std::size_t>(0, c.size() - 1)(rng);
    c[at] = static_cast<std::uint8_t>(c[at] ^ std::uniform_int_distribution<int>(1, 255)(rng));
    return c;
  };
  for (int i = 0; i < 60; ++i)
    expect_refused(server.request("POST", "/run", corrupt(args), id), "corrupted run body");
  for (int i = 0; i < 12; ++i)
    expect_refused(server.request("POST", "/keys", corrupt(ek)), "corrupted key body");
  expect_serves(server, id, 14);

  // Wrong key id, another model, batch over the limit, secret keys, oversized body.
  const RemoteServer::RawResponse unknown =
      server.request("POST", "/run", args, std::string(64, 'e'));
  EXPECT_EQ(unknown.status, 404);
  const Client bob = make_client(other_model(), 90);
  EXPECT_EQ(server.request("POST", "/keys", bob.evaluation_keys).status, 409);
  EXPECT_EQ(
      server.request("POST", "/run", encrypt(other_model(), bob, random_batch(rng, 1)), id).status,
      422);
  EXPECT_EQ(
      server.request("POST", "/run", encrypt(tiny_model(), alice, random_batch(rng, 5)), id).status,
      422);
  const RemoteServer::RawResponse secret =
      server.request("POST", "/keys", circuit::serialize_client_keys(alice.secret));
  expect_refused(secret, "secret key");
  EXPECT_EQ(secret.status, 400);
  const RemoteServer::RawResponse big = server.request("POST", "/keys", Bytes((64u << 20) + 1, 7));
  EXPECT_EQ(big.status, 413);
  expect_refused(big, "oversized body");
  expect_serves(server, id, 15);
  EXPECT_TRUE(process.alive());

  const std::string metrics = server.metrics();
  EXPECT_NE(metrics.find("\"413\": 1"), std::string::npos) << metrics;
  EXPECT_EQ(process.stop(), 0);
}

// SIGTERM while an inference runs: it completes, the process exits 0, no temporary file is left.
TEST(ServerProcess, SigtermLetsTheRequestInFlightFinish) {
  TempDir keys;
  ServerProcess process(tiny_model().dir->path(), keys.path());
  const std::string id = RemoteServer(process.url()).upload_keys(client_of(0).evaluation_keys);
  std::mt19937_64 rng(16);
  const circuit::Tensor batch = random_batch(rng, 32);  // 128 bootstraps: a long request
  const Bytes args = encrypt(tiny_model(), client_of(0), batch);
  std::atomic<bool> done{false};
  Bytes out;
  std::string error;
  std::thread request([&] {
    try {
      out = RemoteServer(process.url()).run(id, args);
    } catch (const std::exception& e) {
      error = e.what();
    }
    done = true;
  });
  // Wait until the inference is in a handler (the metrics request itself is the other one).
  bool in_flight = false;
  for (int i = 0; i < 2000 && !in_flight && !done; ++i) {
    RemoteServer probe(process.url());
    in_flight = probe.metrics().find("\"in_flight\": 2") != std::string::npos;
    if (!in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(in_flight) << "the request finished before SIGTERM could be sent";
  const int status = process.stop();
  request.join();
  EXPECT_EQ(status, 0) << process.log();
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(decrypted_values(tiny_model(), client_of(0), out),
            expected_values(tiny_model(), batch));
  for (const auto& entry : fs::directory_iterator(keys.path()))
    EXPECT_FALSE(entry.path().string().ends_with(".tmp")) << entry.path();
}

}  // namespace
}  // namespace torusml::deploy::server::testing
