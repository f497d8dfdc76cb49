#include "torusml/ml/quantized_linear.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"

namespace torusml::ml {

namespace {

constexpr double kMaxExactInteger = 4503599627370496.0;  // 2^52
// Input ciphertext bytes per chunk of an encrypted batch (measured: larger buffers come from
// fresh pages on every call and double the cost of a batch).
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 62;

void require_features(std::size_t got, std::size_t expected, const char* what) {
  if (got == expected) return;
  std::ostringstream os;
  os << what << " has " << got << " features, but the model expects " << expected
     << "; pass data with the same columns as at fit";
  throw InvalidArgument(os.str());
}

[[noreturn]] void throw_offset_overflow() {
  throw InvalidArgument(
      "QuantizedLinear: the zero-point and bias terms overflow 62 bits: the data is too far "
      "from 0 relative to its spread, or the intercept too large relative to the weights; "
      "standardize the features and the target (e.g. with a StandardScaler)");
}

// offset - z * w, throwing when the result leaves (-2^62, 2^62).
std::int64_t subtract_product(std::int64_t offset, std::int64_t z, std::int64_t w) {
  std::int64_t product = 0, result = 0;
  if (__builtin_mul_overflow(z, w, &product) || __builtin_sub_overflow(offset, product, &result) ||
      result >= kMaxOffset || result <= -kMaxOffset)
    throw_offset_overflow();
  return result;
}

}  // namespace

QuantizedLinear::QuantizedLinear(const Matrix& weights, std::span<const double> bias,
                                 const Matrix& calibration, LinearBits bits)
    : n_features_(weights.rows()), n_outputs_(weights.cols()), bits_(bits) {
  require_valid_bits(bits.inputs, "n_bits for the inputs (op_inputs)");
  require_valid_bits(bits.weights, "n_bits for the weights (op_weights)");
  if (weights.empty())
    throw InvalidArgument("QuantizedLinear: the weight matrix is empty (no feature or no output)");
  if (bias.size() != n_outputs_) {
    std::ostringstream os;
    os << "QuantizedLinear: " << bias.size() << " intercepts for " << n_outputs_ << " outputs";
    throw InvalidArgument(os.str());
  }
  require_finite(weights, "the weights");
  for (double b : bias)
    if (!std::isfinite(b)) throw InvalidArgument("QuantizedLinear: an intercept is not finite");
  require_features(calibration.cols(), n_features_, "the calibration data");
  if (calibration.rows() == 0)
    throw InvalidArgument("QuantizedLinear: the calibration data has no rows");
  require_finite(calibration, "the calibration data");

  // Per-feature input quantizers.
  const QuantizerOptions input_options{bits.inputs, false, false};
  input_quantizers_.reserve(n_features_);
  std::vector<double> column(calibration.rows());
  for (std::size_t j = 0; j < n_features_; ++j) {
    for (std::size_t r = 0; r < calibration.rows(); ++r) column[r] = calibration(r, j);
    input_quantizers_.push_back(UniformQuantizer::calibrate(column, input_options));
  }

  // Folded weights V = diag(s) W, one signed asymmetric quantizer.
  Matrix folded = weights;
  for (std::size_t j = 0; j < n_features_; ++j)
    for (std::size_t k = 0; k < n_outputs_; ++k) folded(j, k) *= input_quantizers_[j].scale();
  // The range includes 0, so that zero weights stay exactly zero and |W'| < 2^n_w: the circuit's
  // widths follow from the bit widths alone.
  // All-zero weights (e.g. a strongly regularized Lasso) leave the scale free: take the
  // intercepts' range, so that the quantized bias keeps n_w bits of precision.
  auto [vmin, vmax] = std::minmax_element(folded.values().begin(), folded.values().end());
  double lo = std::min(*vmin, 0.0), hi = std::max(*vmax, 0.0);
  if (lo == 0 && hi == 0) {
    const auto [bmin, bmax] = std::minmax_element(bias.begin(), bias.end());
    lo = std::min(*bmin, 0.0);
    hi = std::max(*bmax, 0.0);
  }
  weight_quantizer_ = UniformQuantizer::from_range(lo, hi, {bits.weights, true, false});
  std::vector<std::int64_t> w = weight_quantizer_.quantize(folded.values());
  for (auto& v : w) v -= weight_quantizer_.zero_point();
  integer_weights_ = circuit::Tensor(
      {static_cast<std::int64_t>(n_features_), static_cast<std::int64_t>(n_outputs_)}, w);

  // Bias and zero-point terms.
  for (std::size_t k = 0; k < n_outputs_; ++k) {
    const double qb = std::nearbyint(bias[k] / weight_quantizer_.scale());
    if (!(std::fabs(qb) <= kMaxExactInteger))
      throw InvalidArgument(
          "QuantizedLinear: the intercept is more than 2^52 times the weights' resolution; "
          "standardize the target or the features");
    quantized_bias_.push_back(static_cast<std::int64_t>(qb));
    std::int64_t offset = quantized_bias_.back();
    for (std::size_t j = 0; j < n_features_; ++j)
      offset = subtract_product(offset, input_quantizers_[j].zero_point(), w[j * n_outputs_ + k]);
    output_offsets_.push_back(offset);
  }
}

circuit::Tensor QuantizedLinear::quantize_input(const Matrix& x) const {
  require_features(x.cols(), n_features_, "X");
  if (x.rows() == 0) throw InvalidArgument("X has no rows: pass at least one sample");
  require_finite(x, "X");
  std::vector<std::int64_t> q(x.size());
  parallel_for(
      x.rows(),
      [&](std::size_t r) {
        for (std::size_t j = 0; j < n_features_; ++j)
          q[r * n_features_ + j] = input_quantizers_[j].quantize(x(r, j));
      },
      64);
  return circuit::Tensor({static_cast<std::int64_t>(x.rows()), static_cast<std::int64_t>(x.cols())},
                         std::move(q));
}

Matrix QuantizedLinear::dequantize_output(const circuit::Tensor& acc) const {
  if (acc.rank() != 2 || acc.shape()[1] != static_cast<std::int64_t>(n_outputs_)) {
    std::ostringstream os;
    os << "dequantize_output: expected a (rows, " << n_outputs_ << ") tensor, got shape "
       << circuit::shape_to_string(acc.shape());
    throw InvalidArgument(os.str());
  }
  const auto rows = static_cast<std::size_t>(acc.shape()[0]);
  Matrix y(rows, n_outputs_);
  const double s = output_scale();
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < n_outputs_; ++k)
      y(r, k) = s * static_cast<double>(acc[r * n_outputs_ + k]);
  return y;
}

