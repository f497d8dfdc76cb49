// Serialization of secret keys, client keys, keyswitching and bootstrapping keys, and compressed
// server keys (framing and shared readers: serialization.cpp).
//
// Payloads (version 2; u64 little-endian unless noted, "bits" = one byte, 0 or 1, per key bit):
//   LweSecretKey           n, n bits
//   GlweSecretKey          k, N, k*N bits
//   ClientKey              PbsParameters payload, small key (n, n bits), big key (k, N, k*N bits)
//   keyswitch shape        input dimension, output dimension, base_log, level_count
//   LweKeyswitchKey        shape, input*levels ciphertexts of output+1 u32 values (mod 2^32)
//   SeededLweKeyswitchKey  shape, 32-byte mask seed, body count (= input*levels), u32 bodies
//   bootstrap shape        n, k, N, base_log, level_count
//   LweBootstrapKey        shape, n GGSWs of (k+1)*l*(k+1)*N values
//   SeededLweBootstrapKey  shape, 32-byte mask seed, body count (= n*(k+1)*l*N), bodies
//   CompressedServerKey    PbsParameters payload, seeded keyswitch payload, seeded bootstrap
//   payload; for the Drift modulus switch kinds (3, 4) only, the encryptions of zero under the
//   small key: 32-byte mask seed, body count (= zeros_count), bodies (their dimension is n)
//   For multi-bit parameters (grouping_factor g > 1, stored in the PbsParameters payload) the
//   seeded bootstrap payload is replaced by the seeded multi-bit one (there is no classic key):
//     multi-bit shape      n, g, k, N, base_log, level_count
//     seeded multi-bit key shape, 32-byte mask seed, body count (= ggsw_count*(k+1)*l*N), bodies
//   with ggsw_count = (n div g)(2^g - 1) + (2^(n mod g) - 1) (multi_bit_bootstrap_key.h); classic
//   keys are byte-identical to before.
#include <sstream>

#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/serialization_detail.h"
#include "torusml/tfhe/validity.h"

