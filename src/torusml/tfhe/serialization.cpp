// Framing of serialized objects (header, checksum), the bounded readers shared by every kind,
// PbsParameters and describe_serialized. Keys are in serialization_keys.cpp, ciphertexts in
// serialization_ciphertexts.cpp.
//
// PbsParameters payload (version 2, unchanged since 1):
//   string name, string source            (u32 length + bytes each, at most 4096 bytes)
//   u32 message_bits
//   u64 lwe_dimension, u64 glwe_dimension, u64 polynomial_size
//   lwe_noise, glwe_noise                 (u8 kind, i32 bound_log2, f64 std_dev each)
//   pbs, ks decompositions                (u64 base_log, u64 level_count each)
//   u8 modulus_switch, f64 max_two_norm
//   for modulus_switch 3 and 4 (Drift kinds) only: u64 zeros_count, u64 max_rounds, zeros_noise
//   (an extension for the new kinds: objects of kinds 1 and 2 are byte-identical to before)
//   for multi-bit sets only (grouping_factor > 1): bit 7 (0x80) of the modulus_switch byte is set
//   (the kind is its low 7 bits) and u64 grouping_factor (2 to 4) ends the payload; classic sets
//   are byte-identical to before, and builds without multi-bit sets refuse a multi-bit one (its
//   modulus_switch byte is not a kind they know)
#include "torusml/tfhe/serialization.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <bit>
#include <iomanip>
#include <sstream>

#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/serialization_detail.h"

namespace torusml::tfhe {

namespace sd = serialization_detail;

namespace {

constexpr std::array<std::uint8_t, 4> kMagic = {'T', 'R', 'M', 'L'};
constexpr std::uint16_t kMaxKindValue =
    static_cast<std::uint16_t>(SerializedKind::CompressedServerKey);
constexpr std::uint16_t kFirstCircuitKind =
    static_cast<std::uint16_t>(SerializedKind::ServerProgram);
constexpr std::uint16_t kLastCircuitKind =
    static_cast<std::uint16_t>(SerializedKind::PackedRunArguments);
constexpr std::uint16_t kClientArtifactKind =
    static_cast<std::uint16_t>(SerializedKind::ClientArtifact);

using Checksum = std::array<std::uint8_t, kSerializedChecksumBytes>;

Checksum compute_checksum(std::span<const std::uint8_t> bytes) {
  static const bool sodium_ok = sodium_init() >= 0;
  if (!sodium_ok) throw Error("libsodium failed to initialise");
  Checksum out;
  crypto_generichash(out.data(), out.size(), bytes.data(), bytes.size(), nullptr, 0);
  return out;
}

// The header fields as stored, before any check beyond the magic.
struct RawHeader {
  std::uint16_t version = 0;
  std::uint16_t kind = 0;
  std::uint64_t fingerprint = 0;
  std::uint64_t payload_bytes = 0;
};

RawHeader read_raw_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kMagic.size()) {
    sd::fail("not a TorusML object: only " + std::to_string(bytes.size()) +
             " bytes (empty or truncated file?)");
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
    std::ostringstream os;
    os << "not a TorusML object: it starts with bytes";
    for (std::size_t i = 0; i < kMagic.size(); ++i)
      os << " 0x" << std::hex << std::setw(2) << std::setfill('0') << unsigned{bytes[i]};
    os << " instead of the magic \"TRML\" (wrong file, or not written by TorusML?)";
    sd::fail(os.str());
  }
  if (bytes.size() < kSerializedHeaderBytes) {
    sd::fail("truncated TorusML object: " + std::to_string(bytes.size()) +
             " bytes, fewer than the " + std::to_string(kSerializedHeaderBytes) +
             "-byte header (file cut short?)");
  }
  ByteReader r(bytes.subspan(kMagic.size(), kSerializedHeaderBytes - kMagic.size()));
  RawHeader h;
  h.version = r.u16("format version");
  h.kind = r.u16("object kind");
  h.fingerprint = r.u64("parameter fingerprint");
  h.payload_bytes = r.u64("payload length");
  return h;
}

bool known_kind(std::uint16_t kind) {
  return (kind >= 1 && kind <= kMaxKindValue) ||
         (kind >= kFirstCircuitKind && kind <= kLastCircuitKind) || kind == kClientArtifactKind;
}

