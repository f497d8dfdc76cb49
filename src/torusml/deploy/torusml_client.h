/* The TorusML client as a C ABI: what an application in C (or any language with a C FFI) needs
 * to use a deployed model: keys, encryption of float features and decryption of the server's
 * results into predictions. It wraps torusml::deploy::Client (client.h); no C++ type, exception
 * or allocation crosses this boundary.
 *
 *   torusml_client* c = NULL;
 *   if (torusml_client_create_from_dir("model_dir", &c) != TORUSML_OK) {
 *     fprintf(stderr, "%s\n", torusml_last_error());
 *     ...
 *   }
 *   torusml_client_load_or_generate_keys(c, "keys", 0, NULL);  (secret key kept 0600 in keys/)
 *   uint8_t* ek; size_t ek_size;
 *   torusml_client_evaluation_keys(c, &ek, &ek_size);           (upload: POST /keys)
 *   uint8_t* in; size_t in_size;
 *   torusml_client_quantize_encrypt_serialize(c, x, rows, cols, &in, &in_size);  (POST /run)
 *   double* y; size_t y_rows, y_cols;
 *   torusml_client_deserialize_decrypt_dequantize(c, result, result_size, &y, &y_rows, &y_cols);
 *   torusml_free(ek); torusml_free(in); torusml_free(y); torusml_client_destroy(c);
 *
 * Conventions:
 *  - Every function that can fail returns a torusml_status; on failure its output arguments are
 *    left untouched, and torusml_last_error() gives a message saying what was wrong and what to
 *    do (thread-local: valid until the next call of this API on the same thread).
 *  - NULL for a required pointer is TORUSML_ERROR_INVALID_ARGUMENT, never a crash. Untrusted
 *    bytes (client artifacts, results) are fully validated: damaged bytes give
 *    TORUSML_ERROR_SERIALIZATION, bytes of another model TORUSML_ERROR_PARAMETER_MISMATCH.
 *  - Buffers returned through `uint8_t**`, `double**`, `int64_t**` and `char***` arguments are
 *    allocated by the library and owned by the caller, who releases each with torusml_free().
 *  - Matrices are row-major float64 (rows x cols).
 *  - A torusml_client may be used from several threads for the const operations (encryption,
 *    decryption, evaluation keys) but key generation and loading need exclusive access.
 * Link with the torusml_client_c library (and a C++ runtime, e.g. link with a C++ linker). */
#ifndef TORUSML_DEPLOY_TORUSML_CLIENT_H
#define TORUSML_DEPLOY_TORUSML_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results of the API's functions. */
typedef enum torusml_status {
  TORUSML_OK = 0,
  /* A NULL pointer, a wrong shape (e.g. another feature count), NaN or infinite values, no keys. */
  TORUSML_ERROR_INVALID_ARGUMENT = 1,
  /* Bytes that are truncated, corrupted, of another kind or of an unsupported version. */
  TORUSML_ERROR_SERIALIZATION = 2,
  /* Bytes or keys of another model (or of this model before it was recompiled). */
  TORUSML_ERROR_PARAMETER_MISMATCH = 3,
  /* A file or directory that cannot be read or written (the message names it). */
  TORUSML_ERROR_IO = 4,
  TORUSML_ERROR_OUT_OF_MEMORY = 5,
  /* A bug in TorusML (please report it with the message). */
  TORUSML_ERROR_INTERNAL = 6
} torusml_status;

/* An opaque client: one model's client artifact and, once generated or loaded, its keys. */
typedef struct torusml_client torusml_client;

/* The message of the last failed call on this thread ("" if none). Never NULL. */
const char* torusml_last_error(void);
/* "ok", "invalid argument", ... (a static string; "unknown status" for other values). */
const char* torusml_status_string(torusml_status status);
/* Releases a buffer returned by this API. NULL is ignored. */
void torusml_free(void* buffer);

/* A client of the model directory `model_dir` (its client.bin). IO if the file cannot be read,
 * SERIALIZATION if it is damaged. On success *out is a new client (torusml_client_destroy). */
