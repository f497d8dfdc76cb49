#include "torusml/deploy/server/key_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::deploy::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* kKeySuffix = ".keys";
constexpr const char* kTempSuffix = ".tmp";

std::uint16_t u16_at(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}

std::uint64_t u64_at(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 8; i-- > 0;) v = (v << 8) | b[at + i];
  return v;
}

bool has_magic(std::span<const std::uint8_t> b) {
  return b.size() >= 8 && b[0] == 'T' && b[1] == 'R' && b[2] == 'M' && b[3] == 'L';
}

std::string system_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Writes `bytes` to `path` atomically and durably: a unique temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory. Throws Error (the temporary file removed).
void write_durably(const std::string& directory, const std::string& path,
                   std::span<const std::uint8_t> bytes) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string tmp = path + "." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1)) + kTempSuffix;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error(system_error("cannot create the key file", tmp) +
                "; check that the key directory is writable");
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      done += static_cast<std::size_t>(n);
  }
  std::string error;
  if (!ok)
    error = system_error("cannot write the key file", tmp) + " (disk full?)";
  else if (::fsync(fd) != 0)
    error = system_error("cannot flush the key file", tmp);
  if (::close(fd) != 0 && error.empty()) error = system_error("cannot close the key file", tmp);
  if (error.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    error = system_error("cannot rename the key file", tmp);
  if (!error.empty()) {
    ::unlink(tmp.c_str());
    throw Error(error);
  }
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

// The first 24 bytes of a file (fewer if it is shorter).
std::vector<std::uint8_t> read_prefix(const fs::path& path) {
  std::vector<std::uint8_t> out(tfhe::kSerializedHeaderBytes);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

}  // namespace

bool is_key_id(std::string_view text) {
  if (text.size() != 2 * crypto_generichash_BYTES) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string key_id_of(std::span<const std::uint8_t> bytes) {
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), bytes.data(), bytes.size(), nullptr, 0);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool holds_secret_key_kind(std::span<const std::uint8_t> bytes) {
  if (!has_magic(bytes)) return false;
  using K = tfhe::SerializedKind;
  const auto kind = static_cast<K>(u16_at(bytes, 6));
  return kind == K::LweSecretKey || kind == K::GlweSecretKey || kind == K::ClientKey ||
         kind == K::CircuitClientKeys;
}

KeyStore::KeyStore(std::string directory, circuit::CircuitParameters parameters,
                   KeyStoreLimits limits)
    : directory_(std::move(directory)), parameters_(std::move(parameters)), limits_(limits) {
  if (limits_.max_keys == 0) throw InvalidArgument("key store: the key limit must be at least 1");
  if (limits_.cache_capacity == 0)
    throw InvalidArgument("key store: the cache of expanded keys must hold at least 1 key set");
  if (sodium_init() < 0) throw Error("key store: libsodium failed to initialise");
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec || !fs::is_directory(directory_))
    throw Error("cannot create the key directory '" + directory_ + "': " + ec.message() +
                "; pass a writable directory with --keys");
  const std::uint64_t fingerprint = parameters_.fingerprint();
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(kTempSuffix)) {  // left by an interrupted write
      fs::remove(entry.path(), ec);
      continue;
    }
    if (!entry.is_regular_file() || !name.ends_with(kKeySuffix)) continue;
    const std::string id = name.substr(0, name.size() - std::strlen(kKeySuffix));
    const std::vector<std::uint8_t> head = read_prefix(entry.path());
    const bool ours = is_key_id(id) && head.size() == tfhe::kSerializedHeaderBytes &&
                      has_magic(head) &&
                      u16_at(head, 6) ==
                          static_cast<std::uint16_t>(tfhe::SerializedKind::CircuitEvaluationKeys) &&
                      u64_at(head, 8) == fingerprint;
    if (ours)
      stored_.insert(id);
    else
      ++skipped_files_;
  }
  if (ec) throw Error("cannot read the key directory '" + directory_ + "': " + ec.message());
}

std::string KeyStore::path_of(const std::string& key_id) const {
  return (fs::path(directory_) / (key_id + kKeySuffix)).string();
}

