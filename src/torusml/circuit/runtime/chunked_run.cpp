#include "torusml/circuit/runtime/chunked_run.h"

#include <algorithm>
#include <optional>

#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/seeded_lwe.h"

namespace torusml::circuit {

namespace {

/// Rows and elements per row of a batched tensor, or nullopt for a rank-0 shape.
std::optional<std::size_t> rows_of(const Shape& shape) {
  if (shape.empty() || shape[0] < 0) return std::nullopt;
  return static_cast<std::size_t>(shape[0]);
}

Shape with_rows(Shape shape, std::size_t rows) {
  shape[0] = static_cast<std::int64_t>(rows);
  return shape;
}

/// The batch size shared by every argument, or nullopt when they disagree or a ciphertext
/// count does not match its shape (run() then reports it on the whole batch).
template <class Args, class Count>
std::optional<std::size_t> common_batch(const Args& args, Count ciphertext_count) {
  std::optional<std::size_t> batch;
  auto agree = [&](const Shape& s) {
    const auto r = rows_of(s);
    if (!r || (batch && *batch != *r)) return false;
    batch = r;
    return true;
  };
  for (const auto& t : args.encrypted)
    if (!agree(t.shape) || ciphertext_count(t) != static_cast<std::size_t>(element_count(t.shape)))
      return std::nullopt;
  for (const Tensor& t : args.clear)
    if (!agree(t.shape())) return std::nullopt;
  return batch;
}

std::size_t packed_polynomial_size(const EncryptedTensor& t) {
  return t.packed->glwes.polynomial_size().value();
}
std::size_t packed_polynomial_size(const SeededEncryptedTensor& t) {
  return t.packed->polynomial_size.value();
}

Tensor clear_rows(const Tensor& t, std::size_t first, std::size_t count) {
  const std::size_t per_row = t.size() / static_cast<std::size_t>(t.shape()[0]);
  const auto begin = t.values().begin() + static_cast<std::ptrdiff_t>(first * per_row);
  return Tensor(
      with_rows(t.shape(), count),
      std::vector<std::int64_t>(begin, begin + static_cast<std::ptrdiff_t>(count * per_row)));
}

/// Rows [first, first + count) of the arguments, full ciphertexts.
RunArguments slice(const RunArguments& args, std::size_t first, std::size_t count) {
  RunArguments out;
  for (const EncryptedTensor& t : args.encrypted) {
    const std::size_t per_row = t.size() / static_cast<std::size_t>(t.shape[0]);
    if (t.packed) {
      out.encrypted.push_back(
          {with_rows(t.shape, count),
           {},
           tfhe::slice_packed_lwe_list(*t.packed, first * per_row, count * per_row)});
      continue;
    }
    tfhe::LweCiphertextList list(t.ciphertexts.dimension(), count * per_row);
    const std::size_t stride = t.ciphertexts.dimension().value() + 1;
    const auto data =
        t.ciphertexts.data().subspan(first * per_row * stride, count * per_row * stride);
    std::copy(data.begin(), data.end(), list.data().begin());
    out.encrypted.push_back({with_rows(t.shape, count), std::move(list), std::nullopt});
  }
  for (const Tensor& t : args.clear) out.clear.push_back(clear_rows(t, first, count));
  return out;
}

RunArguments slice(const SeededRunArguments& args, std::size_t first, std::size_t count) {
  RunArguments out;
  for (const SeededEncryptedTensor& t : args.encrypted) {
    const std::size_t per_row = t.size() / static_cast<std::size_t>(t.shape[0]);
    if (t.packed)
      out.encrypted.push_back(
          {with_rows(t.shape, count),
           {},
           tfhe::decompress_packed_lwe_list(*t.packed, first * per_row, count * per_row)});
    else
      out.encrypted.push_back(
          {with_rows(t.shape, count),
           tfhe::decompress_lwe_list(t.ciphertexts, first * per_row, count * per_row),
           std::nullopt});
  }
  for (const Tensor& t : args.clear) out.clear.push_back(clear_rows(t, first, count));
  return out;
}

std::vector<EncryptedTensor> concatenate(std::vector<std::vector<EncryptedTensor>> parts) {
  std::vector<EncryptedTensor> out;
  for (std::size_t o = 0; o < parts[0].size(); ++o) {
    std::size_t rows = 0, count = 0;
    for (const auto& p : parts) {
      rows += static_cast<std::size_t>(p[o].shape[0]);
      count += p[o].ciphertexts.size();
    }
    tfhe::LweCiphertextList list(parts[0][o].ciphertexts.dimension(), count);
    auto at = list.data().begin();
    for (const auto& p : parts)
      at = std::copy(p[o].ciphertexts.data().begin(), p[o].ciphertexts.data().end(), at);
    out.push_back({with_rows(parts[0][o].shape, rows), std::move(list), std::nullopt});
  }
  return out;
}

template <class Args, class Count, class Whole>
std::vector<EncryptedTensor> run_chunked(const ServerProgram& program, const Args& args,
                                         const EvaluationKeySet& keys, Count ciphertext_count,
                                         Whole whole) {
  const std::optional<std::size_t> batch = common_batch(args, ciphertext_count);
  if (!batch || *batch == 0) return run(program, whole(), keys);  // run() reports what is wrong
  std::size_t widest = 0;  // the largest ciphertext of the circuit's partitions
  for (std::size_t q = 0; q < program.parameters.partition_count(); ++q)
    widest = std::max(
        widest, program.parameters.encryption_dimension(static_cast<std::uint32_t>(q)).value());
  std::size_t lwe_row_bytes = 0, packed_row_bytes = 0;
  for (const auto& t : args.encrypted) {
    const std::size_t per_row = ciphertext_count(t) / *batch;
    lwe_row_bytes += per_row * (widest + 1) * sizeof(tfhe::Torus);
    packed_row_bytes +=
        per_row * sizeof(tfhe::Torus) *
        (t.packed ? t.dimension().value() / packed_polynomial_size(t) + 1 : widest + 1);
  }
  std::uint64_t lookups = 0;  // per row
  for (const Instruction& ins : program.instructions)
    lookups += bootstraps_per_element(ins) *
               static_cast<std::uint64_t>(element_count(program.program.node(ins.node).shape));
  const std::size_t chunk = rows_per_chunk(lwe_row_bytes, packed_row_bytes, lookups);
  const std::size_t chunks = (*batch + chunk - 1) / chunk;
  if (chunks < default_thread_pool().size()) return run(program, whole(), keys);
  std::vector<std::vector<EncryptedTensor>> parts(chunks);
  parallel_for(chunks, [&](std::size_t c) {
    const std::size_t first = c * chunk, count = std::min(chunk, *batch - first);
    parts[c] = run(program, slice(args, first, count), keys);
  });
  return concatenate(std::move(parts));
}

}  // namespace

std::size_t rows_per_chunk(std::size_t lwe_row_bytes, std::size_t packed_row_bytes,
                           std::uint64_t lookups_per_row) {
  const auto rows_within = [](std::size_t row_bytes) {
    return std::max<std::size_t>(1, kRunChunkBytes / std::max<std::size_t>(1, row_bytes));
  };
  const std::uint64_t lookups = std::max<std::uint64_t>(lookups_per_row, 1);
  const auto for_lookups = static_cast<std::size_t>((kMinRunChunkLookups + lookups - 1) / lookups);
  return std::max(rows_within(lwe_row_bytes), std::min(for_lookups, rows_within(packed_row_bytes)));
}

std::vector<EncryptedTensor> run_in_chunks(const ServerProgram& program,
                                           const RunArguments& arguments,
                                           const EvaluationKeySet& keys) {
  return run_chunked(
      program, arguments, keys, [](const EncryptedTensor& t) { return t.size(); },
      [&]() -> const RunArguments& { return arguments; });
}

std::vector<EncryptedTensor> run_in_chunks(const ServerProgram& program,
                                           const SeededRunArguments& arguments,
                                           const EvaluationKeySet& keys) {
  return run_chunked(
      program, arguments, keys, [](const SeededEncryptedTensor& t) { return t.size(); },
      [&] { return decompress_run_arguments(arguments); });
}

}  // namespace torusml::circuit