torusml_status torusml_client_create_from_dir(const char* model_dir, torusml_client** out);
/* A client of a serialized client artifact (the bytes of client.bin, or of the server's GET
 * /model/client). SERIALIZATION for damaged bytes. */
torusml_status torusml_client_create_from_artifact(const uint8_t* bytes, size_t size,
                                                   torusml_client** out);
/* Releases the client and its keys. NULL is ignored. */
void torusml_client_destroy(torusml_client* client);

/* The float features per sample (n_features) and float columns per result row (n_columns)
 * the model takes and gives, and whether it is a classifier (1) or not (0: regressor or raw
 * model). Any output pointer may be NULL. */
torusml_status torusml_client_info(const torusml_client* client, size_t* n_features,
                                   size_t* n_columns, int* is_classifier);

/* New secret and evaluation keys derived from `seed` (32 bytes; NULL: drawn from the OS). The
 * keys stay in memory; torusml_client_save_keys writes them. */
torusml_status torusml_client_generate_keys(torusml_client* client, const uint8_t* seed);
/* Writes the keys into `key_dir` (created with mode 0700, files 0600). INVALID_ARGUMENT
 * without keys, IO on failure. */
torusml_status torusml_client_save_keys(const torusml_client* client, const char* key_dir);
/* Reads the keys of `key_dir`. PARAMETER_MISMATCH if they belong to another model. */
torusml_status torusml_client_load_keys(torusml_client* client, const char* key_dir);
/* Loads the keys of `key_dir` if it holds them, else (or with force != 0) generates and saves
 * new ones; *generated (may be NULL) is set to 1 if keys were generated, else 0. */
torusml_status torusml_client_load_or_generate_keys(torusml_client* client, const char* key_dir,
                                                    int force, int* generated);
/* Whether the client holds keys (1) or not (0); 0 for NULL. */
int torusml_client_has_keys(const torusml_client* client);

/* A copy of the seeded evaluation keys to upload to the server (no secret in them). */
torusml_status torusml_client_evaluation_keys(const torusml_client* client, uint8_t** out,
                                              size_t* size);

/* x (rows x cols, row-major; cols must be n_features, rows >= 1, every value finite) quantized,
 * encrypted (seeded, fresh randomness per call) and serialized: the body of POST /run. */
torusml_status torusml_client_quantize_encrypt_serialize(const torusml_client* client,
                                                         const double* x, size_t rows, size_t cols,
                                                         uint8_t** out, size_t* size);

/* The decrypted integers of a server's result: rows x per_row values (the model's output shape
 * flattened per sample). */
torusml_status torusml_client_deserialize_decrypt(const torusml_client* client,
                                                  const uint8_t* result, size_t size,
                                                  int64_t** values, size_t* rows, size_t* per_row);

/* A server's result decrypted, dequantized and post-processed: the predictions of regressors
 * and raw models, the decision values of classifiers (rows x n_columns). */
torusml_status torusml_client_deserialize_decrypt_dequantize(const torusml_client* client,
                                                             const uint8_t* result, size_t size,
                                                             double** values, size_t* rows,
                                                             size_t* cols);

/* A classifier's class probabilities for classification target `target` (0 for single-output
 * models): rows x n_classes. INVALID_ARGUMENT for a regressor, a classifier without
 * probabilities (e.g. LinearSVC) or a target out of range. */
torusml_status torusml_client_predict_proba(const torusml_client* client, const uint8_t* result,
                                            size_t size, size_t target, double** probabilities,
                                            size_t* rows, size_t* n_classes);

/* A classifier's class labels (as text) for target `target`: *labels is an array of *rows
 * NUL-terminated strings, in one allocation (a single torusml_free(*labels) releases it all).
 * INVALID_ARGUMENT for a model that is not a classifier or a target out of range. */
torusml_status torusml_client_predict_labels(const torusml_client* client, const uint8_t* result,
                                             size_t size, size_t target, char*** labels,
                                             size_t* rows);

#ifdef __cplusplus
}
#endif

#endif /* TORUSML_DEPLOY_TORUSML_CLIENT_H */
