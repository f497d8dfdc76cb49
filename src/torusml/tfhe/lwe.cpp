#include "torusml/tfhe/lwe.h"

#include <sstream>

#include "torusml/common/error.h"

namespace torusml::tfhe {

void require_same_dimension(LweDimension a, LweDimension b, const char* what) {
  if (a != b) {
    std::ostringstream os;
    os << what << ": LWE dimensions differ (" << a << " vs " << b
       << "); the ciphertexts or keys belong to different parameter sets";
    throw ParameterMismatch(os.str());
  }
}

LweSecretKey generate_lwe_secret_key(LweDimension n, Csprng& rng) {
  LweSecretKey key;
  key.bits.resize(n.value());
  rng.fill_binary(key.bits);
  return key;
}

Torus lwe_dot_key(std::span<const Torus> a, const LweSecretKey& s) {
  Torus acc = 0;
  const Torus* k = s.bits.data();
  for (std::size_t i = 0; i < a.size(); ++i) acc += a[i] * k[i];
  return acc;
}

void encrypt_lwe(const LweSecretKey& key, Torus plaintext, const NoiseDistribution& noise,
                 EncryptionGenerator& gen, LweMutView out) {
  require_same_dimension(out.dimension(), key.dimension(), "encrypt_lwe");
  gen.mask.fill_uniform(out.mask());
  out.body() = lwe_dot_key(out.mask(), key) + plaintext + gen.noise.sample_noise(noise);
}

LweCiphertext encrypt_lwe(const LweSecretKey& key, Torus plaintext, const NoiseDistribution& noise,
                          EncryptionGenerator& gen) {
  LweCiphertext ct(key.dimension());
  encrypt_lwe(key, plaintext, noise, gen, ct);
  return ct;
}

Torus decrypt_lwe(const LweSecretKey& key, LweView ct) {
  require_same_dimension(ct.dimension(), key.dimension(), "decrypt_lwe");
  return ct.body() - lwe_dot_key(ct.mask(), key);
}

LweCiphertext trivial_lwe(LweDimension n, Torus plaintext) {
  LweCiphertext ct(n);
  ct.body() = plaintext;
  return ct;
}

void lwe_add(LweView a, LweView b, LweMutView out) {
  require_same_dimension(a.dimension(), b.dimension(), "lwe_add");
  require_same_dimension(a.dimension(), out.dimension(), "lwe_add");
  auto x = a.data(), y = b.data();
  auto z = out.data();
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = x[i] + y[i];
}

void lwe_sub(LweView a, LweView b, LweMutView out) {
  require_same_dimension(a.dimension(), b.dimension(), "lwe_sub");
  require_same_dimension(a.dimension(), out.dimension(), "lwe_sub");
  auto x = a.data(), y = b.data();
  auto z = out.data();
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = x[i] - y[i];
}

void lwe_add_assign(LweMutView a, LweView b) {
  require_same_dimension(a.dimension(), b.dimension(), "lwe_add_assign");
  auto x = a.data();
  auto y = b.data();
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

void lwe_sub_assign(LweMutView a, LweView b) {
  require_same_dimension(a.dimension(), b.dimension(), "lwe_sub_assign");
  auto x = a.data();
  auto y = b.data();
  for (std::size_t i = 0; i < x.size(); ++i) x[i] -= y[i];
}

void lwe_negate_assign(LweMutView a) {
  for (auto& v : a.data()) v = Torus{0} - v;
}

void lwe_mul_scalar_assign(LweMutView a, std::int64_t c) {
  const Torus f = static_cast<Torus>(c);
  for (auto& v : a.data()) v *= f;
}

void lwe_add_mul_assign(LweMutView a, LweView b, std::int64_t c) {
  require_same_dimension(a.dimension(), b.dimension(), "lwe_add_mul_assign");
  const Torus f = static_cast<Torus>(c);
  auto x = a.data();
  auto y = b.data();
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += f * y[i];
}

void lwe_add_plaintext_assign(LweMutView a, Torus plaintext) {
  a.body() += plaintext;
}

}  // namespace torusml::tfhe