// Kinds whose payload holds a keyswitching key (its layout changed in format version 2).
bool holds_keyswitch_key(std::uint16_t kind) {
  switch (static_cast<SerializedKind>(kind)) {
    case SerializedKind::LweKeyswitchKey:
    case SerializedKind::SeededLweKeyswitchKey:
    case SerializedKind::CompressedServerKey:
    case SerializedKind::CircuitEvaluationKeys:
      return true;
    default:
      return false;
  }
}

std::string kind_label(std::uint16_t kind) {
  if (known_kind(kind)) return std::string(serialized_kind_name(static_cast<SerializedKind>(kind)));
  return "object of unknown kind " + std::to_string(kind);
}

// The loader of each kind, for "wrong kind" messages.
const char* loader_name(SerializedKind kind) {
  switch (kind) {
    case SerializedKind::PbsParameters:
      return "deserialize_parameters()";
    case SerializedKind::LweSecretKey:
      return "deserialize_lwe_secret_key()";
    case SerializedKind::GlweSecretKey:
      return "deserialize_glwe_secret_key()";
    case SerializedKind::ClientKey:
      return "deserialize_client_key()";
    case SerializedKind::LweCiphertext:
      return "deserialize_lwe_ciphertext()";
    case SerializedKind::LweCiphertextList:
      return "deserialize_lwe_ciphertext_list()";
    case SerializedKind::SeededLweCiphertextList:
      return "deserialize_seeded_lwe_ciphertext_list()";
    case SerializedKind::LweKeyswitchKey:
      return "deserialize_keyswitch_key()";
    case SerializedKind::SeededLweKeyswitchKey:
      return "deserialize_seeded_keyswitch_key()";
    case SerializedKind::LweBootstrapKey:
      return "deserialize_bootstrap_key()";
    case SerializedKind::SeededLweBootstrapKey:
      return "deserialize_seeded_bootstrap_key()";
    case SerializedKind::CompressedServerKey:
      return "deserialize_compressed_server_key() or load_server_key()";
    case SerializedKind::ServerProgram:
      return "circuit::deserialize_server_program()";
    case SerializedKind::ClientSpecification:
      return "circuit::deserialize_client_specification()";
    case SerializedKind::CircuitClientKeys:
      return "circuit::deserialize_client_keys()";
    case SerializedKind::CircuitEvaluationKeys:
      return "circuit::deserialize_evaluation_keys()";
    case SerializedKind::EncryptedTensor:
      return "circuit::deserialize_encrypted_tensor()";
    case SerializedKind::EncryptedTensorList:
      return "circuit::deserialize_encrypted_tensors()";
    case SerializedKind::RunArguments:
    case SerializedKind::SeededRunArguments:
    case SerializedKind::PackedRunArguments:
      return "circuit::deserialize_run_arguments()";
    case SerializedKind::ClientArtifact:
      return "deploy::deserialize_client_artifact()";
  }
  return "?";
}

