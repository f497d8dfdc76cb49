// Benchmarks of the TFHE engine, per preset:
//   pbs/<preset>        one PBS (modulus switch + blind rotation + sample extraction), one thread
//   pbs_multibit/<preset>/g<g>  the same with the multi-bit blind rotation of grouping factor g
//                       (4- and 6-bit presets; same n, N, k, l), one thread, and
//   pbs_multibit_mt/<preset>/g<g>  the same split over two threads (multi_bit_bootstrap.h)
//   ks_pbs/<preset>     keyswitch + PBS, one thread
//   keyswitch/<preset>  keyswitch alone, one thread
//   pbs_batch/<preset>  keyswitch + PBS of a batch on every core (throughput), and
//   pbs_batch_1t/<preset>  the same batch on one thread
//   pbs_multibit_batch/<preset>/g<g>, pbs_multibit_batch_1t/<preset>/g<g>  the same batches with
//                       keyswitch_multi_bit_bootstrap_batch (4- and 6-bit presets)
//   pbs_multibit_tune/<preset>/g<g>/tile_kb:T/lockstep:L  one-thread batch at other tile sizes and
//                       lockstep widths (MultiBitBatchOptions), to choose the defaults (a batch
//                       of max(L, 4) per pool thread)
//   keygen/<preset>     client key + seeded server key + expansion to the Fourier domain
//   encrypt/<preset>    a client's encryption of one input (an LWE ciphertext under the big key),
//                       one thread (the constant of circuit::estimate_encryption_seconds)
// Counters: bits, n, N, k, l (pbs levels), ks_l, threads, and key sizes in bytes (plain and
// seeded). Benchmarks of one preset are registered together so that its keys are generated once.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/presets.h"

using namespace torusml::tfhe;