namespace torusml::tfhe {

namespace sd = serialization_detail;

namespace {

constexpr const char* kKeyAdvice =
    "load it with the parameters it was generated with, or generate keys for the expected "
    "parameters";

// Runs the key's validity check after a load: its InvalidArgument becomes a SerializationError
// (the bytes hold an inconsistent key); InsecureParameters stays as it is.
template <class Check>
void check_loaded_key(const char* what, Check&& check) {
  try {
    check();
  } catch (const InsecureParameters&) {
    throw;
  } catch (const InvalidArgument& e) {
    sd::fail(std::string("the loaded ") + what + " is inconsistent: " + e.what());
  }
}

// ---- Shapes and their descriptions ----

KeyswitchKeyShape keyswitch_shape_of(const PbsParameters& p) {
  return keyswitch_key_shape(p);
}

BootstrapKeyShape bootstrap_shape_of(const PbsParameters& p) {
  return bootstrap_key_shape(p);
}

std::string describe_decomposition(const DecompositionParameters& d) {
  return "decomposition 2^" + std::to_string(d.base_log.value()) + " x " +
         std::to_string(d.level_count.value());
}

std::string describe_shape(const KeyswitchKeyShape& s) {
  return "input dimension " + std::to_string(s.input_lwe_dimension.value()) +
         ", output dimension " + std::to_string(s.output_lwe_dimension.value()) + ", " +
         describe_decomposition(s.decomposition);
}

std::string describe_shape(const BootstrapKeyShape& s) {
  return std::to_string(s.input_lwe_dimension.value()) +
         " GGSWs of k=" + std::to_string(s.ggsw.glwe_dimension.value()) +
         ", N=" + std::to_string(s.ggsw.polynomial_size.value()) + ", " +
         describe_decomposition(s.ggsw.decomposition);
}

std::string describe_lwe_key_dimensions(const PbsParameters& p) {
  return "dimension " + std::to_string(p.lwe_dimension.value()) + " or " +
         std::to_string(p.big_lwe_dimension().value());
}

std::string describe_glwe_shape(GlweDimension k, PolynomialSize n) {
  return "k=" + std::to_string(k.value()) + ", N=" + std::to_string(n.value());
}

// ---- Key components with optional parameters ----

// The fingerprint to store for a component written with `params` (0 without); throws
// ParameterMismatch if the component does not have the shape `params` gives it.
std::uint64_t component_fingerprint(const PbsParameters* params, SerializedKind kind, bool shape_ok,
                                    const std::string& found, const std::string& wanted) {
  if (params == nullptr) return 0;
  params->validate();
  if (!shape_ok) {
    throw ParameterMismatch("cannot serialize a " + std::string(serialized_kind_name(kind)) +
                            " of " + found + " with " + sd::describe_parameters(*params) +
                            ", which gives " + wanted +
                            ": pass the parameters the key was generated with");
  }
  return params->fingerprint();
}

// After parsing a component: with `expected`, its stored fingerprint (if any) must be expected's
// and its shape expected's.
void check_component(std::uint64_t stored, const PbsParameters* expected, SerializedKind kind,
                     bool shape_ok, const std::string& found, const std::string& wanted) {
  if (expected == nullptr) return;
  expected->validate();  // the caller's parameters: InvalidArgument, InsecureParameters
  if (stored != 0) sd::require_fingerprint(stored, *expected, kind, kKeyAdvice);
  if (shape_ok) return;
  const std::string what(serialized_kind_name(kind));
  if (stored != 0) {
    sd::fail("inconsistent " + what + ": stored for " + sd::describe_fingerprint(stored) +
             ", but it has " + found + " instead of " + wanted +
             " (corrupted, or written by a faulty tool)");
  }
  throw ParameterMismatch(what + " has " + found + ", but " + sd::describe_parameters(*expected) +
                          " needs " + wanted + ": " + kKeyAdvice);
}

// ---- Secret key bits ----

void write_key_bits(ByteWriter& w, std::span<const Torus> bits, const char* what) {
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (bits[i] > 1) {
      throw InvalidArgument(std::string("cannot serialize ") + what + ": bit " + std::to_string(i) +
                            " is " + std::to_string(bits[i]) +
                            ", not 0 or 1 (not a binary secret key)");
    }
  }
  for (Torus b : bits) w.u8(static_cast<std::uint8_t>(b));
}

std::vector<Torus> read_key_bits(ByteReader& r, std::uint64_t count, const char* field) {
  if (count > r.remaining()) {
    sd::fail(std::string("'") + field + "' needs " + std::to_string(count) + " bytes but only " +
             std::to_string(r.remaining()) + " remain");
  }
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(count));
  r.bytes(raw, field);
  std::vector<Torus> bits(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] > 1) {
      sd::fail(std::string("bit ") + std::to_string(i) + " of '" + field + "' is " +
               std::to_string(raw[i]) + ", not 0 or 1 (corrupted secret key)");
    }
    bits[i] = raw[i];
  }
  return bits;
}

void require_writable_lwe_dimension(std::size_t n, const char* what) {
  if (n < 1 || n > sd::kMaxLweDimension) {
    throw InvalidArgument(std::string("cannot serialize ") + what + " of LWE dimension " +
                          std::to_string(n) + ": dimensions must be in [1, " +
                          std::to_string(sd::kMaxLweDimension) + "]");
  }
}

void require_writable_glwe(GlweDimension k, PolynomialSize n, std::size_t bits, const char* what) {
  const std::size_t nv = n.value();
  if (k.value() < 1 || k.value() > sd::kMaxGlweDimension || nv < 1 || nv > sd::kMaxPolynomialSize ||
      (nv & (nv - 1)) != 0 || bits != k.value() * nv) {
    throw InvalidArgument(std::string("cannot serialize ") + what + " with " +
                          describe_glwe_shape(k, n) + " and " + std::to_string(bits) +
                          " elements: a malformed key");
  }
}

void write_glwe_key(ByteWriter& w, const GlweSecretKey& key) {
  require_writable_glwe(key.glwe_dimension, key.polynomial_size, key.flat.bits.size(),
                        "a GLWE secret key");
  w.u64(key.glwe_dimension.value());
  w.u64(key.polynomial_size.value());
  write_key_bits(w, key.flat.bits, "a GLWE secret key");
}

GlweSecretKey read_glwe_key(ByteReader& r) {
  GlweSecretKey key;
  key.glwe_dimension = sd::read_glwe_dimension(r, "GLWE key dimension k");
  key.polynomial_size = sd::read_polynomial_size(r, "GLWE key polynomial size N");
  key.flat.bits =
      read_key_bits(r, key.glwe_dimension.value() * key.polynomial_size.value(), "GLWE key bits");
  return key;
}

// ---- Keyswitching and bootstrapping keys ----

