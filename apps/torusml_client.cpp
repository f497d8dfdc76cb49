// torusml-client: the client side of a deployed model on the command line. It keeps the secret
// key in a key directory, encrypts CSV features and decrypts results; `predict` does the whole
// round trip with a torusml-server (apps/torusml_server.cpp) over HTTP(S).
//
//   torusml-client keygen  --model DIR --keys KEYDIR [--force]
//   torusml-client encrypt --model DIR --keys KEYDIR --input X.csv --output ct.bin
//   torusml-client decrypt --model DIR --keys KEYDIR --input result.bin [--output y.csv] [--raw]
//   torusml-client predict --server URL --keys KEYDIR --input X.csv [--output y.csv]
//                          [--model DIR] [--force] [--cacert FILE] [--insecure]
//
// Predictions are class labels for classifiers (one line per sample, one column per target) and
// values for regressors (CSV rows). Exit status: 0 on success, 2 for a usage error, 1 for any
// other error (the message on stderr says what to do).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/client_artifact_io.h"
#include "torusml/deploy/csv_matrix.h"
#include "torusml/deploy/server/remote_server.h"

using namespace torusml;
using namespace torusml::deploy;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: torusml-client <command> [options]   (torusml-client <command> --help)\n"
    "  keygen   generate the secret and evaluation keys of a model into a key directory\n"
    "  encrypt  encrypt CSV features into the body of POST /run\n"
    "  decrypt  decrypt a server's result into predictions\n"
    "  predict  encrypt, run on a torusml-server, decrypt: the whole round trip\n";

const std::map<std::string, std::string> kCommandUsage = {
    {"keygen",
     "usage: torusml-client keygen --model DIR --keys KEYDIR [--force]\n"
     "  --model DIR    the model's artifact directory (its client.bin)\n"
     "  --keys KEYDIR  where the keys are kept: client_keys.bin (secret, 0600) and\n"
     "                 evaluation_keys.bin (to upload: POST /keys)\n"
     "  --force        generate new keys even if KEYDIR holds some\n"},
    {"encrypt",
     "usage: torusml-client encrypt --model DIR --keys KEYDIR --input X.csv --output ct.bin\n"
     "  --input X.csv   one sample per line, values separated by commas (a header line of\n"
     "                  names is skipped)\n"
     "  --output FILE   the seeded ciphertexts: the body of POST /run\n"},
    {"decrypt",
     "usage: torusml-client decrypt --model DIR --keys KEYDIR --input result.bin\n"
     "                              [--output y.csv] [--raw]\n"
     "  --input FILE   the server's result (the body of POST /run's response)\n"
     "  --output FILE  write the predictions there (default: stdout)\n"
     "  --raw          the decrypted integers instead of the predictions\n"},
    {"predict",
     "usage: torusml-client predict --server URL --keys KEYDIR --input X.csv [--output y.csv]\n"
     "                              [--model DIR] [--force] [--cacert FILE] [--insecure]\n"
     "  --server URL    http(s)://host:port of a torusml-server\n"
     "  --keys KEYDIR   the key directory (keys generated there on first use; the server's\n"
     "                  client artifact and key id are remembered there)\n"
     "  --model DIR     use DIR/client.bin instead of downloading the server's\n"
     "  --force         generate new keys\n"
     "  --cacert FILE   HTTPS: trust this PEM certificate\n"
     "  --insecure      HTTPS: do not verify the server's certificate\n"},
};

// Flags of each command: those taking a value and the boolean ones.
const std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> kFlags = {
    {"keygen", {{"--model", "--keys"}, {"--force"}}},
    {"encrypt", {{"--model", "--keys", "--input", "--output"}, {}}},
    {"decrypt", {{"--model", "--keys", "--input", "--output"}, {"--raw"}}},
    {"predict",
     {{"--server", "--keys", "--input", "--output", "--model", "--cacert"},
      {"--force", "--insecure"}}},
};

