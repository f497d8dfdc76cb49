// LWE secret keys and ciphertexts, and the linear operations on them.
//
// An LWE ciphertext of dimension n under the binary key s is (a_1..a_n, b) in T^(n+1) with
// b = <a, s> + m + e: the mask a is uniform, e is noise, m the plaintext (see encoding.h). Its
// phase b - <a, s> = m + e is what decryption returns (Regev, STOC 2005; TFHE, JoC 2020 Sec. 2).
// Linear operations act coefficient-wise and add the noises (scaled by the clear factors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

/// A binary LWE secret key: n bits stored as 0/1 torus elements (for fast dot products).
struct LweSecretKey {
  std::vector<Torus> bits;
  LweDimension dimension() const { return LweDimension(bits.size()); }
};

/// A uniformly random binary key of dimension n from `rng`.
LweSecretKey generate_lwe_secret_key(LweDimension n, Csprng& rng);

/// A non-owning view of one LWE ciphertext: mask then body, n + 1 torus elements.
template <class T>
class LweRef {
 public:
  explicit LweRef(std::span<T> data) : data_(data) {}
  template <class U>
  LweRef(LweRef<U> other) : data_(other.data()) {}  // mutable -> const
  LweDimension dimension() const { return LweDimension(data_.size() - 1); }
  std::span<T> mask() const { return data_.first(data_.size() - 1); }
  T& body() const { return data_.back(); }
  std::span<T> data() const { return data_; }

 private:
  std::span<T> data_;
};
using LweView = LweRef<const Torus>;
using LweMutView = LweRef<Torus>;

/// An owned LWE ciphertext.
class LweCiphertext {
 public:
  LweCiphertext() = default;
  explicit LweCiphertext(LweDimension n) : data_(n.value() + 1, 0) {}
  explicit LweCiphertext(std::vector<Torus> data) : data_(std::move(data)) {}
  LweDimension dimension() const { return LweDimension(data_.size() - 1); }
  std::span<const Torus> mask() const { return std::span(data_).first(data_.size() - 1); }
  std::span<Torus> mask() { return std::span(data_).first(data_.size() - 1); }
  Torus body() const { return data_.back(); }
  Torus& body() { return data_.back(); }
  std::span<const Torus> data() const { return data_; }
  std::span<Torus> data() { return data_; }
  operator LweView() const { return LweView(std::span<const Torus>(data_)); }
  operator LweMutView() { return LweMutView(std::span<Torus>(data_)); }
  bool operator==(const LweCiphertext&) const = default;

 private:
  std::vector<Torus> data_;
};

/// `count` LWE ciphertexts of one dimension, stored contiguously.
class LweCiphertextList {
 public:
  LweCiphertextList() = default;
  LweCiphertextList(LweDimension n, std::size_t count)
      : dimension_(n), count_(count), data_(count * (n.value() + 1), 0) {}
  LweDimension dimension() const { return dimension_; }
  std::size_t size() const { return count_; }
  LweView operator[](std::size_t i) const {
    return LweView(std::span(data_).subspan(i * stride(), stride()));
  }
  LweMutView operator[](std::size_t i) {
    return LweMutView(std::span(data_).subspan(i * stride(), stride()));
  }
  std::span<const Torus> data() const { return data_; }
  std::span<Torus> data() { return data_; }
  bool operator==(const LweCiphertextList&) const = default;

 private:
  std::size_t stride() const { return dimension_.value() + 1; }
  LweDimension dimension_;
  std::size_t count_ = 0;
  std::vector<Torus> data_;
};

/// <a, s> over the torus. Precondition: a.size() == s.dimension().
Torus lwe_dot_key(std::span<const Torus> a, const LweSecretKey& s);

/// Encrypts `plaintext` (already encoded) into `out`: uniform mask from gen.mask, noise from
/// gen.noise. Throws ParameterMismatch if out's dimension is not the key's.
void encrypt_lwe(const LweSecretKey& key, Torus plaintext, const NoiseDistribution& noise,
                 EncryptionGenerator& gen, LweMutView out);
LweCiphertext encrypt_lwe(const LweSecretKey& key, Torus plaintext, const NoiseDistribution& noise,
                          EncryptionGenerator& gen);

/// The phase b - <a, s> = m + e. Throws ParameterMismatch on a dimension mismatch.
Torus decrypt_lwe(const LweSecretKey& key, LweView ct);

/// The trivial (noiseless, keyless) encryption (0, ..., 0, plaintext).
LweCiphertext trivial_lwe(LweDimension n, Torus plaintext);

/// out = a + b; out = a - b; a += b; a -= b; a = -a. Throws ParameterMismatch on a dimension
/// mismatch.
void lwe_add(LweView a, LweView b, LweMutView out);
void lwe_sub(LweView a, LweView b, LweMutView out);
void lwe_add_assign(LweMutView a, LweView b);
void lwe_sub_assign(LweMutView a, LweView b);
void lwe_negate_assign(LweMutView a);
/// a *= c (c a clear integer; the noise variance grows by c^2).
void lwe_mul_scalar_assign(LweMutView a, std::int64_t c);
/// a += c * b (a multiply-accumulate with a clear weight).
void lwe_add_mul_assign(LweMutView a, LweView b, std::int64_t c);
/// body += plaintext (adds a clear constant; noise unchanged).
void lwe_add_plaintext_assign(LweMutView a, Torus plaintext);

/// Throws ParameterMismatch("<what>: ...") unless a and b have the same dimension.
void require_same_dimension(LweDimension a, LweDimension b, const char* what);

}  // namespace torusml::tfhe
