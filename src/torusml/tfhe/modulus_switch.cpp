#include "torusml/tfhe/modulus_switch.h"

#include <bit>

#include "torusml/common/check.h"

namespace torusml::tfhe {

void modulus_switch(LweView in, PolynomialSize n, ModulusSwitchKind kind,
                    std::span<std::uint32_t> out) {
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
    if (kind == ModulusSwitchKind::CenteredMean) {
      const auto error = static_cast<std::int64_t>((r << shift) - mask[i]);  // rounded - exact
      correction += static_cast<Torus>(error >> 1);
    }
  }
  const Torus body = in.body() + correction - (Torus{1} << (shift - 1));
  out[count] = static_cast<std::uint32_t>(round_switch(body) & mod_mask);
}

}  // namespace torusml::tfhe