const std::map<std::string, std::vector<std::string>> kRequired = {
    {"keygen", {"--model", "--keys"}},
    {"encrypt", {"--model", "--keys", "--input", "--output"}},
    {"decrypt", {"--model", "--keys", "--input"}},
    {"predict", {"--server", "--keys", "--input"}},
};

constexpr const char* kServerKeysFile = "server_keys.txt";  // lines "URL KEY_ID"

class UsageError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
  std::set<std::string> switches;
  const std::string& required(const std::string& flag) const {
    const auto it = values.find(flag);
    if (it == values.end()) throw UsageError(command + " needs " + flag);
    return it->second;
  }
  std::string optional(const std::string& flag) const {
    const auto it = values.find(flag);
    return it == values.end() ? std::string() : it->second;
  }
  bool has(const std::string& flag) const { return switches.count(flag) > 0; }
};

Args parse_args(int argc, char** argv) {
  Args a;
  a.command = argv[1];
  const auto& [with_value, booleans] = kFlags.at(a.command);
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (booleans.count(flag)) {
      a.switches.insert(flag);
    } else if (with_value.count(flag)) {
      if (i + 1 >= argc) throw UsageError("missing value after " + flag);
      a.values[flag] = argv[++i];
    } else {
      throw UsageError("unknown option " + flag + " for " + a.command);
    }
  }
  for (const std::string& flag : kRequired.at(a.command))
    if (!a.values.count(flag)) throw UsageError(a.command + " needs " + flag);
  return a;
}

std::string read_text(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

void write_text(const std::string& path, const std::string& text) {
  write_file_bytes(path,
                   std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

ml::Matrix read_csv(const std::string& path) {
  return parse_csv_matrix(read_text(path), path);
}

// The client of --model with the keys of --keys, which must exist.
Client client_with_keys(const Args& a) {
  Client client = Client::load(a.required("--model"));
  const fs::path keys = a.required("--keys");
  if (!fs::exists(keys / kClientKeysFile))
    throw InvalidArgument("no keys in " + keys.string() +
                          ": run torusml-client keygen --model DIR --keys " + keys.string() +
                          " first");
  client.load_keys(keys);
  return client;
}

// Predictions as text: labels (classifiers), else values.
std::string format_prediction(const Prediction& p) {
  if (p.labels.empty()) return format_csv_matrix(p.values);
  std::vector<std::vector<std::string>> rows(p.labels.at(0).size());
  for (const auto& target : p.labels)
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r].push_back(target.at(r));
  return format_csv_rows(rows);
}

void emit(const Args& a, const std::string& text, std::size_t rows) {
  const std::string out = a.optional("--output");
  if (out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_text(out, text);
    std::fprintf(stderr, "torusml-client: wrote %zu rows to %s\n", rows, out.c_str());
  }
}

int keygen(const Args& a) {
  Client client = Client::load(a.required("--model"));
  const std::string keys = a.required("--keys");
  const bool generated = client.load_or_generate_keys(keys, a.has("--force"));
  std::fprintf(stderr,
               generated ? "torusml-client: generated keys in %s (evaluation keys: %zu bytes, "
                           "%s/%s)\n"
                         : "torusml-client: %s already holds this model's keys (%zu bytes of "
                           "evaluation keys, %s/%s); --force generates new ones\n",
               keys.c_str(), client.serialized_evaluation_keys().size(), keys.c_str(),
               kEvaluationKeysFile);
  if (generated) fs::remove(fs::path(keys) / kServerKeysFile);  // ids of the old keys
  return 0;
}

int encrypt(const Args& a) {
  const Client client = client_with_keys(a);
  const ml::Matrix x = read_csv(a.required("--input"));
  const auto bytes = client.quantize_encrypt_serialize(x);
  write_file_bytes(a.required("--output"), bytes);
  std::fprintf(stderr, "torusml-client: encrypted %zu samples into %s (%zu bytes)\n", x.rows(),
               a.required("--output").c_str(), bytes.size());
  return 0;
}

int decrypt(const Args& a) {
  const Client client = client_with_keys(a);
  const auto result = read_file_bytes(a.required("--input"));
  if (a.has("--raw")) {
    const circuit::Tensor t = client.deserialize_decrypt(result);
    const std::size_t rows = t.shape().empty() ? 1 : static_cast<std::size_t>(t.shape()[0]);
    const std::size_t per_row = rows == 0 ? 0 : t.values().size() / rows;
    std::string text;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t k = 0; k < per_row; ++k) {
        if (k > 0) text += ',';
        text += std::to_string(t.values()[r * per_row + k]);
      }
      text += '\n';
    }
    emit(a, text, rows);
    return 0;
  }
  const Prediction p = client.deserialize_decrypt_dequantize(result);
  emit(a, format_prediction(p), p.values.rows());
  return 0;
}

