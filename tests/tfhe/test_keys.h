// Keys shared by the tests of one binary: generated once per parameter set, with fixed seeds.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

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
