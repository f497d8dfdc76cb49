#include "torusml/tfhe/many_lut.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <sstream>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/bootstrap_detail.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

namespace {

unsigned ceil_log2(std::size_t c) {
  return c <= 1 ? 0 : static_cast<unsigned>(std::bit_width(c - 1));
}

void require_table(PolynomialSize key_size, const ManyLookupTable& lut) {
  if (lut.polynomial_size() != key_size) {
    std::ostringstream os;
    os << "many-LUT bootstrap: the table was built for " << lut.polynomial_size()
       << " but the bootstrapping key has " << key_size
       << "; build the table with the key's parameters";
    throw ParameterMismatch(os.str());
  }
}

void require_outputs(const ManyLookupTable& lut, std::size_t outputs) {
  if (outputs != lut.count) {
    std::ostringstream os;
    os << "many-LUT bootstrap: " << outputs << " outputs for a table of " << lut.count
       << " functions; pass one output per function";
    throw InvalidArgument(os.str());
  }
}

// The batch of keyswitch_many_lut_bootstrap_batch for a multi-bit key (inputs, tables and
// outputs checked and sized by the caller): lockstep walks of about MultiBitBatchOptions::lockstep
// ciphertexts, sized so that the threads get equal shares (as keyswitch_multi_bit_bootstrap_batch),
// one pool task each: the walk's keyswitches share a pass over the keyswitching key, its switches
// to 2N / 2^theta then go through the multi-bit key together (multi_bit_blind_rotate_lockstep,
// bit-identical to the single form).
void multi_bit_many_lut_batch(const ServerKey& key, const FourierMultiBitBootstrapKey& bsk,
                              const LweCiphertextList& in,
                              std::span<const ManyLookupTable* const> tables,
                              std::vector<LweCiphertextList>& out) {
  const MultiBitBatchOptions options;
  const std::size_t group = detail::lockstep_walk_size(in.size(), options.lockstep);
  const GgswShape& g = bsk.shape.ggsw;
  const std::size_t n_small = key.parameters.lwe_dimension.value();
  parallel_for((in.size() + group - 1) / group, [&](std::size_t gi) {
    const std::size_t begin = gi * group, size = std::min(in.size(), begin + group) - begin;
    LweCiphertextList small(key.parameters.lwe_dimension, size);
    keyswitch_range(key.keyswitch_key, in, begin, small);
    std::vector<std::uint32_t> switched(size * (n_small + 1));
    std::vector<Torus> accs(size * g.glwe_size());
    std::vector<std::span<const std::uint32_t>> switched_views;
    std::vector<std::span<Torus>> acc_views;
    std::vector<const LookupTable*> packed;
    for (std::size_t t = 0; t < size; ++t) {
      const ManyLookupTable& lut = *tables[tables.size() == 1 ? 0 : begin + t];
      const std::span<std::uint32_t> sw(switched.data() + t * (n_small + 1), n_small + 1);
      many_lut_modulus_switch(small[t], g.polynomial_size, lut.log2_slots,
                              key.parameters.modulus_switch, nullptr, sw);
      switched_views.push_back(sw);
      acc_views.emplace_back(accs.data() + t * g.glwe_size(), g.glwe_size());
      packed.push_back(&lut.packed);
    }
    multi_bit_blind_rotate_lockstep(bsk, switched_views, packed, acc_views, options.tile_bytes);
    for (std::size_t t = 0; t < size; ++t)
      for (std::size_t j = 0; j < out.size(); ++j)
        sample_extract(acc_views[t], g.glwe_dimension, g.polynomial_size, j, out[j][begin + t]);
  });
}

}  // namespace

ManyLookupTable make_many_lookup_table(PolynomialSize n, unsigned input_bits,
                                       std::span<const std::vector<Torus>> outputs) {
  if (outputs.empty())
    throw InvalidArgument("many-LUT table: no function given; pass at least one table");
  const unsigned theta = ceil_log2(outputs.size());
  const std::size_t size = n.value();
  if (input_bits < 1 || input_bits + theta > 20 ||
      (std::size_t{1} << (input_bits + theta + 1)) > size) {
    std::ostringstream os;
    os << "many-LUT table: " << outputs.size() << " tables of " << input_bits
       << "-bit inputs need a polynomial size of at least 2^" << (input_bits + theta + 1)
       << " (got " << n << "): use fewer tables or a larger N";
    throw InvalidArgument(os.str());
  }
  const std::size_t slots = std::size_t{1} << theta;
  ManyLookupTable t;
  t.input_bits = input_bits;
  t.log2_slots = theta;
  t.count = outputs.size();
  t.packed.input_bits = input_bits;
  t.packed.accumulator.assign(size, 0);
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    // u_j: the single table for N / 2^theta (its size checks included), spread over slot j.
    const LookupTable u = make_lookup_table(PolynomialSize(size >> theta), input_bits, outputs[j]);
    for (std::size_t s = 0; s < u.accumulator.size(); ++s)
      t.packed.accumulator[s * slots + j] = u.accumulator[s];
  }
  return t;
}

