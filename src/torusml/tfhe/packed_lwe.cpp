#include "torusml/tfhe/packed_lwe.h"

#include <algorithm>
#include <bit>

#include "torusml/common/check.h"
#include "torusml/common/multiversion.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {

// Polynomial sizes from which the masks' products go through the FFT.
constexpr std::size_t kPackedFftMinimum = 256;

std::size_t glwe_count(std::size_t offset, std::size_t count, std::size_t n) {
  return count == 0 ? 0 : (offset + count + n - 1) / n;
}

// The masks of GLWE `g` of a seeded list: k*N uniform values of the stream (seed, g + 1).
void fill_packed_masks(const Seed& mask_seed, std::size_t g, std::span<Torus> masks) {
  Csprng rng(mask_seed, g + 1);
  rng.fill_uniform(masks);
}

// acc += a * s (negacyclic, s binary): for each set bit u of s, X^u a, i.e. a[j - u] at j >= u and
// -a[n + j - u] below.
TORUSML_MULTIVERSION
void add_mul_binary_small(Torus* __restrict acc, const Torus* __restrict a,
                          const Torus* __restrict s, std::size_t n) {
  for (std::size_t u = 0; u < n; ++u) {
    if (s[u] == 0) continue;
    for (std::size_t j = 0; j < u; ++j) acc[j] -= a[n + j - u];
    for (std::size_t j = u; j < n; ++j) acc[j] += a[j - u];
  }
}

// bodies[i] = (sum_p A_p S_p)_j + plaintexts[i] + noise for the elements of every GLWE; `full`
// (if not null) receives the masks and bodies of the full form. Noise is drawn serially, in
// element order, so both forms get the same values from the same generator.
void encrypt_packed(const GlweSecretKey& key, std::span<const Torus> plaintexts,
                    const NoiseDistribution& noise, const Seed& mask_seed, Csprng& noise_rng,
                    std::vector<Torus>& bodies, GlweCiphertextList* full) {
  const std::size_t k = key.glwe_dimension.value(), n = key.polynomial_size.value();
  bodies.resize(plaintexts.size());
  for (std::size_t i = 0; i < plaintexts.size(); ++i)
    bodies[i] = plaintexts[i] + noise_rng.sample_noise(noise);
  const std::size_t glwes = glwe_count(0, plaintexts.size(), n);
  parallel_for(glwes, [&](std::size_t g) {
    std::vector<Torus> scratch;
    std::span<Torus> ct;
    if (full) {
      ct = (*full)[g];
    } else {
      scratch.assign((k + 1) * n, 0);
      ct = scratch;
    }
    fill_packed_masks(mask_seed, g, ct.first(k * n));
    auto product = ct.subspan(k * n, n);
    std::fill(product.begin(), product.end(), Torus{0});
    // Small polynomials (a small LWE key read as a GLWE key, lwe_key_as_glwe_key): the mask
    // rotated by each set key bit and added, about k N / 2 additions per element, without the
    // FFT's set-up.
    for (std::size_t p = 0; p < k; ++p)
      if (n < kPackedFftMinimum)
        add_mul_binary_small(product.data(), ct.subspan(p * n, n).data(), key.polynomial(p).data(),
                             n);
      else
        polynomial_add_mul_binary(product, ct.subspan(p * n, n), key.polynomial(p));
    const std::size_t first = g * n, last = std::min(plaintexts.size(), first + n);
    for (std::size_t i = first; i < last; ++i) bodies[i] += product[i - first];
    // The full form keeps only the coefficients that hold elements (see the header).
    for (std::size_t j = last - first; j < n; ++j) product[j] = 0;
    for (std::size_t i = first; i < last; ++i) product[i - first] = bodies[i];
  });
}

// acc[t] += c * a[j - t] for t <= j and acc[t] -= c * a[N + j - t] for t > j: the mask of
// coefficient j of a GLWE, scaled and accumulated.
TORUSML_MULTIVERSION
void add_scaled_reversed(Torus* __restrict acc, const Torus* __restrict a, std::size_t j,
                         std::size_t n, Torus c) {
  for (std::size_t t = 0; t <= j; ++t) acc[t] += c * a[j - t];
  for (std::size_t t = j + 1; t < n; ++t) acc[t] -= c * a[n + j - t];
}

}  // namespace

GlweSecretKey lwe_key_as_glwe_key(const LweSecretKey& key, PolynomialSize polynomial_size) {
  const std::size_t n = polynomial_size.value(), d = key.dimension().value();
  TORUSML_CHECK(n > 0 && std::has_single_bit(n) && d % n == 0,
                "lwe_key_as_glwe_key: dimension " << d << " is not a multiple of N = " << n);
  return GlweSecretKey{GlweDimension(d / n), polynomial_size, key};
}

