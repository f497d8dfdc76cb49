// libFuzzer target: the loaders of the C ABI (src/torusml/deploy/torusml_client.h), through the
// C functions only. No exception may cross the ABI (one would abort the process: a finding), and
// every status must be an expected one.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 torusml_client_create_from_artifact, then
// torusml_client_info, and the calls that need keys, which must fail with
// TORUSML_ERROR_INVALID_ARGUMENT; with bit 6 ("deep"), the keys of the fixture model
// (c_api_fixture.h) loaded from their key directory (another model's parameters:
// TORUSML_ERROR_PARAMETER_MISMATCH) and a row of zeros encrypted. 1 a server's result read by the
// fixture model's client (fixed-seed keys): torusml_client_deserialize_decrypt,
// _deserialize_decrypt_dequantize, _predict_proba and _predict_labels (target 0; with bit 7,
// target 1, out of range).
//
// Findings: TORUSML_ERROR_INTERNAL or OUT_OF_MEMORY, a failure without a message, an output
// written by a failed call, results whose sizes disagree with each other.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "c_api_fixture.h"
#include "fuzz_common.h"
#include "torusml/deploy/torusml_client.h"

using namespace torusml;
using namespace torusml::fuzz;

namespace {

torusml_client* g_client = nullptr;  // the fixture model's client, with keys
std::string g_key_dir;               // its keys, for the deep loader 0

// An allowed status: OK or a typed error with a message.
bool ok(torusml_status s, const char* call) {
  if (s == TORUSML_OK) return true;
  if (s == TORUSML_ERROR_INTERNAL || s == TORUSML_ERROR_OUT_OF_MEMORY)
    finding(std::string(call) + ": " + torusml_status_string(s) + ": " + torusml_last_error());
  if (torusml_last_error()[0] == '\0') finding(std::string(call) + " failed without a message");
  return false;
}

template <typename T>
void check_untouched(T* p, T* sentinel, const char* call) {
  if (p != sentinel) finding(std::string(call) + " failed but wrote its output");
}

void load_artifact(const Input& in) {
  torusml_client* sentinel = reinterpret_cast<torusml_client*>(&g_client);
  torusml_client* c = sentinel;
  if (!ok(torusml_client_create_from_artifact(in.bytes.data(), in.bytes.size(), &c),
          "create_from_artifact")) {
    check_untouched(c, sentinel, "create_from_artifact");
    return;
  }
  count_load("c_api client artifact");
  std::size_t features = 0, columns = 0;
  int classifier = -1;
  if (!ok(torusml_client_info(c, &features, &columns, &classifier), "info") || features == 0 ||
      (classifier != 0 && classifier != 1))
    finding("torusml_client_info of a loaded artifact");
  std::uint8_t* out = nullptr;
  std::size_t size = 0;
  if (torusml_client_evaluation_keys(c, &out, &size) != TORUSML_ERROR_INVALID_ARGUMENT)
    finding("evaluation keys of a client without keys");
  const std::vector<double> zeros(features < 1024 ? features : 1, 0.0);
  if (torusml_client_quantize_encrypt_serialize(c, zeros.data(), 1, zeros.size(), &out, &size) !=
      TORUSML_ERROR_INVALID_ARGUMENT)
    finding("encryption by a client without keys");
  if (in.deep && features <= 256 && columns <= 1024 &&
      ok(torusml_client_load_keys(c, g_key_dir.c_str()), "load_keys")) {
    if (ok(torusml_client_quantize_encrypt_serialize(c, zeros.data(), 1, zeros.size(), &out, &size),
           "quantize_encrypt_serialize"))
      torusml_free(out);
  }
  torusml_client_destroy(c);
}

void load_result(const Input& in) {
  const std::uint8_t* bytes = in.bytes.data();
  const std::size_t size = in.bytes.size();
  std::int64_t* q_sentinel = reinterpret_cast<std::int64_t*>(&g_client);
  std::int64_t* q = q_sentinel;
  std::size_t rows = 0, per_row = 0;
  if (ok(torusml_client_deserialize_decrypt(g_client, bytes, size, &q, &rows, &per_row),
         "deserialize_decrypt")) {
    count_load("c_api result");
    torusml_free(q);
  } else {
    check_untouched(q, q_sentinel, "deserialize_decrypt");
  }
  double* d_sentinel = reinterpret_cast<double*>(&g_client);
  double* values = d_sentinel;
  std::size_t value_rows = 0, cols = 0;
  if (!ok(torusml_client_deserialize_decrypt_dequantize(g_client, bytes, size, &values, &value_rows,
                                                        &cols),
          "deserialize_decrypt_dequantize")) {
    check_untouched(values, d_sentinel, "deserialize_decrypt_dequantize");
    return;
  }
  if (value_rows != rows || cols != 1) finding("decrypted values of another shape than the result");
  torusml_free(values);
  const std::size_t target = in.alt ? 1 : 0;
  double* p = d_sentinel;
  std::size_t p_rows = 0, classes = 0;
  if (ok(torusml_client_predict_proba(g_client, bytes, size, target, &p, &p_rows, &classes),
         "predict_proba")) {
    if (in.alt || p_rows != rows || classes != 2) finding("probabilities of another shape");
    for (std::size_t k = 0; k < p_rows * classes; ++k)
      if (!(p[k] >= 0.0 && p[k] <= 1.0)) finding("a probability outside [0, 1]");
    torusml_free(p);
  } else {
    check_untouched(p, d_sentinel, "predict_proba");
  }
  char** l_sentinel = reinterpret_cast<char**>(&g_client);
  char** labels = l_sentinel;
  std::size_t l_rows = 0;
  if (ok(torusml_client_predict_labels(g_client, bytes, size, target, &labels, &l_rows),
         "predict_labels")) {
    if (in.alt || l_rows != rows || labels[l_rows] != nullptr) finding("labels of another shape");
    for (std::size_t r = 0; r < l_rows; ++r)
      if (std::string(labels[r]) != "no" && std::string(labels[r]) != "yes")
        finding("a label that is not a class");
    torusml_free(labels);
  } else {
    check_untouched(labels, l_sentinel, "predict_labels");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_c_api_loaders");
  const auto& artifact = c_api_artifact();
  if (torusml_client_create_from_artifact(artifact.data(), artifact.size(), &g_client) !=
      TORUSML_OK)
    finding(std::string("the fixture's client artifact does not load: ") + torusml_last_error());
  const auto seed = c_api_key_seed();
  g_key_dir = (std::filesystem::temp_directory_path() /
               ("torusml_fuzz_c_api_keys_" + std::to_string(::getpid())))
                  .string();
  if (torusml_client_generate_keys(g_client, seed.data()) != TORUSML_OK ||
      torusml_client_save_keys(g_client, g_key_dir.c_str()) != TORUSML_OK)
    finding(std::string("the fixture's keys: ") + torusml_last_error());
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(g_key_dir, ec);
    torusml_client_destroy(g_client);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 2, [](const Input& in) {
    if (in.loader == 0)
      load_artifact(in);
    else
      load_result(in);
  });
}
