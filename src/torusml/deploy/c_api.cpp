// The C ABI of torusml_client.h over deploy::Client: every entry point checks its pointers,
// runs the C++ call inside guard() (which turns each exception into a status and a thread-local
// message) and copies results into malloc'ed buffers the caller releases with torusml_free().
#include "torusml/deploy/torusml_client.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "torusml/common/error.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/client_artifact_io.h"

struct torusml_client {
  explicit torusml_client(torusml::deploy::Client c) : client(std::move(c)) {}
  torusml::deploy::Client client;
};

namespace {

using torusml::deploy::Client;

thread_local std::string last_error;

torusml_status fail(torusml_status status, std::string message) {
  try {
    last_error = std::move(message);
  } catch (...) {
    last_error.clear();
  }
  return status;
}

// Runs f(); maps TorusML's exceptions (most derived first) to statuses.
template <typename F>
torusml_status guard(F&& f) noexcept {
  try {
    f();
    return TORUSML_OK;
  } catch (const torusml::ParameterMismatch& e) {
    return fail(TORUSML_ERROR_PARAMETER_MISMATCH, e.what());
  } catch (const torusml::SerializationError& e) {
    return fail(TORUSML_ERROR_SERIALIZATION, e.what());
  } catch (const torusml::InvalidArgument& e) {
    return fail(TORUSML_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const torusml::InternalError& e) {
    return fail(TORUSML_ERROR_INTERNAL, e.what());
  } catch (const torusml::Error& e) {
    return fail(TORUSML_ERROR_IO, e.what());
  } catch (const std::bad_alloc&) {
    return fail(TORUSML_ERROR_OUT_OF_MEMORY, "out of memory: use smaller batches");
  } catch (const std::exception& e) {
    return fail(TORUSML_ERROR_INTERNAL, std::string("unexpected error: ") + e.what());
  } catch (...) {
    return fail(TORUSML_ERROR_INTERNAL, "unexpected error of unknown type");
  }
}

// A NULL check of a required argument (named in the message).
bool missing(const void* p, const char* name, torusml_status& status) {
  if (p != nullptr) return false;
  status = fail(TORUSML_ERROR_INVALID_ARGUMENT,
                std::string(name) + " is NULL: pass a valid pointer (see torusml_client.h)");
  return true;
}

// A malloc'ed copy of `n` elements (at least one byte allocated, so that an empty result is a
// valid non-NULL buffer).
template <typename T>
T* copy_out(const T* data, std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n * sizeof(T));
  if (p == nullptr) throw std::bad_alloc();
  if (n > 0) std::memcpy(p, data, n * sizeof(T));
  return static_cast<T*>(p);
}

std::span<const std::uint8_t> bytes_of(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}

torusml::deploy::Prediction predict(const torusml_client* c, const std::uint8_t* result,
                                    std::size_t size) {
  return c->client.deserialize_decrypt_dequantize(bytes_of(result, size));
}

void check_target(const torusml::deploy::Prediction& p, std::size_t target) {
  if (p.labels.empty())
    throw torusml::InvalidArgument(
        "the model is not a classifier: use torusml_client_deserialize_decrypt_dequantize for "
        "its values");
  if (target >= p.labels.size())
    throw torusml::InvalidArgument("target " + std::to_string(target) + " is out of range: the " +
                                   "model has " + std::to_string(p.labels.size()) + " target(s)");
}

}  // namespace

extern "C" {

const char* torusml_last_error(void) {
  return last_error.c_str();
}

const char* torusml_status_string(torusml_status status) {
  switch (status) {
    case TORUSML_OK:
      return "ok";
    case TORUSML_ERROR_INVALID_ARGUMENT:
      return "invalid argument";
    case TORUSML_ERROR_SERIALIZATION:
      return "serialization error";
    case TORUSML_ERROR_PARAMETER_MISMATCH:
      return "parameter mismatch";
    case TORUSML_ERROR_IO:
      return "i/o error";
    case TORUSML_ERROR_OUT_OF_MEMORY:
      return "out of memory";
    case TORUSML_ERROR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

void torusml_free(void* buffer) {
  std::free(buffer);
}

torusml_status torusml_client_create_from_dir(const char* model_dir, torusml_client** out) {
  torusml_status s = TORUSML_OK;
  if (missing(model_dir, "model_dir", s) || missing(out, "out", s)) return s;
  return guard([&] { *out = new torusml_client(Client::load(model_dir)); });
}

torusml_status torusml_client_create_from_artifact(const uint8_t* bytes, size_t size,
                                                   torusml_client** out) {
  torusml_status s = TORUSML_OK;
  if (missing(bytes, "bytes", s) || missing(out, "out", s)) return s;
  return guard([&] {
    *out = new torusml_client(Client(torusml::deploy::deserialize_client_artifact({bytes, size})));
  });
}

void torusml_client_destroy(torusml_client* client) {
  delete client;
}

torusml_status torusml_client_info(const torusml_client* client, size_t* n_features,
                                   size_t* n_columns, int* is_classifier) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s)) return s;
  return guard([&] {
    const auto& a = client->client.artifact();
    if (n_features != nullptr) *n_features = a.input.n_features;
    if (n_columns != nullptr) *n_columns = a.output_columns();
    if (is_classifier != nullptr)
      *is_classifier = a.transform.task == torusml::deploy::Task::Classification ? 1 : 0;
  });
}

torusml_status torusml_client_generate_keys(torusml_client* client, const uint8_t* seed) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s)) return s;
  return guard([&] {
    torusml::tfhe::Seed k{};
    if (seed != nullptr)
      std::memcpy(k.data(), seed, k.size());
    else
      k = torusml::tfhe::random_seed();
    client->client.generate_keys(k);
  });
}

