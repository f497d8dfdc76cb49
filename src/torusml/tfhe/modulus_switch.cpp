#include "torusml/tfhe/modulus_switch.h"

#include <bit>
#include <vector>

#include "torusml/common/check.h"
#include "torusml/common/error.h"

namespace torusml::tfhe {

namespace {
void switch_rounded(LweView in, PolynomialSize n, bool centered, std::span<std::uint32_t> out) {
  const std::size_t count = in.dimension().value();
  TORUSML_CHECK_EQ(out.size(), count + 1);
  const unsigned log2_2n = static_cast<unsigned>(std::countr_zero(n.value())) + 1;
  const unsigned shift = 64 - log2_2n;
  const Torus mod_mask = (Torus{1} << log2_2n) - 1;
  auto round_switch = [&](Torus a) { return ((a >> (shift - 1)) + 1) >> 1; };
  Torus correction = 0;
  const auto mask = in.mask();
  for (std::size_t i = 0; i < count; ++i) {
    const Torus r = round_switch(mask[i]);
    out[i] = static_cast<std::uint32_t>(r & mod_mask);
    if (centered) {
      const auto error = static_cast<std::int64_t>((r << shift) - mask[i]);  // rounded - exact
      correction += static_cast<Torus>(error >> 1);
    }
  }
  const Torus body = in.body() + correction - (Torus{1} << (shift - 1));
  out[count] = static_cast<std::uint32_t>(round_switch(body) & mod_mask);
}
}  // namespace

void modulus_switch(LweView in, PolynomialSize n, ModulusSwitchKind kind,
                    std::span<std::uint32_t> out) {
  if (uses_noise_reduction(kind)) {
    throw InvalidArgument(
        "modulus_switch: the Drift kinds need the server key's encryptions of zero: pass its "
        "ms_noise_reduction_key (or use keyswitch_bootstrap with the ServerKey)");
  }
  switch_rounded(in, n, kind == ModulusSwitchKind::CenteredMean, out);
}

void modulus_switch(LweView in, PolynomialSize n, ModulusSwitchKind kind,
                    const ModulusSwitchNoiseReductionKey* reduction, std::span<std::uint32_t> out) {
  if (!uses_noise_reduction(kind)) {
    switch_rounded(in, n, kind == ModulusSwitchKind::CenteredMean, out);
    return;
  }
  if (reduction == nullptr || reduction->empty()) {
    throw InvalidArgument(
        "modulus_switch: the Drift kinds need the server key's encryptions of zero, but none "
        "were given (generate the server key with these parameters)");
  }
  if (reduction->polynomial_size != n) {
    throw ParameterMismatch("modulus_switch: the noise reduction key was expanded for another N");
  }
  thread_local std::vector<Torus> copy;
  copy.assign(in.data().begin(), in.data().end());
  const LweMutView improved{std::span<Torus>(copy)};
  improve_modulus_switch_noise(improved, *reduction, kind);
  switch_rounded(improved, n, kind == ModulusSwitchKind::DriftCenteredMean, out);
}

}  // namespace torusml::tfhe
