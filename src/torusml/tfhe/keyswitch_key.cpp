#include "torusml/tfhe/keyswitch_key.h"

#include <algorithm>

#include "torusml/common/check.h"
#include "torusml/common/multiversion.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/decomposition.h"

namespace torusml::tfhe {

namespace {
// res -= d * ct over `count` elements: the keyswitch's inner loop (memory bound on the key).
TORUSML_MULTIVERSION
void sub_scaled(Torus* __restrict res, const Torus* __restrict ct, Torus d, std::size_t count) {
  for (std::size_t x = 0; x < count; ++x) res[x] -= d * ct[x];
}
}  // namespace

SeededLweKeyswitchKey generate_seeded_keyswitch_key(const LweSecretKey& input_key,
                                                    const LweSecretKey& output_key,
                                                    DecompositionParameters decomposition,
                                                    const NoiseDistribution& noise,
                                                    const Seed& mask_seed, const Seed& noise_seed) {
  SeededLweKeyswitchKey out;
  out.shape = {input_key.dimension(), output_key.dimension(), decomposition};
  out.mask_seed = mask_seed;
  const std::size_t levels = decomposition.level_count.value();
  const std::size_t beta = decomposition.base_log.value();
  out.bodies.resize(out.shape.ciphertexts());
  parallel_for(
      input_key.dimension().value(),
      [&](std::size_t t) {
        EncryptionGenerator gen(mask_seed, noise_seed, t + 1);
        LweCiphertext ct(output_key.dimension());
        for (std::size_t j = 1; j <= levels; ++j) {
          const Torus plaintext = input_key.bits[t] << (64 - beta * j);
          encrypt_lwe(output_key, plaintext, noise, gen, ct);
          out.bodies[t * levels + (j - 1)] = ct.body();
        }
      },
      16);
  return out;
}

LweKeyswitchKey decompress_keyswitch_key(const SeededLweKeyswitchKey& seeded) {
  LweKeyswitchKey out;
  out.shape = seeded.shape;
  const std::size_t n = seeded.shape.output_lwe_dimension.value();
  const std::size_t levels = seeded.shape.decomposition.level_count.value();
  TORUSML_CHECK_EQ(seeded.bodies.size(), seeded.shape.ciphertexts());
  out.data.resize(seeded.shape.ciphertexts() * (n + 1));
  parallel_for(
      seeded.shape.input_lwe_dimension.value(),
      [&](std::size_t t) {
        Csprng masks(seeded.mask_seed, t + 1);
        for (std::size_t j = 0; j < levels; ++j) {
          Torus* ct = out.data.data() + (t * levels + j) * (n + 1);
          masks.fill_uniform(std::span(ct, n));
          ct[n] = seeded.bodies[t * levels + j];
        }
      },
      16);
  return out;
}

void keyswitch_group(const LweKeyswitchKey& key, std::span<const LweView> in,
                     std::span<const LweMutView> out) {
  TORUSML_CHECK_EQ(in.size(), out.size());
  const std::size_t n = key.shape.output_lwe_dimension.value();
  const std::size_t levels = key.shape.decomposition.level_count.value();
  for (std::size_t g = 0; g < in.size(); ++g) {
    require_same_dimension(in[g].dimension(), key.shape.input_lwe_dimension, "keyswitch input");
    require_same_dimension(out[g].dimension(), key.shape.output_lwe_dimension, "keyswitch output");
    auto res = out[g].data();
    std::fill(res.begin(), res.end(), 0);
    res[n] = in[g].body();
  }
  std::int64_t digits[64];
  const std::size_t input_dim = key.shape.input_lwe_dimension.value();
  for (std::size_t t = 0; t < input_dim; ++t) {
    const Torus* row = key.data.data() + t * levels * (n + 1);
    for (std::size_t g = 0; g < in.size(); ++g) {
      decompose_torus(in[g].mask()[t], key.shape.decomposition, digits);
      for (std::size_t j = 0; j < levels; ++j)
        if (digits[j] != 0)
          sub_scaled(out[g].data().data(), row + j * (n + 1), static_cast<Torus>(digits[j]), n + 1);
    }
  }
}

void keyswitch(const LweKeyswitchKey& key, LweView in, LweMutView out) {
  require_same_dimension(in.dimension(), key.shape.input_lwe_dimension, "keyswitch input");
  require_same_dimension(out.dimension(), key.shape.output_lwe_dimension, "keyswitch output");
  const std::size_t n = key.shape.output_lwe_dimension.value();
  const std::size_t levels = key.shape.decomposition.level_count.value();
  auto res = out.data();
  std::fill(res.begin(), res.end(), 0);
  res[n] = in.body();
  std::int64_t digits[64];
  const auto mask = in.mask();
  for (std::size_t t = 0; t < mask.size(); ++t) {
    decompose_torus(mask[t], key.shape.decomposition, digits);
    for (std::size_t j = 0; j < levels; ++j) {
      if (digits[j] == 0) continue;
      sub_scaled(res.data(), key.data.data() + (t * levels + j) * (n + 1),
                 static_cast<Torus>(digits[j]), n + 1);
    }
  }
}

}  // namespace torusml::tfhe
