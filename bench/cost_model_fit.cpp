// Fits the optimizer's cost model (circuit/optimizer/optimizer.h, estimate_pbs_seconds) to the
// machine it runs on, and says how well the model ranks the parameter sets the optimizer chooses
// between.
//
// Candidates: for each precision 1..max_bits and each polynomial size N = 2^8 .. 2^14, the
// optimizer's cheapest set with N forced (k, n and the decompositions free), for a PBS whose
// input sums a few PBS outputs (squared 2-norm 4) at p_error 2^-40: the sets it weighs against
// each other. Each one gets real keys and one KS + PBS timed on one core (median of --runs).
// Printed: per candidate the model's estimate, the measurement and the refit's estimate; the
// Spearman rank correlation of estimate vs measurement, before and after the refit; and the
// refit constants (least squares on relative errors) to put in optimizer.cpp.
//
//   build/bench/cost_model_fit [--max-bits 6] [--runs 5]
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
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"

namespace {

using namespace torusml;

struct Candidate {
  unsigned bits;
  tfhe::PbsParameters p;
  double estimate = 0, measured = 0, refit = 0;
  double features[4] = {0, 0, 0, 0};  // the model's four terms, per unit of each constant
  double fixed = 0;                   // the noise reduction's estimate (Drift kinds), not refitted
};

void compute_features(Candidate& c) {
  const double k = static_cast<double>(c.p.glwe_dimension.value());
  const double big_n = static_cast<double>(c.p.polynomial_size.value());
  const double l = static_cast<double>(c.p.pbs.level_count.value());
  const double lks = static_cast<double>(c.p.ks.level_count.value());
  const double n = static_cast<double>(c.p.lwe_dimension.value());
  const double half = big_n / 2.0;
  c.features[0] = n * (k + 1) * (l + 1) * half * std::log2(half);
  c.features[1] = n * (k + 1) * (k + 1) * l * big_n;
  c.features[2] = (n + 1) * k * big_n * lks;
  c.features[3] = big_n >= 8192 ? n * (k + 1) * (k + 1) * (l - 1) * big_n : 0.0;
  c.fixed = tfhe::estimate_noise_reduction_seconds(c.p);
}

double median_seconds(const tfhe::PbsParameters& p, int runs) {
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
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
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

constexpr int kTerms = 4;

// Least squares on relative errors: minimize sum ((x . f_i + fixed_i - t_i) / t_i)^2.
bool fit(const std::vector<Candidate>& cs, double x[kTerms]) {
  double a[kTerms][kTerms + 1] = {};
  for (const Candidate& c : cs) {
    double row[kTerms];
    for (int j = 0; j < kTerms; ++j) row[j] = c.features[j] / c.measured;
    const double target = 1.0 - c.fixed / c.measured;
    for (int i = 0; i < kTerms; ++i) {
      for (int j = 0; j < kTerms; ++j) a[i][j] += row[i] * row[j];
      a[i][kTerms] += row[i] * target;
    }
  }
  for (int col = 0; col < kTerms; ++col) {  // Gauss-Jordan with partial pivoting
    int pivot = col;
    for (int r = col + 1; r < kTerms; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    if (std::abs(a[pivot][col]) < 1e-300) return false;
    for (int j = 0; j <= kTerms; ++j) std::swap(a[col][j], a[pivot][j]);
    for (int r = 0; r < kTerms; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (int j = col; j <= kTerms; ++j) a[r][j] -= f * a[col][j];
    }
  }
  for (int i = 0; i < kTerms; ++i) x[i] = a[i][kTerms] / a[i][i];
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned max_bits = 6;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--max-bits") == 0)
      max_bits = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--runs") == 0)
      runs = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: cost_model_fit [--max-bits B] [--runs R]\n");
      return 2;
    }
  }
  std::vector<Candidate> cs;
  for (unsigned bits = 1; bits <= max_bits; ++bits) {
    for (unsigned log_n = 8; log_n <= 14; ++log_n) {
      circuit::OptimizerOptions o;
      o.min_log2_polynomial_size = o.max_log2_polynomial_size = log_n;
      const circuit::PbsRequirement req{bits, 4.0, 0.0, 1};
      const circuit::OutputRequirement out{bits, 1.0, 0.0, 1};
      try {
        const circuit::OptimizerResult r =
            circuit::optimize_pbs_parameters(std::span(&req, 1), std::span(&out, 1), o);
        Candidate c{bits, r.parameters};
        c.estimate = r.estimated_pbs_seconds;
        if (c.estimate > 0.5) continue;  // keys of several GB: not worth timing
        compute_features(c);
        cs.push_back(c);
      } catch (const CompileError&) {
        // no 128-bit-secure set at this N for this precision
      }
    }
  }
  std::printf("%-5s %-3s %-6s %-5s %-4s %-4s %12s %12s %12s\n", "bits", "k", "N", "n", "l", "lks",
              "model ms", "measured ms", "refit ms");
  for (Candidate& c : cs) {
    c.measured = median_seconds(c.p, runs);
    std::fflush(stdout);
  }
  double x[kTerms] = {0, 0, 0, 0};
  const bool fitted = cs.size() >= kTerms && fit(cs, x);
  std::vector<double> est, meas, refit;
  for (Candidate& c : cs) {
    c.refit = c.fixed;
    for (int j = 0; j < kTerms; ++j) c.refit += x[j] * c.features[j];
    est.push_back(c.estimate);
    meas.push_back(c.measured);
    refit.push_back(c.refit);
    std::printf("%-5u %-3zu %-6zu %-5zu %-4zu %-4zu %12.3f %12.3f %12.3f\n", c.bits,
                c.p.glwe_dimension.value(), c.p.polynomial_size.value(), c.p.lwe_dimension.value(),
                c.p.pbs.level_count.value(), c.p.ks.level_count.value(), c.estimate * 1e3,
                c.measured * 1e3, c.refit * 1e3);
  }
  const circuit::CostModelConstants now = circuit::cost_model_constants();
  std::printf("\n%zu candidates. Spearman rank correlation, model vs measured: %.3f", cs.size(),
              spearman(est, meas));
  if (fitted) std::printf("; refit vs measured: %.3f", spearman(refit, meas));
  std::printf("\nconstants (s per unit): fft %.4g, key %.4g, keyswitch %.4g, extra level %.4g\n",
              now.fft, now.key, now.keyswitch, now.extra_level);
  if (fitted)
    std::printf("refit on this machine:  fft %.4g, key %.4g, keyswitch %.4g, extra level %.4g\n",
                x[0], x[1], x[2], x[3]);
  return 0;
}