SeededPackedLweCiphertextList encrypt_lwe_list_packed_seeded(const GlweSecretKey& key,
                                                             std::span<const Torus> plaintexts,
                                                             const NoiseDistribution& noise,
                                                             const Seed& mask_seed,
                                                             Csprng& noise_rng) {
  SeededPackedLweCiphertextList out{key.glwe_dimension, key.polynomial_size, mask_seed, {}};
  encrypt_packed(key, plaintexts, noise, mask_seed, noise_rng, out.bodies, nullptr);
  return out;
}

PackedLweCiphertextList encrypt_lwe_list_packed(const GlweSecretKey& key,
                                                std::span<const Torus> plaintexts,
                                                const NoiseDistribution& noise,
                                                const Seed& mask_seed, Csprng& noise_rng) {
  const std::size_t n = key.polynomial_size.value();
  PackedLweCiphertextList out{GlweCiphertextList(key.glwe_dimension, key.polynomial_size,
                                                 glwe_count(0, plaintexts.size(), n)),
                              0, plaintexts.size()};
  std::vector<Torus> bodies;
  encrypt_packed(key, plaintexts, noise, mask_seed, noise_rng, bodies, &out.glwes);
  return out;
}

PackedLweCiphertextList decompress_packed_lwe_list(const SeededPackedLweCiphertextList& seeded,
                                                   std::size_t first, std::size_t count) {
  TORUSML_CHECK_LE(first, seeded.size());
  TORUSML_CHECK_LE(count, seeded.size() - first);
  const std::size_t k = seeded.glwe_dimension.value(), n = seeded.polynomial_size.value();
  const std::size_t offset = first % n, first_glwe = first / n;
  PackedLweCiphertextList out{GlweCiphertextList(seeded.glwe_dimension, seeded.polynomial_size,
                                                 glwe_count(offset, count, n)),
                              offset, count};
  parallel_for(out.glwes.size(), [&](std::size_t g) {
    auto ct = out.glwes[g];
    fill_packed_masks(seeded.mask_seed, first_glwe + g, ct.first(k * n));
    // Coefficient j of local GLWE g is element g * n + j - offset of the slice.
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t local = g * n + j;
      if (local >= offset && local - offset < count)
        ct[k * n + j] = seeded.bodies[first + local - offset];
    }
  });
  return out;
}

PackedLweCiphertextList decompress_packed_lwe_list(const SeededPackedLweCiphertextList& seeded) {
  return decompress_packed_lwe_list(seeded, 0, seeded.size());
}

PackedLweCiphertextList slice_packed_lwe_list(const PackedLweCiphertextList& list,
                                              std::size_t first, std::size_t count) {
  TORUSML_CHECK_LE(first, list.size());
  TORUSML_CHECK_LE(count, list.size() - first);
  const std::size_t k = list.glwes.glwe_dimension().value();
  const std::size_t n = list.glwes.polynomial_size().value();
  const std::size_t start = list.offset + first;  // coefficient position in the whole list
  PackedLweCiphertextList out{
      GlweCiphertextList(list.glwes.glwe_dimension(), list.glwes.polynomial_size(),
                         glwe_count(start % n, count, n)),
      start % n, count};
  for (std::size_t g = 0; g < out.glwes.size(); ++g) {
    const auto src = list.glwes[start / n + g];
    auto dst = out.glwes[g];
    std::copy(src.begin(), src.end(), dst.begin());
    // Bodies of elements outside the slice are zeroed: a slice holds its own elements only.
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t local = g * n + j;
      if (local < out.offset || local - out.offset >= count) dst[k * n + j] = 0;
    }
  }
  return out;
}

void extract_lwe(const PackedLweCiphertextList& list, std::size_t i, LweMutView out) {
  TORUSML_CHECK_LT(i, list.size());
  const std::size_t n = list.glwes.polynomial_size().value();
  const std::size_t e = list.offset + i;
  sample_extract(list.glwes[e / n], list.glwes.glwe_dimension(), list.glwes.polynomial_size(),
                 e % n, out);
}

void add_scaled_extracted(std::span<Torus> acc, const PackedLweCiphertextList& list, std::size_t i,
                          Torus c) {
  TORUSML_CHECK_LT(i, list.size());
  const std::size_t k = list.glwes.glwe_dimension().value();
  const std::size_t n = list.glwes.polynomial_size().value();
  TORUSML_CHECK_EQ(acc.size(), k * n + 1);
  const std::size_t e = list.offset + i, j = e % n;
  const auto ct = list.glwes[e / n];
  for (std::size_t p = 0; p < k; ++p)
    add_scaled_reversed(acc.data() + p * n, ct.data() + p * n, j, n, c);
  acc[k * n] += c * ct[k * n + j];
}

LweCiphertextList unpack_lwe_list(const PackedLweCiphertextList& list) {
  LweCiphertextList out(list.dimension(), list.size());
  parallel_for(
      list.size(), [&](std::size_t i) { extract_lwe(list, i, out[i]); }, 16);
  return out;
}

}  // namespace torusml::tfhe