void require_writable(const KeyswitchKeyShape& s, std::size_t stored, std::size_t per_ciphertext,
                      const char* what) {
  const auto& d = s.decomposition;
  const bool ok =
      s.input_lwe_dimension.value() >= 1 && s.input_lwe_dimension.value() <= sd::kMaxLweDimension &&
      s.output_lwe_dimension.value() >= 1 &&
      s.output_lwe_dimension.value() <= sd::kMaxLweDimension && d.base_log.value() >= 1 &&
      d.level_count.value() >= 1 && d.base_log.value() <= 63 && d.level_count.value() <= 63 &&
      d.base_log.value() * d.level_count.value() <= 63 &&
      stored == s.ciphertexts() * per_ciphertext;
  if (!ok) {
    throw InvalidArgument(std::string("cannot serialize ") + what + " of " + describe_shape(s) +
                          " holding " + std::to_string(stored) + " values: a malformed key");
  }
}

void write_keyswitch_shape(ByteWriter& w, const KeyswitchKeyShape& s) {
  w.u64(s.input_lwe_dimension.value());
  w.u64(s.output_lwe_dimension.value());
  sd::write_decomposition(w, s.decomposition);
}

KeyswitchKeyShape read_keyswitch_shape(ByteReader& r) {
  KeyswitchKeyShape s;
  s.input_lwe_dimension = sd::read_lwe_dimension(r, "keyswitch input dimension");
  s.output_lwe_dimension = sd::read_lwe_dimension(r, "keyswitch output dimension");
  s.decomposition = sd::read_decomposition(r, "keyswitch decomposition");
  return s;
}

void write_seeded_keyswitch(ByteWriter& w, const SeededLweKeyswitchKey& key) {
  require_writable(key.shape, key.bodies.size(), 1, "a seeded keyswitching key");
  write_keyswitch_shape(w, key.shape);
  sd::write_seed(w, key.mask_seed);
  w.u64(key.bodies.size());
  sd::write_key_torus_values(w, key.bodies);
}

SeededLweKeyswitchKey read_seeded_keyswitch(ByteReader& r) {
  SeededLweKeyswitchKey key;
  key.shape = read_keyswitch_shape(r);
  key.mask_seed = sd::read_seed(r, "keyswitch mask seed");
  const std::uint64_t count = r.u64("keyswitch body count");
  if (count != key.shape.ciphertexts()) {
    sd::fail("the seeded keyswitching key stores " + std::to_string(count) +
             " bodies but its shape (" + describe_shape(key.shape) + ") needs " +
             std::to_string(key.shape.ciphertexts()));
  }
  key.bodies = sd::read_key_torus_values(r, count, "keyswitch bodies");
  return key;
}

bool writable_ggsw(const GgswShape& g) {
  const std::size_t k = g.glwe_dimension.value(), n = g.polynomial_size.value();
  const auto& d = g.decomposition;
  return k >= 1 && k <= sd::kMaxGlweDimension && n >= 1 && n <= sd::kMaxPolynomialSize &&
         (n & (n - 1)) == 0 && d.base_log.value() >= 1 && d.level_count.value() >= 1 &&
         d.base_log.value() <= 63 && d.level_count.value() <= 63 &&
         d.base_log.value() * d.level_count.value() <= 63;
}

void require_writable(const BootstrapKeyShape& s, std::size_t stored, std::size_t per_ggsw,
                      const char* what) {
  const std::size_t n = s.input_lwe_dimension.value();
  if (n < 1 || n > sd::kMaxLweDimension || !writable_ggsw(s.ggsw) || stored != n * per_ggsw) {
    throw InvalidArgument(std::string("cannot serialize ") + what + " of " + describe_shape(s) +
                          " holding " + std::to_string(stored) + " values: a malformed key");
  }
}

void write_bootstrap_shape(ByteWriter& w, const BootstrapKeyShape& s) {
  w.u64(s.input_lwe_dimension.value());
  w.u64(s.ggsw.glwe_dimension.value());
  w.u64(s.ggsw.polynomial_size.value());
  sd::write_decomposition(w, s.ggsw.decomposition);
}

BootstrapKeyShape read_bootstrap_shape(ByteReader& r) {
  BootstrapKeyShape s;
  s.input_lwe_dimension = sd::read_lwe_dimension(r, "bootstrap input dimension");
  s.ggsw.glwe_dimension = sd::read_glwe_dimension(r, "bootstrap GLWE dimension");
  s.ggsw.polynomial_size = sd::read_polynomial_size(r, "bootstrap polynomial size");
  s.ggsw.decomposition = sd::read_decomposition(r, "bootstrap decomposition");
  return s;
}

