// The model behind fuzz_c_api_loaders and its seeds (make_deploy_seed_corpus.cpp): a compiled
// binary logistic model over 3 features (leveled circuit: its keys are generated in
// milliseconds) and its client artifact, built the same way in both programs from fixed data and
// seeds, so that the seeded results carry the parameters the target's client expects.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "torusml/deploy/client_artifact.h"
#include "torusml/deploy/client_artifact_io.h"
#include "torusml/ml/quantized_linear.h"

namespace torusml::fuzz {

inline const ml::QuantizedLinear& c_api_model() {
  static const ml::QuantizedLinear model = [] {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> n;
    ml::Matrix x(30, 3);
    for (double& v : x.values()) v = n(rng);
    ml::QuantizedLinear m(ml::Matrix(3, 1, {0.8, -1.2, 0.5}), std::vector<double>{0.1}, x, {4, 4});
    tfhe::Seed seed{};
    seed.fill(3);
    m.compile(x, {}, seed);
    return m;
  }();
  return model;
}

/// The serialized client artifact of c_api_model() (classes "no", "yes"; sigmoid).
inline const std::vector<std::uint8_t>& c_api_artifact() {
  static const std::vector<std::uint8_t> bytes = [] {
    deploy::ModelTransform t;
    t.task = deploy::Task::Classification;
    t.probability = deploy::ProbabilityMethod::Sigmoid;
    t.targets = {{0, 1, {"no", "yes"}}};
    return deploy::serialize_client_artifact(deploy::make_client_artifact(c_api_model(), t));
  }();
  return bytes;
}

/// The fixed seed of the target's client keys.
inline std::array<std::uint8_t, 32> c_api_key_seed() {
  std::array<std::uint8_t, 32> s{};
  s.fill(4);
  return s;
}

}  // namespace torusml::fuzz
