// run_in_chunks: a batch split into chunks of rows (full or seeded arguments, masks regenerated
// per chunk) gives exactly run()'s ciphertexts (bootstraps are deterministic given their input
// and the keys), and arguments that do not fit are reported as run() reports them.
#include "torusml/circuit/runtime/chunked_run.h"

#include <gtest/gtest.h>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"

namespace torusml::circuit::testing {
namespace {

// 40 encrypted inputs per row (about 290 KB of ciphertexts: one row per chunk) and a clear
// one: a lookup per element, a sum, plus the clear input.
struct ChunkedFixture {
  CompiledCircuit circuit;
  std::vector<Tensor> batch;  // (rows, 40) encrypted, (rows, 1) clear
};

ChunkedFixture fixture(std::int64_t rows) {
  Builder b;
  Value x = b.input("x", {40});
  Value c = b.input("c", {1}, /*encrypted=*/false);
  Value y = apply_table(
      x, [](std::int64_t v) { return (v * 3) % 8; }, "mul3");
  b.output(sum(y, {0}, true) + c);
  b.output(x + 1);
  const Program p = b.build();
  std::mt19937_64 rng(13);
  std::vector<std::vector<Tensor>> inputset;
  for (int k = 0; k < 30; ++k)
    inputset.push_back(
        {random_tensors(rng, {40}, 0, 7, 1)[0], random_tensors(rng, {1}, 0, 9, 1)[0]});
  ChunkedFixture f{compile(p, inputset), {}};
  f.batch = {random_tensors(rng, {rows, 40}, 0, 7, 1)[0],
             random_tensors(rng, {rows, 1}, 0, 9, 1)[0]};
  return f;
}

void expect_same(const std::vector<EncryptedTensor>& a, const std::vector<EncryptedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].shape, b[i].shape);
    EXPECT_TRUE(a[i].ciphertexts == b[i].ciphertexts) << "output " << i;
  }
}

TEST(ChunkedRun, EqualsRunForFullAndSeededArguments) {
  // More rows than cores, and a count the chunking does not divide evenly.
  const auto rows = static_cast<std::int64_t>(default_thread_pool().size()) * 2 + 1;
  const ChunkedFixture f = fixture(rows);
  const KeySet& keys = keys_for(f.circuit);
  const ServerProgram& sp = f.circuit.server_program();
  const ClientSpecification& spec = f.circuit.client_specification();
  const SeededRunArguments seeded = encrypt_inputs_seeded(keys.client, spec, f.batch);
  const RunArguments full = decompress_run_arguments(seeded);
  const std::vector<EncryptedTensor> reference = run(sp, full, keys.evaluation);
  expect_same(run_in_chunks(sp, full, keys.evaluation), reference);
  expect_same(run_in_chunks(sp, seeded, keys.evaluation), reference);
  const auto clear = f.circuit.evaluate(f.batch, Mode::Clear);
  EXPECT_EQ(decrypt_outputs(keys.client, spec, reference), clear);
}

TEST(ChunkedRun, ReportsArgumentsThatDoNotFit) {
  const ChunkedFixture f = fixture(3);
  const KeySet& keys = keys_for(f.circuit);
  const ServerProgram& sp = f.circuit.server_program();
  SeededRunArguments seeded =
      encrypt_inputs_seeded(keys.client, f.circuit.client_specification(), f.batch);
  // Batch sizes that disagree.
  SeededRunArguments other_batch = seeded;
  other_batch.clear[0] = Tensor({2, 1}, {1, 2});
  EXPECT_THROW(run_in_chunks(sp, other_batch, keys.evaluation), InvalidArgument);
  // A body count that does not match the shape.
  SeededRunArguments short_list = seeded;
  ASSERT_TRUE(short_list.encrypted[0].packed.has_value());
  short_list.encrypted[0].packed->bodies.pop_back();
  EXPECT_ANY_THROW(run_in_chunks(sp, short_list, keys.evaluation));
  // A shape of another program.
  RunArguments full = decompress_run_arguments(seeded);
  full.encrypted[0].shape = {3, 4, 10};
  EXPECT_THROW(run_in_chunks(sp, full, keys.evaluation), InvalidArgument);
}

}  // namespace
}  // namespace torusml::circuit::testing
