// Micro-benchmarks of the negacyclic FFT backends (forward, backward, multiply-add).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "torusml/tfhe/fft.h"

using namespace torusml::tfhe;

namespace {
void run(benchmark::State& state, FftBackendKind kind, int op) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  if (!fft_backend_supported(kind)) {
    state.SkipWithError("backend not supported");
    return;
  }
  const FftPlan plan(PolynomialSize(n), kind);
  std::mt19937_64 rng(1);
  std::vector<std::int64_t> digits(n);
  std::vector<std::uint64_t> torus(n);
  for (auto& d : digits) d = static_cast<std::int64_t>(rng() % (1u << 23)) - (1 << 22);
  for (auto& t : torus) t = rng();
  FourierBuffer a(n), b(n), acc(n, 0.0);
  plan.forward_torus(torus.data(), b.data());
  for (auto _ : state) {
    switch (op) {
      case 0:
        plan.forward_i64(digits.data(), a.data());
        break;
      case 1:
        plan.forward_i64(digits.data(), a.data());  // keeps the input in range
        plan.backward_add_torus(a.data(), torus.data());
        break;
      case 2:
        plan.mul_add(acc.data(), a.data(), b.data());
        break;
    }
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(torus.data());
    benchmark::ClobberMemory();
  }
}
}  // namespace

#define TORUSML_FFT_BENCH(kind, name)                                      \
  BENCHMARK_CAPTURE(run, forward_##name, FftBackendKind::kind, 0)          \
      ->RangeMultiplier(2)                                                 \
      ->Range(1024, 8192);                                                 \
  BENCHMARK_CAPTURE(run, forward_backward_##name, FftBackendKind::kind, 1) \
      ->RangeMultiplier(2)                                                 \
      ->Range(1024, 8192);                                                 \
  BENCHMARK_CAPTURE(run, mul_add_##name, FftBackendKind::kind, 2)          \
      ->RangeMultiplier(2)                                                 \
      ->Range(1024, 8192);

TORUSML_FFT_BENCH(Scalar, scalar)
TORUSML_FFT_BENCH(Avx2, avx2)
TORUSML_FFT_BENCH(Avx512, avx512)
