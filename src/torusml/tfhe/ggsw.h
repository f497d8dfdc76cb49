// GGSW ciphertexts, their Fourier form, the external product and the CMux
// (TFHE, JoC 2020, Sec. 3.4: Def. 3.10, Thm. 3.13 and Alg. 3 for the CMux).
//
// A GGSW encryption of a small integer m under a GLWE key is (k+1)*l GLWE ciphertexts ("rows"):
// row (i, j), i in [0, k], j in [1, l], encrypts 0 with m * q / B^j added to polynomial i (a mask
// polynomial for i < k, the body for i = k). The external product GGSW(m) [x] GLWE(M) =
// sum_{i,j} dec_j(C_i) * row(i, j) is a GLWE encryption of m * M; its noise is analysed in
// noise_model.h. Rows are stored in the order i * l + (j - 1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/common/aligned.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

/// Shape of a GGSW ciphertext.
struct GgswShape {
  GlweDimension glwe_dimension;
  PolynomialSize polynomial_size;
  DecompositionParameters decomposition;

  std::size_t rows() const {
    return (glwe_dimension.value() + 1) * decomposition.level_count.value();
  }
  std::size_t glwe_size() const { return (glwe_dimension.value() + 1) * polynomial_size.value(); }
  /// Torus elements of one GGSW in the standard domain (rows * (k+1) * N).
  std::size_t torus_elements() const { return rows() * glwe_size(); }
  /// Mask elements only (rows * k * N): what a seeded GGSW regenerates from its seed.
  std::size_t mask_elements() const {
    return rows() * glwe_dimension.value() * polynomial_size.value();
  }
  /// Doubles of one GGSW in the Fourier domain (rows * (k+1) * N).
  std::size_t fourier_doubles() const { return rows() * glwe_size(); }
  bool operator==(const GgswShape&) const = default;
};

/// An owned GGSW ciphertext in the standard domain (rows of GLWE ciphertexts, see above).
struct GgswCiphertext {
  GgswShape shape;
  std::vector<Torus> data;  // shape.torus_elements()
};

/// An owned GGSW ciphertext in the Fourier domain (packed layout), ready for external products.
struct FourierGgswCiphertext {
  GgswShape shape;
  AlignedVector<double> data;  // shape.fourier_doubles()
};

/// Encrypts `message` as a new GGSW of `shape` (see the span form below).
GgswCiphertext encrypt_ggsw(const GlweSecretKey& key, std::int64_t message, const GgswShape& shape,
                            const NoiseDistribution& noise, EncryptionGenerator& gen);
/// The Fourier form of `ggsw`, with the shared plan of its polynomial size.
FourierGgswCiphertext convert_ggsw_to_fourier(const GgswCiphertext& ggsw);

/// Encrypts the integer `message` (a key bit for bootstrapping) as a GGSW into `out`
/// (shape.torus_elements() elements).
void encrypt_ggsw(const GlweSecretKey& key, std::int64_t message, const GgswShape& shape,
                  const NoiseDistribution& noise, EncryptionGenerator& gen, std::span<Torus> out);

/// Converts a standard-domain GGSW to the Fourier domain (shape.fourier_doubles() doubles), in
/// the packed layout of fft.h (pack_fourier_ggsw) that the external product reads.
void convert_ggsw_to_fourier(std::span<const Torus> ggsw, const GgswShape& shape,
                             const FftPlan& plan, double* out);

/// Buffers reused by successive external products of one shape (one per thread).
struct ExternalProductScratch {
  std::vector<std::int64_t> digits;  // l * N
  FourierBuffer fourier_digits;      // (k+1) * l * N
  FourierBuffer accumulator;         // (k+1) * N
  void resize(const GgswShape& shape);
};

/// out += fourier_ggsw [x] glwe, where glwe and out are (k+1)*N-element GLWE ciphertexts.
/// out may alias glwe.
void add_external_product(std::span<Torus> out, const double* fourier_ggsw,
                          std::span<const Torus> glwe, const GgswShape& shape, const FftPlan& plan,
                          ExternalProductScratch& scratch);

/// CMux (TFHE Alg. 3): acc <- acc + GGSW(b) [x] (rotated - acc), i.e. rotated if b = 1 and acc if
/// b = 0, where rotated = X^power * acc (power in [0, 2N)). The difference is decomposed on the
/// fly, never stored. `prefetch_next` (nullable): the next GGSW the caller will use, fetched into
/// the cache while this one is read.
void cmux_rotate(std::span<Torus> acc, const double* fourier_ggsw, std::size_t power,
                 const GgswShape& shape, const FftPlan& plan, ExternalProductScratch& scratch,
                 const double* prefetch_next = nullptr);

/// Two CMuxes by the same GGSW (two ciphertexts of a lockstep walk): cmux_rotate of acc0 by
/// power0 and of acc1 by power1, the key read once for both (ggsw_mac_pair); bit-identical to two
/// cmux_rotate calls. acc0 and acc1 must not overlap; each has its own scratch.
void cmux_rotate_pair(std::span<Torus> acc0, std::size_t power0, std::span<Torus> acc1,
                      std::size_t power1, const double* fourier_ggsw, const GgswShape& shape,
                      const FftPlan& plan, ExternalProductScratch& scratch0,
                      ExternalProductScratch& scratch1, const double* prefetch_next = nullptr);

}  // namespace torusml::tfhe
