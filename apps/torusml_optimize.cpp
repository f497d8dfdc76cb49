// Prints the parameters the optimizer chooses for one p-bit PBS requirement (2-norm 1: the input
// is a PBS output), p = 1 ... 10, next to the published preset of the same precision (1 ... 8):
// dimensions, decompositions, failure probability per PBS and the cost model's time per PBS.
//
//   torusml_optimize [log2_p_error]     (default -40: p_error = 2^-40)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"

using namespace torusml;

namespace {

void print_set(const tfhe::PbsParameters& p, double log2_p_fail, double seconds) {
  char pbs[16], ks[16];
  std::snprintf(pbs, sizeof pbs, "2^%zux%zu", p.pbs.base_log.value(), p.pbs.level_count.value());
  std::snprintf(ks, sizeof ks, "2^%zux%zu", p.ks.base_log.value(), p.ks.level_count.value());
  std::printf(" %5zu %2zu %6zu %8s %8s %2zu %8.1f %8.3f", p.lwe_dimension.value(),
              p.glwe_dimension.value(), p.polynomial_size.value(), pbs, ks,
              p.grouping_factor.value(), log2_p_fail, seconds * 1e3);
}

/// log2 p_fail of `p` for a PBS whose input is one PBS output (2-norm 1).
double log2_p_fail_norm1(const tfhe::PbsParameters& p) {
  return tfhe::pbs_noise(p, tfhe::variance_pbs_output(p), 1.0).log2_p_fail;
}

}  // namespace

int main(int argc, char** argv) {
  double log2_p_error = -40.0;
  if (argc > 1) {
    char* end = nullptr;
    log2_p_error = std::strtod(argv[1], &end);
    if (argc > 2 || end == argv[1] || *end != '\0' || !(log2_p_error < 0) || log2_p_error < -1000) {
      std::fprintf(stderr,
                   "usage: torusml_optimize [log2_p_error]   (a negative number, default -40: "
                   "p_error = 2^-40)\n");
      return 2;
    }
  }
  circuit::OptimizerOptions options;
  options.p_error = std::exp2(log2_p_error);
  std::printf(
      "optimizer at p_error 2^%.1f, one requirement (pbs_weight 1, fresh_weight 0) vs the "
      "presets (p_fail at 2-norm 1); times from the cost model, one core\n",
      log2_p_error);
  std::printf("%4s | %5s %2s %6s %8s %8s %2s %8s %8s %7s | %5s %2s %6s %8s %8s %2s %8s %8s | %6s\n",
              "bits", "n", "k", "N", "pbs", "ks", "g", "log2_pf", "ms/PBS", "search", "n", "k", "N",
              "pbs", "ks", "g", "log2_pf", "ms/PBS", "ratio");
  for (unsigned bits = 1; bits <= 10; ++bits) {
    const std::vector<circuit::PbsRequirement> req = {{bits, 1.0, 0.0, 1}};
    std::printf("%4u |", bits);
    double seconds = 0;
    try {
      const auto t0 = std::chrono::steady_clock::now();
      const circuit::OptimizerResult r = circuit::optimize_pbs_parameters(req, {}, options);
      const double search_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      seconds = r.estimated_pbs_seconds;
      print_set(r.parameters, r.log2_worst_p_error, seconds);
      std::printf(" %5.1fms |", search_ms);
    } catch (const CompileError& e) {
      std::printf(" %-68s |", "no parameters");
    }
    if (bits <= 8) {
      const tfhe::PbsParameters& preset = tfhe::preset_for_bits(bits);
      const double preset_seconds = circuit::estimate_pbs_seconds(preset);
      print_set(preset, log2_p_fail_norm1(preset), preset_seconds);
      if (seconds > 0) std::printf(" | %6.2f", seconds / preset_seconds);
    }
    std::printf("\n");
  }
  return 0;
}
