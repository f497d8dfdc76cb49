#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/bootstrap_detail.h"

#include <algorithm>
#include <sstream>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {
// Per-thread buffers of the bootstrap (reused across calls of the same shape).
struct BootstrapScratch {
  std::vector<std::uint32_t> switched;
  std::vector<Torus> accumulator;
  LweCiphertext small;
  ExternalProductScratch external_product;
  ExternalProductScratch external_product_pair;  // the second input of cmux_rotate_pair
};
BootstrapScratch& bootstrap_scratch() {
  thread_local BootstrapScratch scratch;
  return scratch;
}

void require_table(PolynomialSize key_size, const LookupTable& lut) {
  if (lut.polynomial_size() != key_size) {
    std::ostringstream os;
    os << "bootstrap: the lookup table was built for " << lut.polynomial_size()
       << " but the bootstrapping key has " << key_size
       << "; build the table with the key's parameters";
    throw ParameterMismatch(os.str());
  }
}
void require_table(const FourierBootstrapKey& bsk, const LookupTable& lut) {
  require_table(bsk.shape.ggsw.polynomial_size, lut);
}
}  // namespace

const FourierMultiBitBootstrapKey* detail::multi_bit_key(const ServerKey& key) {
  const bool multi_bit = key.parameters.is_multi_bit();
  if (multi_bit == key.multi_bit_bootstrap_key.has_value())
    return multi_bit ? &*key.multi_bit_bootstrap_key : nullptr;
  std::ostringstream os;
  os << "bootstrap: the server key of " << key.parameters.name << " (grouping factor "
     << key.parameters.grouping_factor.value() << ") "
     << (multi_bit ? "holds no multi-bit bootstrapping key"
                   : "holds a multi-bit bootstrapping key but its parameters are classic")
     << "; generate it with generate_server_key / decompress_server_key";
  throw InvalidArgument(os.str());
}

namespace {
// Ciphertexts per lockstep walk. A walk reads each GGSW from memory once for all its ciphertexts,
// whose accumulators stay in cache meanwhile (16 x 32 KB at N = 2048). Measured against 4 (a batch
// of 32 per thread, one thread, keyswitch included): 4-bit 4.43 -> 3.51 ms per PBS, 6-bit 11.8 ->
// 9.9, 7-bit 60.9 -> 58.9, 8-bit 111 -> 96; XGBClassifier 0.148 -> 0.125 s per sample, the
// digits MLP 1.01 -> 0.91, the digits CNN 1.30 -> 1.10 (both cores). 8 gets most of it, 32 no
// more (2026-11-29, this 2-core Zen 4 machine).
constexpr std::size_t kLockstepGroup = 16;
// How many CMuxes ahead the bootstrapping key is prefetched.
constexpr std::size_t kPrefetchDistance = 1;
}  // namespace

std::size_t detail::lockstep_walk_size(std::size_t count, std::size_t lockstep) {
  lockstep = std::max<std::size_t>(lockstep, 1);
  const std::size_t threads = std::max<std::size_t>(default_thread_pool().size(), 1);
  const std::size_t per_thread = (count + threads - 1) / threads;
  std::size_t walk = per_thread;
  if (per_thread > 2 * lockstep) {
    const std::size_t rounds = (per_thread + lockstep - 1) / lockstep;
    walk = (per_thread + rounds - 1) / rounds;
  }
  return std::max<std::size_t>(walk, 1);
}

void detail::init_accumulator(const LookupTable& lut, std::uint32_t body, const GgswShape& g,
                              std::span<Torus> acc) {
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(k * n), 0);
  polynomial_mul_monomial(acc.subspan(k * n, n), lut.accumulator, (2 * n - body) % (2 * n));
}

