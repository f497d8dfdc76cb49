#include "torusml/tfhe/bootstrap_key.h"

#include <algorithm>

#include "torusml/common/check.h"
#include "torusml/common/progress.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/fft.h"

namespace torusml::tfhe {

namespace {
// Copies the body polynomial of every row of a full GGSW into `bodies`, or back.
void split_bodies(const GgswShape& g, std::span<const Torus> full, std::span<Torus> bodies) {
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  for (std::size_t r = 0; r < g.rows(); ++r)
    std::copy_n(full.data() + r * g.glwe_size() + k * n, n, bodies.data() + r * n);
}
}  // namespace

SeededLweBootstrapKey generate_seeded_bootstrap_key(const LweSecretKey& small_key,
                                                    const GlweSecretKey& big_key,
                                                    DecompositionParameters decomposition,
                                                    const NoiseDistribution& noise,
                                                    const Seed& mask_seed, const Seed& noise_seed) {
  SeededLweBootstrapKey out;
  out.shape = {small_key.dimension(),
               GgswShape{big_key.glwe_dimension, big_key.polynomial_size, decomposition}};
  out.mask_seed = mask_seed;
  const GgswShape& g = out.shape.ggsw;
  const std::size_t per_ggsw_bodies = g.rows() * g.polynomial_size.value();
  out.bodies.resize(small_key.dimension().value() * per_ggsw_bodies);
  const ProgressTask progress(small_key.dimension().value());
  parallel_for(small_key.dimension().value(), [&](std::size_t i) {
    std::vector<Torus> full(g.torus_elements());
    EncryptionGenerator gen(mask_seed, noise_seed, i + 1);
    encrypt_ggsw(big_key, static_cast<std::int64_t>(small_key.bits[i]), g, noise, gen, full);
    split_bodies(g, full, std::span(out.bodies).subspan(i * per_ggsw_bodies, per_ggsw_bodies));
    progress.advance();
  });
  return out;
}

LweBootstrapKey decompress_bootstrap_key(const SeededLweBootstrapKey& seeded) {
  LweBootstrapKey out;
  out.shape = seeded.shape;
  const GgswShape& g = seeded.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t count = seeded.shape.input_lwe_dimension.value();
  const std::size_t per_ggsw_bodies = g.rows() * n;
  TORUSML_CHECK_EQ(seeded.bodies.size(), count * per_ggsw_bodies);
  out.data.resize(count * g.torus_elements());
  parallel_for(count, [&](std::size_t i) {
    Csprng masks(seeded.mask_seed, i + 1);
    Torus* ggsw = out.data.data() + i * g.torus_elements();
    for (std::size_t r = 0; r < g.rows(); ++r) {
      Torus* row = ggsw + r * g.glwe_size();
      masks.fill_uniform(std::span(row, k * n));
      std::copy_n(seeded.bodies.data() + i * per_ggsw_bodies + r * n, n, row + k * n);
    }
  });
  return out;
}

FourierBootstrapKey convert_bootstrap_key_to_fourier(const LweBootstrapKey& key) {
  FourierBootstrapKey out;
  out.shape = key.shape;
  const GgswShape& g = key.shape.ggsw;
  const std::size_t count = key.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(key.data.size(), count * g.torus_elements());
  out.data.resize(count * g.fourier_doubles());
  const FftPlan& plan = fft_plan(g.polynomial_size);
  const ProgressTask progress(count);
  parallel_for(count, [&](std::size_t i) {
    convert_ggsw_to_fourier(std::span(key.data).subspan(i * g.torus_elements(), g.torus_elements()),
                            g, plan, out.data.data() + i * g.fourier_doubles());
    progress.advance();
  });
  return out;
}

}  // namespace torusml::tfhe
