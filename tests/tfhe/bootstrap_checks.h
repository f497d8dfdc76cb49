// Differential checks of the programmable bootstrap (encrypted result vs. the clear table),
// shared by the fast (1-4 bit presets) and slow (5-8 bit presets) test binaries.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "test_keys.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/packed_lwe.h"
#include "torusml/tfhe/presets.h"

namespace torusml::tfhe::testing {

/// Messages to try for a p-bit preset: all of them up to 5 bits, else a spread of `max_count`.
inline std::vector<std::uint64_t> messages_for(unsigned bits, std::size_t max_count) {
  const std::uint64_t count = std::uint64_t{1} << bits;
  std::vector<std::uint64_t> out;
  if (count <= max_count) {
    for (std::uint64_t m = 0; m < count; ++m) out.push_back(m);
  } else {
    out = {0, 1, count / 2 - 1, count / 2, count - 2, count - 1};
    std::mt19937_64 rng(bits);
    while (out.size() < max_count) out.push_back(rng() % count);
  }
  return out;
}

/// PBS of each message under `tables` random tables: the decryption is the table's value.
inline void check_pbs_random_tables(const PbsParameters& params, std::size_t max_messages,
                                    int tables) {
  const TestKeys& keys = keys_for(params);
  EncryptionGenerator gen(fixed_seed(1), fixed_seed(2));
  std::mt19937_64 rng(params.message_bits * 1000 + 7);
  const std::uint64_t space = std::uint64_t{1} << params.message_bits;
  for (int t = 0; t < tables; ++t) {
    std::vector<std::int64_t> values(space);
    for (auto& v : values) v = static_cast<std::int64_t>(rng() % space);
    const LookupTable table = make_lookup_table(params, [&](std::uint64_t m) { return values[m]; });
    for (std::uint64_t m : messages_for(params.message_bits, max_messages)) {
      const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(m), gen);
      const LweCiphertext out = keyswitch_bootstrap(keys.server, ct, table);
      ASSERT_EQ(decrypt(keys.client, out), static_cast<std::uint64_t>(values[m]))
          << params.name << " table " << t << " message " << m;
    }
  }
}

/// A linear combination 2x - y + 3 of encrypted values, then a PBS computing its square mod 2^p.
/// Results that reach the padding bit (v in [2^p, 2^(p+1))) give -table(v - 2^p): negacyclic.
inline void check_linear_then_pbs(const PbsParameters& params, std::size_t max_messages) {
  const TestKeys& keys = keys_for(params);
  EncryptionGenerator gen(fixed_seed(3), fixed_seed(4));
  const unsigned p = params.message_bits;
  const std::uint64_t space = std::uint64_t{1} << p;
  const LookupTable square = make_lookup_table(
      params, [&](std::uint64_t m) { return static_cast<std::int64_t>(m * m % space); });
  const auto xs = messages_for(p, max_messages);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const std::uint64_t x = xs[i], y = xs[(i * 7 + 3) % xs.size()];
    LweCiphertext cx = encrypt(keys.client, static_cast<std::int64_t>(x), gen);
    const LweCiphertext cy = encrypt(keys.client, static_cast<std::int64_t>(y), gen);
    lwe_mul_scalar_assign(cx, 2);
    lwe_sub_assign(cx, cy);
    lwe_add_plaintext_assign(cx, encode_message(3, p));
    const std::uint64_t full = (2 * x - y + 3) % (2 * space);  // with the padding bit
    const std::uint64_t lin = full % space;
    ASSERT_EQ(decrypt(keys.client, cx), lin);
    const LweCiphertext out = keyswitch_bootstrap(keys.server, cx, square);
    const std::uint64_t sq = lin * lin % space;
    const std::uint64_t expected = full < space ? sq : (space - sq) % space;
    ASSERT_EQ(decrypt(keys.client, out), expected) << params.name << " x=" << x << " y=" << y;
  }
}

/// Signed messages in two's complement: PBS of the signed function max(x, 0) - x / 2.
inline void check_signed_pbs(const PbsParameters& params, std::size_t max_messages) {
  const TestKeys& keys = keys_for(params);
  EncryptionGenerator gen(fixed_seed(5), fixed_seed(6));
  const unsigned p = params.message_bits;
  auto signed_of = [&](std::uint64_t m) {
    return static_cast<std::int64_t>(m << (64 - p)) >> (64 - p);  // sign-extend p bits
  };
  auto f = [&](std::int64_t x) { return std::max<std::int64_t>(x, 0) - x / 2; };
  const LookupTable table =
      make_lookup_table(params, [&](std::uint64_t m) { return f(signed_of(m)); });
  for (std::uint64_t m : messages_for(p, max_messages)) {
    const std::int64_t x = signed_of(m);
    const LweCiphertext ct = encrypt(keys.client, x, gen);
    ASSERT_EQ(decrypt_signed(keys.client, ct), x);
    const LweCiphertext out = keyswitch_bootstrap(keys.server, ct, table);
    const std::int64_t expected = decode_signed_message(encode_message(f(x), p), p);
    ASSERT_EQ(decrypt_signed(keys.client, out), expected) << params.name << " x=" << x;
  }
}

