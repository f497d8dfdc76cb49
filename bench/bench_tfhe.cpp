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
//   encrypt_packed/<preset>  a client's encryption of N inputs packed in one GLWE (seeded form,
//                       tfhe/packed_lwe.h), one thread; counter ns_per_value (the constants of
//                       circuit::estimate_input_encryption_seconds)
//   encrypt_packed_small/<preset>  the same for 1024 inputs packed under a small key of the
//                       preset's n (rounded down to a multiple of 32) read as a GLWE key of
//                       N = 32, with its noise (small-key inputs, circuit/compile/
//                       small_key_inputs.h): counter ns_per_value
//   ms_noise_reduction/<preset>/<kind>/Z:Z/R:R  the modulus switch noise reduction
//                       (improve_modulus_switch_noise) of one keyswitched ciphertext with Z
//                       encryptions of zero and at most R rounds, one thread, averaged over 64
//                       inputs (counters: scans and applied zeros per ciphertext, ns per window
//                       pair of a scan, and the cost model's estimate: the constants of
//                       estimate_noise_reduction_seconds)
//   ks_pbs_drift/tfhe_4bit/<kind>/Z:Z/R:R  keyswitch + noise reduction + PBS with such keys, one
//                       thread, over 16 inputs
//   many_lut/<preset>/m:M  M lookups of one ciphertext by one many-LUT keyswitch + PBS
//                       (many_lut.h, inputs of bits - log2 M bits) against M separate keyswitch +
//                       PBS of it, interleaved in each iteration, one thread (3- and 4-bit
//                       presets); counters many_lut_ms, separate_ms and their ratio
//   ks_pbs_opt/<b>bit/<ms>, pbs_batch_1t_opt/<b>bit/<ms>  keyswitch + PBS (one, and a batch on one
//                       thread) with the parameters the circuit optimizer chooses for a b-bit
//                       lookup of one PBS output (2-norm 1) at p_error 2^-40, b = 4..8: <ms> cm
//                       with the classic blind rotation and the CenteredMean modulus switch only
//                       (before the noise reduction and the multi-bit sets), best with every
//                       modulus switch and the default grouping factors (what circuits get:
//                       classic or g = 2, the cheaper in a batch by the cost model), g123 with
//                       g = 3 weighed too; the label names the set, its grouping factor and
//                       modulus switch (counter g)
// Counters: bits, n, N, k, l (pbs levels), ks_l, threads, and key sizes in bytes (plain and
// seeded). Benchmarks of one preset are registered together so that its keys are generated once.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/many_lut.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/packed_lwe.h"
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
    k->server = decompress_server_key(compressed);
    k->ksk_bytes = k->server.keyswitch_key.data.size() * sizeof(KeyswitchTorus);
    if (compressed.multi_bit_bootstrap_key) {  // multi-bit sets (grouping_factor > 1)
      k->bsk_seeded_bytes = compressed.multi_bit_bootstrap_key->shape.seeded_key_bytes();
      k->bsk_bytes = compressed.multi_bit_bootstrap_key->shape.key_bytes();
    } else {
      k->bsk_seeded_bytes = compressed.bootstrap_key.bodies.size() * 8 + 32;
      const auto& g = k->server.bootstrap_key.shape.ggsw;
      k->bsk_bytes = p.lwe_dimension.value() * g.torus_elements() * 8;
    }
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
  state.counters["g"] = c(static_cast<double>(p.grouping_factor.value()));
}