torusml_status torusml_client_save_keys(const torusml_client* client, const char* key_dir) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(key_dir, "key_dir", s)) return s;
  return guard([&] { client->client.save_keys(key_dir); });
}

torusml_status torusml_client_load_keys(torusml_client* client, const char* key_dir) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(key_dir, "key_dir", s)) return s;
  return guard([&] { client->client.load_keys(key_dir); });
}

torusml_status torusml_client_load_or_generate_keys(torusml_client* client, const char* key_dir,
                                                    int force, int* generated) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(key_dir, "key_dir", s)) return s;
  return guard([&] {
    const bool g = client->client.load_or_generate_keys(key_dir, force != 0);
    if (generated != nullptr) *generated = g ? 1 : 0;
  });
}

int torusml_client_has_keys(const torusml_client* client) {
  return client != nullptr && client->client.has_keys() ? 1 : 0;
}

torusml_status torusml_client_evaluation_keys(const torusml_client* client, uint8_t** out,
                                              size_t* size) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(out, "out", s) || missing(size, "size", s)) return s;
  return guard([&] {
    const auto& ek = client->client.serialized_evaluation_keys();
    *out = copy_out(ek.data(), ek.size());
    *size = ek.size();
  });
}

torusml_status torusml_client_quantize_encrypt_serialize(const torusml_client* client,
                                                         const double* x, size_t rows, size_t cols,
                                                         uint8_t** out, size_t* size) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(x, "x", s) || missing(out, "out", s) ||
      missing(size, "size", s))
    return s;
  return guard([&] {
    if (rows == 0 || cols == 0) throw torusml::InvalidArgument("x has no rows or no columns");
    if (rows > (std::size_t{1} << 40) / cols)
      throw torusml::InvalidArgument("x has too many values: encrypt it in smaller batches");
    const torusml::ml::Matrix m(rows, cols, std::vector<double>(x, x + rows * cols));
    const auto bytes = client->client.quantize_encrypt_serialize(m);
    *out = copy_out(bytes.data(), bytes.size());
    *size = bytes.size();
  });
}

torusml_status torusml_client_deserialize_decrypt(const torusml_client* client,
                                                  const uint8_t* result, size_t size,
                                                  int64_t** values, size_t* rows, size_t* per_row) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(result, "result", s) ||
      missing(values, "values", s) || missing(rows, "rows", s) || missing(per_row, "per_row", s))
    return s;
  return guard([&] {
    const torusml::circuit::Tensor t = client->client.deserialize_decrypt(bytes_of(result, size));
    const auto v = t.values();
    const std::size_t r = t.shape().empty() ? 1 : static_cast<std::size_t>(t.shape()[0]);
    *values = copy_out(v.data(), v.size());
    *rows = r;
    *per_row = r == 0 ? 0 : v.size() / r;
  });
}

torusml_status torusml_client_deserialize_decrypt_dequantize(const torusml_client* client,
                                                             const uint8_t* result, size_t size,
                                                             double** values, size_t* rows,
                                                             size_t* cols) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(result, "result", s) ||
      missing(values, "values", s) || missing(rows, "rows", s) || missing(cols, "cols", s))
    return s;
  return guard([&] {
    const torusml::deploy::Prediction p = predict(client, result, size);
    *values = copy_out(p.values.values().data(), p.values.size());
    *rows = p.values.rows();
    *cols = p.values.cols();
  });
}

torusml_status torusml_client_predict_proba(const torusml_client* client, const uint8_t* result,
                                            size_t size, size_t target, double** probabilities,
                                            size_t* rows, size_t* n_classes) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(result, "result", s) ||
      missing(probabilities, "probabilities", s) || missing(rows, "rows", s) ||
      missing(n_classes, "n_classes", s))
    return s;
  return guard([&] {
    const torusml::deploy::Prediction p = predict(client, result, size);
    check_target(p, target);
    if (p.probabilities.size() <= target)
      throw torusml::InvalidArgument(
          "this classifier gives no probabilities (e.g. LinearSVC): use "
          "torusml_client_deserialize_decrypt_dequantize for its decision values");
    const torusml::ml::Matrix& m = p.probabilities[target];
    *probabilities = copy_out(m.values().data(), m.size());
    *rows = m.rows();
    *n_classes = m.cols();
  });
}

torusml_status torusml_client_predict_labels(const torusml_client* client, const uint8_t* result,
                                             size_t size, size_t target, char*** labels,
                                             size_t* rows) {
  torusml_status s = TORUSML_OK;
  if (missing(client, "client", s) || missing(result, "result", s) ||
      missing(labels, "labels", s) || missing(rows, "rows", s))
    return s;
  return guard([&] {
    const torusml::deploy::Prediction p = predict(client, result, size);
    check_target(p, target);
    const auto& text = p.labels[target];
    // One block: the pointer array, then the NUL-terminated strings.
    std::size_t total = (text.size() + 1) * sizeof(char*);
    for (const auto& t : text) total += t.size() + 1;
    char* block = static_cast<char*>(std::malloc(total));
    if (block == nullptr) throw std::bad_alloc();
    char** pointers = reinterpret_cast<char**>(block);
    char* cursor = block + (text.size() + 1) * sizeof(char*);
    for (std::size_t i = 0; i < text.size(); ++i) {
      pointers[i] = cursor;
      std::memcpy(cursor, text[i].c_str(), text[i].size() + 1);
      cursor += text[i].size() + 1;
    }
    pointers[text.size()] = nullptr;
    *labels = pointers;
    *rows = text.size();
  });
}

}  // extern "C"