ManyLookupTable make_many_lookup_table(
    const PbsParameters& params, std::span<const std::function<std::int64_t(std::uint64_t)>> fs) {
  const unsigned big_p = params.message_bits, theta = ceil_log2(fs.size());
  if (fs.empty() || theta >= big_p) {
    std::ostringstream os;
    os << "many-LUT table: " << fs.size() << " functions leave no input bit of a " << big_p
       << "-bit parameter set (at most 2^" << (big_p - 1) << " functions)";
    throw InvalidArgument(os.str());
  }
  const unsigned p = big_p - theta;
  std::vector<std::vector<Torus>> outputs;
  for (const auto& f : fs) {
    std::vector<Torus> values(std::size_t{1} << p);
    for (std::uint64_t m = 0; m < values.size(); ++m) values[m] = encode_message(f(m), big_p);
    outputs.push_back(std::move(values));
  }
  return make_many_lookup_table(params.polynomial_size, p, outputs);
}

void many_lut_modulus_switch(LweView in, PolynomialSize n, unsigned log2_slots,
                             ModulusSwitchKind kind,
                             const ModulusSwitchNoiseReductionKey* reduction,
                             std::span<std::uint32_t> out) {
  TORUSML_CHECK_LE(std::size_t{1} << log2_slots, n.value());
  modulus_switch(in, PolynomialSize(n.value() >> log2_slots), kind, reduction, out);
  if (log2_slots == 0) return;
  for (auto& v : out) v <<= log2_slots;
}

ModulusSwitchNoiseReductionKey many_lut_noise_reduction_key(const ServerKey& key,
                                                            unsigned log2_slots) {
  if (!uses_noise_reduction(key.parameters.modulus_switch)) return {};
  const ModulusSwitchNoiseReductionKey& full = key.ms_noise_reduction_key;
  if (log2_slots == 0) return full;
  return expand_noise_reduction_key(
      full.zeros, PolynomialSize(key.parameters.polynomial_size.value() >> log2_slots),
      full.max_rounds);
}

namespace {

// The many-LUT bootstrap over either kind of bootstrapping key (classic or multi-bit, which share
// the shape fields used here): the coarser modulus switch, `rotate` (the key's blind rotation),
// one sample extraction per output.
template <class Key, class Rotate>
void many_lut_bootstrap_with(const Key& bsk, ModulusSwitchKind kind,
                             const ModulusSwitchNoiseReductionKey* reduction, LweView in,
                             const ManyLookupTable& lut, std::span<const LweMutView> out,
                             const Rotate& rotate) {
  const GgswShape& g = bsk.shape.ggsw;
  require_same_dimension(in.dimension(), bsk.shape.input_lwe_dimension, "many-LUT input");
  require_table(g.polynomial_size, lut);
  require_outputs(lut, out.size());
  thread_local std::vector<std::uint32_t> switched;
  thread_local std::vector<Torus> acc;
  switched.resize(in.dimension().value() + 1);
  acc.resize(g.glwe_size());
  many_lut_modulus_switch(in, g.polynomial_size, lut.log2_slots, kind, reduction, switched);
  rotate(bsk, std::span<const std::uint32_t>(switched), lut.packed, std::span<Torus>(acc));
  for (std::size_t j = 0; j < out.size(); ++j)
    sample_extract(acc, g.glwe_dimension, g.polynomial_size, j, out[j]);
}

}  // namespace

void many_lut_bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind,
                        const ModulusSwitchNoiseReductionKey* reduction, LweView in,
                        const ManyLookupTable& lut, std::span<const LweMutView> out) {
  many_lut_bootstrap_with(bsk, kind, reduction, in, lut, out,
                          [](const auto& key, auto switched, const auto& table, auto acc) {
                            blind_rotate(key, switched, table, acc);
                          });
}

void many_lut_bootstrap(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
                        const ManyLookupTable& lut, std::span<const LweMutView> out) {
  many_lut_bootstrap_with(bsk, kind, nullptr, in, lut, out,
                          [](const auto& key, auto switched, const auto& table, auto acc) {
                            multi_bit_blind_rotate(key, switched, table, acc);
                          });
}