std::size_t seeded_bodies_per_ggsw(const GgswShape& g) {
  return g.rows() * g.polynomial_size.value();
}

void write_seeded_bootstrap(ByteWriter& w, const SeededLweBootstrapKey& key) {
  require_writable(key.shape, key.bodies.size(), seeded_bodies_per_ggsw(key.shape.ggsw),
                   "a seeded bootstrapping key");
  write_bootstrap_shape(w, key.shape);
  sd::write_seed(w, key.mask_seed);
  w.u64(key.bodies.size());
  sd::write_torus_values(w, key.bodies);
}

SeededLweBootstrapKey read_seeded_bootstrap(ByteReader& r) {
  SeededLweBootstrapKey key;
  key.shape = read_bootstrap_shape(r);
  key.mask_seed = sd::read_seed(r, "bootstrap mask seed");
  const std::uint64_t count = r.u64("bootstrap body count");
  const std::uint64_t wanted =
      sd::checked_mul(key.shape.input_lwe_dimension.value(), seeded_bodies_per_ggsw(key.shape.ggsw),
                      "bootstrap bodies");
  if (count != wanted) {
    sd::fail("the seeded bootstrapping key stores " + std::to_string(count) +
             " bodies but its shape (" + describe_shape(key.shape) + ") needs " +
             std::to_string(wanted));
  }
  key.bodies = sd::read_torus_values(r, count, "bootstrap bodies");
  return key;
}

// ---- Multi-bit bootstrapping keys (inside a CompressedServerKey) ----

std::string describe_shape(const MultiBitBootstrapKeyShape& s) {
  return std::to_string(s.input_lwe_dimension.value()) +
         " small-key bits in groups of g=" + std::to_string(s.grouping_factor.value()) + " (" +
         std::to_string(s.ggsw_count()) +
         " GGSWs) of k=" + std::to_string(s.ggsw.glwe_dimension.value()) +
         ", N=" + std::to_string(s.ggsw.polynomial_size.value()) + ", " +
         describe_decomposition(s.ggsw.decomposition);
}

std::size_t multi_bit_body_count(const MultiBitBootstrapKeyShape& s) {
  return s.ggsw_count() * seeded_bodies_per_ggsw(s.ggsw);
}

void write_seeded_multi_bit_bootstrap(ByteWriter& w, const SeededLweMultiBitBootstrapKey& key) {
  const MultiBitBootstrapKeyShape& s = key.shape;
  const std::size_t n = s.input_lwe_dimension.value(), g = s.grouping_factor.value();
  if (n < 1 || n > sd::kMaxLweDimension || g < kMinGroupingFactor || g > kMaxGroupingFactor ||
      !writable_ggsw(s.ggsw) || key.bodies.size() != multi_bit_body_count(s)) {
    throw InvalidArgument("cannot serialize a seeded multi-bit bootstrapping key of n=" +
                          std::to_string(n) + ", g=" + std::to_string(g) + " holding " +
                          std::to_string(key.bodies.size()) + " values: a malformed key");
  }
  w.u64(n);
  w.u64(g);
  w.u64(s.ggsw.glwe_dimension.value());
  w.u64(s.ggsw.polynomial_size.value());
  sd::write_decomposition(w, s.ggsw.decomposition);
  sd::write_seed(w, key.mask_seed);
  w.u64(key.bodies.size());
  sd::write_torus_values(w, key.bodies);
}

SeededLweMultiBitBootstrapKey read_seeded_multi_bit_bootstrap(ByteReader& r) {
  SeededLweMultiBitBootstrapKey key;
  MultiBitBootstrapKeyShape& s = key.shape;
  s.input_lwe_dimension = sd::read_lwe_dimension(r, "multi-bit bootstrap input dimension");
  s.grouping_factor = GroupingFactor(sd::read_bounded(r, "multi-bit bootstrap grouping factor",
                                                      kMinGroupingFactor, kMaxGroupingFactor));
  s.ggsw.glwe_dimension = sd::read_glwe_dimension(r, "multi-bit bootstrap GLWE dimension");
  s.ggsw.polynomial_size = sd::read_polynomial_size(r, "multi-bit bootstrap polynomial size");
  s.ggsw.decomposition = sd::read_decomposition(r, "multi-bit bootstrap decomposition");
  key.mask_seed = sd::read_seed(r, "multi-bit bootstrap mask seed");
  const std::uint64_t count = r.u64("multi-bit bootstrap body count");
  // ggsw_count() <= 2^21 * 15 / 4 + 15 (bounded n and g): the product needs the check.
  const std::uint64_t wanted =
      sd::checked_mul(s.ggsw_count(), seeded_bodies_per_ggsw(s.ggsw), "multi-bit bootstrap bodies");
  if (count != wanted) {
    sd::fail("the seeded multi-bit bootstrapping key stores " + std::to_string(count) +
             " bodies but its shape (" + describe_shape(s) + ") needs " + std::to_string(wanted));
  }
  key.bodies = sd::read_torus_values(r, count, "multi-bit bootstrap bodies");
  return key;
}

}  // namespace

