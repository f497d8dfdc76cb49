// Helpers for the circuit layer's InvalidArgument messages (internal header).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "torusml/common/error.h"

namespace torusml::circuit::detail {

/// Throws InvalidArgument("<what>: <args...>").
template <class... Args>
[[noreturn]] void fail(std::string_view what, const Args&... args) {
  std::ostringstream os;
  os << what << ": ";
  (os << ... << args);
  throw InvalidArgument(os.str());
}

/// "[1, -2, 3]".
inline std::string list_str(const std::vector<std::int64_t>& values) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < values.size(); ++i) os << (i > 0 ? ", " : "") << values[i];
  os << ']';
  return os.str();
}

}  // namespace torusml::circuit::detail
