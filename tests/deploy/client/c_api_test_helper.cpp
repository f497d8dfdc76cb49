// The C++ side of the C ABI's test: see c_api_test_helper.h.
#include "c_api_test_helper.h"

#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <random>
#include <string>

#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/model_server.h"
#include "torusml/ml/postprocessing.h"

using namespace torusml;

namespace {

ml::Matrix data(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  ml::Matrix m(rows, cols);
  for (double& v : m.values()) v = n(rng);
  return m;
}

const ml::QuantizedLinear& model() {
  static const ml::QuantizedLinear m = [] {
    ml::QuantizedLinear q(ml::Matrix(3, 1, {0.8, -1.2, 0.5}), std::vector<double>{0.1},
                          data(40, 3, 1), {4, 4});
    tfhe::Seed seed{};
    seed.fill(7);
    q.compile(data(40, 3, 1), {}, seed);
    return q;
  }();
  return m;
}

template <typename F>
int guarded(F&& f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "c_api_test helper: %s\n", e.what());
    return 1;
  }
}

}  // namespace

extern "C" {

int helper_write_model(const char* dir) {
  return guarded([&] {
    deploy::ModelTransform t;
    t.task = deploy::Task::Classification;
    t.probability = deploy::ProbabilityMethod::Sigmoid;
    t.targets = {{0, 1, {"no", "yes"}}};
    deploy::save_artifacts(dir, model().compiled_circuit().server_program(),
                           deploy::make_client_artifact(model(), t));
  });
}

int helper_expected(const double* x, size_t rows, double* probability_yes, int* label_yes) {
  return guarded([&] {
    const ml::Matrix m(rows, 3, std::vector<double>(x, x + rows * 3));
    const ml::Matrix scores = model().predict(m, circuit::Mode::Clear);
    for (std::size_t r = 0; r < rows; ++r) {
      probability_yes[r] = ml::sigmoid(scores(r, 0));
      label_yes[r] = scores(r, 0) > 0 ? 1 : 0;
    }
  });
}

int helper_server_run(const char* dir, const uint8_t* inputs, size_t inputs_size,
                      const uint8_t* keys, size_t keys_size, uint8_t** result,
                      size_t* result_size) {
  return guarded([&] {
    const deploy::ModelServer server = deploy::ModelServer::load(dir);
    const auto out = server.run(std::span(inputs, inputs_size), std::span(keys, keys_size));
    *result = static_cast<uint8_t*>(std::malloc(out.size()));
    std::memcpy(*result, out.data(), out.size());
    *result_size = out.size();
  });
}

char* helper_temp_dir(void) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "torusml_c_api_test_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return nullptr;
  return ::strdup(pattern.c_str());
}

void helper_remove_dir(char* dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::free(dir);
}

}  // extern "C"