// "<name> g=<g> <modulus switch>": what an optimizer-chosen benchmark runs.
std::string describe(const PbsParameters& p) {
  return p.name + " g=" + std::to_string(p.grouping_factor.value()) + " " +
         to_string(p.modulus_switch);
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
  state.SetLabel(describe(*p));
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

void bm_encrypt_packed(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  std::vector<Torus> plaintexts(p->polynomial_size.value());
  for (std::size_t i = 0; i < plaintexts.size(); ++i)
    plaintexts[i] = encode_message(static_cast<std::int64_t>(i & 1), p->message_bits);
  Csprng noise(seed_of(4));
  const torusml::SerialScope serial;
  for (auto _ : state) {
    const SeededPackedLweCiphertextList ct = encrypt_lwe_list_packed_seeded(
        k.client.big_key, plaintexts, p->glwe_noise, seed_of(3), noise);
    benchmark::DoNotOptimize(ct.bodies.data());
  }
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
  state.counters["ns_per_value"] = benchmark::Counter(
      static_cast<double>(plaintexts.size()) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void bm_encrypt_packed_small(benchmark::State& state, const PbsParameters* p) {
  const std::size_t n = p->lwe_dimension.value() / 32 * 32;
  Csprng key_rng(seed_of(5));
  const GlweSecretKey key =
      lwe_key_as_glwe_key(generate_lwe_secret_key(LweDimension(n), key_rng), PolynomialSize(32));
  std::vector<Torus> plaintexts(1024);
  for (std::size_t i = 0; i < plaintexts.size(); ++i)
    plaintexts[i] = encode_message(static_cast<std::int64_t>(i & 1), p->message_bits);
  Csprng noise(seed_of(4));
  const torusml::SerialScope serial;
  for (auto _ : state) {
    const SeededPackedLweCiphertextList ct =
        encrypt_lwe_list_packed_seeded(key, plaintexts, p->lwe_noise, seed_of(3), noise);
    benchmark::DoNotOptimize(ct.bodies.data());
  }
  state.counters["n"] = static_cast<double>(n);
  state.counters["threads"] = 1;
  state.counters["ns_per_value"] = benchmark::Counter(
      static_cast<double>(plaintexts.size()) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The batch of 16 ciphertexts per pool thread (one lockstep walk of keyswitch_bootstrap_batch, as
// in circuits' batches), on all cores or (serial) on one; multi-bit with grouping factor g when
// g > 0.
void bm_batch(benchmark::State& state, const PbsParameters* p, std::size_t g, bool serial,
              MultiBitBatchOptions options, std::size_t per_thread = 16) {
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
  if (!mbsk) state.SetLabel(describe(*p));  // keyswitch_bootstrap_batch: the set's own kind
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

// The preset with a Drift kind: Z zeros, at most R rounds, zeros at the small key's noise.
PbsParameters with_drift(const PbsParameters& p, ModulusSwitchKind kind, std::size_t zeros,
                         std::size_t rounds) {
  PbsParameters q = p;
  q.modulus_switch = kind;
  q.ms_noise_reduction = {zeros, rounds, p.lwe_noise};
  q.name = p.name + "_" + to_string(kind);
  return q;
}

void bm_noise_reduction(benchmark::State& state, const PbsParameters* p, ModulusSwitchKind kind) {
  const auto zeros = static_cast<std::size_t>(state.range(0));
  const auto rounds = static_cast<std::size_t>(state.range(1));
  const std::size_t n = p->lwe_dimension.value();
  // The cost does not depend on the key or the noise: uniform masks and bodies.
  Csprng rng(seed_of(9));
  SeededLweCiphertextList list{p->lwe_dimension, seed_of(10), std::vector<Torus>(zeros)};
  rng.fill_uniform(list.bodies);
  const ModulusSwitchNoiseReductionKey key =
      expand_noise_reduction_key(list, p->polynomial_size, rounds);
  LweCiphertextList inputs(p->lwe_dimension, 64);
  rng.fill_uniform(inputs.data());
  LweCiphertext ct(p->lwe_dimension);
  std::size_t i = 0, scans = 0, applied = 0;
  for (auto _ : state) {
    const LweView in = inputs[i++ % inputs.size()];
    std::copy(in.data().begin(), in.data().end(), ct.data().begin());
    const NoiseReductionOutcome o = improve_modulus_switch_noise(ct, key, kind);
    scans += o.scans;
    applied += o.applied;
    benchmark::DoNotOptimize(ct.data().data());
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["scans"] = static_cast<double>(scans) / iterations;
  state.counters["applied"] = static_cast<double>(applied) / iterations;
  state.counters["n"] = static_cast<double>(n);
  // Seconds per window pair (one zero, one mask element, both signs) if scans dominate.
  state.counters["s_per_window"] =
      benchmark::Counter(static_cast<double>(scans) * static_cast<double>(zeros * n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["model_s"] = estimate_noise_reduction_seconds(with_drift(*p, kind, zeros, rounds));
}

void bm_ks_pbs_drift(benchmark::State& state, const PbsParameters* base, ModulusSwitchKind kind) {
  static std::map<std::string, std::unique_ptr<PbsParameters>> sets;
  const auto zeros = static_cast<std::size_t>(state.range(0));
  const auto rounds = static_cast<std::size_t>(state.range(1));
  const PbsParameters q = with_drift(*base, kind, zeros, rounds);
  auto& slot = sets[q.name + std::to_string(zeros) + "/" + std::to_string(rounds)];
  if (!slot) slot = std::make_unique<PbsParameters>(q);
  const PbsParameters* p = slot.get();
  const BenchKeys& k = keys_for(*p);
  const LookupTable table = make_identity_table(*p);
  std::vector<LweCiphertext> inputs;
  for (std::int64_t m = 0; m < 16; ++m) {
    EncryptionGenerator gen(seed_of(3), seed_of(4), static_cast<std::uint64_t>(m) + 1);
    inputs.push_back(encrypt(k.client, m % (std::int64_t{1} << p->message_bits), gen));
  }
  LweCiphertext out(p->big_lwe_dimension());
  std::size_t i = 0;
  bool ok = true;
  for (auto _ : state) {
    const std::size_t t = i++ % inputs.size();
    keyswitch_bootstrap(k.server, inputs[t], table, out);
    benchmark::DoNotOptimize(out.data().data());
    ok = ok && decrypt(k.client, out) == t % (std::size_t{1} << p->message_bits);
  }
  if (!ok) state.SkipWithError("wrong PBS result");
  set_counters(state, *p, k);
  state.counters["threads"] = 1;
  state.counters["zeros_seeded_bytes"] = static_cast<double>(zeros * 8 + 32);
  state.counters["zeros_expanded_bytes"] =
      static_cast<double>(k.server.ms_noise_reduction_key.windows.size() * 2 + zeros * 8 + 32);
}

// M lookups of one ciphertext: one many-LUT KS-PBS against M KS-PBS, both timed in every
// iteration (steady clock), so that their ratio comes from the same run.
void bm_many_lut(benchmark::State& state, const PbsParameters* p) {
  const BenchKeys& k = keys_for(*p);
  const auto m = static_cast<std::size_t>(state.range(0));
  std::size_t theta = 0;
  while ((std::size_t{1} << theta) < m) ++theta;
  const unsigned bits = p->message_bits - static_cast<unsigned>(theta);
  std::vector<std::function<std::int64_t(std::uint64_t)>> fs;
  std::vector<LookupTable> separate;
  for (std::size_t j = 0; j < m; ++j) {
    fs.push_back([j](std::uint64_t v) { return static_cast<std::int64_t>(v + j); });
    separate.push_back(make_lookup_table(*p, fs.back()));
  }
  const ManyLookupTable packed = make_many_lookup_table(*p, fs);
  // The bits-bit message 1, i.e. the p-bit message 2^theta.
  const LweCiphertext in = fresh_input(k, std::int64_t{1} << theta);
  std::vector<LweCiphertext> outs(m, LweCiphertext(p->big_lwe_dimension()));
  std::vector<LweMutView> views(outs.begin(), outs.end());
  LweCiphertext single(p->big_lwe_dimension());
  double fused_seconds = 0, separate_seconds = 0;
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    keyswitch_many_lut_bootstrap(k.server, in, packed, views);
    const auto t1 = Clock::now();
    for (const LookupTable& t : separate) {
      keyswitch_bootstrap(k.server, in, t, single);
      benchmark::DoNotOptimize(single.data().data());
    }
    const auto t2 = Clock::now();
    fused_seconds += std::chrono::duration<double>(t1 - t0).count();
    separate_seconds += std::chrono::duration<double>(t2 - t1).count();
  }
  for (std::size_t j = 0; j < m; ++j)
    if (decrypt(k.client, outs[j]) != 1 + j) state.SkipWithError("wrong many-LUT result");
  if (decrypt(k.client, single) != (std::uint64_t{1} << theta) + m - 1)
    state.SkipWithError("wrong PBS result");
  set_counters(state, *p, k);
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["threads"] = 1;
  state.counters["m"] = static_cast<double>(m);
  state.counters["input_bits"] = bits;
  state.counters["many_lut_ms"] = fused_seconds / iterations * 1e3;
  state.counters["separate_ms"] = separate_seconds / iterations * 1e3;
  state.counters["ratio"] = fused_seconds / separate_seconds;
}

}  // namespace

int main(int argc, char** argv) {
  // The optimizer's choices per precision, before (CenteredMean only) and after (every modulus
  // switch candidate); addresses stable for the registered benchmarks.
  static std::vector<PbsParameters> optimized;
  optimized.reserve(15);
  for (unsigned bits = 4; bits <= 8; ++bits) {
    for (const char* variant : {"cm", "best", "g123"}) {
      torusml::circuit::OptimizerOptions o;
      if (variant == std::string("cm")) {
        o.modulus_switch_candidates = {{ModulusSwitchKind::CenteredMean, 0, 0}};
        o.grouping_factors = {1};
      } else if (variant == std::string("g123")) {
        o.grouping_factors = {1, 2, 3};
      }
      const torusml::circuit::PbsRequirement req{bits, 1.0, 0.0, 1};
      optimized.push_back(
          torusml::circuit::optimize_pbs_parameters(std::span(&req, 1), {}, o).parameters);
      const std::string name = std::to_string(bits) + "bit/" + variant;
      benchmark::RegisterBenchmark(("ks_pbs_opt/" + name).c_str(), bm_ks_pbs, &optimized.back())
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("pbs_batch_1t_opt/" + name).c_str(), bm_pbs_batch,
                                   &optimized.back(), true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
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
    benchmark::RegisterBenchmark(("encrypt_packed/" + p.name).c_str(), bm_encrypt_packed, &p)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("encrypt_packed_small/" + p.name).c_str(),
                                 bm_encrypt_packed_small, &p)
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
    if (p.message_bits >= 4 && p.message_bits <= 6) {
      for (const auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
        auto* b = benchmark::RegisterBenchmark(
                      ("ms_noise_reduction/" + p.name + "/" + to_string(kind)).c_str(),
                      bm_noise_reduction, &p, kind)
                      ->ArgNames({"Z", "R"})
                      ->Unit(benchmark::kMicrosecond);
        for (const std::int64_t zeros : {64, 256, 1024, 4096})
          for (const std::int64_t rounds : {1, 2}) b->Args({zeros, rounds});
      }
    }
    if (p.message_bits == 4) {
      for (const auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean})
        benchmark::RegisterBenchmark(("ks_pbs_drift/" + p.name + "/" + to_string(kind)).c_str(),
                                     bm_ks_pbs_drift, &p, kind)
            ->ArgNames({"Z", "R"})
            ->Args({256, 2})
            ->Args({1024, 2})
            ->Unit(benchmark::kMillisecond);
    }
    if (p.message_bits == 3 || p.message_bits == 4)
      benchmark::RegisterBenchmark(("many_lut/" + p.name).c_str(), bm_many_lut, &p)
          ->ArgNames({"m"})
          ->Arg(2)
          ->Arg(4)
          ->Unit(benchmark::kMillisecond);
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