void detail::lockstep_keyswitch_blind_rotate(const ServerKey& key, const LweCiphertextList& in,
                                             const PrepareBlindRotation& prepare,
                                             const FinishBlindRotation& finish,
                                             const LweKeyswitchKey* keyswitch_key,
                                             bool small_inputs) {
  if (in.size() == 0) return;
  const std::size_t group = lockstep_walk_size(in.size(), kLockstepGroup);
  const std::size_t groups = (in.size() + group - 1) / group;
  const FourierBootstrapKey& bsk = key.bootstrap_key;
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t n_small = key.parameters.lwe_dimension.value();
  parallel_for(groups, [&](std::size_t gi) {
    const std::size_t begin = gi * group, end = std::min(in.size(), begin + group);
    const std::size_t count = end - begin;
    BootstrapScratch& s = bootstrap_scratch();
    std::vector<std::vector<std::uint32_t>> switched(count,
                                                     std::vector<std::uint32_t>(n_small + 1));
    std::vector<std::vector<Torus>> accs(count, std::vector<Torus>(g.glwe_size()));
    LweCiphertextList small(key.parameters.lwe_dimension, small_inputs ? 0 : count);
    if (!small_inputs)
      keyswitch_range(keyswitch_key ? *keyswitch_key : key.keyswitch_key, in, begin, small);
    for (std::size_t t = 0; t < count; ++t)
      prepare(begin + t, small_inputs ? in[begin + t] : LweView(small[t]), switched[t], accs[t]);
    const FftPlan& plan = fft_plan(g.polynomial_size);
    // The walk's CMuxes by GGSW i go in pairs, which read the key once for two ciphertexts.
    for (std::size_t i = 0; i < n_small; ++i) {
      const double* next =
          i + kPrefetchDistance < n_small ? bsk.ggsw(i + kPrefetchDistance) : nullptr;
      std::size_t pending = count;  // a ciphertext waiting for its pair
      for (std::size_t t = 0; t < count; ++t) {
        if (switched[t][i] == 0) continue;  // the identity
        if (pending == count) {
          pending = t;
          continue;
        }
        cmux_rotate_pair(accs[pending], switched[pending][i], accs[t], switched[t][i], bsk.ggsw(i),
                         g, plan, s.external_product, s.external_product_pair, next);
        next = nullptr;
        pending = count;
      }
      if (pending != count)
        cmux_rotate(accs[pending], bsk.ggsw(i), switched[pending][i], g, plan, s.external_product,
                    next);
    }
    for (std::size_t t = 0; t < count; ++t) finish(begin + t, accs[t]);
  });
}

void blind_rotate(const FourierBootstrapKey& bsk, std::span<const std::uint32_t> switched,
                  const LookupTable& lut, std::span<Torus> acc) {
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t count = bsk.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(switched.size(), count + 1);
  TORUSML_CHECK_EQ(acc.size(), g.glwe_size());
  require_table(bsk, lut);
  // acc = (0, ..., 0, X^(-b) v).
  std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(k * n), 0);
  polynomial_mul_monomial(acc.subspan(k * n, n), lut.accumulator,
                          (2 * n - switched[count]) % (2 * n));
  const FftPlan& plan = fft_plan(g.polynomial_size);
  BootstrapScratch& s = bootstrap_scratch();
  for (std::size_t i = 0; i < count; ++i) {
    if (switched[i] == 0) continue;  // X^0 acc - acc = 0: the CMux is the identity
    // The key is larger than the caches: the next GGSW is fetched while this one is read.
    cmux_rotate(acc, bsk.ggsw(i), switched[i], g, plan, s.external_product,
                i + kPrefetchDistance < count ? bsk.ggsw(i + kPrefetchDistance) : nullptr);
  }
}

void sample_extract(std::span<const Torus> glwe, GlweDimension k, PolynomialSize n,
                    LweMutView out) {
  const std::size_t kk = k.value(), nn = n.value();
  TORUSML_CHECK_EQ(glwe.size(), (kk + 1) * nn);
  require_same_dimension(out.dimension(), LweDimension(kk * nn), "sample_extract output");
  auto mask = out.mask();
  for (std::size_t i = 0; i < kk; ++i) {
    const Torus* a = glwe.data() + i * nn;
    Torus* m = mask.data() + i * nn;
    // Constant coefficient of A_i S_i: a_0 s_0 - sum_{j>=1} a_{N-j} s_j.
    m[0] = a[0];
    for (std::size_t j = 1; j < nn; ++j) m[j] = Torus{0} - a[nn - j];
  }
  out.body() = glwe[kk * nn];
}

void sample_extract(std::span<const Torus> glwe, GlweDimension k, PolynomialSize n,
                    std::size_t coefficient, LweMutView out) {
  const std::size_t kk = k.value(), nn = n.value(), j = coefficient;
  TORUSML_CHECK_EQ(glwe.size(), (kk + 1) * nn);
  TORUSML_CHECK_LT(j, nn);
  require_same_dimension(out.dimension(), LweDimension(kk * nn), "sample_extract output");
  auto mask = out.mask();
  for (std::size_t i = 0; i < kk; ++i) {
    const Torus* a = glwe.data() + i * nn;
    Torus* m = mask.data() + i * nn;
    for (std::size_t t = 0; t <= j; ++t) m[t] = a[j - t];
    for (std::size_t t = j + 1; t < nn; ++t) m[t] = Torus{0} - a[nn + j - t];
  }
  out.body() = glwe[kk * nn + j];
}

void bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
               const LookupTable& lut, LweMutView out) {
  bootstrap(bsk, kind, nullptr, in, lut, out);
}

void bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind,
               const ModulusSwitchNoiseReductionKey* reduction, LweView in, const LookupTable& lut,
               LweMutView out) {
  const GgswShape& g = bsk.shape.ggsw;
  require_same_dimension(in.dimension(), bsk.shape.input_lwe_dimension, "bootstrap input");
  BootstrapScratch& s = bootstrap_scratch();
  s.switched.resize(in.dimension().value() + 1);
  s.accumulator.resize(g.glwe_size());
  modulus_switch(in, g.polynomial_size, kind, reduction, s.switched);
  blind_rotate(bsk, s.switched, lut, s.accumulator);
  sample_extract(s.accumulator, g.glwe_dimension, g.polynomial_size, out);
}

void keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut, LweMutView out) {
  if (const FourierMultiBitBootstrapKey* mb = detail::multi_bit_key(key)) {
    keyswitch_multi_bit_bootstrap(key.keyswitch_key, *mb, key.parameters.modulus_switch, in, lut,
                                  out);
    return;
  }
  BootstrapScratch& s = bootstrap_scratch();
  if (s.small.dimension() != key.parameters.lwe_dimension || s.small.data().empty())
    s.small = LweCiphertext(key.parameters.lwe_dimension);
  keyswitch(key.keyswitch_key, in, s.small);
  bootstrap(key.bootstrap_key, key.parameters.modulus_switch, &key.ms_noise_reduction_key, s.small,
            lut, out);
}

LweCiphertext keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut) {
  LweCiphertext out(key.parameters.big_lwe_dimension());
  keyswitch_bootstrap(key, in, lut, out);
  return out;
}

namespace {

// keyswitch_bootstrap_batch and bootstrap_batch: with small_inputs, `in` is under the small key.
void run_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                         std::span<const LookupTable* const> tables, LweCiphertextList& out,
                         const LweKeyswitchKey* keyswitch_key, bool small_inputs,
                         const char* what) {
  if (tables.size() != 1 && tables.size() != in.size()) {
    std::ostringstream os;
    os << what << ": " << tables.size() << " tables for " << in.size()
       << " ciphertexts; pass one table, or one per ciphertext";
    throw InvalidArgument(os.str());
  }
  const LweDimension big = key.parameters.big_lwe_dimension();
  if (small_inputs) {
    require_same_dimension(in.dimension(), key.parameters.lwe_dimension, "batch input (small key)");
  } else if (keyswitch_key) {
    require_same_dimension(keyswitch_key->shape.output_lwe_dimension, key.parameters.lwe_dimension,
                           "cross keyswitching key output");
    require_same_dimension(in.dimension(), keyswitch_key->shape.input_lwe_dimension,
                           "batch input (cross keyswitch)");
  } else {
    require_same_dimension(in.dimension(), big, "batch input");
  }
  if (out.size() != in.size() || out.dimension() != big) out = LweCiphertextList(big, in.size());
  for (const LookupTable* t : tables) {
    TORUSML_CHECK(t != nullptr, "null lookup table");
    require_table(key.parameters.polynomial_size, *t);
  }
  if (const FourierMultiBitBootstrapKey* mb = detail::multi_bit_key(key)) {
    if (small_inputs)
      multi_bit_bootstrap_batch(*mb, key.parameters.modulus_switch, in, tables, out);
    else
      keyswitch_multi_bit_bootstrap_batch(keyswitch_key ? *keyswitch_key : key.keyswitch_key, *mb,
                                          key.parameters.modulus_switch, in, tables, out);
    return;
  }
  const GgswShape& g = key.bootstrap_key.shape.ggsw;
  const std::size_t n_small = key.parameters.lwe_dimension.value();
  detail::lockstep_keyswitch_blind_rotate(
      key, in,
      [&](std::size_t i, LweView small, std::span<std::uint32_t> switched, std::span<Torus> acc) {
        modulus_switch(small, g.polynomial_size, key.parameters.modulus_switch,
                       &key.ms_noise_reduction_key, switched);
        detail::init_accumulator(*tables[tables.size() == 1 ? 0 : i], switched[n_small], g, acc);
      },
      [&](std::size_t i, std::span<const Torus> acc) {
        sample_extract(acc, g.glwe_dimension, g.polynomial_size, out[i]);
      },
      keyswitch_key, small_inputs);
}

}  // namespace

void keyswitch_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                               std::span<const LookupTable* const> tables, LweCiphertextList& out,
                               const LweKeyswitchKey* keyswitch_key) {
  run_bootstrap_batch(key, in, tables, out, keyswitch_key, false, "keyswitch_bootstrap_batch");
}

void bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                     std::span<const LookupTable* const> tables, LweCiphertextList& out) {
  run_bootstrap_batch(key, in, tables, out, nullptr, true, "bootstrap_batch");
}

}  // namespace torusml::tfhe
