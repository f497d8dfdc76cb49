// Fits the optimizer's cost model (circuit/optimizer/optimizer.h, estimate_pbs_seconds) to the
// machine it runs on, and says how well the model ranks the parameter sets the optimizer chooses
// between.
//
// Candidates: for each precision 1..max_bits and each polynomial size N = 2^8 .. 2^14, the
// optimizer's cheapest classic set with N forced (k, n and the decompositions free), for a PBS
// whose input sums a few PBS outputs (squared 2-norm 4) at p_error 2^-40: the sets it weighs
// against each other; and likewise its cheapest multi-bit sets of grouping factor 2 and 3 for the
// precisions 3..min(7, max_bits) (expanded keys above 6 GiB skipped). Each one gets real keys and
// one lone KS + PBS timed on one thread (median of --runs), the way circuits run a single lookup
// and the same for both kinds (keyswitch_bootstrap dispatches on the grouping factor).
// Printed: per candidate the model's estimate, the measurement and the refit's estimate; the
// Spearman rank correlation of estimate vs measurement over all candidates (classic and
// multi-bit) and per kind, before and after the refit; and the refit constants (least squares on
// relative errors) to put in cost_model.cpp: the six constants together (the keyswitch constant
// shared by both kinds), and the two multi-bit ones alone with the classic constants kept.
// With --batch B (default 32; 0: none), each candidate is also timed in a batch of B per thread
// on every core (keyswitch_bootstrap_batch, the lockstep walks circuits run, with the threads
// sharing the memory bandwidth as in circuits), as core-seconds per PBS, and the same for the
// batched model (estimate_batched_pbs_seconds, the optimizers' objective): its estimates, the
// Spearman correlation with the batched times, and its six constants refitted.
//
//   build/bench/cost_model_fit [--max-bits 6] [--runs 5] [--batch 32]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/serialization.h"

