#include "torusml/tfhe/noise_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace torusml::tfhe {

namespace {

double pow2(double e) {
  return std::exp2(e);
}
double base(DecompositionParameters d) {
  return pow2(static_cast<double>(d.base_log.value()));
}
double levels(DecompositionParameters d) {
  return static_cast<double>(d.level_count.value());
}
}  // namespace

double variance_fresh(const NoiseDistribution& d) {
  return d.variance();
}

double variance_keyswitch(LweDimension input, DecompositionParameters ks,
                          const NoiseDistribution& d) {
  const double k_in = static_cast<double>(input.value());
  const double b = base(ks), l = levels(ks);
  const double rounding = k_in * 0.5 * std::pow(b, -2.0 * l) / 12.0;
  const double key_noise =
      k_in * l * (b * b + 2.0) / 12.0 * (d.variance() + kKeyswitchKeyRoundingVariance);
  return rounding + key_noise;
}

namespace {

// P(U > v) for the rank U of the noise reduction's final measure (noise_model.h).
class FinalRankSurvival {
 public:
  FinalRankSurvival(std::size_t zeros, std::size_t rounds)
      : m_(2.0 * static_cast<double>(zeros)), c_(rounds + 1, 1.0) {
    for (std::size_t r = 1; r <= rounds; ++r)
      c_[r] = c_[r - 1] * m_ / (static_cast<double>(r - 1) * m_ + 1.0);
  }
  double operator()(double v) const {
    if (v <= 0.0) return 1.0;
    if (v >= 1.0) return 0.0;
    const double l = std::log1p(-v);
    const std::size_t rounds = c_.size() - 1;
    double s = 0.0;
    for (std::size_t r = 0; r < rounds; ++r) {
      const double k = static_cast<double>(r + 1) * m_ + 1.0;
      s += c_[r] * std::exp(k * l) / k;
    }
    const double k = static_cast<double>(rounds) * m_ + 1.0;
    return s + c_[rounds] * std::exp(k * l) / k;
  }

 private:
  double m_;
  std::vector<double> c_;
};

constexpr double kInvSqrt2Pi = 0.3989422804014327;

double normal_pdf(double x) {
  return kInvSqrt2Pi * std::exp(-0.5 * x * x);
}

// Composite Simpson rule of f over [a, b] with `intervals` (even) intervals.
template <class F>
double simpson(F&& f, double a, double b, int intervals) {
  const double h = (b - a) / intervals;
  double s = f(a) + f(b);
  for (int i = 1; i < intervals; ++i) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
  return s * h / 3.0;
}

// CDF of the DriftCenteredMean measure for dimension n: Edgeworth expansion (skewness term).
struct CenteredMeasureCdf {
  double mean, sd, skew;
  explicit CenteredMeasureCdf(double n)
      : mean(1.0 / 12.0 + n / 48.0),
        sd(std::sqrt((1.0 + n / 16.0) / 180.0)),
        skew((1.0 + n / 64.0) / 3780.0 / (sd * sd * sd)) {}
  double operator()(double y) const {
    const double t = (y - mean) / sd;
    const double f =
        0.5 * std::erfc(-t / std::sqrt(2.0)) - skew / 6.0 * (t * t - 1.0) * normal_pdf(t);
    return std::clamp(f, 0.0, 1.0);
  }
};

// CDF of the Drift measure for dimension n: sigma_1^2 chi^2_1 + N(mu_s, sd_s^2).
struct StandardMeasureCdf {
  double var1, mean_s, sd_s;
  explicit StandardMeasureCdf(double n)
      : var1(1.0 / 12.0 + n / 48.0), mean_s(n / 48.0), sd_s(std::sqrt(n / 2880.0)) {}
  double operator()(double y) const {
    // F(y) = int phi(g) P(chi^2_1 <= sd_s (g* - g) / var1) dg, g* = (y - mean_s) / sd_s, and
    // P(chi^2_1 <= x) = erf(sqrt(x / 2)).
    const double g_star = (y - mean_s) / sd_s;
    if (g_star < -10.0) return 0.0;
    const double c = std::sqrt(sd_s / (2.0 * var1));
    double f;
    if (g_star >= 8.0) {
      f = simpson([&](double g) { return normal_pdf(g) * std::erf(c * std::sqrt(g_star - g)); },
                  -10.0, 8.0, 160);
    } else {
      // g = g* - s^2 removes the square root's singularity at g = g*.
      f = simpson([&](double s) { return 2.0 * s * normal_pdf(g_star - s * s) * std::erf(c * s); },
                  0.0, std::sqrt(g_star + 10.0), 160);
    }
    return std::clamp(f, 0.0, 1.0);
  }
};

// E[M_final] = y_lo + int_{y_lo}^inf P(U > F(y)) dy, F(y_lo) ~ 0: Simpson steps of width
// `scale` / 16 up to y_lo + 24 scale, then steps growing by 2% of the distance, until the
// survival falls below 1e-14.
template <class Cdf>
double expected_final_measure(const Cdf& cdf, const FinalRankSurvival& survival, double y_lo,
                              double scale) {
  auto g = [&](double y) { return survival(cdf(y)); };
  double total = y_lo, y = y_lo;
  const double h = scale / 16.0;
  double gy = g(y);
  while (y < y_lo + 24.0 * scale) {
    const double g_mid = g(y + h), g_end = g(y + 2.0 * h);
    total += (gy + 4.0 * g_mid + g_end) * h / 3.0;
    y += 2.0 * h;
    gy = g_end;
    if (gy < 1e-14) return total;
  }
  while (gy >= 1e-14 && y < 1e9) {
    const double step = 0.02 * (y - y_lo);
    const double g_next = g(y + step);
    total += 0.5 * (gy + g_next) * step;
    y += step;
    gy = g_next;
  }
  return total;
}

}  // namespace

