// The engine end to end: keys for the 4-bit preset, encryption of a few values, a lookup table
// applied by programmable bootstrapping (one and a batch on every core), decryption, timings.
#include <chrono>
#include <cstdio>
#include <vector>

#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"

using namespace torusml::tfhe;

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main() {
  const PbsParameters& params = preset_for_bits(4);
  std::printf("TorusML TFHE engine demo\n");
  std::printf("parameters: n=%zu k=%zu N=%zu pbs=2^%zu x %zu ks=2^%zu x %zu  (%s)\n",
              params.lwe_dimension.value(), params.glwe_dimension.value(),
              params.polynomial_size.value(), params.pbs.base_log.value(),
              params.pbs.level_count.value(), params.ks.base_log.value(),
              params.ks.level_count.value(), params.name.c_str());
  std::printf("failure probability per PBS (noise model, 2-norm %.0f): 2^%.1f\n",
              params.max_two_norm, log2_pbs_failure_probability(params));
  std::printf("FFT backend: %s, threads: %zu\n", to_string(best_fft_backend()),
              torusml::default_thread_pool().size());

  auto t0 = std::chrono::steady_clock::now();
  const ClientKey client = generate_client_key(params, random_seed());
  const CompressedServerKey compressed = generate_compressed_server_key(client, random_seed());
  const double keygen_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  const ServerKey server = decompress_server_key(compressed);
  const double expand_ms = ms_since(t0);
  std::printf("key generation: %.0f ms (seeded), expansion to the Fourier domain: %.0f ms\n",
              keygen_ms, expand_ms);

  // f(m) = (3 m + 5) mod 16, as a table over 4-bit messages.
  auto f = [](std::uint64_t m) { return static_cast<std::int64_t>((3 * m + 5) % 16); };
  const LookupTable table = make_lookup_table(params, f);

  EncryptionGenerator gen(random_seed(), random_seed());
  const std::vector<std::int64_t> inputs = {0, 1, 2, 3, 7, 8, 12, 15};
  std::printf("\n%6s %8s %10s %10s\n", "input", "f(input)", "decrypted", "PBS ms");
  bool all_ok = true;
  for (std::int64_t m : inputs) {
    const LweCiphertext ct = encrypt(client, m, gen);
    t0 = std::chrono::steady_clock::now();
    const LweCiphertext out = keyswitch_bootstrap(server, ct, table);
    const double pbs_ms = ms_since(t0);
    const auto result = decrypt(client, out);
    all_ok = all_ok && static_cast<std::int64_t>(result) == f(static_cast<std::uint64_t>(m));
    std::printf("%6lld %8lld %10llu %10.2f\n", static_cast<long long>(m),
                static_cast<long long>(f(static_cast<std::uint64_t>(m))),
                static_cast<unsigned long long>(result), pbs_ms);
  }

  // A batch of independent bootstraps on every core.
  const std::size_t batch = 64;
  LweCiphertextList in(params.big_lwe_dimension(), batch), out;
  for (std::size_t i = 0; i < batch; ++i)
    encrypt_lwe(client.big_key.as_lwe_key(), static_cast<Torus>(i % 16) << (63 - 4),
                params.glwe_noise, gen, in[i]);
  const LookupTable* tables[] = {&table};
  t0 = std::chrono::steady_clock::now();
  keyswitch_bootstrap_batch(server, in, tables, out);
  const double batch_ms = ms_since(t0);
  std::size_t batch_ok = 0;
  for (std::size_t i = 0; i < batch; ++i)
    batch_ok += static_cast<std::int64_t>(decrypt(client, out[i])) == f(i % 16);
  std::printf("\nbatch of %zu PBS on %zu threads: %.1f ms (%.2f ms per PBS), %zu/%zu correct\n",
              batch, torusml::default_thread_pool().size(), batch_ms, batch_ms / batch, batch_ok,
              batch);
  all_ok = all_ok && batch_ok == batch;
  std::printf("%s\n", all_ok ? "all results correct" : "SOME RESULTS ARE WRONG");
  return all_ok ? 0 : 1;
}
