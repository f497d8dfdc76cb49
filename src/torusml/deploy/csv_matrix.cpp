#include "torusml/deploy/csv_matrix.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "torusml/common/error.h"

namespace torusml::deploy {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

// The number of a whole field, or nothing if it is not one (strtod syntax, finite).
std::optional<double> parse_number(std::string_view field) {
  if (field.empty() || field.size() > 64) return std::nullopt;
  const std::string text(field);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

ml::Matrix parse_csv_matrix(std::string_view text, const std::string& source) {
  std::vector<double> values;
  std::size_t cols = 0, rows = 0, line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty()) continue;
    const std::vector<std::string_view> fields = split_fields(line);
    std::vector<double> row;
    row.reserve(fields.size());
    bool any_number = false;
    std::size_t bad = fields.size();
    for (std::size_t k = 0; k < fields.size(); ++k) {
      const auto v = parse_number(fields[k]);
      if (v) {
        any_number = true;
        row.push_back(*v);
      } else if (bad == fields.size()) {
        bad = k;
      }
    }
    const std::string where = source + ", line " + std::to_string(line_number);
    if (rows == 0 && !any_number && cols == 0) {
      cols = fields.size();  // a header: its field count is the expected one
      continue;
    }
    if (bad != fields.size()) {
      const std::string_view f = fields[bad];
      throw InvalidArgument(
          where + ", field " + std::to_string(bad + 1) + ": " +
          (f.empty() ? std::string("empty field")
                     : "'" + std::string(f.substr(0, 40)) + "' is not a finite number") +
          ": write one sample per line, values separated by commas");
    }
    if (cols != 0 && fields.size() != cols) {
      throw InvalidArgument(where + ": " + std::to_string(fields.size()) + " values, but " +
                            (rows == 0 ? "the header has " : "the first row has ") +
                            std::to_string(cols) + ": every row needs the same number of values");
    }
    cols = fields.size();
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
  }
  if (rows == 0)
    throw InvalidArgument(source +
                          ": no data row: write one sample per line, values separated by commas");
  return ml::Matrix(rows, cols, std::move(values));
}

std::string format_csv_matrix(const ml::Matrix& m) {
  std::string out;
  char buf[40];
  for (std::size_t r = 0; r < m.rows(); ++r) {
    for (std::size_t c = 0; c < m.cols(); ++c) {
      std::snprintf(buf, sizeof buf, "%.17g", m(r, c));
      if (c > 0) out += ',';
      out += buf;
    }
    out += '\n';
  }
  return out;
}

std::string format_csv_rows(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      out += row[c];
    }
    out += '\n';
  }
  return out;
}

}  // namespace torusml::deploy
