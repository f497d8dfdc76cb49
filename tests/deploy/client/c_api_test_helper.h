/* The C++ side of the C ABI's test (c_api_test.c): what a C program cannot do with
 * torusml_client.h alone, because it is the developer's or the server's part: compile a small
 * model and save its artifact directory, run it as the server does (deploy::ModelServer), and
 * give the model's own predictions in the clear. Every function returns 0 on success (else it
 * prints the error and returns 1). */
#ifndef TORUSML_TESTS_C_API_TEST_HELPER_H
#define TORUSML_TESTS_C_API_TEST_HELPER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Saves the artifacts of a compiled binary logistic model over 3 features (classes "no" and
 * "yes") into `dir`. */
int helper_write_model(const char* dir);
/* The model's clear predictions of x (rows x 3): P(yes) per row and its label (1: "yes"). */
int helper_expected(const double* x, size_t rows, double* probability_yes, int* label_yes);
/* The server's run of serialized inputs with serialized evaluation keys: a malloc'ed result. */
int helper_server_run(const char* dir, const uint8_t* inputs, size_t inputs_size,
                      const uint8_t* keys, size_t keys_size, uint8_t** result, size_t* result_size);
/* A fresh temporary directory's path (malloc'ed), and its removal with its content. */
char* helper_temp_dir(void);
void helper_remove_dir(char* dir);

#ifdef __cplusplus
}
#endif

#endif
