#include "torusml/tfhe/multi_bit_bootstrap_key.h"

#include <algorithm>
#include <sstream>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/progress.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/fft.h"

namespace torusml::tfhe {

std::size_t MultiBitBootstrapKeyShape::groups() const {
  const std::size_t g = grouping_factor.value();
  return (input_lwe_dimension.value() + g - 1) / g;
}

std::size_t MultiBitBootstrapKeyShape::group_size(std::size_t group) const {
  const std::size_t g = grouping_factor.value();
  return std::min(g, input_lwe_dimension.value() - group * g);
}

std::size_t MultiBitBootstrapKeyShape::first_ggsw(std::size_t group) const {
  return group * ((std::size_t{1} << grouping_factor.value()) - 1);
}

std::size_t MultiBitBootstrapKeyShape::ggsw_count() const {
  const std::size_t last = groups() - 1;
  return first_ggsw(last) + (std::size_t{1} << group_size(last)) - 1;
}

std::size_t MultiBitBootstrapKeyShape::key_bytes() const {
  return ggsw_count() * ggsw.torus_elements() * sizeof(Torus);
}

std::size_t MultiBitBootstrapKeyShape::seeded_key_bytes() const {
  return ggsw_count() * ggsw.rows() * ggsw.polynomial_size.value() * sizeof(Torus) + sizeof(Seed);
}

MultiBitBootstrapKeyShape make_multi_bit_bootstrap_key_shape(LweDimension n, GroupingFactor g,
                                                             const GgswShape& ggsw) {
  if (g.value() < kMinGroupingFactor || g.value() > kMaxGroupingFactor) {
    std::ostringstream os;
    os << "multi-bit bootstrapping key: " << g << " is not supported; use " << kMinGroupingFactor
       << " to " << kMaxGroupingFactor;
    throw InvalidArgument(os.str());
  }
  if (n.value() == 0) throw InvalidArgument("multi-bit bootstrapping key: empty small key");
  return MultiBitBootstrapKeyShape{n, g, ggsw};
}

std::int64_t multi_bit_subset_indicator(const LweSecretKey& small_key,
                                        const MultiBitBootstrapKeyShape& shape, std::size_t group,
                                        std::size_t subset) {
  const std::size_t size = shape.group_size(group);
  const std::size_t start = group * shape.grouping_factor.value();
  TORUSML_CHECK(subset >= 1 && subset < (std::size_t{1} << size), "subset " << subset);
  TORUSML_CHECK_LE(start + size, small_key.bits.size());
  std::int64_t indicator = 1;
  for (std::size_t t = 0; t < size; ++t) {
    const Torus bit = small_key.bits[start + t];
    TORUSML_CHECK_LE(bit, Torus{1});
    const bool in_subset = (subset >> t) & 1;
    indicator *= in_subset ? static_cast<std::int64_t>(bit) : 1 - static_cast<std::int64_t>(bit);
  }
  return indicator;
}

namespace {

// Calls fn(j, group, subset) for every GGSW j of the key, in parallel.
template <class Fn>
void for_each_ggsw(const MultiBitBootstrapKeyShape& shape, Fn&& fn) {
  const std::size_t groups = shape.groups();
  const ProgressTask progress(groups);
  parallel_for(groups, [&](std::size_t group) {
    const std::size_t subsets = (std::size_t{1} << shape.group_size(group)) - 1;
    for (std::size_t s = 1; s <= subsets; ++s) fn(shape.first_ggsw(group) + s - 1, group, s);
    progress.advance();
  });
}

MultiBitBootstrapKeyShape shape_for(const LweSecretKey& small_key, const GlweSecretKey& big_key,
                                    GroupingFactor grouping_factor,
                                    DecompositionParameters decomposition) {
  return make_multi_bit_bootstrap_key_shape(
      small_key.dimension(), grouping_factor,
      GgswShape{big_key.glwe_dimension, big_key.polynomial_size, decomposition});
}

// Encrypts GGSW j (subset `subset` of `group`) into `full`.
void encrypt_subset_ggsw(const LweSecretKey& small_key, const GlweSecretKey& big_key,
                         const MultiBitBootstrapKeyShape& shape, const NoiseDistribution& noise,
                         const Seed& mask_seed, const Seed& noise_seed, std::size_t j,
                         std::size_t group, std::size_t subset, std::span<Torus> full) {
  EncryptionGenerator gen(mask_seed, noise_seed, kMultiBitStreamBase + j + 1);
  encrypt_ggsw(big_key, multi_bit_subset_indicator(small_key, shape, group, subset), shape.ggsw,
               noise, gen, full);
}

}  // namespace

SeededLweMultiBitBootstrapKey generate_seeded_multi_bit_bootstrap_key(
    const LweSecretKey& small_key, const GlweSecretKey& big_key, GroupingFactor grouping_factor,
    DecompositionParameters decomposition, const NoiseDistribution& noise, const Seed& mask_seed,
    const Seed& noise_seed) {
  SeededLweMultiBitBootstrapKey out;
  out.shape = shape_for(small_key, big_key, grouping_factor, decomposition);
  out.mask_seed = mask_seed;
  const GgswShape& g = out.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t per_ggsw_bodies = g.rows() * n;
  out.bodies.resize(out.shape.ggsw_count() * per_ggsw_bodies);
  for_each_ggsw(out.shape, [&](std::size_t j, std::size_t group, std::size_t subset) {
    std::vector<Torus> full(g.torus_elements());
    encrypt_subset_ggsw(small_key, big_key, out.shape, noise, mask_seed, noise_seed, j, group,
                        subset, full);
    for (std::size_t r = 0; r < g.rows(); ++r)
      std::copy_n(full.data() + r * g.glwe_size() + k * n, n,
                  out.bodies.data() + j * per_ggsw_bodies + r * n);
  });
  return out;
}

LweMultiBitBootstrapKey generate_multi_bit_bootstrap_key(
    const LweSecretKey& small_key, const GlweSecretKey& big_key, GroupingFactor grouping_factor,
    DecompositionParameters decomposition, const NoiseDistribution& noise, const Seed& mask_seed,
    const Seed& noise_seed) {
  LweMultiBitBootstrapKey out;
  out.shape = shape_for(small_key, big_key, grouping_factor, decomposition);
  const std::size_t per_ggsw = out.shape.ggsw.torus_elements();
  out.data.resize(out.shape.ggsw_count() * per_ggsw);
  for_each_ggsw(out.shape, [&](std::size_t j, std::size_t group, std::size_t subset) {
    encrypt_subset_ggsw(small_key, big_key, out.shape, noise, mask_seed, noise_seed, j, group,
                        subset, std::span(out.data).subspan(j * per_ggsw, per_ggsw));
  });
  return out;
}

LweMultiBitBootstrapKey decompress_multi_bit_bootstrap_key(
    const SeededLweMultiBitBootstrapKey& seeded) {
  LweMultiBitBootstrapKey out;
  out.shape = make_multi_bit_bootstrap_key_shape(seeded.shape.input_lwe_dimension,
                                                 seeded.shape.grouping_factor, seeded.shape.ggsw);
  const GgswShape& g = out.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t count = out.shape.ggsw_count();
  const std::size_t per_ggsw_bodies = g.rows() * n;
  if (seeded.bodies.size() != count * per_ggsw_bodies) {
    std::ostringstream os;
    os << "seeded multi-bit bootstrapping key: " << seeded.bodies.size() << " body values, "
       << count * per_ggsw_bodies << " expected for its shape";
    throw InvalidArgument(os.str());
  }
  out.data.resize(count * g.torus_elements());
  parallel_for(count, [&](std::size_t j) {
    // The same stream as encrypt_glwe's masks in generation: the rows' masks, in order.
    Csprng masks(seeded.mask_seed, kMultiBitStreamBase + j + 1);
    Torus* ggsw = out.data.data() + j * g.torus_elements();
    for (std::size_t r = 0; r < g.rows(); ++r) {
      Torus* row = ggsw + r * g.glwe_size();
      masks.fill_uniform(std::span(row, k * n));
      std::copy_n(seeded.bodies.data() + j * per_ggsw_bodies + r * n, n, row + k * n);
    }
  });
  return out;
}

FourierMultiBitBootstrapKey convert_multi_bit_bootstrap_key_to_fourier(
    const LweMultiBitBootstrapKey& key) {
  FourierMultiBitBootstrapKey out;
  out.shape = key.shape;
  const GgswShape& g = key.shape.ggsw;
  const std::size_t n = g.polynomial_size.value(), m = n / 2;
  const std::size_t polys = g.rows() * (g.glwe_dimension.value() + 1);
  TORUSML_CHECK_EQ(key.data.size(), key.shape.ggsw_count() * g.torus_elements());
  TORUSML_CHECK_EQ(m % kPackedChunk, std::size_t{0});
  out.data.resize(key.shape.ggsw_count() * g.fourier_doubles());
  const FftPlan& plan = fft_plan(g.polynomial_size);
  const ProgressTask progress(key.shape.groups());
  parallel_for(key.shape.groups(), [&](std::size_t group) {
    const std::size_t subsets = (std::size_t{1} << key.shape.group_size(group)) - 1;
    const std::size_t first = key.shape.first_ggsw(group);
    double* dst = out.data.data() + first * g.fourier_doubles();
    FourierBuffer split(n);
    // Chunk q of subset s, polynomial p: dst[((q * subsets + s) * polys + p) * 2 * chunk].
    for (std::size_t s = 0; s < subsets; ++s) {
      const Torus* ggsw = key.data.data() + (first + s) * g.torus_elements();
      for (std::size_t p = 0; p < polys; ++p) {
        plan.forward_torus(ggsw + p * n, split.data());
        for (std::size_t q = 0; q < m / kPackedChunk; ++q) {
          double* d = dst + ((q * subsets + s) * polys + p) * 2 * kPackedChunk;
          std::copy_n(split.data() + q * kPackedChunk, kPackedChunk, d);
          std::copy_n(split.data() + m + q * kPackedChunk, kPackedChunk, d + kPackedChunk);
        }
      }
    }
    progress.advance();
  });
  return out;
}

}  // namespace torusml::tfhe
