// Benchmarks of the circuit compiler and runtime on three programs:
//   matmul_relu   a 10x10 matmul (clear weights) followed by a ReLU table      (10 PBS)
//   table_chain   three chained tables over 100 elements                      (300 PBS)
//   dot1000       a 1000-element leveled dot product                          (no PBS)
//   mixed_precision  64 two-bit comparisons summed by 8 and read by 8 six-bit lookups: compiled
//                 with a parameter set per precision (multi-parameter, compile/partition.h), and
//                 as mixed_precision_1param with one set for all (CompileOptions::multi_parameter
//                 off), so that the two run back to back in one process       (72 PBS)
// For each: compile/<name> (measure ranges, choose parameters, lower), run_1thread/<name> and
// run_all/<name> (the server-side run() of one sample on one thread / on every core; inputs
// encrypted once beforehand). Counters: pbs (per run), threads, and for run_all the PBS
// throughput and its speed-up over the single-thread run (the ideal is the core count).
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/thread_pool.h"

using namespace torusml::circuit;

namespace {

struct Case {
  Program program;
  std::vector<std::vector<Tensor>> inputset;
};

std::vector<std::vector<Tensor>> random_inputset(const Shape& shape, std::int64_t lo,
                                                 std::int64_t hi, int count) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> d(lo, hi);
  std::vector<std::vector<Tensor>> out;
  for (int i = 0; i < count; ++i) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
    for (auto& x : v) x = d(rng);
    out.push_back({Tensor(shape, std::move(v))});
  }
  return out;
}

Case make_case(const std::string& name) {
  Builder b;
  Case c;
  std::mt19937_64 rng(11);
  if (name == "matmul_relu") {
    std::vector<std::int64_t> w(100);
    for (auto& v : w) v = static_cast<std::int64_t>(rng() % 3) - 1;
    b.output(relu(matmul(b.input("x", {10}), Tensor({10, 10}, w))));
    c.inputset = random_inputset({10}, 0, 3, 30);
  } else if (name == "table_chain") {
    Value x = b.input("x", {100});
    x = apply_table(
        x, [](std::int64_t v) { return (3 * v + 1) % 16; }, "t1");
    x = apply_table(
        x, [](std::int64_t v) { return 15 - v; }, "t2");
    x = apply_table(
        x, [](std::int64_t v) { return v * v % 16; }, "t3");
    b.output(x);
    c.inputset = random_inputset({100}, 0, 15, 10);
  } else if (name.starts_with("mixed_precision")) {
    Value x = b.input("x", {64});
    Value cmp = apply_table(
        x, [](std::int64_t v) { return v >= 2 ? 1 : 0; }, "compare");
    Value t = sum(reshape(cmp, {8, 8}), {1}) * 7;  // 0..56: a 6-bit read
    b.output(apply_table(
        t, [](std::int64_t v) { return (v * 5) % 61; }, "activation"));
    c.inputset = random_inputset({64}, 0, 3, 20);
    std::vector<std::int64_t> ones(64, 3), zeros(64, 0);
    c.inputset.push_back({Tensor({64}, ones)});
    c.inputset.push_back({Tensor({64}, zeros)});
  } else {
    std::vector<std::int64_t> w(1000);
    for (auto& v : w) v = static_cast<std::int64_t>(rng() % 255) - 127;
    b.output(dot(b.input("x", {1000}), Tensor({1000}, w)));
    c.inputset = random_inputset({1000}, 0, 255, 10);
  }
  c.program = b.build();
  return c;
}

CompileOptions options_for(const std::string& name) {
  CompileOptions o;
  o.multi_parameter = !name.ends_with("_1param");
  return o;
}

struct Prepared {
  CompiledCircuit circuit;
  KeySet keys;
  RunArguments args;
};

const Prepared& prepared(const std::string& name) {
  static std::map<std::string, Prepared> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const Case c = make_case(name);
  Prepared p;
  p.circuit = compile(c.program, c.inputset, options_for(name));
  p.keys = p.circuit.generate_keys();
  Shape shape{1};
  const Shape& s = c.inputset[0][0].shape();
  shape.insert(shape.end(), s.begin(), s.end());
  const Tensor x(shape, std::vector<std::int64_t>(c.inputset[0][0].values().begin(),
                                                  c.inputset[0][0].values().end()));
  p.args = encrypt_inputs(p.keys.client, p.circuit.client_specification(), std::vector<Tensor>{x});
  return cache.emplace(name, std::move(p)).first->second;
}

std::map<std::string, double>& single_thread_seconds() {
  static std::map<std::string, double> m;
  return m;
}

void bm_compile(benchmark::State& state, std::string name) {
  const Case c = make_case(name);
  std::uint64_t pbs = 0;
  for (auto _ : state) {
    const CompiledCircuit compiled = compile(c.program, c.inputset, options_for(name));
    pbs = compiled.statistics().pbs_count;
    benchmark::DoNotOptimize(compiled.parameters().uses_pbs);
  }
  state.counters["pbs"] = static_cast<double>(pbs);
}

void bm_run(benchmark::State& state, std::string name, bool all_cores) {
  const Prepared& p = prepared(name);
  const double threads =
      all_cores ? static_cast<double>(torusml::default_thread_pool().size()) : 1.0;
  std::size_t runs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::optional<torusml::SerialScope> serial;
    if (!all_cores) serial.emplace();
    auto out = run(p.circuit.server_program(), p.args, p.keys.evaluation);
    benchmark::DoNotOptimize(out.data());
    ++runs;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
      static_cast<double>(std::max<std::size_t>(runs, 1));
  const double pbs = static_cast<double>(p.circuit.statistics().pbs_count);
  state.counters["pbs"] = pbs;
  state.counters["threads"] = threads;
  state.counters["partitions"] = static_cast<double>(p.circuit.parameters().partition_count());
  if (!all_cores) single_thread_seconds()[name] = seconds;
  if (all_cores && pbs > 0) {
    state.counters["pbs_per_second"] = pbs / seconds;
    const auto it = single_thread_seconds().find(name);
    if (it != single_thread_seconds().end()) state.counters["speedup"] = it->second / seconds;
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (const std::string name :
       {"matmul_relu", "table_chain", "dot1000", "mixed_precision", "mixed_precision_1param"}) {
    benchmark::RegisterBenchmark(("compile/" + name).c_str(), bm_compile, name)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("run_1thread/" + name).c_str(), bm_run, name, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("run_all/" + name).c_str(), bm_run, name, true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
