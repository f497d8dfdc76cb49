// Helpers for the circuit tests: input sets, batches, and keys shared between circuits that were
// compiled to the same parameters.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "torusml/circuit/compiler.h"

namespace torusml::circuit::testing {

inline tfhe::Seed seed_of(std::uint8_t v) {
  tfhe::Seed s{};
  s.fill(v);
  return s;
}

/// Keys for a circuit's parameters, generated once per parameter set (small sets only stay).
inline const KeySet& keys_for(const CompiledCircuit& c) {
  static std::mutex mutex;
  static std::map<std::uint64_t, std::unique_ptr<KeySet>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[c.parameters().fingerprint()];
  if (!slot) slot = std::make_unique<KeySet>(c.generate_keys(seed_of(0x5a)));
  return *slot;
}

/// `count` random tensors of `shape` with values in [lo, hi].
inline std::vector<Tensor> random_tensors(std::mt19937_64& rng, const Shape& shape, std::int64_t lo,
                                          std::int64_t hi, std::size_t count) {
  std::uniform_int_distribution<std::int64_t> d(lo, hi);
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
    for (auto& x : v) x = d(rng);
    out.emplace_back(shape, std::move(v));
  }
  return out;
}

/// Stacks samples (each one tensor per input) into batched inputs (one tensor per input).
inline std::vector<Tensor> stack(const std::vector<std::vector<Tensor>>& samples) {
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < samples[0].size(); ++i) {
    Shape shape{static_cast<std::int64_t>(samples.size())};
    const Shape& s = samples[0][i].shape();
    shape.insert(shape.end(), s.begin(), s.end());
    std::vector<std::int64_t> v;
    for (const auto& sample : samples)
      v.insert(v.end(), sample[i].values().begin(), sample[i].values().end());
    out.emplace_back(std::move(shape), std::move(v));
  }
  return out;
}

/// An input set of `count` samples for a one-input program.
inline std::vector<std::vector<Tensor>> one_input_set(std::mt19937_64& rng, const Shape& shape,
                                                      std::int64_t lo, std::int64_t hi,
                                                      std::size_t count) {
  std::vector<std::vector<Tensor>> out;
  for (auto& t : random_tensors(rng, shape, lo, hi, count)) out.push_back({std::move(t)});
  return out;
}

}  // namespace torusml::circuit::testing