// Every check of a complete object except the payload's contents; `expected` may be null (any
// known kind).
std::pair<SerializedHeader, std::span<const std::uint8_t>> open_object(
    std::span<const std::uint8_t> bytes, const SerializedKind* expected) {
  const RawHeader raw = read_raw_header(bytes);
  const std::string what = kind_label(raw.kind);
  if (raw.version > kSerializationFormatVersion) {
    sd::fail("this " + what + " was written by a newer TorusML (format version " +
             std::to_string(raw.version) + "; this build reads versions up to " +
             std::to_string(kSerializationFormatVersion) + "): upgrade TorusML to load it");
  }
  if (raw.version == 0)
    sd::fail("unsupported format version 0 in the header of a TorusML object (corrupted header?)");
  if (raw.version < kFirstKeyswitch32FormatVersion && holds_keyswitch_key(raw.kind)) {
    sd::fail("this " + what + " was written by an older TorusML (format version " +
             std::to_string(raw.version) +
             ") whose keyswitching keys were 64-bit; this build's are 32-bit: generate the keys "
             "again");
  }
  if (!known_kind(raw.kind)) {
    sd::fail("unknown object kind " + std::to_string(raw.kind) +
             " in a TorusML header (corrupted header?)");
  }
  const auto kind = static_cast<SerializedKind>(raw.kind);
  if (expected != nullptr && kind != *expected) {
    sd::fail("expected a serialized " + std::string(serialized_kind_name(*expected)) +
             " but found a " + what + ": load it with " + loader_name(kind) +
             ", or pass the file holding the " + std::string(serialized_kind_name(*expected)));
  }
  // Sizes: header + payload + checksum must be exactly the input (no overflow: compare with the
  // room left after the header and checksum).
  const std::uint64_t room = bytes.size() - kSerializedHeaderBytes;  // >= 0: header was read
  if (room < kSerializedChecksumBytes || raw.payload_bytes > room - kSerializedChecksumBytes) {
    std::ostringstream os;
    os << "truncated " << what << ": its header announces a payload of " << raw.payload_bytes
       << " bytes, ";
    constexpr std::uint64_t kFrame = kSerializedHeaderBytes + kSerializedChecksumBytes;
    if (raw.payload_bytes <= ~std::uint64_t{0} - kFrame)
      os << (raw.payload_bytes + kFrame) << " bytes in all,";
    else
      os << "more than any input can hold,";
    os << " but only " << bytes.size()
       << " bytes were given (file cut short, or a corrupted length field)";
    sd::fail(os.str());
  }
  if (raw.payload_bytes < room - kSerializedChecksumBytes) {
    const std::uint64_t extra = room - kSerializedChecksumBytes - raw.payload_bytes;
    std::ostringstream os;
    os << what << " is followed by " << extra << " unexpected trailing bytes (" << bytes.size()
       << " bytes given, the object has " << (bytes.size() - extra)
       << "): pass exactly one object (concatenated or padded data, or a corrupted length field?)";
    sd::fail(os.str());
  }
  const std::size_t body = kSerializedHeaderBytes + static_cast<std::size_t>(raw.payload_bytes);
  const Checksum computed = compute_checksum(bytes.first(body));
  if (!std::equal(computed.begin(), computed.end(),
                  bytes.begin() + static_cast<std::ptrdiff_t>(body))) {
    sd::fail("corrupted " + what +
             ": its BLAKE2b checksum does not match its contents (damaged file or transfer): "
             "re-create or re-transfer it");
  }
  SerializedHeader header{raw.version, kind, raw.fingerprint, raw.payload_bytes};
  return {header, bytes.subspan(kSerializedHeaderBytes, body - kSerializedHeaderBytes)};
}

std::string hex64(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << std::setw(16) << std::setfill('0') << v;
  return os.str();
}

// Bit 7 of the stored modulus_switch byte: a multi-bit set, whose grouping factor follows.
constexpr std::uint8_t kMultiBitFlag = 0x80;

void write_noise(ByteWriter& w, const NoiseDistribution& d) {
  w.u8(static_cast<std::uint8_t>(d.kind));
  w.u32(static_cast<std::uint32_t>(d.bound_log2));
  w.f64(d.std_dev);
}

NoiseDistribution read_noise(ByteReader& r, const char* field) {
  NoiseDistribution d;
  d.kind = static_cast<NoiseDistribution::Kind>(r.u8(field));
  d.bound_log2 = static_cast<std::int32_t>(r.u32(field));
  d.std_dev = r.f64(field);
  return d;
}

}  // namespace

std::string_view serialized_kind_name(SerializedKind kind) {
  switch (kind) {
    case SerializedKind::PbsParameters:
      return "PbsParameters";
    case SerializedKind::LweSecretKey:
      return "LweSecretKey";
    case SerializedKind::GlweSecretKey:
      return "GlweSecretKey";
    case SerializedKind::ClientKey:
      return "ClientKey";
    case SerializedKind::LweCiphertext:
      return "LweCiphertext";
    case SerializedKind::LweCiphertextList:
      return "LweCiphertextList";
    case SerializedKind::SeededLweCiphertextList:
      return "SeededLweCiphertextList";
    case SerializedKind::LweKeyswitchKey:
      return "LweKeyswitchKey";
    case SerializedKind::SeededLweKeyswitchKey:
      return "SeededLweKeyswitchKey";
    case SerializedKind::LweBootstrapKey:
      return "LweBootstrapKey";
    case SerializedKind::SeededLweBootstrapKey:
      return "SeededLweBootstrapKey";
    case SerializedKind::CompressedServerKey:
      return "CompressedServerKey";
    case SerializedKind::ServerProgram:
      return "ServerProgram";
    case SerializedKind::ClientSpecification:
      return "ClientSpecification";
    case SerializedKind::CircuitClientKeys:
      return "CircuitClientKeys";
    case SerializedKind::CircuitEvaluationKeys:
      return "CircuitEvaluationKeys";
    case SerializedKind::EncryptedTensor:
      return "EncryptedTensor";
    case SerializedKind::EncryptedTensorList:
      return "EncryptedTensorList";
    case SerializedKind::RunArguments:
      return "RunArguments";
    case SerializedKind::SeededRunArguments:
      return "SeededRunArguments";
    case SerializedKind::PackedRunArguments:
      return "PackedRunArguments";
    case SerializedKind::ClientArtifact:
      return "ClientArtifact";
  }
  return "unknown";
}

