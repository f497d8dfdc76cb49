// Running a large batch in chunks of rows: what a server does with a batch a client uploaded.
//
// run() processes the whole batch at once, spreading each instruction's lookups over every core:
// the best schedule for a few samples, but its memory is the whole batch's ciphertexts (a seeded
// upload of 15 KB per sample can expand to 14 MB per sample). run_in_chunks() splits the batch
// into chunks of rows (about kRunChunkBytes of input ciphertexts each in LWE form, at least one
// row, more for rows with few lookups: see kMinRunChunkLookups), runs the chunks on the thread pool
// (one chunk per core at a time, run()'s own loops serial inside it) and concatenates the outputs:
// at most one chunk per core is expanded at a time, and each core works on its own rows. With fewer
// chunks than cores it is run() on the whole batch. Seeded arguments have their masks regenerated
// chunk by chunk. The results equal run()'s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "torusml/circuit/runtime/runtime.h"
#include "torusml/circuit/runtime/seeded_arguments.h"

namespace torusml::circuit {

/// Input ciphertext bytes of one chunk (as the ml layer's execute_in_chunks), and the lookups a
/// chunk holds at least where its packed inputs allow.
inline constexpr std::size_t kRunChunkBytes = std::size_t{512} << 10;
inline constexpr std::uint64_t kMinRunChunkLookups = 64;

/// Rows per chunk of a batch whose rows hold `lwe_row_bytes` of input ciphertexts in LWE form
/// and `packed_row_bytes` as encrypted (packed for PBS circuits; the same for leveled ones), and
/// `lookups_per_row` bootstraps: as many rows as kRunChunkBytes of LWE ciphertexts hold (each
/// core's working set follows them), more where a row has few lookups (kMinRunChunkLookups per
/// chunk amortize a run's setup), up to kRunChunkBytes of inputs as encrypted; at least one.
/// Measured on the tree benchmarks: chunks sized by the packed inputs alone made the ensembles
/// 1.2x slower, and chunks of one row made a 4-lookup decision tree 1.5x slower.
std::size_t rows_per_chunk(std::size_t lwe_row_bytes, std::size_t packed_row_bytes,
                           std::uint64_t lookups_per_row);

/// run() on chunks of rows. Throws what run() throws (ParameterMismatch, InvalidArgument for
/// arguments that do not fit the program: wrong shapes, counts or batch sizes).
std::vector<EncryptedTensor> run_in_chunks(const ServerProgram& program,
                                           const RunArguments& arguments,
                                           const EvaluationKeySet& keys);
/// The same on seeded arguments, their masks regenerated per chunk (decompress_lwe_list).
std::vector<EncryptedTensor> run_in_chunks(const ServerProgram& program,
                                           const SeededRunArguments& arguments,
                                           const EvaluationKeySet& keys);

}  // namespace torusml::circuit
