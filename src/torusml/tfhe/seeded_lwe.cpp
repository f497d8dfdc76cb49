#include "torusml/tfhe/seeded_lwe.h"

#include "torusml/common/check.h"
#include "torusml/common/thread_pool.h"

namespace torusml::tfhe {

SeededLweCiphertextList encrypt_lwe_list_seeded(const LweSecretKey& key,
                                                std::span<const Torus> plaintexts,
                                                const NoiseDistribution& noise,
                                                const Seed& mask_seed, Csprng& noise_rng) {
  SeededLweCiphertextList out{key.dimension(), mask_seed, std::vector<Torus>(plaintexts.size())};
  std::vector<Torus> mask(key.dimension().value());
  for (std::size_t i = 0; i < plaintexts.size(); ++i) {
    Csprng masks(mask_seed, i + 1);
    masks.fill_uniform(mask);
    out.bodies[i] = lwe_dot_key(mask, key) + plaintexts[i] + noise_rng.sample_noise(noise);
  }
  return out;
}

LweCiphertextList decompress_lwe_list(const SeededLweCiphertextList& seeded) {
  return decompress_lwe_list(seeded, 0, seeded.size());
}

LweCiphertextList decompress_lwe_list(const SeededLweCiphertextList& seeded, std::size_t first,
                                      std::size_t count) {
  TORUSML_CHECK_LE(first, seeded.size());
  TORUSML_CHECK_LE(count, seeded.size() - first);
  LweCiphertextList out(seeded.dimension, count);
  parallel_for(
      count,
      [&](std::size_t i) {
        LweMutView ct = out[i];
        Csprng masks(seeded.mask_seed, first + i + 1);
        masks.fill_uniform(ct.mask());
        ct.body() = seeded.bodies[first + i];
      },
      8);
  return out;
}

}  // namespace torusml::tfhe
