#include "torusml/deploy/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/client_artifact_io.h"

namespace torusml::deploy {

namespace {

[[noreturn]] void io_error(const std::string& what, const std::filesystem::path& path) {
  throw Error(what + " " + path.string() + ": " + std::strerror(errno));
}

// Writes `bytes` to `path` with mode 0600 from the start: a temporary file created exclusively,
// synced, then renamed over the destination.
void write_private_file(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot create", tmp);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      io_error("cannot write", tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) io_error("cannot write", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) io_error("cannot rename into", path);
}

constexpr const char* kOtherKeys =
    "the key directory holds keys of another model (or of this model before it was "
    "recompiled): use another key directory, or generate keys again (force=True)";

}  // namespace

Client::Client(ClientArtifact artifact) : artifact_(std::move(artifact)) {
  validate_client_artifact(artifact_);
}

Client Client::load(const std::filesystem::path& artifact_dir) {
  return Client(load_client_artifact(artifact_dir));
}

void Client::generate_keys(const tfhe::Seed& seed) {
  circuit::ClientKeySet ck =
      circuit::generate_client_keys(artifact_.specification.parameters, tfhe::derive_seed(seed, 1));
  evaluation_keys_ = circuit::serialize_evaluation_keys(
      circuit::generate_evaluation_keys(ck, tfhe::derive_seed(seed, 2)));
  keys_ = std::move(ck);
}

void Client::save_keys(const std::filesystem::path& key_dir) const {
  const circuit::ClientKeySet& ck = keys();
  std::error_code ec;
  std::filesystem::create_directories(key_dir, ec);
  if (ec) throw Error("cannot create the key directory " + key_dir.string() + ": " + ec.message());
  std::filesystem::permissions(key_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec)
    throw Error("cannot restrict the key directory " + key_dir.string() + ": " + ec.message());
  write_private_file(key_dir / kClientKeysFile, circuit::serialize_client_keys(ck));
  write_private_file(key_dir / kEvaluationKeysFile, evaluation_keys_);
}

void Client::load_keys(const std::filesystem::path& key_dir) {
  const auto& p = artifact_.specification.parameters;
  circuit::ClientKeySet ck;
  std::vector<std::uint8_t> ek;
  try {
    ck =
        circuit::deserialize_client_keys(read_file_bytes((key_dir / kClientKeysFile).string()), &p);
    ek = read_file_bytes((key_dir / kEvaluationKeysFile).string());
    const circuit::EvaluationKeySet loaded = circuit::deserialize_evaluation_keys(ek, &p);
    if (p.uses_pbs && loaded.compressed->parameters.fingerprint() != p.pbs.fingerprint())
      throw ParameterMismatch(kOtherKeys);
  } catch (const ParameterMismatch& e) {
    throw ParameterMismatch(std::string(kOtherKeys) + " (" + e.what() + ")");
  }
  keys_ = std::move(ck);
  evaluation_keys_ = std::move(ek);
}

bool Client::load_or_generate_keys(const std::filesystem::path& key_dir, bool force) {
  if (!force && std::filesystem::exists(key_dir / kClientKeysFile) &&
      std::filesystem::exists(key_dir / kEvaluationKeysFile)) {
    load_keys(key_dir);
    return false;
  }
  generate_keys();
  save_keys(key_dir);
  return true;
}

const circuit::ClientKeySet& Client::keys() const {
  if (!keys_)
    throw InvalidArgument(
        "the client has no keys: call generate_private_and_evaluation_keys() (C++: "
        "generate_keys() or load_or_generate_keys()) first");
  return *keys_;
}

const std::vector<std::uint8_t>& Client::serialized_evaluation_keys() const {
  keys();
  return evaluation_keys_;
}

std::vector<std::uint8_t> Client::quantize_encrypt_serialize(const ml::Matrix& x) const {
  const circuit::ClientKeySet& ck = keys();
  const circuit::Tensor input = prepare_input(artifact_, x);
  const circuit::SeededRunArguments args =
      circuit::encrypt_inputs_seeded(ck, artifact_.specification, std::span(&input, 1));
  return circuit::serialize_seeded_run_arguments(args, artifact_.specification.parameters);
}

circuit::Tensor Client::deserialize_decrypt(std::span<const std::uint8_t> result) const {
  const circuit::ClientKeySet& ck = keys();
  const auto outputs =
      circuit::deserialize_encrypted_tensors(result, artifact_.specification.parameters);
  if (outputs.size() != artifact_.specification.outputs.size())
    throw InvalidArgument("the result holds " + std::to_string(outputs.size()) +
                          " encrypted tensors, but the model has " +
                          std::to_string(artifact_.specification.outputs.size()) +
                          " output: pass the bytes the model's server returned");
  return circuit::decrypt_outputs(ck, artifact_.specification, outputs).at(0);
}

Prediction Client::deserialize_decrypt_dequantize(std::span<const std::uint8_t> result) const {
  return postprocess(artifact_, dequantize_output(artifact_, deserialize_decrypt(result)));
}

}  // namespace torusml::deploy