NoiseReductionRounds expected_noise_reduction_rounds(std::size_t zeros_count,
                                                     std::size_t max_rounds) {
  NoiseReductionRounds out;
  if (zeros_count == 0 || max_rounds == 0) return out;
  const double m = 2.0 * static_cast<double>(zeros_count);
  double c = 1.0;
  out.scans = 1.0;
  for (std::size_t r = 1; r <= max_rounds; ++r) {
    c *= m / (static_cast<double>(r - 1) * m + 1.0);
    const double active = c / (static_cast<double>(r) * m + 1.0);  // P(rounds 1..r improved)
    out.applied += active;
    if (r < max_rounds) out.scans += active;
  }
  return out;
}

namespace {
// The quadratures of modulus_switch_error_steps2 for the Drift kinds (~20 us for
// DriftCenteredMean, ~0.5 ms for Drift), memoised: the optimizer asks for the same (n, Z, R)
// many times.
double drift_error_steps2(double nn, bool centered, const ModulusSwitchNoiseReduction& r) {
  const FinalRankSurvival survival(r.zeros_count, r.max_rounds);
  if (centered) {
    const CenteredMeasureCdf cdf(nn);
    return expected_final_measure(cdf, survival, std::max(0.0, cdf.mean - 12.0 * cdf.sd), cdf.sd);
  }
  const StandardMeasureCdf cdf(nn);
  return expected_final_measure(cdf, survival, std::max(0.0, cdf.mean_s - 12.0 * cdf.sd_s),
                                cdf.sd_s);
}
}  // namespace

double modulus_switch_error_steps2(LweDimension n, ModulusSwitchKind kind,
                                   const ModulusSwitchNoiseReduction& r) {
  const double nn = static_cast<double>(n.value());
  const bool centered =
      kind == ModulusSwitchKind::CenteredMean || kind == ModulusSwitchKind::DriftCenteredMean;
  if (!uses_noise_reduction(kind) || r.zeros_count == 0 || r.max_rounds == 0)
    return 1.0 / 12.0 + nn / (centered ? 48.0 : 24.0);
  using Key = std::tuple<std::size_t, bool, std::size_t, std::size_t>;
  static std::mutex mutex;
  static std::map<Key, double> memo;
  const Key key{n.value(), centered, r.zeros_count, r.max_rounds};
  {
    std::lock_guard lock(mutex);
    if (const auto it = memo.find(key); it != memo.end()) return it->second;
  }
  const double v = drift_error_steps2(nn, centered, r);
  std::lock_guard lock(mutex);
  if (memo.size() >= (std::size_t{1} << 20)) memo.clear();
  memo.emplace(key, v);
  return v;
}