// ---- Secret keys ---------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_lwe_secret_key(const LweSecretKey& key,
                                                   const PbsParameters* params) {
  const std::size_t n = key.bits.size();
  require_writable_lwe_dimension(n, "an LWE secret key");
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::LweSecretKey,
      params && (n == params->lwe_dimension.value() || n == params->big_lwe_dimension().value()),
      "dimension " + std::to_string(n), params ? describe_lwe_key_dimensions(*params) : "");
  ByteWriter w;
  w.u64(n);
  write_key_bits(w, key.bits, "an LWE secret key");
  return sd::seal(SerializedKind::LweSecretKey, fp, w.take());
}

LweSecretKey deserialize_lwe_secret_key(std::span<const std::uint8_t> bytes,
                                        const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::LweSecretKey;
  const auto [header, payload] = sd::open(bytes, kind);
  LweSecretKey key = sd::parse_payload(kind, payload, [](ByteReader& r) {
    const LweDimension n = sd::read_lwe_dimension(r, "LWE key dimension");
    return LweSecretKey{read_key_bits(r, n.value(), "LWE key bits")};
  });
  const std::size_t n = key.bits.size();
  check_component(
      header.parameters_fingerprint, expected, kind,
      expected &&
          (n == expected->lwe_dimension.value() || n == expected->big_lwe_dimension().value()),
      "dimension " + std::to_string(n), expected ? describe_lwe_key_dimensions(*expected) : "");
  return key;
}

std::vector<std::uint8_t> serialize_glwe_secret_key(const GlweSecretKey& key,
                                                    const PbsParameters* params) {
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::GlweSecretKey,
      params && key.glwe_dimension == params->glwe_dimension &&
          key.polynomial_size == params->polynomial_size,
      describe_glwe_shape(key.glwe_dimension, key.polynomial_size),
      params ? describe_glwe_shape(params->glwe_dimension, params->polynomial_size) : "");
  ByteWriter w;
  write_glwe_key(w, key);
  return sd::seal(SerializedKind::GlweSecretKey, fp, w.take());
}

GlweSecretKey deserialize_glwe_secret_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::GlweSecretKey;
  const auto [header, payload] = sd::open(bytes, kind);
  GlweSecretKey key = sd::parse_payload(kind, payload, read_glwe_key);
  check_component(
      header.parameters_fingerprint, expected, kind,
      expected && key.glwe_dimension == expected->glwe_dimension &&
          key.polynomial_size == expected->polynomial_size,
      describe_glwe_shape(key.glwe_dimension, key.polynomial_size),
      expected ? describe_glwe_shape(expected->glwe_dimension, expected->polynomial_size) : "");
  return key;
}

std::vector<std::uint8_t> serialize_client_key(const ClientKey& key) {
  const PbsParameters& p = key.parameters;
  try {
    validate_client_key(key);
  } catch (const InsecureParameters&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("cannot serialize a malformed client key: ") + e.what());
  }
  ByteWriter w;
  sd::write_parameters(w, p);
  w.u64(key.small_key.bits.size());
  write_key_bits(w, key.small_key.bits, "the small LWE key of a client key");
  write_glwe_key(w, key.big_key);
  return sd::seal(SerializedKind::ClientKey, p.fingerprint(), w.take());
}

