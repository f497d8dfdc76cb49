#include "torusml/tfhe/glwe.h"

#include "torusml/common/check.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

GlweSecretKey generate_glwe_secret_key(GlweDimension k, PolynomialSize n, Csprng& rng) {
  GlweSecretKey key{k, n, {}};
  key.flat = generate_lwe_secret_key(LweDimension(k.value() * n.value()), rng);
  return key;
}

void encrypt_glwe(const GlweSecretKey& key, std::span<const Torus> message,
                  const NoiseDistribution& noise, EncryptionGenerator& gen, std::span<Torus> out) {
  const std::size_t k = key.glwe_dimension.value(), n = key.polynomial_size.value();
  TORUSML_CHECK_EQ(out.size(), (k + 1) * n);
  TORUSML_CHECK_EQ(message.size(), n);
  auto masks = out.first(k * n);
  auto body = out.subspan(k * n, n);
  gen.mask.fill_uniform(masks);
  for (std::size_t j = 0; j < n; ++j) body[j] = message[j];
  gen.noise.add_noise(body, noise);
  for (std::size_t i = 0; i < k; ++i)
    polynomial_add_mul_binary(body, masks.subspan(i * n, n), key.polynomial(i));
}

std::vector<Torus> decrypt_glwe(const GlweSecretKey& key, std::span<const Torus> ct) {
  const std::size_t k = key.glwe_dimension.value(), n = key.polynomial_size.value();
  TORUSML_CHECK_EQ(ct.size(), (k + 1) * n);
  std::vector<Torus> dot(n, 0);
  for (std::size_t i = 0; i < k; ++i)
    polynomial_add_mul_binary(dot, ct.subspan(i * n, n), key.polynomial(i));
  std::vector<Torus> phase(n);
  for (std::size_t j = 0; j < n; ++j) phase[j] = ct[k * n + j] - dot[j];
  return phase;
}

}  // namespace torusml::tfhe
