/* The C ABI (torusml_client.h) from a C program, with real keys: a client from a model directory
 * and one from the client artifact's bytes, fixed-seed keys saved and reloaded, encryption, the
 * server's run (the C++ helper: the server side is no part of the C ABI), decryption into
 * values, probabilities and labels that equal the model's clear predictions; another key set
 * does not decrypt; NULL pointers, damaged bytes, a wrong column count, NaN, missing keys and an
 * unknown directory give error codes with messages and leave the outputs untouched. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_api_test_helper.h"
#include "torusml/deploy/torusml_client.h"

static int failures = 0;

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              torusml_last_error());                                                           \
      ++failures;                                                                              \
    }                                                                                          \
  } while (0)

/* A call that must fail with `status` and a message mentioning `word`. */
#define CHECK_FAILS(call, status, word)                                              \
  do {                                                                               \
    const torusml_status s_ = (call);                                                \
    CHECK(s_ == (status));                                                           \
    CHECK(strlen(torusml_last_error()) > 0);                                         \
    if (strstr(torusml_last_error(), (word)) == NULL) {                              \
      fprintf(stderr, "%s:%d: message lacks '%s': %s\n", __FILE__, __LINE__, (word), \
              torusml_last_error());                                                 \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)

static uint8_t* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* data = malloc((size_t)n);
  *size = fread(data, 1, (size_t)n, f);
  fclose(f);
  return data;
}

enum { ROWS = 6, COLS = 3 };

static void fill_inputs(double* x) {
  /* A fixed spread of values around the training data's range (standard normal). */
  for (int i = 0; i < ROWS * COLS; ++i) x[i] = sin(1.7 * i + 0.3) * 1.5;
}