/// Keyswitch alone: big key -> small key keeps every message.
inline void check_keyswitch(const PbsParameters& params, std::size_t max_messages) {
  const TestKeys& keys = keys_for(params);
  EncryptionGenerator gen(fixed_seed(7), fixed_seed(8));
  for (std::uint64_t m : messages_for(params.message_bits, max_messages)) {
    const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(m), gen);
    LweCiphertext small(params.lwe_dimension);
    keyswitch(keys.server.keyswitch_key, ct, small);
    ASSERT_EQ(decode_message(decrypt_lwe(keys.client.small_key, small), params.message_bits), m);
  }
}

/// A batch on all cores with one table per ciphertext.
inline void check_batch(const PbsParameters& params, std::size_t count) {
  const TestKeys& keys = keys_for(params);
  EncryptionGenerator gen(fixed_seed(9), fixed_seed(10));
  const unsigned p = params.message_bits;
  const std::uint64_t space = std::uint64_t{1} << p;
  std::vector<LookupTable> tables;
  for (std::uint64_t shift = 0; shift < 3; ++shift)
    tables.push_back(make_lookup_table(
        params, [&](std::uint64_t m) { return static_cast<std::int64_t>((m + shift) % space); }));
  LweCiphertextList in(params.big_lwe_dimension(), count), out;
  std::vector<const LookupTable*> per_input;
  for (std::size_t i = 0; i < count; ++i) {
    encrypt_lwe(keys.client.big_key.as_lwe_key(),
                encode_message(static_cast<std::int64_t>(i % space), p), params.glwe_noise, gen,
                in[i]);
    per_input.push_back(&tables[i % 3]);
  }
  keyswitch_bootstrap_batch(keys.server, in, per_input, out);
  ASSERT_EQ(out.size(), count);
  for (std::size_t i = 0; i < count; ++i)
    ASSERT_EQ(decrypt(keys.client, out[i]), (i % space + i % 3) % space) << "batch item " << i;
}

/// Small-key inputs (bootstrap_batch): messages packed under the small key read as a GLWE key
/// (the largest power-of-two N dividing n, at most 32), each pair summed linearly, bootstrapped
/// without a keyswitch: every output decrypts to its table's value. And the same bootstrap of
/// keyswitched big-key ciphertexts equals keyswitch_bootstrap_batch bit for bit.
inline void check_small_key_batch(const PbsParameters& params, std::size_t count) {
  const TestKeys& keys = keys_for(params);
  const unsigned p = params.message_bits;
  const std::uint64_t space = std::uint64_t{1} << p;
  const std::size_t n = params.lwe_dimension.value();
  std::size_t packing = 1;
  while (packing < 32 && n % (2 * packing) == 0) packing *= 2;
  // Messages below space / 2, so that a pair's sum stays below space (the padding bit clear).
  const std::uint64_t half = std::max<std::uint64_t>(space / 2, 1);
  std::vector<Torus> plaintexts;
  for (std::size_t i = 0; i < 2 * count; ++i)
    plaintexts.push_back(encode_message(static_cast<std::int64_t>((i * 3) % half), p));
  Csprng noise_rng(fixed_seed(13));
  const LweCiphertextList fresh = unpack_lwe_list(
      encrypt_lwe_list_packed(lwe_key_as_glwe_key(keys.client.small_key, PolynomialSize(packing)),
                              plaintexts, params.lwe_noise, fixed_seed(14), noise_rng));
  ASSERT_EQ(fresh.dimension(), params.lwe_dimension);
  LweCiphertextList in(params.lwe_dimension, count), out;
  std::vector<std::uint64_t> expected;
  for (std::size_t i = 0; i < count; ++i) {
    auto a = fresh[2 * i].data(), b = fresh[2 * i + 1].data();
    auto c = in[i].data();
    for (std::size_t j = 0; j <= n; ++j) c[j] = a[j] + b[j];
    expected.push_back((2 * i * 3) % half + ((2 * i + 1) * 3) % half);
  }
  const LookupTable table = make_lookup_table(
      params, [&](std::uint64_t m) { return static_cast<std::int64_t>((m * 5 + 1) % space); });
  const LookupTable* one[] = {&table};
  bootstrap_batch(keys.server, in, one, out);
  ASSERT_EQ(out.size(), count);
  for (std::size_t i = 0; i < count; ++i)
    ASSERT_EQ(decrypt(keys.client, out[i]), (expected[i] * 5 + 1) % space) << "item " << i;

  EncryptionGenerator gen(fixed_seed(15), fixed_seed(16));
  LweCiphertextList big(params.big_lwe_dimension(), count), small(params.lwe_dimension, count),
      via_small, via_big;
  for (std::size_t i = 0; i < count; ++i) {
    encrypt_lwe(keys.client.big_key.as_lwe_key(),
                encode_message(static_cast<std::int64_t>(i % space), p), params.glwe_noise, gen,
                big[i]);
    keyswitch(keys.server.keyswitch_key, big[i], small[i]);
  }
  bootstrap_batch(keys.server, small, one, via_small);
  keyswitch_bootstrap_batch(keys.server, big, one, via_big);
  EXPECT_EQ(via_small, via_big);
  // Big-key ciphertexts are not small-key inputs.
  EXPECT_THROW(bootstrap_batch(keys.server, big, one, via_small), ParameterMismatch);
}

}  // namespace torusml::tfhe::testing
