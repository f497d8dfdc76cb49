// GLWE secret keys and ciphertexts over Z_q[X]/(X^N + 1) (TFHE, JoC 2020, Sec. 3.1).
//
// A GLWE ciphertext of dimension k is (A_0, ..., A_{k-1}, B) with B = sum_i A_i S_i + M + E and
// uniform masks A_i; its phase is B - sum_i A_i S_i. The key's coefficients, read in order
// (S_0 then S_1 ...), form the "big" LWE key of dimension k*N under which sample extraction
// produces its LWE ciphertexts.
#pragma once

#include <span>
#include <vector>

#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

/// k binary polynomials of size N, stored as one binary LWE key of dimension k*N.
struct GlweSecretKey {
  GlweDimension glwe_dimension;
  PolynomialSize polynomial_size;
  LweSecretKey flat;  // coefficient j of S_i at index i*N + j

  std::span<const Torus> polynomial(std::size_t i) const {
    return std::span(flat.bits).subspan(i * polynomial_size.value(), polynomial_size.value());
  }
  /// The extracted ("big") LWE key of dimension k*N.
  const LweSecretKey& as_lwe_key() const { return flat; }
};

GlweSecretKey generate_glwe_secret_key(GlweDimension k, PolynomialSize n, Csprng& rng);

/// An owned GLWE ciphertext: k mask polynomials then the body, (k+1)*N torus elements.
class GlweCiphertext {
 public:
  GlweCiphertext() = default;
  GlweCiphertext(GlweDimension k, PolynomialSize n)
      : k_(k), n_(n), data_((k.value() + 1) * n.value(), 0) {}
  GlweDimension glwe_dimension() const { return k_; }
  PolynomialSize polynomial_size() const { return n_; }
  std::span<Torus> polynomial(std::size_t i) {
    return std::span(data_).subspan(i * n_.value(), n_.value());
  }
  std::span<const Torus> polynomial(std::size_t i) const {
    return std::span(data_).subspan(i * n_.value(), n_.value());
  }
  std::span<Torus> body() { return polynomial(k_.value()); }
  std::span<const Torus> body() const { return polynomial(k_.value()); }
  std::span<Torus> data() { return data_; }
  std::span<const Torus> data() const { return data_; }

 private:
  GlweDimension k_;
  PolynomialSize n_;
  std::vector<Torus> data_;
};

/// `count` GLWE ciphertexts of one shape, stored contiguously.
class GlweCiphertextList {
 public:
  GlweCiphertextList() = default;
  GlweCiphertextList(GlweDimension k, PolynomialSize n, std::size_t count)
      : k_(k), n_(n), count_(count), data_(count * (k.value() + 1) * n.value(), 0) {}
  GlweDimension glwe_dimension() const { return k_; }
  PolynomialSize polynomial_size() const { return n_; }
  std::size_t size() const { return count_; }
  std::span<Torus> operator[](std::size_t i) {
    return std::span(data_).subspan(i * stride(), stride());
  }
  std::span<const Torus> operator[](std::size_t i) const {
    return std::span(data_).subspan(i * stride(), stride());
  }
  std::span<const Torus> data() const { return data_; }

 private:
  std::size_t stride() const { return (k_.value() + 1) * n_.value(); }
  GlweDimension k_;
  PolynomialSize n_;
  std::size_t count_ = 0;
  std::vector<Torus> data_;
};

/// Encrypts the plaintext polynomial `message` (N coefficients, already encoded) into `out`,
/// a GLWE of (k+1)*N torus elements: masks from gen.mask, noise from gen.noise.
void encrypt_glwe(const GlweSecretKey& key, std::span<const Torus> message,
                  const NoiseDistribution& noise, EncryptionGenerator& gen, std::span<Torus> out);

/// The phase polynomial B - sum_i A_i S_i of a GLWE ciphertext given as (k+1)*N elements.
std::vector<Torus> decrypt_glwe(const GlweSecretKey& key, std::span<const Torus> ct);

}  // namespace torusml::tfhe