StoredKey KeyStore::put(std::span<const std::uint8_t> bytes) {
  if (holds_secret_key_kind(bytes)) {
    const auto kind = static_cast<tfhe::SerializedKind>(u16_at(bytes, 6));
    throw SecretKeyRefused(
        "the upload is a secret key (" + std::string(tfhe::serialized_kind_name(kind)) +
        "): the server never accepts one; keep it on the client and upload the evaluation keys "
        "(circuit::serialize_evaluation_keys, FHEModelClient.get_serialized_evaluation_keys())");
  }
  // Validates everything (framing, checksum, parameters, shapes); not expanded here.
  (void)circuit::deserialize_evaluation_keys(bytes, &parameters_, /*expand=*/false);
  StoredKey result{key_id_of(bytes), false};
  std::lock_guard write_lock(write_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (stored_.count(result.key_id)) return result;
    if (stored_.size() >= limits_.max_keys) {
      throw KeyStoreFull("the key store is full (" + std::to_string(limits_.max_keys) +
                         " key sets): delete unused keys (DELETE /keys/<id>) or ask the operator "
                         "to raise --max-keys");
    }
  }
  write_durably(directory_, path_of(result.key_id), bytes);
  std::lock_guard lock(mutex_);
  stored_.insert(result.key_id);
  result.created = true;
  return result;
}

KeyStore::Loaded KeyStore::load_expanded(const std::string& key_id) const {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path_of(key_id));
  if (key_id_of(bytes) != key_id)
    throw SerializationError("the stored key file does not match its id");
  return std::make_shared<const circuit::EvaluationKeySet>(
      circuit::deserialize_evaluation_keys(bytes, &parameters_, /*expand=*/true));
}

void KeyStore::insert_cached(const std::string& key_id, Loaded keys) {
  if (cache_.count(key_id)) return;
  lru_.emplace_front(key_id, std::move(keys));
  cache_[key_id] = lru_.begin();
  while (lru_.size() > limits_.cache_capacity) {
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

std::shared_ptr<const circuit::EvaluationKeySet> KeyStore::get(const std::string& key_id) {
  if (!is_key_id(key_id)) {
    throw UnknownKeyId(
        "malformed key id (expected the 64 hexadecimal characters returned by "
        "POST /keys)");
  }
  std::promise<Loaded> promise;
  {
    std::unique_lock lock(mutex_);
    if (auto it = cache_.find(key_id); it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    if (auto it = loading_.find(key_id); it != loading_.end()) {
      std::shared_future<Loaded> pending = it->second;
      lock.unlock();
      return pending.get();
    }
    if (!stored_.count(key_id)) {
      throw UnknownKeyId("unknown key id " + key_id +
                         ": upload the evaluation keys with POST /keys first");
    }
    loading_.emplace(key_id, promise.get_future().share());
  }
  Loaded keys;
  try {
    try {
      keys = load_expanded(key_id);
    } catch (const SerializationError& e) {
      // Damaged on disk (or edited): forget it, so that the client uploads it again.
      std::error_code ec;
      fs::remove(path_of(key_id), ec);
      {
        std::lock_guard lock(mutex_);
        stored_.erase(key_id);
      }
      throw UnknownKeyId("the stored keys " + key_id + " were damaged on disk (" + e.what() +
                         ") and were removed: upload the evaluation keys again");
    }
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard lock(mutex_);
    loading_.erase(key_id);
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    if (stored_.count(key_id)) insert_cached(key_id, keys);
    loading_.erase(key_id);
  }
  promise.set_value(keys);
  return keys;
}

bool KeyStore::contains(const std::string& key_id) const {
  std::lock_guard lock(mutex_);
  return stored_.count(key_id) != 0;
}

bool KeyStore::remove(const std::string& key_id) {
  std::lock_guard write_lock(write_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!stored_.erase(key_id)) return false;
    if (auto it = cache_.find(key_id); it != cache_.end()) {
      lru_.erase(it->second);
      cache_.erase(it);
    }
  }
  std::error_code ec;
  fs::remove(path_of(key_id), ec);
  return true;
}

std::size_t KeyStore::size() const {
  std::lock_guard lock(mutex_);
  return stored_.size();
}

std::size_t KeyStore::cached() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace torusml::deploy::server
