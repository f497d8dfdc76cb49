#include "torusml/tfhe/bootstrap.h"

#include <algorithm>
#include <sstream>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {
// Per-thread buffers of the bootstrap (reused across calls of the same shape).
struct BootstrapScratch {
  std::vector<std::uint32_t> switched;
  std::vector<Torus> accumulator;
  LweCiphertext small;
  ExternalProductScratch external_product;
};
BootstrapScratch& bootstrap_scratch() {
  thread_local BootstrapScratch scratch;
  return scratch;
}

void require_table(const FourierBootstrapKey& bsk, const LookupTable& lut) {
  if (lut.polynomial_size() != bsk.shape.ggsw.polynomial_size) {
    std::ostringstream os;
    os << "bootstrap: the lookup table was built for " << lut.polynomial_size()
       << " but the bootstrapping key has " << bsk.shape.ggsw.polynomial_size
       << "; build the table with the key's parameters";
    throw ParameterMismatch(os.str());
  }
}
}  // namespace

void blind_rotate(const FourierBootstrapKey& bsk, std::span<const std::uint32_t> switched,
                  const LookupTable& lut, std::span<Torus> acc) {
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const std::size_t count = bsk.shape.input_lwe_dimension.value();
  TORUSML_CHECK_EQ(switched.size(), count + 1);
  TORUSML_CHECK_EQ(acc.size(), g.glwe_size());
  require_table(bsk, lut);
  // acc = (0, ..., 0, X^(-b) v).
  std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(k * n), 0);
  polynomial_mul_monomial(acc.subspan(k * n, n), lut.accumulator,
                          (2 * n - switched[count]) % (2 * n));
  const FftPlan& plan = fft_plan(g.polynomial_size);
  BootstrapScratch& s = bootstrap_scratch();
  for (std::size_t i = 0; i < count; ++i) {
    if (switched[i] == 0) continue;  // X^0 acc - acc = 0: the CMux is the identity
    cmux_rotate(acc, bsk.ggsw(i), switched[i], g, plan, s.external_product);
  }
}

void sample_extract(std::span<const Torus> glwe, GlweDimension k, PolynomialSize n,
                    LweMutView out) {
  const std::size_t kk = k.value(), nn = n.value();
  TORUSML_CHECK_EQ(glwe.size(), (kk + 1) * nn);
  require_same_dimension(out.dimension(), LweDimension(kk * nn), "sample_extract output");
  auto mask = out.mask();
  for (std::size_t i = 0; i < kk; ++i) {
    const Torus* a = glwe.data() + i * nn;
    Torus* m = mask.data() + i * nn;
    // Constant coefficient of A_i S_i: a_0 s_0 - sum_{j>=1} a_{N-j} s_j.
    m[0] = a[0];
    for (std::size_t j = 1; j < nn; ++j) m[j] = Torus{0} - a[nn - j];
  }
  out.body() = glwe[kk * nn];
}

void bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
               const LookupTable& lut, LweMutView out) {
  const GgswShape& g = bsk.shape.ggsw;
  require_same_dimension(in.dimension(), bsk.shape.input_lwe_dimension, "bootstrap input");
  BootstrapScratch& s = bootstrap_scratch();
  s.switched.resize(in.dimension().value() + 1);
  s.accumulator.resize(g.glwe_size());
  modulus_switch(in, g.polynomial_size, kind, s.switched);
  blind_rotate(bsk, s.switched, lut, s.accumulator);
  sample_extract(s.accumulator, g.glwe_dimension, g.polynomial_size, out);
}

void keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut, LweMutView out) {
  BootstrapScratch& s = bootstrap_scratch();
  if (s.small.dimension() != key.parameters.lwe_dimension || s.small.data().empty())
    s.small = LweCiphertext(key.parameters.lwe_dimension);
  keyswitch(key.keyswitch_key, in, s.small);
  bootstrap(key.bootstrap_key, key.parameters.modulus_switch, s.small, lut, out);
}

LweCiphertext keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut) {
  LweCiphertext out(key.parameters.big_lwe_dimension());
  keyswitch_bootstrap(key, in, lut, out);
  return out;
}

void keyswitch_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                               std::span<const LookupTable* const> tables, LweCiphertextList& out) {
  if (tables.size() != 1 && tables.size() != in.size()) {
    std::ostringstream os;
    os << "keyswitch_bootstrap_batch: " << tables.size() << " tables for " << in.size()
       << " ciphertexts; pass one table, or one per ciphertext";
    throw InvalidArgument(os.str());
  }
  require_same_dimension(in.dimension(), key.parameters.big_lwe_dimension(), "batch input");
  if (out.size() != in.size() || out.dimension() != in.dimension())
    out = LweCiphertextList(in.dimension(), in.size());
  parallel_for(in.size(), [&](std::size_t i) {
    const LookupTable& t = *tables[tables.size() == 1 ? 0 : i];
    keyswitch_bootstrap(key, in[i], t, out[i]);
  });
}

}  // namespace torusml::tfhe