SerializedHeader read_serialized_header(std::span<const std::uint8_t> bytes) {
  return open_object(bytes, nullptr).first;
}

std::string describe_serialized(std::span<const std::uint8_t> bytes) {
  const RawHeader raw = read_raw_header(bytes);
  std::ostringstream os;
  os << "TorusML " << kind_label(raw.kind) << ", format version " << raw.version;
  if (raw.version > kSerializationFormatVersion)
    os << " (newer than this build's " << kSerializationFormatVersion << ")";
  os << ", parameters " << sd::describe_fingerprint(raw.fingerprint) << ", payload "
     << raw.payload_bytes << " bytes";
  const std::uint64_t room = bytes.size() - kSerializedHeaderBytes;
  if (room < kSerializedChecksumBytes || raw.payload_bytes > room - kSerializedChecksumBytes) {
    os << ", TRUNCATED (" << bytes.size()
       << " bytes given, fewer than header + payload + checksum)";
  } else if (raw.payload_bytes < room - kSerializedChecksumBytes) {
    os << ", " << (room - kSerializedChecksumBytes - raw.payload_bytes)
       << " TRAILING bytes after the object (" << bytes.size() << " bytes given)";
  } else {
    os << ", " << bytes.size() << " bytes in all";
    if (raw.version == 0 || raw.version > kSerializationFormatVersion) {
      os << ", checksum not checked (unsupported version)";
    } else {
      const std::size_t body = kSerializedHeaderBytes + static_cast<std::size_t>(raw.payload_bytes);
      const Checksum computed = compute_checksum(bytes.first(body));
      const bool ok = std::equal(computed.begin(), computed.end(),
                                 bytes.begin() + static_cast<std::ptrdiff_t>(body));
      os << (ok ? ", checksum ok" : ", checksum MISMATCH (corrupted)");
    }
  }
  return os.str();
}

// ---- Parameters ----------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_parameters(const PbsParameters& params) {
  params.validate();
  ByteWriter w;
  sd::write_parameters(w, params);
  return sd::seal(SerializedKind::PbsParameters, params.fingerprint(), w.take());
}

PbsParameters deserialize_parameters(std::span<const std::uint8_t> bytes) {
  const auto [header, payload] = sd::open(bytes, SerializedKind::PbsParameters);
  PbsParameters params = sd::parse_payload(SerializedKind::PbsParameters, payload,
                                           [](ByteReader& r) { return sd::read_parameters(r); });
  if (params.fingerprint() != header.parameters_fingerprint) {
    sd::fail("inconsistent PbsParameters: the header's fingerprint " +
             hex64(header.parameters_fingerprint) + " is not that of the stored parameters (" +
             hex64(params.fingerprint()) + "); the object was written by a faulty tool");
  }
  return params;
}

// ---- Shared helpers ------------------------------------------------------------------------

namespace serialization_detail {

void fail(const std::string& message) {
  throw SerializationError(message);
}

std::string describe_fingerprint(std::uint64_t fingerprint) {
  if (fingerprint == 0) return "no parameter set";
  for (const PbsParameters& p : all_presets())
    if (p.fingerprint() == fingerprint) return p.name + " (fingerprint " + hex64(fingerprint) + ")";
  return "an unnamed parameter set (fingerprint " + hex64(fingerprint) + ")";
}

std::string describe_parameters(const PbsParameters& params) {
  const std::string name = params.name.empty() ? "an unnamed parameter set" : params.name;
  return name + " (fingerprint " + hex64(params.fingerprint()) + ")";
}

std::vector<std::uint8_t> seal(SerializedKind kind, std::uint64_t fingerprint,
                               std::vector<std::uint8_t> payload) {
  ByteWriter header;
  header.bytes(kMagic);
  header.u16(kSerializationFormatVersion);
  header.u16(static_cast<std::uint16_t>(kind));
  header.u64(fingerprint);
  header.u64(payload.size());
  std::vector<std::uint8_t> out;
  out.reserve(kSerializedHeaderBytes + payload.size() + kSerializedChecksumBytes);
  out.insert(out.end(), header.data().begin(), header.data().end());
  out.insert(out.end(), payload.begin(), payload.end());
  payload = {};  // release the copy early: keys can be large
  const Checksum checksum = compute_checksum(out);
  out.insert(out.end(), checksum.begin(), checksum.end());
  return out;
}

std::pair<SerializedHeader, std::span<const std::uint8_t>> open(std::span<const std::uint8_t> bytes,
                                                                SerializedKind expected) {
  return open_object(bytes, &expected);
}

void require_fingerprint(std::uint64_t found, const PbsParameters& expected, SerializedKind kind,
                         const char* advice) {
  const std::uint64_t want = expected.fingerprint();
  if (found == want) return;
  throw ParameterMismatch(std::string(serialized_kind_name(kind)) + " belongs to " +
                          (found == 0 ? "" : "parameter set ") + describe_fingerprint(found) +
                          ", but " + describe_parameters(expected) + " was expected: " + advice);
}

std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, const char* what) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out))
    fail(std::string("corrupted input: the size of '") + what + "' overflows");
  return out;
}