namespace {

struct BenchKeys {
  ClientKey client;
  ServerKey server;
  std::size_t ksk_bytes = 0, ksk_seeded_bytes = 0, bsk_bytes = 0, bsk_seeded_bytes = 0;
};

Seed seed_of(std::uint8_t v) {
  Seed s{};
  s.fill(v);
  return s;
}

// One key set at a time (the 8-bit keys take gigabytes).
const BenchKeys& keys_for(const PbsParameters& p) {
  static std::uint64_t fingerprint = 0;
  static std::unique_ptr<BenchKeys> keys;
  if (!keys || fingerprint != p.fingerprint()) {
    keys.reset();
    auto k = std::make_unique<BenchKeys>();
    k->client = generate_client_key(p, seed_of(1));
    const CompressedServerKey compressed = generate_compressed_server_key(k->client, seed_of(2));
    k->ksk_seeded_bytes = compressed.keyswitch_key.bodies.size() * sizeof(KeyswitchTorus) + 32;
    k->bsk_seeded_bytes = compressed.bootstrap_key.bodies.size() * 8 + 32;
    k->server = decompress_server_key(compressed);
    k->ksk_bytes = k->server.keyswitch_key.data.size() * sizeof(KeyswitchTorus);
    const auto& g = k->server.bootstrap_key.shape.ggsw;
    k->bsk_bytes = p.lwe_dimension.value() * g.torus_elements() * 8;
    keys = std::move(k);
    fingerprint = p.fingerprint();
  }
  return *keys;
}

void set_counters(benchmark::State& state, const PbsParameters& p, const BenchKeys& k) {
  auto c = [](double v) { return benchmark::Counter(v); };
  state.counters["bits"] = c(p.message_bits);
  state.counters["n"] = c(static_cast<double>(p.lwe_dimension.value()));
  state.counters["N"] = c(static_cast<double>(p.polynomial_size.value()));
  state.counters["k"] = c(static_cast<double>(p.glwe_dimension.value()));
  state.counters["l"] = c(static_cast<double>(p.pbs.level_count.value()));
  state.counters["ks_l"] = c(static_cast<double>(p.ks.level_count.value()));
  state.counters["bsk_bytes"] = c(static_cast<double>(k.bsk_bytes));
  state.counters["bsk_seeded_bytes"] = c(static_cast<double>(k.bsk_seeded_bytes));
  state.counters["ksk_bytes"] = c(static_cast<double>(k.ksk_bytes));
  state.counters["ksk_seeded_bytes"] = c(static_cast<double>(k.ksk_seeded_bytes));
}

LweCiphertext fresh_input(const BenchKeys& k, std::int64_t m) {
  EncryptionGenerator gen(seed_of(3), seed_of(4));
  return encrypt(k.client, m, gen);
}

void bm_pbs(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  const LookupTable table = make_identity_table(*p);
  LweCiphertext small(p->lwe_dimension), out(p->big_lwe_dimension());
  keyswitch(k.server.keyswitch_key, fresh_input(k, 1), small);
  for (auto _ : state) {
    bootstrap(k.server.bootstrap_key, p->modulus_switch, small, table, out);
    benchmark::DoNotOptimize(out.data().data());
  }
  if (decrypt(k.client, out) != 1) state.SkipWithError("wrong PBS result");
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
}

// One multi-bit key at a time, for the client key of keys_for(p).
const FourierMultiBitBootstrapKey& multi_bit_key_for(const PbsParameters& p, std::size_t g) {
  static std::uint64_t fingerprint = 0;
  static std::size_t grouping = 0;
  static std::unique_ptr<FourierMultiBitBootstrapKey> key;
  if (!key || fingerprint != p.fingerprint() || grouping != g) {
    key.reset();
    const BenchKeys& k = keys_for(p);
    key = std::make_unique<FourierMultiBitBootstrapKey>(convert_multi_bit_bootstrap_key_to_fourier(
        decompress_multi_bit_bootstrap_key(generate_seeded_multi_bit_bootstrap_key(
            k.client.small_key, k.client.big_key, GroupingFactor(g), p.pbs, p.glwe_noise,
            seed_of(7), seed_of(8)))));
    fingerprint = p.fingerprint();
    grouping = g;
  }
  return *key;
}

void bm_pbs_multi_bit(benchmark::State& state, const PbsParameters* p, std::size_t g,
                      std::size_t threads) {
  const BenchKeys& k = keys_for(*p);
  const FourierMultiBitBootstrapKey& bsk = multi_bit_key_for(*p, g);
  const LookupTable table = make_identity_table(*p);
  LweCiphertext small(p->lwe_dimension), out(p->big_lwe_dimension());
  keyswitch(k.server.keyswitch_key, fresh_input(k, 1), small);
  for (auto _ : state) {
    multi_bit_bootstrap(bsk, p->modulus_switch, small, table, out, threads);
    benchmark::DoNotOptimize(out.data().data());
  }
  if (decrypt(k.client, out) != 1) state.SkipWithError("wrong PBS result");
  set_counters(state, *p, k);
  state.counters["g"] = static_cast<double>(g);
  state.counters["bsk_bytes"] = static_cast<double>(bsk.shape.key_bytes());
  state.counters["bsk_seeded_bytes"] = static_cast<double>(bsk.shape.seeded_key_bytes());
  state.counters["threads"] = static_cast<double>(threads);
}

void bm_ks_pbs(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  const LookupTable table = make_identity_table(*p);
  const LweCiphertext in = fresh_input(k, 1);
  LweCiphertext out(p->big_lwe_dimension());
  for (auto _ : state) {
    keyswitch_bootstrap(k.server, in, table, out);
    benchmark::DoNotOptimize(out.data().data());
  }
  if (decrypt(k.client, out) != 1) state.SkipWithError("wrong PBS result");
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
}

void bm_keyswitch(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  const LweCiphertext in = fresh_input(k, 1);
  LweCiphertext small(p->lwe_dimension);
  for (auto _ : state) {
    keyswitch(k.server.keyswitch_key, in, small);
    benchmark::DoNotOptimize(small.data().data());
  }
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
}

void bm_encrypt(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  EncryptionGenerator gen(seed_of(3), seed_of(4));
  std::int64_t m = 0;
  for (auto _ : state) {
    LweCiphertext ct = encrypt(k.client, m, gen);
    benchmark::DoNotOptimize(ct.data().data());
    m = (m + 1) & 1;
  }
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
}

// The batch of 4 ciphertexts per pool thread, on all cores or (serial) on one; multi-bit with
// grouping factor g when g > 0.
void bm_batch(benchmark::State& state, const PbsParameters* p, std::size_t g, bool serial,
              MultiBitBatchOptions options, std::size_t per_thread = 4) {
  const BenchKeys& k = keys_for(*p);
  const FourierMultiBitBootstrapKey* mbsk = g > 0 ? &multi_bit_key_for(*p, g) : nullptr;
  const LookupTable table = make_identity_table(*p);
  const std::size_t threads = serial ? 1 : torusml::default_thread_pool().size();
  const std::size_t batch = per_thread * torusml::default_thread_pool().size();
  LweCiphertextList in(p->big_lwe_dimension(), batch), out;
  const LweCiphertext one = fresh_input(k, 1);
  for (std::size_t i = 0; i < batch; ++i)
    std::copy(one.data().begin(), one.data().end(), in[i].data().begin());
  const LookupTable* tables[] = {&table};
  std::optional<torusml::SerialScope> scope;
  if (serial) scope.emplace();
  for (auto _ : state) {
    if (mbsk)
      keyswitch_multi_bit_bootstrap_batch(k.server.keyswitch_key, *mbsk, p->modulus_switch, in,
                                          tables, out, options);
    else
      keyswitch_bootstrap_batch(k.server, in, tables, out);
    benchmark::DoNotOptimize(out.data().data());
  }
  scope.reset();
  if (decrypt(k.client, out[batch - 1]) != 1) state.SkipWithError("wrong PBS result");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  set_counters(state, *p, k);
  if (mbsk) {
    state.counters["g"] = static_cast<double>(g);
    state.counters["bsk_bytes"] = static_cast<double>(mbsk->shape.key_bytes());
    state.counters["bsk_seeded_bytes"] = static_cast<double>(mbsk->shape.seeded_key_bytes());
  }
  state.counters["threads"] = static_cast<double>(threads);
  state.counters["batch"] = static_cast<double>(batch);
  state.counters["ms_per_pbs"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_pbs_batch(benchmark::State& state, const PbsParameters* p, bool serial) {
  bm_batch(state, p, 0, serial, {});
}

void bm_multi_bit_batch(benchmark::State& state, const PbsParameters* p, std::size_t g,
                        bool serial) {
  bm_batch(state, p, g, serial, {});
}

void bm_multi_bit_tune(benchmark::State& state, const PbsParameters* p, std::size_t g) {
  MultiBitBatchOptions options;
  options.tile_bytes = static_cast<std::size_t>(state.range(0)) << 10;
  options.lockstep = static_cast<std::size_t>(state.range(1));
  bm_batch(state, p, g, true, options, std::max<std::size_t>(options.lockstep, 4));
}

void bm_keygen(benchmark::State& state, const PbsParameters* p) {
  for (auto _ : state) {
    const ClientKey client = generate_client_key(*p, seed_of(5));
    const ServerKey server = generate_server_key(client, seed_of(6));
    benchmark::DoNotOptimize(server.bootstrap_key.data.data());
  }
  state.counters["threads"] = static_cast<double>(torusml::default_thread_pool().size());
}

}  // namespace

int main(int argc, char** argv) {
  for (const PbsParameters& p : all_presets()) {
    const bool large = p.polynomial_size.value() > 8192;
    benchmark::RegisterBenchmark(("pbs/" + p.name).c_str(), bm_pbs, &p)
        ->Unit(benchmark::kMillisecond);
    if (p.message_bits == 4 || p.message_bits == 6) {
      for (std::size_t g = 2; g <= 4; ++g) {
        const std::string suffix = p.name + "/g" + std::to_string(g);
        benchmark::RegisterBenchmark(("pbs_multibit/" + suffix).c_str(), bm_pbs_multi_bit, &p, g,
                                     std::size_t{1})
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("pbs_multibit_mt/" + suffix).c_str(), bm_pbs_multi_bit, &p, g,
                                     std::size_t{2})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    benchmark::RegisterBenchmark(("ks_pbs/" + p.name).c_str(), bm_ks_pbs, &p)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("keyswitch/" + p.name).c_str(), bm_keyswitch, &p)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("encrypt/" + p.name).c_str(), bm_encrypt, &p)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("pbs_batch/" + p.name).c_str(), bm_pbs_batch, &p, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (p.message_bits == 4 || p.message_bits == 6) {
      benchmark::RegisterBenchmark(("pbs_batch_1t/" + p.name).c_str(), bm_pbs_batch, &p, true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      for (std::size_t g = 2; g <= 4; ++g) {
        const std::string suffix = p.name + "/g" + std::to_string(g);
        for (const bool serial : {false, true})
          benchmark::RegisterBenchmark(
              ((serial ? "pbs_multibit_batch_1t/" : "pbs_multibit_batch/") + suffix).c_str(),
              bm_multi_bit_batch, &p, g, serial)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        auto* tune = benchmark::RegisterBenchmark(("pbs_multibit_tune/" + suffix).c_str(),
                                                  bm_multi_bit_tune, &p, g)
                         ->ArgNames({"tile_kb", "lockstep"})
                         ->Unit(benchmark::kMillisecond)
                         ->UseRealTime();
        for (const std::int64_t tile_kb : {8, 32, 64, 256, 1024, 1 << 20}) tune->Args({tile_kb, 4});
        for (const std::int64_t lockstep : {1, 2, 8}) tune->Args({64, lockstep});
      }
    }
    auto* kg = benchmark::RegisterBenchmark(("keygen/" + p.name).c_str(), bm_keygen, &p)
                   ->Unit(benchmark::kMillisecond)
                   ->UseRealTime();
    if (large) kg->Iterations(1);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
