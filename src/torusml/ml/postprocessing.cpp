#include "torusml/ml/postprocessing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "torusml/common/error.h"

namespace torusml::ml {

namespace {

void require_no_nan(const Matrix& x, const char* what) {
  for (double v : x.values())
    if (std::isnan(v)) throw InvalidArgument(std::string(what) + ": the input contains NaN");
}

}  // namespace

double sigmoid(double x) {
  if (std::isnan(x)) throw InvalidArgument("sigmoid: the input is NaN");
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

Matrix sigmoid(const Matrix& x) {
  Matrix y = x;
  for (double& v : y.values()) v = sigmoid(v);
  return y;
}

Matrix softmax(const Matrix& x) {
  require_no_nan(x, "softmax");
  Matrix y = x;
  for (std::size_t r = 0; r < y.rows(); ++r) {
    auto row = y.row(r);
    if (row.empty()) continue;
    const double m = *std::max_element(row.begin(), row.end());
    if (std::isinf(m)) {  // +inf entries share the whole mass; all -inf: uniform
      const auto n = static_cast<double>(std::count(row.begin(), row.end(), m));
      for (double& v : row) v = v == m ? 1.0 / n : 0.0;
      continue;
    }
    double total = 0;
    for (double& v : row) total += (v = std::exp(v - m));
    for (double& v : row) v /= total;
  }
  return y;
}

Matrix normalize_rows(const Matrix& p) {
  require_no_nan(p, "normalize_rows");
  Matrix y = p;
  for (std::size_t r = 0; r < y.rows(); ++r) {
    auto row = y.row(r);
    double total = 0;
    for (double v : row) total += v;
    for (double& v : row) v = total != 0 ? v / total : 1.0 / static_cast<double>(row.size());
  }
  return y;
}

std::vector<std::int64_t> argmax(const Matrix& x) {
  require_no_nan(x, "argmax");
  if (x.cols() == 0 && x.rows() > 0) throw InvalidArgument("argmax: the rows have no columns");
  std::vector<std::int64_t> out(x.rows());
  for (std::size_t r = 0; r < x.rows(); ++r) {
    const auto row = x.row(r);
    out[r] = std::max_element(row.begin(), row.end()) - row.begin();  // first maximum
  }
  return out;
}

Link parse_link(const std::string& name) {
  if (name == "identity") return Link::Identity;
  if (name == "log") return Link::Log;
  throw InvalidArgument("unknown link '" + name + "': use \"identity\" or \"log\"");
}

Matrix apply_inverse_link(const Matrix& x, Link link) {
  require_no_nan(x, "apply_inverse_link");
  Matrix y = x;
  if (link == Link::Log)
    for (double& v : y.values()) v = std::exp(v);
  return y;
}

}  // namespace torusml::ml