double variance_modulus_switch(LweDimension n, PolynomialSize N, ModulusSwitchKind kind,
                               const ModulusSwitchNoiseReduction& r) {
  const double nn = static_cast<double>(n.value()), big_n = static_cast<double>(N.value());
  if (!uses_noise_reduction(kind) || r.zeros_count == 0 || r.max_rounds == 0) {
    const bool centered =
        kind == ModulusSwitchKind::CenteredMean || kind == ModulusSwitchKind::DriftCenteredMean;
    return (1.0 + nn * (centered ? 0.25 : 0.5)) / (48.0 * big_n * big_n);
  }
  return modulus_switch_error_steps2(n, kind, r) / (4.0 * big_n * big_n) +
         expected_noise_reduction_rounds(r.zeros_count, r.max_rounds).applied *
             r.zeros_noise.variance();
}

double variance_modulus_switch(const PbsParameters& p) {
  return variance_modulus_switch(p.lwe_dimension, p.polynomial_size, p.modulus_switch,
                                 p.ms_noise_reduction);
}

double fft_error_log2_constant(FftBackendKind backend) {
  // Fitted by tests/tfhe/noise_test.cpp (FftErrorMatchesModel), which measures the phase error of
  // external products with noiseless GGSW(0) for each backend.
  switch (backend) {
    case FftBackendKind::Scalar:
      return -6.1;
    case FftBackendKind::Avx2:
      return -6.85;
    case FftBackendKind::Avx512:
      return -6.55;
  }
  return -6.1;
}

double variance_fft_external_product(GlweDimension k, PolynomialSize N, DecompositionParameters pbs,
                                     std::optional<FftBackendKind> backend) {
  const double kk = static_cast<double>(k.value()), big_n = static_cast<double>(N.value());
  const double b = base(pbs), l = levels(pbs);
  double c = fft_error_log2_constant(FftBackendKind::Scalar);
  if (backend) {
    c = fft_error_log2_constant(*backend);
  } else {
    for (auto kind : {FftBackendKind::Avx2, FftBackendKind::Avx512})
      c = std::max(c, fft_error_log2_constant(kind));
  }
  return pow2(c) * (kk + 1.0) * l * big_n * b * b * pow2(2.0 * (64 - 53)) * pow2(-128.0) *
         std::log2(big_n) * (1.0 + kk * big_n / 2.0);
}

double variance_external_product(GlweDimension k, PolynomialSize N, DecompositionParameters pbs,
                                 const NoiseDistribution& bsk_noise,
                                 std::optional<FftBackendKind> backend) {
  const double kk = static_cast<double>(k.value()), big_n = static_cast<double>(N.value());
  const double b = base(pbs), l = levels(pbs);
  const double key_noise = (kk + 1.0) * l * big_n * (b * b + 2.0) / 12.0 * bsk_noise.variance();
  const double rounding = 0.5 * (1.0 + kk * big_n / 2.0) * std::pow(b, -2.0 * l) / 12.0;
  return key_noise + rounding + variance_fft_external_product(k, N, pbs, backend);
}

double variance_blind_rotation(LweDimension n, GlweDimension k, PolynomialSize N,
                               DecompositionParameters pbs, const NoiseDistribution& bsk_noise,
                               std::optional<FftBackendKind> backend) {
  return static_cast<double>(n.value()) * variance_external_product(k, N, pbs, bsk_noise, backend);
}

