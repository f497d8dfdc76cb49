#include "torusml/tfhe/modulus_switch_noise_reduction.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <sstream>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/multiversion.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/noise_model.h"

namespace torusml::tfhe {

namespace {

unsigned log2_two_n(PolynomialSize n) {
  return static_cast<unsigned>(std::countr_zero(n.value())) + 1;
}

// The 16 bits of t just below the switch's cut (the fraction of a step, scaled by 2^16): the
// rounding error of the switch is -(int16) window / 2^16 steps.
std::uint16_t window_of(Torus t, unsigned log2_2n) {
  return static_cast<std::uint16_t>((t << log2_2n) >> 48);
}

// Rounding error (rounded - exact) of the switch of t, in steps, rounding half up as
// modulus_switch does. shift = 64 - log2(2N).
double rounding_error_steps(Torus t, unsigned shift) {
  const Torus rounded = (((t >> (shift - 1)) + 1) >> 1) << shift;
  return std::ldexp(static_cast<double>(static_cast<std::int64_t>(rounded - t)),
                    -static_cast<int>(shift));
}

bool standard_measure(ModulusSwitchKind kind) {
  return kind == ModulusSwitchKind::Standard || kind == ModulusSwitchKind::Drift;
}

// Window sums of one candidate: x = sum of the signed windows (the rounding errors are -x / 2^16
// steps) and q = sum of r^2 with r = round(window / 256) (sum e_i^2 ~ q / 2^16 squared steps).
struct WindowSums {
  std::int64_t x = 0, q = 0;
};

// Blocks whose 32-bit partial sums cannot overflow (|window| <= 2^15, r^2 <= 2^14).
constexpr std::size_t kBlock = 4096;

// Sums of the candidates c + z and c - z from the windows w of c and z of the zero.
TORUSML_MULTIVERSION void scan_pair(const std::uint16_t* __restrict w,
                                    const std::uint16_t* __restrict z, std::size_t n,
                                    std::int64_t* __restrict out) {
  std::int64_t xp = 0, qp = 0, xm = 0, qm = 0;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t end = std::min(n, b + kBlock);
    std::int32_t bxp = 0, bqp = 0, bxm = 0, bqm = 0;
    for (std::size_t i = b; i < end; ++i) {
      const auto sp = static_cast<std::int16_t>(static_cast<std::uint16_t>(w[i] + z[i]));
      const auto sm = static_cast<std::int16_t>(static_cast<std::uint16_t>(w[i] - z[i]));
      bxp += sp;
      bxm += sm;
      const auto rp = static_cast<std::int16_t>((sp + 128) >> 8);
      const auto rm = static_cast<std::int16_t>((sm + 128) >> 8);
      bqp += rp * rp;
      bqm += rm * rm;
    }
    xp += bxp;
    qp += bqp;
    xm += bxm;
    qm += bqm;
  }
  out[0] = xp;
  out[1] = qp;
  out[2] = xm;
  out[3] = qm;
}

WindowSums sums_of(const std::uint16_t* w, std::size_t n) {
  WindowSums s;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<std::int16_t>(w[i]);
    const auto r = static_cast<std::int16_t>((x + 128) >> 8);
    s.x += x;
    s.q += r * r;
  }
  return s;
}

// The measure of a candidate with window sums s and body `body`.
double measure_from_sums(const WindowSums& s, Torus body, bool standard, unsigned shift) {
  const Torus half = Torus{1} << (shift - 1);
  const double sum_sq = std::ldexp(static_cast<double>(s.q), -16);  // sum e_i^2, steps^2
  if (standard) {
    const double sum_e = -std::ldexp(static_cast<double>(s.x), -16);  // sum e_i, steps
    const double mean = rounding_error_steps(body - half, shift) - 0.5 * sum_e;
    return mean * mean + 0.25 * sum_sq;
  }
  // CenteredMean: the body gets sum e_i / 2 = -x / 2^17 steps = -x 2^(shift - 17) torus units.
  const Torus correction = static_cast<Torus>(-s.x) * (Torus{1} << (shift - 17));
  const double eb = rounding_error_steps(body + correction - half, shift);
  return eb * eb + 0.25 * sum_sq;
}

// Constants of estimate_noise_reduction_seconds, fitted to improve_modulus_switch_noise's thread
// CPU time on one core of this machine (AVX-512 clone of scan_pair), with the caches flushed
// before each call as in a bootstrap (the blind rotation streams the bootstrapping key), n = 700,
// 918, 1100 and Z = 16 ... 4096, R = 1, 2 (within 10% from Z = 64): per zero and mask element of
// a scan; per mask word and call (the ciphertext's windows and sums, the first regenerated
// zero, cold caches: ~12 us at n = 918); per mask word of each applied zero (ChaCha20 and the
// addition). bench_tfhe ms_noise_reduction/... measures the same with warm caches.
constexpr double kScanSecondsPerWindow = 0.1e-9;
constexpr double kFixedSecondsPerWord = 12e-9;
constexpr double kApplySecondsPerWord = 2e-9;

}  // namespace

SeededLweCiphertextList generate_modulus_switch_zeros(const LweSecretKey& small_key,
                                                      const PbsParameters& params,
                                                      const Seed& mask_seed,
                                                      const Seed& noise_seed) {
  TORUSML_CHECK(uses_noise_reduction(params.modulus_switch),
                "generate_modulus_switch_zeros: no noise reduction in " << params.name);
  const std::vector<Torus> zeros(params.ms_noise_reduction.zeros_count, 0);
  Csprng noise(noise_seed);
  return encrypt_lwe_list_seeded(small_key, zeros, params.ms_noise_reduction.zeros_noise, mask_seed,
                                 noise);
}

