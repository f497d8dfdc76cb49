#include "torusml/tfhe/keyswitch_key.h"

#include <algorithm>
#include <string>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/multiversion.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/decomposition.h"

namespace torusml::tfhe {

namespace {

constexpr unsigned kDroppedBits = 64 - kKeyswitchModulusBits;

// res -= sum_r d[r] * rows[r] over `count` elements, modulo 2^32, for R rows at once: one pass
// over res per R products instead of one per product (the keyswitch's inner loop is bound by
// its loads and stores, not its multiplies).
template <std::size_t R>
[[gnu::always_inline]] inline void sub_scaled_rows_fixed(KeyswitchTorus* __restrict res,
                                                         const KeyswitchTorus* const* rows,
                                                         const KeyswitchTorus* d,
                                                         std::size_t count) {
  KeyswitchTorus dd[R];
  const KeyswitchTorus* rr[R];
  for (std::size_t r = 0; r < R; ++r) {
    dd[r] = d[r];
    rr[r] = rows[r];
  }
#pragma GCC ivdep
  for (std::size_t x = 0; x < count; ++x) {
    KeyswitchTorus v = res[x];
    for (std::size_t r = 0; r < R; ++r) v -= dd[r] * rr[r][x];
    res[x] = v;
  }
}

constexpr std::size_t kMaxFusedRows = 8;

TORUSML_MULTIVERSION
void sub_scaled_rows(KeyswitchTorus* __restrict res, const KeyswitchTorus* const* rows,
                     const KeyswitchTorus* d, std::size_t r, std::size_t count) {
  switch (r) {
    case 1:
      return sub_scaled_rows_fixed<1>(res, rows, d, count);
    case 2:
      return sub_scaled_rows_fixed<2>(res, rows, d, count);
    case 3:
      return sub_scaled_rows_fixed<3>(res, rows, d, count);
    case 4:
      return sub_scaled_rows_fixed<4>(res, rows, d, count);
    case 5:
      return sub_scaled_rows_fixed<5>(res, rows, d, count);
    case 6:
      return sub_scaled_rows_fixed<6>(res, rows, d, count);
    case 7:
      return sub_scaled_rows_fixed<7>(res, rows, d, count);
    case 8:
      return sub_scaled_rows_fixed<8>(res, rows, d, count);
    default:
      TORUSML_CHECK(r == 0, "sub_scaled_rows: " << r << " rows");
  }
}

// The top 32 bits of a torus element, rounded to nearest.
KeyswitchTorus round_to_key_torus(Torus x) {
  return static_cast<KeyswitchTorus>((x + (Torus{1} << (kDroppedBits - 1))) >> kDroppedBits);
}

// The masks of row t, level by level: the top 32 bits of the row's 64-bit mask stream.
void fill_key_masks(Csprng& masks, std::span<Torus> scratch) {
  masks.fill_uniform(scratch);
  for (Torus& a : scratch) a &= ~((Torus{1} << kDroppedBits) - 1);
}

}  // namespace

SeededLweKeyswitchKey generate_seeded_keyswitch_key(const LweSecretKey& input_key,
                                                    const LweSecretKey& output_key,
                                                    DecompositionParameters decomposition,
                                                    const NoiseDistribution& noise,
                                                    const Seed& mask_seed, const Seed& noise_seed) {
  const std::size_t levels = decomposition.level_count.value();
  const std::size_t beta = decomposition.base_log.value();
  if (beta * levels > kKeyswitchModulusBits) {
    throw InvalidArgument("keyswitching decomposition base 2^" + std::to_string(beta) + " x " +
                          std::to_string(levels) + " levels reads " +
                          std::to_string(beta * levels) +
                          " bits, more than the key's 32-bit modulus: use base_log * "
                          "level_count <= 32");
  }
  SeededLweKeyswitchKey out;
  out.shape = {input_key.dimension(), output_key.dimension(), decomposition};
  out.mask_seed = mask_seed;
  out.bodies.resize(out.shape.ciphertexts());
  parallel_for(
      input_key.dimension().value(),
      [&](std::size_t t) {
        EncryptionGenerator gen(mask_seed, noise_seed, t + 1);
        std::vector<Torus> mask(output_key.dimension().value());
        for (std::size_t j = 1; j <= levels; ++j) {
          // Masks and plaintext are multiples of 2^-32, so rounding the body to 32 bits rounds
          // only the noise: an encryption modulo 2^32.
          fill_key_masks(gen.mask, mask);
          const Torus plaintext = input_key.bits[t] << (64 - beta * j);
          const Torus body =
              lwe_dot_key(mask, output_key) + plaintext + gen.noise.sample_noise(noise);
          out.bodies[t * levels + (j - 1)] = round_to_key_torus(body);
        }
      },
      16);
  return out;
}

LweKeyswitchKey decompress_keyswitch_key(const SeededLweKeyswitchKey& seeded) {
  LweKeyswitchKey out;
  out.shape = seeded.shape;
  const std::size_t n = seeded.shape.output_lwe_dimension.value();
  const std::size_t levels = seeded.shape.decomposition.level_count.value();
  TORUSML_CHECK_EQ(seeded.bodies.size(), seeded.shape.ciphertexts());
  out.data.resize(seeded.shape.ciphertexts() * (n + 1));
  parallel_for(
      seeded.shape.input_lwe_dimension.value(),
      [&](std::size_t t) {
        Csprng masks(seeded.mask_seed, t + 1);
        std::vector<Torus> mask(n);
        for (std::size_t j = 0; j < levels; ++j) {
          KeyswitchTorus* ct = out.data.data() + (t * levels + j) * (n + 1);
          fill_key_masks(masks, mask);
          for (std::size_t i = 0; i < n; ++i)
            ct[i] = static_cast<KeyswitchTorus>(mask[i] >> kDroppedBits);
          ct[n] = seeded.bodies[t * levels + j];
        }
      },
      16);
  return out;
}

void keyswitch_group(const LweKeyswitchKey& key, std::span<const LweView> in,
                     std::span<const LweMutView> out) {
  TORUSML_CHECK_EQ(in.size(), out.size());
  const std::size_t n = key.shape.output_lwe_dimension.value();
  const std::size_t levels = key.shape.decomposition.level_count.value();
  const std::size_t width = n + 1;
  for (std::size_t g = 0; g < in.size(); ++g) {
    require_same_dimension(in[g].dimension(), key.shape.input_lwe_dimension, "keyswitch input");
    require_same_dimension(out[g].dimension(), key.shape.output_lwe_dimension, "keyswitch output");
  }
  // Accumulators modulo 2^32, one row per ciphertext of the group.
  thread_local std::vector<KeyswitchTorus> acc;
  acc.assign(in.size() * width, 0);
  std::int64_t digits[64];
  const std::size_t input_dim = key.shape.input_lwe_dimension.value();
  // Input coefficients per block: their key rows (levels each) are applied to a ciphertext's
  // accumulator in fused passes of up to kMaxFusedRows rows, and stay in cache across the group.
  const std::size_t block = std::max<std::size_t>(1, kMaxFusedRows / levels);
  const KeyswitchTorus* rows[kMaxFusedRows];
  KeyswitchTorus scales[kMaxFusedRows];
  for (std::size_t t0 = 0; t0 < input_dim; t0 += block) {
    const std::size_t t1 = std::min(input_dim, t0 + block);
    for (std::size_t g = 0; g < in.size(); ++g) {
      KeyswitchTorus* a = acc.data() + g * width;
      std::size_t pending = 0;
      for (std::size_t t = t0; t < t1; ++t) {
        const KeyswitchTorus* row = key.data.data() + t * levels * width;
        decompose_torus(in[g].mask()[t], key.shape.decomposition, digits);
        for (std::size_t j = 0; j < levels; ++j) {
          if (digits[j] == 0) continue;
          rows[pending] = row + j * width;
          scales[pending] = static_cast<KeyswitchTorus>(digits[j]);
          if (++pending == kMaxFusedRows) {
            sub_scaled_rows(a, rows, scales, pending, width);
            pending = 0;
          }
        }
      }
      sub_scaled_rows(a, rows, scales, pending, width);
    }
  }
  for (std::size_t g = 0; g < in.size(); ++g) {
    const KeyswitchTorus* a = acc.data() + g * width;
    auto res = out[g].data();
    for (std::size_t i = 0; i < n; ++i) res[i] = Torus{a[i]} << kDroppedBits;
    res[n] = in[g].body() + (Torus{a[n]} << kDroppedBits);
  }
}

void keyswitch(const LweKeyswitchKey& key, LweView in, LweMutView out) {
  keyswitch_group(key, std::span<const LweView>(&in, 1), std::span<const LweMutView>(&out, 1));
}

void keyswitch_range(const LweKeyswitchKey& key, const LweCiphertextList& in, std::size_t begin,
                     LweCiphertextList& out) {
  std::vector<LweView> ins;
  std::vector<LweMutView> outs;
  for (std::size_t t = 0; t < out.size(); ++t) {
    ins.push_back(in[begin + t]);
    outs.push_back(out[t]);
  }
  keyswitch_group(key, ins, outs);
}

}  // namespace torusml::tfhe
