#include "torusml/ml/nn/quantized_network.h"

#include <cmath>
#include <sstream>

#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::ml {

QuantizedNetwork::QuantizedNetwork(onnx::Graph graph, std::span<const onnx::FloatTensor> input_set,
                                   NetworkOptions options)
    : graph_(std::move(graph)), options_(options) {
  if (graph_.outputs.size() != 1)
    throw InvalidArgument("the model has " + std::to_string(graph_.outputs.size()) +
                          " outputs; TorusML compiles models with exactly one output");
  lowered_ = lower_network(graph_, input_set, options_);
}

std::size_t QuantizedNetwork::input_size() const {
  return static_cast<std::size_t>(onnx::element_count(graph_.inputs.at(0).info.shape));
}

circuit::Tensor QuantizedNetwork::quantize_input(std::span<const double> x,
                                                 std::size_t rows) const {
  const std::size_t width = input_size();
  if (rows == 0) throw InvalidArgument("the input has no rows: pass at least one sample");
  if (x.size() != rows * width) {
    std::ostringstream os;
    os << "the input has " << x.size() / rows << " values per sample, but the model expects "
       << width << " (its input shape " << onnx::shape_to_string(graph_.inputs.at(0).info.shape)
       << "); pass samples of that shape";
    throw InvalidArgument(os.str());
  }
  for (double v : x)
    if (!std::isfinite(v))
      throw InvalidArgument("the input holds NaN or infinite values: clean or impute them first");
  return circuit::Tensor({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(width)},
                         lowered_.input_quantizer.quantize(x));
}

circuit::Tensor QuantizedNetwork::run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                                              std::uint64_t simulation_seed) const {
  const std::int64_t width = static_cast<std::int64_t>(input_size());
  if (q_x.rank() != 2 || q_x.shape()[1] != width || q_x.shape()[0] == 0) {
    std::ostringstream os;
    os << "the quantized inputs must have shape (rows, " << width << "), got "
       << circuit::shape_to_string(q_x.shape());
    throw InvalidArgument(os.str());
  }
  const std::int64_t lo = lowered_.input_quantizer.q_min(), hi = lowered_.input_quantizer.q_max();
  for (std::int64_t v : q_x.values())
    if (v < lo || v > hi)
      throw InvalidArgument("a quantized input holds " + std::to_string(v) + ", outside [" +
                            std::to_string(lo) + ", " + std::to_string(hi) +
                            "]; quantize the inputs with quantize_input()");
  if (mode == circuit::Mode::Clear) {
    const auto rows = static_cast<std::size_t>(q_x.shape()[0]);
    const auto w = static_cast<std::size_t>(width);
    std::vector<circuit::Tensor> parts(rows);
    parallel_for(rows, [&](std::size_t r) {
      const auto row = q_x.values().subspan(r * w, w);
      const circuit::Tensor inputs[] = {
          circuit::Tensor({width}, std::vector<std::int64_t>(row.begin(), row.end()))};
      parts[r] = std::move(circuit::evaluate_clear(lowered_.program, inputs).at(0));
    });
    circuit::Shape shape = parts[0].shape();
    shape.insert(shape.begin(), static_cast<std::int64_t>(rows));
    std::vector<std::int64_t> all;
    for (const circuit::Tensor& p : parts)
      all.insert(all.end(), p.values().begin(), p.values().end());
    return circuit::Tensor(std::move(shape), std::move(all));
  }
  const std::shared_ptr<const CompiledModel> current = compiled();
  return run_compiled(current.get(), q_x, mode, simulation_seed);
}

std::vector<double> QuantizedNetwork::dequantize_output(const circuit::Tensor& q_y) const {
  const NetworkOutput& out = output();
  const auto per_row = static_cast<std::size_t>(onnx::element_count(out.shape));
  if (q_y.rank() < 1 || q_y.size() % per_row != 0 || q_y.shape()[0] == 0)
    throw InvalidArgument("dequantize_output: expected (rows, " + onnx::shape_to_string(out.shape) +
                          ") integers, got " + circuit::shape_to_string(q_y.shape()));
  const std::size_t rows = q_y.size() / per_row;
  std::vector<double> y(q_y.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] = out.scale_at(i % per_row) * static_cast<double>(q_y.values()[i] - out.zero_point);
  if (!out.has_post_processing()) return y;
  const onnx::Shape& in_shape = out.post_processing.inputs.at(0).info.shape;
  parallel_for(rows, [&](std::size_t r) {
    const auto first = y.begin() + static_cast<std::ptrdiff_t>(r * per_row);
    const onnx::FloatTensor sample(
        in_shape, std::vector<double>(first, first + static_cast<std::ptrdiff_t>(per_row)));
    const onnx::FloatTensor post =
        onnx::evaluate_graph(out.post_processing, std::span(&sample, 1)).at(0);
    std::copy(post.values().begin(), post.values().end(), first);
  });
  return y;
}