namespace {

using namespace torusml;

struct Candidate {
  unsigned bits;
  tfhe::PbsParameters p;
  double estimate = 0, measured = 0, refit = 0;
  double batched = 0;     // core-seconds per KS + PBS in a batch on every core (0: not measured)
  double batched_ks = 0;  // of which the keyswitch alone, measured the same way
  double features[6] = {0, 0, 0, 0, 0, 0};  // the model's terms, per unit of each constant
  double fixed = 0;  // the noise reduction's estimate (Drift kinds), not refitted
};

void compute_features(Candidate& c) {
  const double k = static_cast<double>(c.p.glwe_dimension.value());
  const double big_n = static_cast<double>(c.p.polynomial_size.value());
  const double l = static_cast<double>(c.p.pbs.level_count.value());
  const double lks = static_cast<double>(c.p.ks.level_count.value());
  const double n = static_cast<double>(c.p.lwe_dimension.value());
  const double half = big_n / 2.0;
  c.features[2] = (n + 1) * k * big_n * lks;
  const std::size_t g = c.p.grouping_factor.value();
  if (g > 1) {
    // ceil(n/g) groups: one external product's FFTs and 2^g - 1 GGSWs combined.
    const double groups = static_cast<double>((c.p.lwe_dimension.value() + g - 1) / g);
    const double subsets = static_cast<double>((std::size_t{1} << g) - 1);
    c.features[4] = groups * (k + 1) * (l + 1) * half * std::log2(half);
    c.features[5] = groups * subsets * (k + 1) * (k + 1) * l * big_n;
  } else {
    c.features[0] = n * (k + 1) * (l + 1) * half * std::log2(half);
    c.features[1] = n * (k + 1) * (k + 1) * l * big_n;
    c.features[3] = big_n >= 8192 ? n * (k + 1) * (k + 1) * (l - 1) * big_n : 0.0;
  }
  c.fixed = tfhe::estimate_noise_reduction_seconds(c.p);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times one lone KS + PBS of c.p (c.measured: the median of `runs`) and, if batch > 0, a batch of
// `batch` per pool thread on every thread (c.batched: the median of `runs`, in core-seconds per
// PBS).
void measure(Candidate& c, int runs, std::size_t batch) {
  const tfhe::PbsParameters& p = c.p;
  tfhe::Seed seed{};
  seed.fill(7);
  const tfhe::ClientKey client = tfhe::generate_client_key(p, seed);
  const tfhe::ServerKey server = tfhe::generate_server_key(client, seed);
  const tfhe::LookupTable table = tfhe::make_identity_table(p);
  tfhe::EncryptionGenerator gen(seed, seed, 99);
  const tfhe::LweCiphertext in = tfhe::encrypt(client, 1, gen);
  tfhe::LweCiphertext out(p.big_lwe_dimension());
  tfhe::keyswitch_bootstrap(server, in, table, out);  // warm-up
  if (tfhe::decrypt(client, out) != 1) std::fprintf(stderr, "warning: wrong PBS result\n");
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    tfhe::keyswitch_bootstrap(server, in, table, out);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  c.measured = median(t);
  if (batch == 0) return;
  const std::size_t threads = default_thread_pool().size(), total = batch * threads;
  tfhe::LweCiphertextList ins(p.big_lwe_dimension(), total), outs;
  for (std::size_t i = 0; i < total; ++i)
    std::copy(in.data().begin(), in.data().end(), ins[i].data().begin());
  const tfhe::LookupTable* tables[] = {&table};
  t.clear();
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    tfhe::keyswitch_bootstrap_batch(server, ins, tables, outs);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (tfhe::decrypt(client, outs[total - 1]) != 1)
    std::fprintf(stderr, "warning: wrong batched PBS result\n");
  c.batched = median(t) * static_cast<double>(threads) / static_cast<double>(total);
  // The keyswitches alone, in the groups of 16 the batch runs them in, on every core.
  constexpr std::size_t kGroup = 16;
  const std::size_t groups = (total + kGroup - 1) / kGroup;
  std::vector<tfhe::LweCiphertextList> small(groups);
  for (std::size_t g = 0; g < groups; ++g)
    small[g] = tfhe::LweCiphertextList(p.lwe_dimension, std::min(kGroup, total - g * kGroup));
  t.clear();
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    parallel_for(groups, [&](std::size_t g) {
      tfhe::keyswitch_range(server.keyswitch_key, ins, g * kGroup, small[g]);
    });
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  c.batched_ks = median(t) * static_cast<double>(threads) / static_cast<double>(total);
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (std::size_t m = i; m <= j; ++m) r[order[m]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

constexpr int kTerms = 6;

// Least squares on relative errors: minimize sum ((x . f_i + fixed_i - t_i) / t_i)^2 over the
// terms j with free[j]. The other terms, and those no candidate has (e.g. the extra level without
// l >= 2 at N >= 8192), keep their current constant `now[j]` (in the fixed part).
bool fit(const std::vector<Candidate>& cs, const double now[kTerms], const bool free[kTerms],
         double x[kTerms], bool batched = false) {
  int used[kTerms], m = 0;
  for (int j = 0; j < kTerms; ++j) {
    const bool any =
        std::any_of(cs.begin(), cs.end(), [&](const Candidate& c) { return c.features[j] != 0.0; });
    if (any && free[j]) used[m++] = j;
    x[j] = now[j];
  }
  if (m == 0 || cs.size() < static_cast<std::size_t>(m)) return false;
  double a[kTerms][kTerms + 1] = {};
  for (const Candidate& c : cs) {
    double row[kTerms], fixed = c.fixed;
    for (int j = 0; j < kTerms; ++j)
      if (std::find(used, used + m, j) == used + m) fixed += now[j] * c.features[j];
    const double t = batched ? c.batched : c.measured;
    for (int i = 0; i < m; ++i) row[i] = c.features[used[i]] / t;
    const double target = 1.0 - fixed / t;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < m; ++j) a[i][j] += row[i] * row[j];
      a[i][m] += row[i] * target;
    }
  }
  for (int col = 0; col < m; ++col) {  // Gauss-Jordan with partial pivoting
    int pivot = col;
    for (int r = col + 1; r < m; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    if (std::abs(a[pivot][col]) < 1e-300) return false;
    for (int j = 0; j <= m; ++j) std::swap(a[col][j], a[pivot][j]);
    for (int r = 0; r < m; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (int j = col; j <= m; ++j) a[r][j] -= f * a[col][j];
    }
  }
  for (int i = 0; i < m; ++i) x[used[i]] = a[i][m] / a[i][i];
  return true;
}

// The six constants in the order of Candidate::features.
void constants_array(const circuit::CostModelConstants& c, double out[kTerms]) {
  const double v[kTerms] = {c.fft,         c.key,           c.keyswitch,
                            c.extra_level, c.multi_bit_fft, c.multi_bit_key};
  std::copy(v, v + kTerms, out);
}

void print_constants(const char* label, const double x[kTerms]) {
  std::printf(
      "%s: fft %.4g, key %.4g, keyswitch %.4g, extra level %.4g, multi-bit fft %.4g, multi-bit "
      "key %.4g\n",
      label, x[0], x[1], x[2], x[3], x[4], x[5]);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned max_bits = 6;
  int runs = 5;
  std::size_t batch = 32;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) {  // a flag without its value (or --help)
      std::fprintf(stderr, "usage: cost_model_fit [--max-bits B] [--runs R] [--batch B]\n");
      return 2;
    }
    if (std::strcmp(argv[i], "--max-bits") == 0)
      max_bits = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--runs") == 0)
      runs = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--batch") == 0)
      batch = static_cast<std::size_t>(std::max(0, std::atoi(argv[i + 1])));
    else {
      std::fprintf(stderr, "usage: cost_model_fit [--max-bits B] [--runs R] [--batch B]\n");
      return 2;
    }
  }
  std::vector<Candidate> cs;
  // Classic sets for 1..max_bits, then multi-bit sets (g = 2, 3) for 3..min(7, max_bits).
  const auto add = [&](unsigned bits, unsigned log_n, std::size_t g) {
    circuit::OptimizerOptions o;
    o.min_log2_polynomial_size = o.max_log2_polynomial_size = log_n;
    o.grouping_factors = {g};
    const circuit::PbsRequirement req{bits, 4.0, 0.0, 1};
    const circuit::OutputRequirement out{bits, 1.0, 0.0, 1};
    try {
      const circuit::OptimizerResult r =
          circuit::optimize_pbs_parameters(std::span(&req, 1), std::span(&out, 1), o);
      Candidate c{bits, r.parameters};
      c.estimate = r.estimated_pbs_seconds;
      if (c.estimate > 0.5) return;  // keys of several GB: not worth timing
      if (tfhe::expanded_server_key_bytes(c.p) > (std::uint64_t{6} << 30)) return;
      compute_features(c);
      cs.push_back(c);
    } catch (const CompileError&) {
      // no 128-bit-secure set at this N for this precision
    }
  };
  for (unsigned bits = 1; bits <= max_bits; ++bits)
    for (unsigned log_n = 8; log_n <= 14; ++log_n) add(bits, log_n, 1);
  for (const std::size_t g : {2, 3})
    for (unsigned bits = 3; bits <= std::min(7u, max_bits); ++bits)
      for (unsigned log_n = 8; log_n <= 14; ++log_n) add(bits, log_n, g);
  std::printf("%-5s %-2s %-3s %-6s %-5s %-4s %-4s %12s %12s %12s\n", "bits", "g", "k", "N", "n",
              "l", "lks", "model ms", "measured ms", "refit ms");
  for (Candidate& c : cs) measure(c, runs, batch);
  double current[kTerms];
  constants_array(circuit::cost_model_constants(), current);
  // Two refits: every constant, and the multi-bit ones alone with the classic constants kept
  // (the multi-bit sets then rank against the classic model as it stands).
  const bool all[kTerms] = {true, true, true, true, true, true};
  const bool multi_bit_only[kTerms] = {false, false, false, false, true, true};
  double x[kTerms] = {}, xm[kTerms] = {};
  const bool fitted = fit(cs, current, all, x);
  const bool fitted_mb = fit(cs, current, multi_bit_only, xm);
  std::vector<double> refit_mb;
  std::vector<double> est, meas, refit;
  std::vector<double> kind_est[2], kind_meas[2], kind_refit[2];
  for (Candidate& c : cs) {
    c.refit = c.fixed;
    double mb = c.fixed;
    for (int j = 0; j < kTerms; ++j) {
      c.refit += x[j] * c.features[j];
      mb += xm[j] * c.features[j];
    }
    refit_mb.push_back(mb);
    est.push_back(c.estimate);
    meas.push_back(c.measured);
    refit.push_back(c.refit);
    const int kind = c.p.is_multi_bit() ? 1 : 0;
    kind_est[kind].push_back(c.estimate);
    kind_meas[kind].push_back(c.measured);
    kind_refit[kind].push_back(c.refit);
    std::printf("%-5u %-2zu %-3zu %-6zu %-5zu %-4zu %-4zu %12.3f %12.3f %12.3f\n", c.bits,
                c.p.grouping_factor.value(), c.p.glwe_dimension.value(),
                c.p.polynomial_size.value(), c.p.lwe_dimension.value(), c.p.pbs.level_count.value(),
                c.p.ks.level_count.value(), c.estimate * 1e3, c.measured * 1e3, c.refit * 1e3);
  }
  std::printf(
      "\n%zu candidates (%zu classic, %zu multi-bit). Spearman rank correlation, model vs "
      "measured: %.3f",
      cs.size(), kind_est[0].size(), kind_est[1].size(), spearman(est, meas));
  if (fitted) std::printf("; refit vs measured: %.3f", spearman(refit, meas));
  if (fitted_mb)
    std::printf("; multi-bit refit (classic constants kept) vs measured: %.3f",
                spearman(refit_mb, meas));
  for (int kind = 0; kind < 2; ++kind) {
    if (kind_est[kind].size() < 2) continue;
    std::printf("\n  %s only: model %.3f", kind == 0 ? "classic" : "multi-bit",
                spearman(kind_est[kind], kind_meas[kind]));
    if (fitted) std::printf(", refit %.3f", spearman(kind_refit[kind], kind_meas[kind]));
  }
  std::printf("\n");
  print_constants("constants (s per unit)", current);
  if (fitted) print_constants("refit on this machine", x);
  if (fitted_mb)
    std::printf("multi-bit refit, classic constants kept: multi-bit fft %.4g, multi-bit key %.4g\n",
                xm[4], xm[5]);
  if (batch > 0) {
    // The batched model (the optimizer's objective) and its refit on the batched times.
    double current_b[kTerms];
    constants_array(circuit::cost_model_constants(true), current_b);
    // The keyswitch constant from the keyswitches alone (least squares on relative errors, one
    // term), then the others with it fixed: over the candidates the keyswitch's levels vary too
    // little for the joint fit to tell it from the blind rotation's terms.
    double num = 0, den = 0;
    for (const Candidate& c : cs) {
      num += c.features[2] / c.batched_ks;
      den += (c.features[2] / c.batched_ks) * (c.features[2] / c.batched_ks);
    }
    double fixed_b[kTerms];
    std::copy(current_b, current_b + kTerms, fixed_b);
    fixed_b[2] = den > 0 ? num / den : current_b[2];
    const bool no_keyswitch[kTerms] = {true, true, false, true, true, true};
    double xb[kTerms] = {};
    const bool fitted_b = fit(cs, fixed_b, no_keyswitch, xb, true);
    std::vector<double> b_est, b_meas, b_refit;
    std::printf(
        "\nbatch of %zu per thread on every core (core-ms per PBS):\n%-5s %-2s %-3s %-6s %-5s %-4s "
        "%-4s %12s %12s %12s %12s\n",
        batch, "bits", "g", "k", "N", "n", "l", "lks", "model ms", "measured ms", "refit ms",
        "keyswitch ms");
    for (const Candidate& c : cs) {
      double r = c.fixed;
      for (int j = 0; j < kTerms; ++j) r += xb[j] * c.features[j];
      b_est.push_back(circuit::estimate_batched_pbs_seconds(c.p));
      b_meas.push_back(c.batched);
      b_refit.push_back(r);
      std::printf("%-5u %-2zu %-3zu %-6zu %-5zu %-4zu %-4zu %12.3f %12.3f %12.3f %12.3f\n", c.bits,
                  c.p.grouping_factor.value(), c.p.glwe_dimension.value(),
                  c.p.polynomial_size.value(), c.p.lwe_dimension.value(),
                  c.p.pbs.level_count.value(), c.p.ks.level_count.value(), b_est.back() * 1e3,
                  c.batched * 1e3, r * 1e3, c.batched_ks * 1e3);
    }
    std::printf("Spearman rank correlation, batched model vs batched measured: %.3f",
                spearman(b_est, b_meas));
    if (fitted_b) std::printf("; refit: %.3f", spearman(b_refit, b_meas));
    std::printf("\n");
    print_constants("batched constants", current_b);
    if (fitted_b) print_constants("batched refit", xb);
  }
  return 0;
}