void keyswitch_many_lut_bootstrap(const ServerKey& key, LweView in, const ManyLookupTable& lut,
                                  std::span<const LweMutView> out) {
  thread_local LweCiphertext small;
  if (small.dimension() != key.parameters.lwe_dimension || small.data().empty())
    small = LweCiphertext(key.parameters.lwe_dimension);
  const FourierMultiBitBootstrapKey* mb = detail::multi_bit_key(key);
  keyswitch(key.keyswitch_key, in, small);
  if (mb != nullptr) {
    many_lut_bootstrap(*mb, key.parameters.modulus_switch, small, lut, out);
    return;
  }
  const bool drift = uses_noise_reduction(key.parameters.modulus_switch);
  const ModulusSwitchNoiseReductionKey reduction =
      drift ? many_lut_noise_reduction_key(key, lut.log2_slots) : ModulusSwitchNoiseReductionKey{};
  many_lut_bootstrap(key.bootstrap_key, key.parameters.modulus_switch, &reduction, small, lut, out);
}

std::vector<LweCiphertext> keyswitch_many_lut_bootstrap(const ServerKey& key, LweView in,
                                                        const ManyLookupTable& lut) {
  std::vector<LweCiphertext> out(lut.count, LweCiphertext(key.parameters.big_lwe_dimension()));
  std::vector<LweMutView> views;
  for (auto& ct : out) views.push_back(ct);
  keyswitch_many_lut_bootstrap(key, in, lut, views);
  return out;
}

void keyswitch_many_lut_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                                        std::span<const ManyLookupTable* const> tables,
                                        std::vector<LweCiphertextList>& out) {
  if (tables.empty() || (tables.size() != 1 && tables.size() != in.size())) {
    std::ostringstream os;
    os << "keyswitch_many_lut_bootstrap_batch: " << tables.size() << " tables for " << in.size()
       << " ciphertexts; pass one table, or one per ciphertext";
    throw InvalidArgument(os.str());
  }
  require_same_dimension(in.dimension(), key.parameters.big_lwe_dimension(), "batch input");
  const std::size_t count = tables[0]->count;
  const FourierMultiBitBootstrapKey* mb = detail::multi_bit_key(key);
  for (const ManyLookupTable* t : tables) {
    TORUSML_CHECK(t != nullptr, "null many-LUT table");
    require_table(key.parameters.polynomial_size, *t);
    if (t->count != count || t->log2_slots != tables[0]->log2_slots)
      throw InvalidArgument(
          "keyswitch_many_lut_bootstrap_batch: the tables pack different numbers of functions; "
          "pass tables of one count");
  }
  out.resize(count);
  for (auto& list : out)
    if (list.size() != in.size() || list.dimension() != in.dimension())
      list = LweCiphertextList(in.dimension(), in.size());
  if (in.size() == 0) return;
  const unsigned theta = tables[0]->log2_slots;
  if (mb != nullptr) {
    multi_bit_many_lut_batch(key, *mb, in, tables, out);
    return;
  }
  // The Drift kinds' encryptions of zero, expanded once for the coarser switch.
  const ModulusSwitchNoiseReductionKey reduction = many_lut_noise_reduction_key(key, theta);
  const GgswShape& g = key.bootstrap_key.shape.ggsw;
  const std::size_t n_small = key.parameters.lwe_dimension.value();
  detail::lockstep_keyswitch_blind_rotate(
      key, in,
      [&](std::size_t i, LweView small, std::span<std::uint32_t> switched, std::span<Torus> acc) {
        const ManyLookupTable& lut = *tables[tables.size() == 1 ? 0 : i];
        many_lut_modulus_switch(small, g.polynomial_size, theta, key.parameters.modulus_switch,
                                &reduction, switched);
        detail::init_accumulator(lut.packed, switched[n_small], g, acc);
      },
      [&](std::size_t i, std::span<const Torus> acc) {
        for (std::size_t j = 0; j < count; ++j)
          sample_extract(acc, g.glwe_dimension, g.polynomial_size, j, out[j][i]);
      });
}

PbsNoise many_lut_pbs_noise(const PbsParameters& p, unsigned input_bits, unsigned log2_slots,
                            double input_variance, double two_norm) {
  PbsNoise r;
  r.input = two_norm * two_norm * input_variance;
  r.keyswitch = variance_keyswitch(p.big_lwe_dimension(), p.ks, p.lwe_noise);
  // The switch to 2N / 2^theta (many_lut_modulus_switch): 4^theta times the rounding variance
  // of the one to 2N (plus, for the Drift kinds, the zeros' noise, which does not scale).
  r.modulus_switch = variance_modulus_switch(
      p.lwe_dimension, PolynomialSize(p.polynomial_size.value() >> log2_slots), p.modulus_switch,
      p.ms_noise_reduction);
  r.total = r.input + r.keyswitch + r.modulus_switch;
  r.output = variance_pbs_output(p);  // classic or multi-bit
  r.log2_p_fail = log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(input_bits) - 2), r.total);
  return r;
}

}  // namespace torusml::tfhe