// The key id remembered for `url` in the key directory ("" if none).
std::string remembered_key_id(const fs::path& keys, const std::string& url) {
  std::ifstream in(keys / kServerKeysFile);
  std::string u, id;
  while (in >> u >> id)
    if (u == url) return id;
  return "";
}

void remember_key_id(const fs::path& keys, const std::string& url, const std::string& id) {
  std::string text;
  {
    std::ifstream in(keys / kServerKeysFile);
    std::string u, old;
    while (in >> u >> old)
      if (u != url) text += u + " " + old + "\n";
  }
  write_text((keys / kServerKeysFile).string(), text + url + " " + id + "\n");
}

int predict(const Args& a) {
  const std::string url = a.required("--server");
  const fs::path keys = a.required("--keys");
  const ml::Matrix x = read_csv(a.required("--input"));
  server::RemoteOptions options;
  options.ca_certificate_file = a.optional("--cacert");
  options.verify_certificate = !a.has("--insecure");
  server::RemoteServer remote(url, options);

  // The client artifact: --model's, or the server's (kept in the key directory).
  const std::string model = a.optional("--model");
  std::vector<std::uint8_t> artifact;
  if (!model.empty()) {
    artifact = read_file_bytes((fs::path(model) / kClientArtifactFile).string());
  } else {
    artifact = remote.download_client_artifact();
  }
  Client client(deserialize_client_artifact(artifact));
  const bool generated = client.load_or_generate_keys(keys, a.has("--force"));
  if (model.empty()) write_file_bytes((keys / kClientArtifactFile).string(), artifact);
  if (generated) {
    fs::remove(keys / kServerKeysFile);
    std::fprintf(stderr, "torusml-client: generated keys in %s\n", keys.c_str());
  }

  // Evaluation keys: uploaded once per server (the id is remembered), again if it forgot them.
  std::string key_id = remembered_key_id(keys, url);
  const auto upload = [&] {
    key_id = remote.upload_keys(client.serialized_evaluation_keys());
    remember_key_id(keys, url, key_id);
    std::fprintf(stderr, "torusml-client: uploaded %zu bytes of evaluation keys (key id %s)\n",
                 client.serialized_evaluation_keys().size(), key_id.c_str());
  };
  if (key_id.empty()) upload();
  const auto inputs = client.quantize_encrypt_serialize(x);
  std::vector<std::uint8_t> result;
  try {
    result = remote.run(key_id, inputs);
  } catch (const server::RemoteError& e) {
    if (e.status() != 404) throw;
    upload();  // the server does not hold the remembered keys (any more)
    result = remote.run(key_id, inputs);
  }
  const Prediction p = client.deserialize_decrypt_dequantize(result);
  emit(a, format_prediction(p), p.values.rows());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (!kFlags.count(command)) {
    std::fprintf(stderr, "torusml-client: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kCommandUsage.at(command).c_str(), stdout);
      return 0;
    }
  }
  try {
    const Args a = parse_args(argc, argv);
    if (command == "keygen") return keygen(a);
    if (command == "encrypt") return encrypt(a);
    if (command == "decrypt") return decrypt(a);
    return predict(a);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "torusml-client: %s\n%s", e.what(), kCommandUsage.at(command).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torusml-client %s: %s\n", command.c_str(), e.what());
    return 1;
  }
}