ClientKey deserialize_client_key(std::span<const std::uint8_t> bytes,
                                 const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::ClientKey;
  const auto [header, payload] = sd::open(bytes, kind);
  ClientKey key = sd::parse_payload(kind, payload, [](ByteReader& r) {
    ClientKey k;
    k.parameters = sd::read_parameters(r);
    const PbsParameters& p = k.parameters;
    const LweDimension n = sd::read_lwe_dimension(r, "small key dimension");
    if (n != p.lwe_dimension) {
      sd::fail("the small key has dimension " + std::to_string(n.value()) +
               " but the stored parameters give " + std::to_string(p.lwe_dimension.value()));
    }
    k.small_key.bits = read_key_bits(r, n.value(), "small key bits");
    k.big_key = read_glwe_key(r);
    if (k.big_key.glwe_dimension != p.glwe_dimension ||
        k.big_key.polynomial_size != p.polynomial_size) {
      sd::fail("the GLWE key has " +
               describe_glwe_shape(k.big_key.glwe_dimension, k.big_key.polynomial_size) +
               " but the stored parameters give " +
               describe_glwe_shape(p.glwe_dimension, p.polynomial_size));
    }
    return k;
  });
  if (key.parameters.fingerprint() != header.parameters_fingerprint)
    sd::fail("inconsistent ClientKey: the header's fingerprint is not that of its parameters");
  check_loaded_key("ClientKey", [&] { validate_client_key(key); });
  if (expected != nullptr) {
    sd::require_fingerprint(header.parameters_fingerprint, *expected, kind,
                            "load the client key generated for the expected parameters");
  }
  return key;
}

// ---- Keyswitching keys ---------------------------------------------------------------------

std::vector<std::uint8_t> serialize_keyswitch_key(const LweKeyswitchKey& key,
                                                  const PbsParameters* params) {
  require_writable(key.shape, key.data.size(), key.shape.output_lwe_dimension.value() + 1,
                   "a keyswitching key");
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::LweKeyswitchKey, params && key.shape == keyswitch_shape_of(*params),
      describe_shape(key.shape), params ? describe_shape(keyswitch_shape_of(*params)) : "");
  ByteWriter w;
  write_keyswitch_shape(w, key.shape);
  sd::write_key_torus_values(w, key.data);
  return sd::seal(SerializedKind::LweKeyswitchKey, fp, w.take());
}

LweKeyswitchKey deserialize_keyswitch_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::LweKeyswitchKey;
  const auto [header, payload] = sd::open(bytes, kind);
  LweKeyswitchKey key = sd::parse_payload(kind, payload, [](ByteReader& r) {
    LweKeyswitchKey k;
    k.shape = read_keyswitch_shape(r);
    const std::uint64_t count = sd::checked_mul(
        k.shape.ciphertexts(), k.shape.output_lwe_dimension.value() + 1, "keyswitch ciphertexts");
    k.data = sd::read_key_torus_values(r, count, "keyswitch ciphertexts");
    return k;
  });
  check_component(header.parameters_fingerprint, expected, kind,
                  expected && key.shape == keyswitch_shape_of(*expected), describe_shape(key.shape),
                  expected ? describe_shape(keyswitch_shape_of(*expected)) : "");
  return key;
}

std::vector<std::uint8_t> serialize_seeded_keyswitch_key(const SeededLweKeyswitchKey& key,
                                                         const PbsParameters* params) {
  ByteWriter w;
  write_seeded_keyswitch(w, key);
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::SeededLweKeyswitchKey,
      params && key.shape == keyswitch_shape_of(*params), describe_shape(key.shape),
      params ? describe_shape(keyswitch_shape_of(*params)) : "");
  return sd::seal(SerializedKind::SeededLweKeyswitchKey, fp, w.take());
}

SeededLweKeyswitchKey deserialize_seeded_keyswitch_key(std::span<const std::uint8_t> bytes,
                                                       const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::SeededLweKeyswitchKey;
  const auto [header, payload] = sd::open(bytes, kind);
  SeededLweKeyswitchKey key = sd::parse_payload(kind, payload, read_seeded_keyswitch);
  check_component(header.parameters_fingerprint, expected, kind,
                  expected && key.shape == keyswitch_shape_of(*expected), describe_shape(key.shape),
                  expected ? describe_shape(keyswitch_shape_of(*expected)) : "");
  return key;
}

// ---- Bootstrapping keys --------------------------------------------------------------------

std::vector<std::uint8_t> serialize_bootstrap_key(const LweBootstrapKey& key,
                                                  const PbsParameters* params) {
  require_writable(key.shape, key.data.size(), key.shape.ggsw.torus_elements(),
                   "a bootstrapping key");
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::LweBootstrapKey, params && key.shape == bootstrap_shape_of(*params),
      describe_shape(key.shape), params ? describe_shape(bootstrap_shape_of(*params)) : "");
  ByteWriter w;
  write_bootstrap_shape(w, key.shape);
  sd::write_torus_values(w, key.data);
  return sd::seal(SerializedKind::LweBootstrapKey, fp, w.take());
}

