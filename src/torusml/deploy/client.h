// The client side of a deployed model: it holds the secret key, turns float features into the
// seeded ciphertexts it uploads and the server's encrypted results into predictions.
//
//   Client client = Client::load("model_dir");          // DIR/client.bin
//   client.load_or_generate_keys("keys");               // secret key kept (0600) in keys/
//   upload(client.serialized_evaluation_keys());        // seeded; no secret
//   const auto result = server_run(client.quantize_encrypt_serialize(x));
//   const Prediction p = client.deserialize_decrypt_dequantize(result);
//
// The secret key never leaves the client: nothing here serializes it except save_keys(), into the
// key directory. Ciphertexts decrypted with another key set than the one they were encrypted
// for give meaningless integers (no key can detect that); keys or results of another circuit
// (other parameters) give ParameterMismatch saying what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "torusml/circuit/runtime/runtime.h"
#include "torusml/deploy/client_artifact.h"
#include "torusml/deploy/client_pipeline.h"
#include "torusml/tfhe/random.h"

namespace torusml::deploy {

/// Files of a key directory: the secret key set (circuit::serialize_client_keys, mode 0600) and
/// the seeded evaluation keys (circuit::serialize_evaluation_keys).
inline constexpr const char* kClientKeysFile = "client_keys.bin";
inline constexpr const char* kEvaluationKeysFile = "evaluation_keys.bin";

class Client {
 public:
  explicit Client(ClientArtifact artifact);
  /// The artifact of DIR/client.bin (throws like load_client_artifact).
  static Client load(const std::filesystem::path& artifact_dir);

  const ClientArtifact& artifact() const { return artifact_; }
  bool has_keys() const { return keys_.has_value(); }

  /// New secret and evaluation keys (from `seed`; the default draws one from the OS).
  void generate_keys(const tfhe::Seed& seed = tfhe::random_seed());
  /// Writes both key files into `key_dir` (created with mode 0700; files 0600, atomically).
  /// Throws InvalidArgument without keys, Error on I/O failure.
  void save_keys(const std::filesystem::path& key_dir) const;
  /// Reads the key files of `key_dir`. Throws ParameterMismatch ("...use another key directory,
  /// or generate keys again") if they belong to another circuit, SerializationError for damaged
  /// files, Error if they cannot be read.
  void load_keys(const std::filesystem::path& key_dir);
  /// Loads the keys of `key_dir` if it holds them, else (or with `force`) generates and saves
  /// new ones. Returns true if keys were generated.
  bool load_or_generate_keys(const std::filesystem::path& key_dir, bool force = false);

  /// The seeded evaluation keys to upload (InvalidArgument without keys).
  const std::vector<std::uint8_t>& serialized_evaluation_keys() const;

  /// prepare_input, encryption in seeded form (fresh mask seed per call), serialization
  /// (SeededRunArguments). InvalidArgument for bad x or without keys.
  std::vector<std::uint8_t> quantize_encrypt_serialize(const ml::Matrix& x) const;
  /// The decrypted integers of serialized results (circuit::serialize_encrypted_tensors of one
  /// output): (rows, *output shape). ParameterMismatch for results of another circuit,
  /// SerializationError for damaged bytes, InvalidArgument without keys.
  circuit::Tensor deserialize_decrypt(std::span<const std::uint8_t> result) const;
  /// deserialize_decrypt, dequantize_output, postprocess.
  Prediction deserialize_decrypt_dequantize(std::span<const std::uint8_t> result) const;

 private:
  const circuit::ClientKeySet& keys() const;

  ClientArtifact artifact_;
  std::optional<circuit::ClientKeySet> keys_;
  std::vector<std::uint8_t> evaluation_keys_;
};

}  // namespace torusml::deploy
