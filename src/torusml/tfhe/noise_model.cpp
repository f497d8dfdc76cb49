#include "torusml/tfhe/noise_model.h"

#include <algorithm>
#include <cmath>

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

double variance_modulus_switch(LweDimension n, PolynomialSize N, ModulusSwitchKind kind) {
  const double nn = static_cast<double>(n.value()), big_n = static_cast<double>(N.value());
  const double key_factor = kind == ModulusSwitchKind::CenteredMean ? 0.25 : 0.5;
  return (1.0 + nn * key_factor) / (48.0 * big_n * big_n);
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

PbsNoise pbs_noise(const PbsParameters& p, double input_variance, double two_norm) {
  PbsNoise r;
  r.input = two_norm * two_norm * input_variance;
  r.keyswitch = variance_keyswitch(p.big_lwe_dimension(), p.ks, p.lwe_noise);
  r.modulus_switch = variance_modulus_switch(p.lwe_dimension, p.polynomial_size, p.modulus_switch);
  r.total = r.input + r.keyswitch + r.modulus_switch;
  r.output = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size, p.pbs,
                                     p.glwe_noise);
  const double half_step = std::ldexp(1.0, -static_cast<int>(p.message_bits) - 2);
  r.log2_p_fail = log2_gaussian_tail(half_step, r.total);
  return r;
}

double log2_pbs_failure_probability(const PbsParameters& p) {
  const double out = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size,
                                             p.pbs, p.glwe_noise);
  return pbs_noise(p, out, p.max_two_norm).log2_p_fail;
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