std::vector<double> QuantizedNetwork::forward(std::span<const double> x, std::size_t rows,
                                              circuit::Mode mode,
                                              std::uint64_t simulation_seed) const {
  return dequantize_output(run_integer(quantize_input(x, rows), mode, simulation_seed));
}

circuit::Tensor QuantizedNetwork::quantize_set(std::span<const onnx::FloatTensor> input_set) const {
  if (input_set.empty())
    throw InvalidArgument("the input set is empty: pass representative samples to compile on");
  std::vector<double> all;
  for (const onnx::FloatTensor& t : input_set) {
    if (t.size() != input_size())
      throw InvalidArgument("an input set sample has " + std::to_string(t.size()) +
                            " values, but the model expects " + std::to_string(input_size()));
    all.insert(all.end(), t.values().begin(), t.values().end());
  }
  return quantize_input(all, input_set.size());
}

void QuantizedNetwork::compile(std::span<const onnx::FloatTensor> input_set,
                               const circuit::CompileOptions& options, const tfhe::Seed& key_seed) {
  const circuit::Tensor q = quantize_set(input_set);
  const auto width = static_cast<std::int64_t>(input_size());
  std::vector<std::vector<circuit::Tensor>> inputset;
  const auto values = q.values();
  for (std::int64_t r = 0; r < q.shape()[0]; ++r) {
    const auto row =
        values.subspan(static_cast<std::size_t>(r * width), static_cast<std::size_t>(width));
    inputset.push_back(
        {circuit::Tensor({width}, std::vector<std::int64_t>(row.begin(), row.end()))});
  }
  auto model = std::make_shared<CompiledModel>();
  model->circuit = circuit::compile(lowered_.program, inputset, options);
  model->keys = model->circuit.generate_keys(key_seed);
  std::atomic_store(&compiled_, std::shared_ptr<const CompiledModel>(std::move(model)));
}

const circuit::CompiledCircuit& QuantizedNetwork::compiled_circuit() const {
  return require_compiled(compiled().get()).circuit;
}

std::shared_ptr<const circuit::CompiledCircuit> QuantizedNetwork::shared_circuit() const {
  return shared_circuit_of(compiled());
}

std::string QuantizedNetwork::statistics_text() const {
  std::ostringstream os;
  const auto current = compiled();
  std::size_t total = 0;
  os << "network: per lookup node (operations fused, lookups per sample, accumulator bits -> "
        "bits kept, output bits, precision once compiled)\n";
  for (const NetworkLookup& l : lowered_.lookups) {
    total += l.lookups;
    os << "  " << l.name << ": ";
    for (std::size_t i = 0; i < l.ops.size(); ++i) os << (i ? "+" : "") << l.ops[i];
    os << ", " << l.lookups << " lookups, " << l.tables << " table(s)";
    if (l.accumulator_bits > 0)
      os << ", accumulator " << l.accumulator_bits << " bits -> "
         << l.accumulator_bits - l.lsbs_removed;
    if (l.output_bits > 0)
      os << ", " << l.output_bits << "-bit output"
         << (l.quantization_aware ? " (the model's own quantizer)" : "");
    if (current) {
      const circuit::ProgramAnalysis& a = current->circuit.analysis();
      os << ", " << a.nodes.at(static_cast<std::size_t>(l.node)).pbs_precision << "-bit lookup";
      // An exact rounding by digits before the lookup: its bootstraps per lookup.
      const circuit::ServerProgram& sp = current->circuit.server_program();
      const circuit::NodeId input = sp.program.node(l.node).inputs.at(0);
      const circuit::NodeAnalysis& r = a.nodes.at(static_cast<std::size_t>(input));
      if (r.rounding_by_digits)
        os << " after an exact rounding of "
           << circuit::bootstraps_per_element(sp.instructions.at(static_cast<std::size_t>(input)))
           << " bootstraps of at most " << r.pbs_precision << " bits each";
    }
    os << "\n";
  }
  os << "  total: " << total << " lookups per sample";
  if (output().has_post_processing()) {
    os << "; applied by the client after decryption:";
    for (const onnx::Node& n : output().post_processing.nodes) os << " " << n.op_type;
  }
  os << "\n";
  return os.str();
}

}  // namespace torusml::ml