LweBootstrapKey deserialize_bootstrap_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::LweBootstrapKey;
  const auto [header, payload] = sd::open(bytes, kind);
  LweBootstrapKey key = sd::parse_payload(kind, payload, [](ByteReader& r) {
    LweBootstrapKey k;
    k.shape = read_bootstrap_shape(r);
    const std::uint64_t count = sd::checked_mul(k.shape.input_lwe_dimension.value(),
                                                k.shape.ggsw.torus_elements(), "bootstrap GGSWs");
    k.data = sd::read_torus_values(r, count, "bootstrap GGSWs");
    return k;
  });
  check_component(header.parameters_fingerprint, expected, kind,
                  expected && key.shape == bootstrap_shape_of(*expected), describe_shape(key.shape),
                  expected ? describe_shape(bootstrap_shape_of(*expected)) : "");
  return key;
}

std::vector<std::uint8_t> serialize_seeded_bootstrap_key(const SeededLweBootstrapKey& key,
                                                         const PbsParameters* params) {
  ByteWriter w;
  write_seeded_bootstrap(w, key);
  const std::uint64_t fp = component_fingerprint(
      params, SerializedKind::SeededLweBootstrapKey,
      params && key.shape == bootstrap_shape_of(*params), describe_shape(key.shape),
      params ? describe_shape(bootstrap_shape_of(*params)) : "");
  return sd::seal(SerializedKind::SeededLweBootstrapKey, fp, w.take());
}

SeededLweBootstrapKey deserialize_seeded_bootstrap_key(std::span<const std::uint8_t> bytes,
                                                       const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::SeededLweBootstrapKey;
  const auto [header, payload] = sd::open(bytes, kind);
  SeededLweBootstrapKey key = sd::parse_payload(kind, payload, read_seeded_bootstrap);
  check_component(header.parameters_fingerprint, expected, kind,
                  expected && key.shape == bootstrap_shape_of(*expected), describe_shape(key.shape),
                  expected ? describe_shape(bootstrap_shape_of(*expected)) : "");
  return key;
}

// ---- Server keys ---------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_compressed_server_key(const CompressedServerKey& key) {
  const PbsParameters& p = key.parameters;
  try {
    validate_compressed_server_key(key);
  } catch (const InsecureParameters&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("cannot serialize a malformed compressed server key: ") +
                          e.what());
  }
  ByteWriter w;
  sd::write_parameters(w, p);
  write_seeded_keyswitch(w, key.keyswitch_key);
  if (p.is_multi_bit())
    write_seeded_multi_bit_bootstrap(w, *key.multi_bit_bootstrap_key);  // validated: present
  else
    write_seeded_bootstrap(w, key.bootstrap_key);
  if (uses_noise_reduction(p.modulus_switch)) {
    sd::write_seed(w, key.ms_noise_reduction_zeros.mask_seed);
    w.u64(key.ms_noise_reduction_zeros.size());
    sd::write_torus_values(w, key.ms_noise_reduction_zeros.bodies);
  }
  return sd::seal(SerializedKind::CompressedServerKey, p.fingerprint(), w.take());
}