void QuantizedLinear::require_quantized_input(const circuit::Tensor& q_x) const {
  if (q_x.rank() != 2 || q_x.shape()[1] != static_cast<std::int64_t>(n_features_)) {
    std::ostringstream os;
    os << "the quantized inputs must have shape (rows, " << n_features_ << "), got "
       << circuit::shape_to_string(q_x.shape());
    throw InvalidArgument(os.str());
  }
  if (q_x.shape()[0] == 0) throw InvalidArgument("the quantized inputs have no rows");
  const std::int64_t hi = (std::int64_t{1} << bits_.inputs) - 1;
  for (std::int64_t v : q_x.values()) {
    if (v < 0 || v > hi) {
      std::ostringstream os;
      os << "a quantized input holds " << v << ", outside [0, " << hi
         << "]; quantize the inputs with quantize_input()";
      throw InvalidArgument(os.str());
    }
  }
}

circuit::Tensor QuantizedLinear::integer_forward(const circuit::Tensor& q_x) const {
  require_quantized_input(q_x);
  const auto rows = static_cast<std::size_t>(q_x.shape()[0]);
  std::vector<std::int64_t> acc(rows * n_outputs_, 0);
  const auto w = integer_weights_.values();
  parallel_for(
      rows,
      [&](std::size_t r) {
        std::int64_t* out = acc.data() + r * n_outputs_;
        std::copy(output_offsets_.begin(), output_offsets_.end(), out);
        for (std::size_t j = 0; j < n_features_; ++j) {
          const std::int64_t x = q_x[r * n_features_ + j];
          const std::int64_t* wr = w.data() + j * n_outputs_;
          for (std::size_t k = 0; k < n_outputs_; ++k) out[k] += x * wr[k];
        }
      },
      64);
  return circuit::Tensor({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(n_outputs_)},
                         std::move(acc));
}