double log2_gaussian_tail(double bound, double variance) {
  // P(|X| >= t) = erfc(x), x = t / sqrt(2 var).
  const double x = bound / std::sqrt(2.0 * variance);
  if (x < 20.0) return std::log2(std::erfc(x));
  // Asymptotic series: erfc(x) = exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(4x^4) - ...).
  const double inv = 1.0 / (2.0 * x * x);
  const double series = 1.0 - inv + 3.0 * inv * inv - 15.0 * inv * inv * inv;
  return (-x * x - std::log(x * std::sqrt(M_PI)) + std::log(series)) / std::log(2.0);
}

double variance_pbs_output(const PbsParameters& p, std::optional<FftBackendKind> backend) {
  if (p.is_multi_bit()) {
    return variance_multi_bit_blind_rotation(p.lwe_dimension, p.grouping_factor, p.glwe_dimension,
                                             p.polynomial_size, p.pbs, p.glwe_noise, backend);
  }
  return variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size, p.pbs,
                                 p.glwe_noise, backend);
}

PbsNoise pbs_noise(const PbsParameters& p, double input_variance, double two_norm) {
  PbsNoise r;
  r.input = two_norm * two_norm * input_variance;
  r.keyswitch = variance_keyswitch(p.big_lwe_dimension(), p.ks, p.lwe_noise);
  r.modulus_switch = variance_modulus_switch(p);
  r.total = r.input + r.keyswitch + r.modulus_switch;
  r.output = variance_pbs_output(p);
  const double half_step = std::ldexp(1.0, -static_cast<int>(p.message_bits) - 2);
  r.log2_p_fail = log2_gaussian_tail(half_step, r.total);
  return r;
}

double log2_pbs_failure_probability(const PbsParameters& p) {
  return pbs_noise(p, variance_pbs_output(p), p.max_two_norm).log2_p_fail;
}

double variance_multi_bit_external_product(GlweDimension k, PolynomialSize N,
                                           DecompositionParameters pbs,
                                           const NoiseDistribution& bsk_noise,
                                           std::size_t group_size,
                                           std::optional<FftBackendKind> backend) {
  const double kk = static_cast<double>(k.value()), big_n = static_cast<double>(N.value());
  const double b = base(pbs), l = levels(pbs);
  const double subsets = pow2(static_cast<double>(group_size)) - 1.0;
  const double key_noise =
      2.0 * subsets * (kk + 1.0) * l * big_n * (b * b + 2.0) / 12.0 * bsk_noise.variance();
  const double rounding = 2.0 * (1.0 - pow2(-static_cast<double>(group_size))) *
                          (1.0 + kk * big_n / 2.0) * std::pow(b, -2.0 * l) / 12.0;
  return key_noise + rounding + 2.0 * subsets * variance_fft_external_product(k, N, pbs, backend);
}

double variance_multi_bit_blind_rotation(LweDimension n, GroupingFactor g, GlweDimension k,
                                         PolynomialSize N, DecompositionParameters pbs,
                                         const NoiseDistribution& bsk_noise,
                                         std::optional<FftBackendKind> backend) {
  const std::size_t full = n.value() / g.value(), rest = n.value() % g.value();
  double v = static_cast<double>(full) *
             variance_multi_bit_external_product(k, N, pbs, bsk_noise, g.value(), backend);
  if (rest != 0) v += variance_multi_bit_external_product(k, N, pbs, bsk_noise, rest, backend);
  return v;
}

PbsNoise multi_bit_pbs_noise(const PbsParameters& p, GroupingFactor g, double input_variance,
                             double two_norm) {
  PbsNoise r = pbs_noise(p, input_variance, two_norm);
  r.output = variance_multi_bit_blind_rotation(p.lwe_dimension, g, p.glwe_dimension,
                                               p.polynomial_size, p.pbs, p.glwe_noise);
  return r;
}

double log2_multi_bit_pbs_failure_probability(const PbsParameters& p, GroupingFactor g) {
  const double out = variance_multi_bit_blind_rotation(p.lwe_dimension, g, p.glwe_dimension,
                                                       p.polynomial_size, p.pbs, p.glwe_noise);
  return pbs_noise(p, out, p.max_two_norm).log2_p_fail;
}

}  // namespace torusml::tfhe