CompressedServerKey deserialize_compressed_server_key(std::span<const std::uint8_t> bytes,
                                                      const PbsParameters* expected) {
  constexpr auto kind = SerializedKind::CompressedServerKey;
  const auto [header, payload] = sd::open(bytes, kind);
  CompressedServerKey key = sd::parse_payload(kind, payload, [](ByteReader& r) {
    CompressedServerKey k;
    k.parameters = sd::read_parameters(r);
    k.keyswitch_key = read_seeded_keyswitch(r);
    if (k.keyswitch_key.shape != keyswitch_shape_of(k.parameters)) {
      sd::fail("the keyswitching key has " + describe_shape(k.keyswitch_key.shape) +
               " but the stored parameters give " +
               describe_shape(keyswitch_shape_of(k.parameters)));
    }
    if (k.parameters.is_multi_bit()) {
      k.multi_bit_bootstrap_key = read_seeded_multi_bit_bootstrap(r);
      const MultiBitBootstrapKeyShape wanted = multi_bit_bootstrap_key_shape(k.parameters);
      if (k.multi_bit_bootstrap_key->shape != wanted) {
        sd::fail("the multi-bit bootstrapping key has " +
                 describe_shape(k.multi_bit_bootstrap_key->shape) +
                 " but the stored parameters give " + describe_shape(wanted));
      }
    } else {
      k.bootstrap_key = read_seeded_bootstrap(r);
      if (k.bootstrap_key.shape != bootstrap_shape_of(k.parameters)) {
        sd::fail("the bootstrapping key has " + describe_shape(k.bootstrap_key.shape) +
                 " but the stored parameters give " +
                 describe_shape(bootstrap_shape_of(k.parameters)));
      }
    }
    if (uses_noise_reduction(k.parameters.modulus_switch)) {
      SeededLweCiphertextList& zeros = k.ms_noise_reduction_zeros;
      zeros.dimension = k.parameters.lwe_dimension;
      zeros.mask_seed = sd::read_seed(r, "modulus switch zeros mask seed");
      const std::uint64_t count = sd::read_count(r, "modulus switch zeros count", 8);
      if (count != k.parameters.ms_noise_reduction.zeros_count) {
        sd::fail("the key holds " + std::to_string(count) +
                 " modulus switch encryptions of zero but the stored parameters give " +
                 std::to_string(k.parameters.ms_noise_reduction.zeros_count));
      }
      zeros.bodies = sd::read_torus_values(r, count, "modulus switch zeros bodies");
    }
    return k;
  });
  if (key.parameters.fingerprint() != header.parameters_fingerprint) {
    sd::fail(
        "inconsistent CompressedServerKey: the header's fingerprint is not that of its parameters");
  }
  check_loaded_key("CompressedServerKey", [&] { validate_compressed_server_key(key); });
  if (expected != nullptr) {
    sd::require_fingerprint(header.parameters_fingerprint, *expected, kind,
                            "load the server key generated for the expected parameters (from the "
                            "matching client key)");
  }
  return key;
}

std::uint64_t expanded_server_key_bytes(const PbsParameters& p) {
  // Saturating: a sum or product that overflows is above every bound.
  constexpr std::uint64_t kSaturated = ~std::uint64_t{0};
  const auto mul = [](std::uint64_t a, std::uint64_t b) {
    std::uint64_t out = 0;
    return __builtin_mul_overflow(a, b, &out) ? kSaturated : out;
  };
  const auto add = [](std::uint64_t a, std::uint64_t b) {
    std::uint64_t out = 0;
    return __builtin_add_overflow(a, b, &out) ? kSaturated : out;
  };
  const KeyswitchKeyShape ks = keyswitch_key_shape(p);
  const std::uint64_t ksk = mul(mul(ks.ciphertexts(), ks.output_lwe_dimension.value() + 1), 8);
  // n GGSWs for the classic key, ggsw_count() for the multi-bit one.
  const GgswShape ggsw{p.glwe_dimension, p.polynomial_size, p.pbs};
  std::uint64_t ggsws = p.lwe_dimension.value();
  if (p.grouping_factor.value() > kMaxGroupingFactor) {
    ggsws = kSaturated;  // not a valid set
  } else if (p.is_multi_bit()) {
    const std::size_t n = p.lwe_dimension.value(), g = p.grouping_factor.value();
    ggsws = mul(n / g, (std::uint64_t{1} << g) - 1);
    if (n % g != 0) ggsws = add(ggsws, (std::uint64_t{1} << (n % g)) - 1);
  }
  const std::uint64_t bsk = mul(mul(ggsws, ggsw.torus_elements()), 16);
  const std::uint64_t windows =
      uses_noise_reduction(p.modulus_switch)
          ? mul(p.ms_noise_reduction.zeros_count, mul(p.lwe_dimension.value(), 2))
          : 0;
  return add(add(ksk, bsk), windows);
}

ServerKey load_server_key(std::span<const std::uint8_t> bytes, const PbsParameters* expected) {
  const CompressedServerKey compressed = deserialize_compressed_server_key(bytes, expected);
  // The key's shapes are its parameters' (validated by the load).
  const std::uint64_t expanded = expanded_server_key_bytes(compressed.parameters);
  if (expanded > kMaxExpandedServerKeyBytes) {
    std::ostringstream os;
    os << "the server key for " << sd::describe_parameters(compressed.parameters)
       << " would expand to " << (expanded >> 20) << " MiB, above the "
       << (kMaxExpandedServerKeyBytes >> 30)
       << " GiB sanity limit: check that these are the parameters you expect";
    sd::fail(os.str());
  }
  return decompress_server_key(compressed);
}

}  // namespace torusml::tfhe