std::uint64_t read_bounded(ByteReader& r, const char* field, std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t v = r.u64(field);
  if (v < lo || v > hi) {
    fail(std::string("'") + field + "' is " + std::to_string(v) + ", outside the valid range [" +
         std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

LweDimension read_lwe_dimension(ByteReader& r, const char* field) {
  return LweDimension(read_bounded(r, field, 1, kMaxLweDimension));
}

GlweDimension read_glwe_dimension(ByteReader& r, const char* field) {
  return GlweDimension(read_bounded(r, field, 1, kMaxGlweDimension));
}

PolynomialSize read_polynomial_size(ByteReader& r, const char* field) {
  // The range PbsParameters::validate() allows, also for components loaded without parameters.
  const std::uint64_t n = read_bounded(r, field, kMinPolynomialSize, kMaxPolynomialSize);
  if (!std::has_single_bit(n))
    fail(std::string("'") + field + "' is " + std::to_string(n) + ", not a power of two");
  return PolynomialSize(n);
}

void write_decomposition(ByteWriter& w, const DecompositionParameters& d) {
  w.u64(d.base_log.value());
  w.u64(d.level_count.value());
}

DecompositionParameters read_decomposition(ByteReader& r, const char* field) {
  const std::uint64_t base_log = read_bounded(r, field, 1, 63);
  const std::uint64_t levels = read_bounded(r, field, 1, 63);
  if (base_log * levels > 63) {
    fail(std::string("decomposition '") + field + "' has base_log " + std::to_string(base_log) +
         " x " + std::to_string(levels) + " levels, more than 63 bits");
  }
  return {DecompositionBaseLog(base_log), DecompositionLevelCount(levels)};
}

void write_seed(ByteWriter& w, const Seed& seed) {
  w.bytes(seed);
}

Seed read_seed(ByteReader& r, const char* field) {
  Seed s{};
  r.bytes(s, field);
  return s;
}

namespace {
// Fixed-width values (u64 torus elements or the keyswitching key's u32), without a count.
template <class T>
void write_values(ByteWriter& w, std::span<const T> values) {
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()));
}

template <class T>
std::vector<T> read_values(ByteReader& r, std::uint64_t count, const char* field) {
  if (count > r.remaining() / sizeof(T)) {
    fail(std::string("'") + field + "' needs " + std::to_string(count) + " values of " +
         std::to_string(sizeof(T)) + " bytes but only " + std::to_string(r.remaining()) +
         " bytes remain");
  }
  std::vector<T> out(static_cast<std::size_t>(count));
  if constexpr (sizeof(T) == 8)
    r.u64_values(out, field);
  else
    r.u32_values(out, field);
  return out;
}
}  // namespace

void write_torus_values(ByteWriter& w, std::span<const Torus> values) {
  write_values(w, values);
}

std::vector<Torus> read_torus_values(ByteReader& r, std::uint64_t count, const char* field) {
  return read_values<Torus>(r, count, field);
}

void write_key_torus_values(ByteWriter& w, std::span<const KeyswitchTorus> values) {
  write_values(w, values);
}

std::vector<KeyswitchTorus> read_key_torus_values(ByteReader& r, std::uint64_t count,
                                                  const char* field) {
  return read_values<KeyswitchTorus>(r, count, field);
}

std::uint64_t read_count(ByteReader& r, const char* field, std::uint64_t bytes_each) {
  const std::uint64_t count = r.u64(field);
  if (bytes_each == 0 || count > r.remaining() / bytes_each) {
    fail(std::string("'") + field + "' claims " + std::to_string(count) + " elements of " +
         std::to_string(bytes_each) + " bytes but only " + std::to_string(r.remaining()) +
         " bytes remain");
  }
  return count;
}

void write_parameters(ByteWriter& w, const PbsParameters& p) {
  if (p.name.size() > kMaxStringBytes || p.source.size() > kMaxStringBytes) {
    throw InvalidArgument("cannot serialize parameters whose name or source exceeds " +
                          std::to_string(kMaxStringBytes) + " bytes: shorten them");
  }
  w.string(p.name);
  w.string(p.source);
  w.u32(p.message_bits);
  w.u64(p.lwe_dimension.value());
  w.u64(p.glwe_dimension.value());
  w.u64(p.polynomial_size.value());
  write_noise(w, p.lwe_noise);
  write_noise(w, p.glwe_noise);
  write_decomposition(w, p.pbs);
  write_decomposition(w, p.ks);
  const std::uint8_t kind = static_cast<std::uint8_t>(p.modulus_switch);  // 1 to 4: validated
  w.u8(p.is_multi_bit() ? static_cast<std::uint8_t>(kind | kMultiBitFlag) : kind);
  w.f64(p.max_two_norm);
  if (uses_noise_reduction(p.modulus_switch)) {
    w.u64(p.ms_noise_reduction.zeros_count);
    w.u64(p.ms_noise_reduction.max_rounds);
    write_noise(w, p.ms_noise_reduction.zeros_noise);
  }
  if (p.is_multi_bit()) w.u64(p.grouping_factor.value());
}

PbsParameters read_parameters(ByteReader& r) {
  PbsParameters p;
  p.name = r.string("parameters name", kMaxStringBytes);
  p.source = r.string("parameters source", kMaxStringBytes);
  p.message_bits = r.u32("message_bits");
  p.lwe_dimension = LweDimension(r.u64("lwe_dimension"));
  p.glwe_dimension = GlweDimension(r.u64("glwe_dimension"));
  p.polynomial_size = PolynomialSize(r.u64("polynomial_size"));
  p.lwe_noise = read_noise(r, "lwe_noise");
  p.glwe_noise = read_noise(r, "glwe_noise");
  const std::uint64_t pbs_log = r.u64("pbs base_log"), pbs_levels = r.u64("pbs level_count");
  const std::uint64_t ks_log = r.u64("ks base_log"), ks_levels = r.u64("ks level_count");
  p.pbs = {DecompositionBaseLog(pbs_log), DecompositionLevelCount(pbs_levels)};
  p.ks = {DecompositionBaseLog(ks_log), DecompositionLevelCount(ks_levels)};
  const std::uint8_t kind = r.u8("modulus_switch");
  const bool multi_bit = (kind & kMultiBitFlag) != 0;
  p.modulus_switch = static_cast<ModulusSwitchKind>(kind & ~kMultiBitFlag);
  p.max_two_norm = r.f64("max_two_norm");
  if (uses_noise_reduction(p.modulus_switch)) {
    p.ms_noise_reduction.zeros_count = r.u64("ms_noise_reduction zeros_count");
    p.ms_noise_reduction.max_rounds = r.u64("ms_noise_reduction max_rounds");
    p.ms_noise_reduction.zeros_noise = read_noise(r, "ms_noise_reduction zeros_noise");
  }
  if (multi_bit) {
    // Only written for multi-bit sets: 1 would be a second encoding of a classic set.
    p.grouping_factor =
        GroupingFactor(read_bounded(r, "grouping_factor", kMinGroupingFactor, kMaxGroupingFactor));
  }
  // validate() bounds every field, but base_log * level_count could wrap around before its
  // comparison with 63: bound the factors first.
  if (pbs_log > 63 || pbs_levels > 63 || ks_log > 63 || ks_levels > 63)
    fail("stored parameters are invalid: a decomposition base_log or level_count exceeds 63");
  try {
    p.validate();
  } catch (const InsecureParameters&) {
    throw;  // well formed but below 128-bit security: refused with its own type
  } catch (const InvalidArgument& e) {
    fail(std::string("stored parameters are invalid (") + e.what() +
         "): the object is corrupted or was written by an incompatible tool");
  }
  return p;
}

}  // namespace serialization_detail

}  // namespace torusml::tfhe
