// The server's evaluation keys, by key id.
//
// A key id is the lowercase hex BLAKE2b-256 digest (64 characters) of the uploaded bytes (the
// circuit::serialize_evaluation_keys record, seeded). Each key set is one file
// `<directory>/<key id>.keys` holding those bytes, written atomically (a unique temporary file in
// the same directory, fsync, rename, fsync of the directory), so that a crash or a SIGTERM never
// leaves a half-written key under its final name; temporary files left by a killed process are
// removed when a store is opened. Opening a store indexes the key files of the model's parameters
// (header fingerprint), so a restarted server keeps every uploaded key.
//
// Expanded keys (what circuit::run needs) are large (tens to hundreds of MB), so the store keeps
// at most `cache_capacity` of them in memory, least recently used evicted first; a key that is not
// cached is read from disk, checked against its id and expanded on demand (concurrent requests for
// the same key wait for one expansion). Thread-safe.
//
// The store never holds a secret key: put() refuses any upload whose record kind is a secret key
// kind (TFHE LWE/GLWE secret keys, TFHE client keys, circuit client keys), even when the rest of
// the bytes is damaged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/common/error.h"

namespace torusml::deploy::server {

/// An upload that holds (or claims to hold) a secret key: refused, never stored.
class SecretKeyRefused : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// A key id that is malformed or names no stored key set.
class UnknownKeyId : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// The store already holds its maximum number of key sets.
class KeyStoreFull : public Error {
 public:
  using Error::Error;
};

struct KeyStoreLimits {
  std::size_t max_keys = 1000;     // key sets stored (on disk)
  std::size_t cache_capacity = 8;  // expanded key sets kept in memory (>= 1)
};

/// The result of KeyStore::put.
struct StoredKey {
  std::string key_id;
  bool created = false;  // false: the same bytes were stored already
};

/// True for 64 lowercase hexadecimal characters (the form of every key id).
bool is_key_id(std::string_view text);

/// The key id of `bytes`: lowercase hex BLAKE2b-256.
std::string key_id_of(std::span<const std::uint8_t> bytes);

/// True if `bytes` start with a TorusML record header whose kind is a secret key kind.
bool holds_secret_key_kind(std::span<const std::uint8_t> bytes);

class KeyStore {
 public:
  /// Opens (creating it if needed) the key directory of a model with `parameters`: removes
  /// temporary files left by an interrupted write and indexes the key files whose header carries
  /// these parameters (others are left alone and counted in skipped_files()). Throws
  /// InvalidArgument for a cache capacity or key limit of 0, Error if the directory cannot be
  /// created or read.
  KeyStore(std::string directory, circuit::CircuitParameters parameters, KeyStoreLimits limits);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  /// Validates and stores uploaded evaluation keys. Throws SecretKeyRefused for a secret key,
  /// SerializationError for bytes that are not evaluation keys, ParameterMismatch for the keys of
  /// another circuit, KeyStoreFull when max_keys key sets are stored already, Error on a write
  /// failure (nothing is left under the final name then).
  StoredKey put(std::span<const std::uint8_t> bytes);

  /// The expanded key set `key_id`. Throws UnknownKeyId if the id is malformed or unknown (or its
  /// file was damaged on disk: it is then removed and must be uploaded again), Error if the file
  /// cannot be read.
  std::shared_ptr<const circuit::EvaluationKeySet> get(const std::string& key_id);

  /// Whether `key_id` is stored.
  bool contains(const std::string& key_id) const;
  /// Removes a stored key set (file and cache); false if it was not stored.
  bool remove(const std::string& key_id);

  std::size_t size() const;    // key sets stored
  std::size_t cached() const;  // expanded key sets in memory
  std::size_t skipped_files() const { return skipped_files_; }
  const std::string& directory() const { return directory_; }
  const KeyStoreLimits& limits() const { return limits_; }

 private:
  using Loaded = std::shared_ptr<const circuit::EvaluationKeySet>;
  std::string path_of(const std::string& key_id) const;
  Loaded load_expanded(const std::string& key_id) const;
  void insert_cached(const std::string& key_id, Loaded keys);  // with mutex_ held

  std::string directory_;
  circuit::CircuitParameters parameters_;
  KeyStoreLimits limits_;
  std::size_t skipped_files_ = 0;

  mutable std::mutex mutex_;
  std::set<std::string> stored_;
  std::list<std::pair<std::string, Loaded>> lru_;  // most recently used first
  std::map<std::string, std::list<std::pair<std::string, Loaded>>::iterator> cache_;
  std::map<std::string, std::shared_future<Loaded>> loading_;
  std::mutex write_mutex_;  // one upload written at a time
};

}  // namespace torusml::deploy::server