circuit::Program QuantizedLinear::program() const {
  circuit::Builder b;
  circuit::Value x = b.input("x", {static_cast<std::int64_t>(n_features_)});
  b.output(circuit::matmul(x, integer_weights_) + circuit::Tensor::vector(output_offsets_));
  return b.build();
}

void QuantizedLinear::compile(const Matrix& x, const circuit::CompileOptions& options,
                              const tfhe::Seed& key_seed) {
  const circuit::Tensor q = quantize_input(x);
  const auto f = static_cast<std::int64_t>(n_features_);
  const std::int64_t hi = (std::int64_t{1} << bits_.inputs) - 1;
  std::vector<std::vector<circuit::Tensor>> inputset;
  inputset.reserve(x.rows() + 2 + 2 * n_outputs_);
  // Extremes: all-zero and all-max inputs, and for each output the inputs maximizing and
  // minimizing it, so that the measured widths bound every quantized input.
  inputset.push_back({circuit::Tensor::zeros({f})});
  inputset.push_back({circuit::Tensor::full({f}, hi)});
  const auto w = integer_weights_.values();
  for (std::size_t k = 0; k < n_outputs_; ++k) {
    std::vector<std::int64_t> arg_max(n_features_), arg_min(n_features_);
    for (std::size_t j = 0; j < n_features_; ++j) {
      const std::int64_t wjk = w[j * n_outputs_ + k];
      arg_max[j] = wjk > 0 ? hi : 0;
      arg_min[j] = wjk < 0 ? hi : 0;
    }
    inputset.push_back({circuit::Tensor({f}, std::move(arg_max))});
    inputset.push_back({circuit::Tensor({f}, std::move(arg_min))});
  }
  const auto values = q.values();
  for (std::size_t r = 0; r < x.rows(); ++r) {
    const auto row = values.subspan(r * n_features_, n_features_);
    inputset.push_back({circuit::Tensor({f}, std::vector<std::int64_t>(row.begin(), row.end()))});
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->circuit = circuit::compile(program(), inputset, options);
  compiled->keys = compiled->circuit.generate_keys(key_seed);
  std::atomic_store(&compiled_, std::shared_ptr<const Compiled>(std::move(compiled)));
}

const circuit::CompiledCircuit& QuantizedLinear::compiled_circuit() const {
  return require_compiled(compiled().get()).circuit;
}

const circuit::KeySet& QuantizedLinear::keys() const {
  return require_compiled(compiled().get()).keys;
}

std::shared_ptr<const circuit::CompiledCircuit> QuantizedLinear::shared_circuit() const {
  return shared_circuit_of(compiled());
}

circuit::Tensor QuantizedLinear::run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                                             std::uint64_t simulation_seed) const {
  if (mode == circuit::Mode::Clear) return integer_forward(q_x);
  // One reference for the whole run: a concurrent compile() swaps in a new circuit and keys
  // without freeing these.
  const std::shared_ptr<const Compiled> current = compiled();
  if (current) require_quantized_input(q_x);
  return run_compiled(current.get(), q_x, mode, simulation_seed);
}

Matrix QuantizedLinear::predict(const Matrix& x, circuit::Mode mode,
                                std::uint64_t simulation_seed) const {
  return dequantize_output(run_integer(quantize_input(x), mode, simulation_seed));
}

}  // namespace torusml::ml
