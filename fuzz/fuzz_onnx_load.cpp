// libFuzzer target: ONNX models (onnx layer). load_onnx_model on arbitrary bytes must return a
// graph or throw a typed torusml::Error (never crash, leak or throw anything else); a graph that
// loads is evaluated on zeros, where the same holds. Tensors are capped at kMaxElements so that
// one input stays fast. The first byte picks the batch size (1 to 4), the rest is the model.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/onnx/evaluate_graph.h"
#include "torusml/onnx/load_onnx.h"

namespace {

constexpr std::int64_t kMaxElements = 1 << 14;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  torusml::onnx::LoadOptions options;
  options.batch_size = 1 + data[0] % 4;
  options.max_tensor_elements = kMaxElements;
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  try {
    const torusml::onnx::Graph graph = torusml::onnx::load_onnx_model(bytes, options);
    std::vector<torusml::onnx::FloatTensor> inputs;
    for (const auto& in : graph.inputs) inputs.emplace_back(in.info.shape);
    (void)torusml::onnx::evaluate_graph(graph, inputs);
  } catch (const torusml::InternalError& e) {
    std::fprintf(stderr, "InternalError (a TorusML bug): %s\n", e.what());
    std::abort();
  } catch (const torusml::Error&) {
    // The expected outcome of bad bytes.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "untyped exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
