// The bootstrapping key: GGSW encryptions, under the GLWE key, of each bit of the small LWE key
// (TFHE, JoC 2020, Def. 4.1), in three forms:
//  * LweBootstrapKey: standard domain, what is generated and serialized;
//  * SeededLweBootstrapKey: the GLWE bodies plus the 32-byte mask seed (about (1/(k+1)) of the
//    size: half for k = 1), expanded by decompress_bootstrap_key;
//  * FourierBootstrapKey: the Fourier transform of every polynomial, what the blind rotation
//    reads (never serialized: its order of frequencies is the FFT backend's).
// GGSW i takes its masks from the ChaCha20 stream (mask_seed, i + 1) and its noise from
// (noise_seed, i + 1), so generation is parallel and its result independent of the thread count.
#pragma once

#include <vector>

#include "torusml/common/aligned.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

struct BootstrapKeyShape {
  LweDimension input_lwe_dimension;  // n: one GGSW per small-key bit
  GgswShape ggsw;
  bool operator==(const BootstrapKeyShape&) const = default;
};

struct LweBootstrapKey {
  BootstrapKeyShape shape;
  std::vector<Torus> data;  // n GGSWs, shape.ggsw.torus_elements() each
  bool operator==(const LweBootstrapKey&) const = default;
};

struct SeededLweBootstrapKey {
  BootstrapKeyShape shape;
  Seed mask_seed{};
  std::vector<Torus> bodies;  // per GGSW, per row: the N body coefficients
  bool operator==(const SeededLweBootstrapKey&) const = default;
};

struct FourierBootstrapKey {
  BootstrapKeyShape shape;
  AlignedVector<double> data;  // n GGSWs, shape.ggsw.fourier_doubles() each
  const double* ggsw(std::size_t i) const { return data.data() + i * shape.ggsw.fourier_doubles(); }
};

/// GGSW encryptions of small_key's bits under big_key, with noise `noise`. Parallel.
SeededLweBootstrapKey generate_seeded_bootstrap_key(const LweSecretKey& small_key,
                                                    const GlweSecretKey& big_key,
                                                    DecompositionParameters decomposition,
                                                    const NoiseDistribution& noise,
                                                    const Seed& mask_seed, const Seed& noise_seed);

/// Regenerates the masks of a seeded key. Parallel.
LweBootstrapKey decompress_bootstrap_key(const SeededLweBootstrapKey& seeded);

/// The Fourier form of a standard-domain key. Parallel.
FourierBootstrapKey convert_bootstrap_key_to_fourier(const LweBootstrapKey& key);

}  // namespace torusml::tfhe
