// Keys shared by the tests of one binary: generated once per parameter set, with fixed seeds.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "torusml/tfhe/keys.h"

namespace torusml::tfhe::testing {

struct TestKeys {
  ClientKey client;
  ServerKey server;
};

inline Seed fixed_seed(std::uint8_t v) {
  Seed s{};
  s.fill(v);
  return s;
}

/// Tiny well-formed parameters (2-bit messages, N = 256, far below 128-bit security: usable only
/// under ScopedInsecureParametersForTesting) whose keys take a few hundred KiB, for byte-level
/// and key-format tests.
inline PbsParameters insecure_small_parameters(std::string name, std::size_t lwe_dimension,
                                               std::string source) {
  PbsParameters p;
  p.name = std::move(name);
  p.message_bits = 2;
  p.lwe_dimension = LweDimension(lwe_dimension);
  p.glwe_dimension = GlweDimension(1);
  p.polynomial_size = PolynomialSize(256);
  p.lwe_noise = NoiseDistribution::tuniform(45);
  p.glwe_noise = NoiseDistribution::gaussian(1e-9);
  p.pbs = {DecompositionBaseLog(15), DecompositionLevelCount(1)};
  p.ks = {DecompositionBaseLog(4), DecompositionLevelCount(3)};
  p.source = std::move(source) + " (insecure, tests only)";
  return p;
}

/// Keys for `params`, generated from fixed seeds on first use and cached. Small key sets
/// (N <= 2048: at most ~150 MB each) stay cached; of the large ones (the 8-bit keys take
/// gigabytes) only the most recent is kept, so the slow tests are grouped by preset.
inline const TestKeys& keys_for(const PbsParameters& params) {
  static std::mutex mutex;
  static std::map<std::uint64_t, std::unique_ptr<TestKeys>> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(params.fingerprint());
  if (it != cache.end()) return *it->second;
  const bool large = params.polynomial_size.value() > 2048;
  if (large) {
    for (auto i = cache.begin(); i != cache.end();)
      i = i->second->client.parameters.polynomial_size.value() > 2048 ? cache.erase(i)
                                                                      : std::next(i);
  }
  auto keys = std::make_unique<TestKeys>();
  keys->client = generate_client_key(params, fixed_seed(0x11));
  keys->server = generate_server_key(keys->client, fixed_seed(0x22));
  return *(cache[params.fingerprint()] = std::move(keys));
}

}  // namespace torusml::tfhe::testing