static void test_round_trip(const char* model_dir, const char* key_dir) {
  torusml_client* client = NULL;
  CHECK(torusml_client_create_from_dir(model_dir, &client) == TORUSML_OK);
  if (client == NULL) return;
  size_t n_features = 0, n_columns = 0;
  int classifier = -1;
  CHECK(torusml_client_info(client, &n_features, &n_columns, &classifier) == TORUSML_OK);
  CHECK(n_features == COLS && n_columns == 1 && classifier == 1);

  uint8_t seed[32];
  memset(seed, 5, sizeof seed);
  CHECK(!torusml_client_has_keys(client));
  CHECK(torusml_client_generate_keys(client, seed) == TORUSML_OK);
  CHECK(torusml_client_has_keys(client));
  CHECK(torusml_client_save_keys(client, key_dir) == TORUSML_OK);
  uint8_t* keys = NULL;
  size_t keys_size = 0;
  CHECK(torusml_client_evaluation_keys(client, &keys, &keys_size) == TORUSML_OK);
  CHECK(keys != NULL && keys_size > 0);
  printf("evaluation keys: %zu bytes\n", keys_size);

  /* A second client from the artifact's bytes reloads the same keys. */
  char path[4096];
  snprintf(path, sizeof path, "%s/client.bin", model_dir);
  size_t artifact_size = 0;
  uint8_t* artifact = read_file(path, &artifact_size);
  CHECK(artifact != NULL);
  torusml_client* again = NULL;
  CHECK(torusml_client_create_from_artifact(artifact, artifact_size, &again) == TORUSML_OK);
  int generated = -1;
  CHECK(torusml_client_load_or_generate_keys(again, key_dir, 0, &generated) == TORUSML_OK);
  CHECK(generated == 0);
  uint8_t* keys_again = NULL;
  size_t keys_again_size = 0;
  CHECK(torusml_client_evaluation_keys(again, &keys_again, &keys_again_size) == TORUSML_OK);
  CHECK(keys_again_size == keys_size && memcmp(keys, keys_again, keys_size) == 0);

  /* Encrypt, run on the server, decrypt: the model's clear predictions. */
  double x[ROWS * COLS];
  fill_inputs(x);
  uint8_t* inputs = NULL;
  size_t inputs_size = 0;
  CHECK(torusml_client_quantize_encrypt_serialize(client, x, ROWS, COLS, &inputs, &inputs_size) ==
        TORUSML_OK);
  CHECK(inputs_size > 0 && inputs_size < 8 * ROWS * COLS + 300); /* seeded */
  uint8_t* result = NULL;
  size_t result_size = 0;
  CHECK(helper_server_run(model_dir, inputs, inputs_size, keys, keys_size, &result, &result_size) ==
        0);
  double expected_p[ROWS];
  int expected_label[ROWS];
  CHECK(helper_expected(x, ROWS, expected_p, expected_label) == 0);
  int yes = 0;
  for (int r = 0; r < ROWS; ++r) yes += expected_label[r];
  CHECK(yes > 0 && yes < ROWS); /* both classes occur: the labels are a real check */

  double* values = NULL;
  size_t rows = 0, cols = 0;
  CHECK(torusml_client_deserialize_decrypt_dequantize(again, result, result_size, &values, &rows,
                                                      &cols) == TORUSML_OK);
  CHECK(rows == ROWS && cols == 1);
  double* p = NULL;
  size_t n_classes = 0;
  CHECK(torusml_client_predict_proba(client, result, result_size, 0, &p, &rows, &n_classes) ==
        TORUSML_OK);
  CHECK(rows == ROWS && n_classes == 2);
  char** labels = NULL;
  CHECK(torusml_client_predict_labels(client, result, result_size, 0, &labels, &rows) ==
        TORUSML_OK);
  CHECK(rows == ROWS && labels != NULL && labels[ROWS] == NULL);
  for (int r = 0; r < ROWS && p != NULL && labels != NULL && values != NULL; ++r) {
    CHECK(fabs(p[2 * r + 1] - expected_p[r]) < 1e-12);
    CHECK(fabs(p[2 * r] + p[2 * r + 1] - 1.0) < 1e-12);
    CHECK(strcmp(labels[r], expected_label[r] ? "yes" : "no") == 0);
    CHECK((values[r] > 0) == (expected_label[r] == 1));
  }
  int64_t* q = NULL;
  size_t per_row = 0;
  CHECK(torusml_client_deserialize_decrypt(client, result, result_size, &q, &rows, &per_row) ==
        TORUSML_OK);
  CHECK(rows == ROWS && per_row == 1);

  /* Another key set decrypts the same result to other integers. */
  torusml_client* other = NULL;
  CHECK(torusml_client_create_from_dir(model_dir, &other) == TORUSML_OK);
  memset(seed, 6, sizeof seed);
  CHECK(torusml_client_generate_keys(other, seed) == TORUSML_OK);
  int64_t* q_other = NULL;
  CHECK(torusml_client_deserialize_decrypt(other, result, result_size, &q_other, &rows, &per_row) ==
        TORUSML_OK);
  if (q != NULL && q_other != NULL) CHECK(memcmp(q, q_other, ROWS * sizeof(int64_t)) != 0);

  /* Bad inputs: error codes and messages, outputs untouched. */
  uint8_t* untouched = (uint8_t*)&failures;
  uint8_t* out = untouched;
  size_t out_size = 12345;
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(client, x, ROWS, 2, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "feature");
  CHECK(out == untouched && out_size == 12345);
  double nan_x[COLS] = {0.0, NAN, 1.0};
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(client, nan_x, 1, COLS, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "NaN");
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(client, x, 0, COLS, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "rows");
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(NULL, x, 1, COLS, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "client is NULL");
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(client, NULL, 1, COLS, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "x is NULL");
  CHECK_FAILS(torusml_client_quantize_encrypt_serialize(client, x, 1, COLS, NULL, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "out is NULL");
  CHECK(out == untouched && out_size == 12345);
  /* Damaged and truncated results. */
  double* v = (double*)untouched;
  result[result_size / 2] ^= 0x20;
  CHECK_FAILS(
      torusml_client_deserialize_decrypt_dequantize(client, result, result_size, &v, &rows, &cols),
      TORUSML_ERROR_SERIALIZATION, "");
  CHECK_FAILS(torusml_client_deserialize_decrypt_dequantize(client, result, 10, &v, &rows, &cols),
              TORUSML_ERROR_SERIALIZATION, "");
  CHECK_FAILS(torusml_client_predict_labels(client, result, 0, 0, &labels, &rows),
              TORUSML_ERROR_SERIALIZATION, "");
  CHECK(v == (double*)untouched);
  result[result_size / 2] ^= 0x20;
  CHECK_FAILS(torusml_client_predict_labels(client, result, result_size, 3, &labels, &rows),
              TORUSML_ERROR_INVALID_ARGUMENT, "target");
  /* The server's inputs are not a result. */
  CHECK_FAILS(torusml_client_deserialize_decrypt(client, inputs, inputs_size, &q, &rows, &per_row),
              TORUSML_ERROR_SERIALIZATION, "");
  /* Damaged artifacts, unknown directories, keys of no directory, a client without keys. */
  torusml_client* none = (torusml_client*)untouched;
  artifact[artifact_size / 2] ^= 1;
  CHECK_FAILS(torusml_client_create_from_artifact(artifact, artifact_size, &none),
              TORUSML_ERROR_SERIALIZATION, "");
  CHECK_FAILS(torusml_client_create_from_artifact(artifact, 7, &none), TORUSML_ERROR_SERIALIZATION,
              "");
  CHECK_FAILS(torusml_client_create_from_artifact(NULL, 7, &none), TORUSML_ERROR_INVALID_ARGUMENT,
              "bytes");
  CHECK_FAILS(torusml_client_create_from_dir("/nonexistent/torusml", &none), TORUSML_ERROR_IO,
              "/nonexistent/torusml");
  CHECK(none == (torusml_client*)untouched);
  torusml_client* fresh = NULL;
  CHECK(torusml_client_create_from_dir(model_dir, &fresh) == TORUSML_OK);
  CHECK_FAILS(torusml_client_evaluation_keys(fresh, &out, &out_size),
              TORUSML_ERROR_INVALID_ARGUMENT, "no keys");
  CHECK_FAILS(torusml_client_load_keys(fresh, "/nonexistent/keys"), TORUSML_ERROR_IO, "");
  CHECK(torusml_client_has_keys(NULL) == 0);
  CHECK(strcmp(torusml_status_string(TORUSML_ERROR_SERIALIZATION), "serialization error") == 0);

  torusml_free(keys);
  torusml_free(keys_again);
  torusml_free(artifact);
  torusml_free(inputs);
  torusml_free(result);
  torusml_free(values);
  torusml_free(p);
  torusml_free(labels);
  torusml_free(q);
  torusml_free(q_other);
  torusml_free(NULL);
  torusml_client_destroy(client);
  torusml_client_destroy(again);
  torusml_client_destroy(other);
  torusml_client_destroy(fresh);
  torusml_client_destroy(NULL);
}

int main(void) {
  char* root = helper_temp_dir();
  if (root == NULL) return 1;
  char model_dir[1024], key_dir[1024];
  snprintf(model_dir, sizeof model_dir, "%s/model", root);
  snprintf(key_dir, sizeof key_dir, "%s/keys", root);
  if (helper_write_model(model_dir) != 0) return 1;
  test_round_trip(model_dir, key_dir);
  helper_remove_dir(root);
  if (failures > 0) {
    fprintf(stderr, "c_api_test: %d checks failed\n", failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}