ModulusSwitchNoiseReductionKey expand_noise_reduction_key(const SeededLweCiphertextList& zeros,
                                                          PolynomialSize polynomial_size,
                                                          std::size_t max_rounds) {
  ModulusSwitchNoiseReductionKey key;
  key.zeros = zeros;
  key.polynomial_size = polynomial_size;
  key.max_rounds = max_rounds;
  const std::size_t n = zeros.dimension.value(), count = zeros.size();
  key.windows.resize(count * n);
  const unsigned l2 = log2_two_n(polynomial_size);
  parallel_for(
      count,
      [&](std::size_t j) {
        std::vector<Torus> mask(n);
        Csprng masks(zeros.mask_seed, j + 1);
        masks.fill_uniform(mask);
        std::uint16_t* row = key.windows.data() + j * n;
        for (std::size_t i = 0; i < n; ++i) row[i] = window_of(mask[i], l2);
      },
      16);
  return key;
}

double modulus_switch_error_measure(LweView ct, PolynomialSize polynomial_size,
                                    ModulusSwitchKind kind) {
  const unsigned shift = 64 - log2_two_n(polynomial_size);
  const Torus half = Torus{1} << (shift - 1);
  double sum = 0, sum_sq = 0;
  Torus correction = 0;
  for (Torus a : ct.mask()) {
    const double e = rounding_error_steps(a, shift);
    sum += e;
    sum_sq += e * e;
    const Torus rounded = (((a >> (shift - 1)) + 1) >> 1) << shift;
    correction += static_cast<Torus>(static_cast<std::int64_t>(rounded - a) >> 1);
  }
  if (standard_measure(kind)) {
    const double mean = rounding_error_steps(ct.body() - half, shift) - 0.5 * sum;
    return mean * mean + 0.25 * sum_sq;
  }
  const double eb = rounding_error_steps(ct.body() + correction - half, shift);
  return eb * eb + 0.25 * sum_sq;
}

NoiseReductionOutcome improve_modulus_switch_noise(LweMutView ct,
                                                   const ModulusSwitchNoiseReductionKey& key,
                                                   ModulusSwitchKind kind) {
  if (!uses_noise_reduction(kind)) {
    throw InvalidArgument(
        "improve_modulus_switch_noise: the modulus switch kind must be Drift (3) or "
        "DriftCenteredMean (4), not " +
        std::to_string(static_cast<int>(kind)));
  }
  require_same_dimension(ct.dimension(), key.zeros.dimension, "modulus switch noise reduction");
  const std::size_t n = ct.dimension().value(), count = key.zeros.size();
  TORUSML_CHECK_EQ(key.windows.size(), count * n);
  const unsigned l2 = log2_two_n(key.polynomial_size), shift = 64 - l2;
  const bool standard = standard_measure(kind);

  thread_local std::vector<std::uint16_t> w;
  thread_local std::vector<Torus> zero_mask;
  w.resize(n);
  zero_mask.resize(n);
  auto mask = ct.mask();
  auto refresh_windows = [&] {
    for (std::size_t i = 0; i < n; ++i) w[i] = window_of(mask[i], l2);
  };
  refresh_windows();
  double current = measure_from_sums(sums_of(w.data(), n), ct.body(), standard, shift);

  NoiseReductionOutcome outcome;
  for (std::size_t round = 0; round < key.max_rounds && count > 0; ++round) {
    ++outcome.scans;
    double best = current;
    std::size_t best_j = count;
    bool best_negated = false;
    for (std::size_t j = 0; j < count; ++j) {
      std::int64_t s[4];
      scan_pair(w.data(), key.windows.data() + j * n, n, s);
      const Torus zb = key.zeros.bodies[j];
      const double plus = measure_from_sums({s[0], s[1]}, ct.body() + zb, standard, shift);
      const double minus = measure_from_sums({s[2], s[3]}, ct.body() - zb, standard, shift);
      if (plus < best) best = plus, best_j = j, best_negated = false;
      if (minus < best) best = minus, best_j = j, best_negated = true;
    }
    if (best_j == count) break;
    Csprng masks(key.zeros.mask_seed, best_j + 1);
    masks.fill_uniform(zero_mask);
    if (best_negated) {
      for (std::size_t i = 0; i < n; ++i) mask[i] -= zero_mask[i];
      ct.body() -= key.zeros.bodies[best_j];
    } else {
      for (std::size_t i = 0; i < n; ++i) mask[i] += zero_mask[i];
      ct.body() += key.zeros.bodies[best_j];
    }
    ++outcome.applied;
    refresh_windows();
    current = measure_from_sums(sums_of(w.data(), n), ct.body(), standard, shift);
  }
  return outcome;
}

double estimate_noise_reduction_seconds(LweDimension n, const ModulusSwitchNoiseReduction& r) {
  const NoiseReductionRounds rounds = expected_noise_reduction_rounds(r.zeros_count, r.max_rounds);
  const double nn = static_cast<double>(n.value());
  if (r.zeros_count == 0 || r.max_rounds == 0) return 0.0;
  return rounds.scans * static_cast<double>(r.zeros_count) * nn * kScanSecondsPerWindow +
         nn * kFixedSecondsPerWord + rounds.applied * nn * kApplySecondsPerWord;
}

double estimate_noise_reduction_seconds(const PbsParameters& params) {
  if (!uses_noise_reduction(params.modulus_switch)) return 0.0;
  return estimate_noise_reduction_seconds(params.lwe_dimension, params.ms_noise_reduction);
}

}  // namespace torusml::tfhe
