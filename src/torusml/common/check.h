// Always-on invariant checks. Unlike assert(), they stay in Release builds: a violated invariant
// in a cryptographic library must never be silently ignored. On failure they throw
// torusml::InternalError with the expression, both values and the source location.
//
//   TORUSML_CHECK(cond, "message")
//   TORUSML_CHECK_EQ(a, b)   TORUSML_CHECK_LE(a, b)   TORUSML_CHECK_LT(a, b)
#pragma once

#include <sstream>
#include <string>

#include "torusml/common/error.h"

namespace torusml::detail {

[[noreturn]] void throw_check_failure(const char* file, int line, const std::string& what);

template <class A, class B>
[[noreturn]] void throw_compare_failure(const char* file, int line, const char* expr, const A& a,
                                        const B& b) {
  std::ostringstream os;
  os << expr << " failed: left = " << a << ", right = " << b;
  throw_check_failure(file, line, os.str());
}

}  // namespace torusml::detail

#define TORUSML_CHECK(cond, msg)                                                           \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      std::ostringstream torusml_check_os_;                                                \
      torusml_check_os_ << "check `" #cond "` failed: " << msg;                            \
      ::torusml::detail::throw_check_failure(__FILE__, __LINE__, torusml_check_os_.str()); \
    }                                                                                      \
  } while (0)

#define TORUSML_CHECK_OP_(a, b, op)                                                               \
  do {                                                                                            \
    const auto& torusml_a_ = (a);                                                                 \
    const auto& torusml_b_ = (b);                                                                 \
    if (!(torusml_a_ op torusml_b_)) [[unlikely]]                                                 \
      ::torusml::detail::throw_compare_failure(__FILE__, __LINE__, #a " " #op " " #b, torusml_a_, \
                                               torusml_b_);                                       \
  } while (0)

#define TORUSML_CHECK_EQ(a, b) TORUSML_CHECK_OP_(a, b, ==)
#define TORUSML_CHECK_NE(a, b) TORUSML_CHECK_OP_(a, b, !=)
#define TORUSML_CHECK_LE(a, b) TORUSML_CHECK_OP_(a, b, <=)
#define TORUSML_CHECK_LT(a, b) TORUSML_CHECK_OP_(a, b, <)
#define TORUSML_CHECK_GE(a, b) TORUSML_CHECK_OP_(a, b, >=)
