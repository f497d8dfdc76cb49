// Typed exceptions shared by every TorusML layer.
//
// Two error regimes (see DEVELOPERS' guide):
//  * untrusted input (user arrays, files, bytes, parameters) is validated and reported with one of
//    the typed exceptions below, whose message says what was wrong and what to do;
//  * internal invariants are checked with TORUSML_CHECK* (check.h), which throw InternalError
//    carrying both compared values; such an error is a TorusML bug.
// The Python binding maps each type to a Python exception (ValueError, RuntimeError, ...).
#pragma once

#include <stdexcept>
#include <string>

namespace torusml {

/// Base of every exception thrown by TorusML.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A user-supplied value is out of range, of the wrong shape, NaN, or otherwise invalid.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A model uses an operator (or an operator variant) that TorusML does not implement; the message
/// names the operator and the node.
class UnsupportedOperator : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Parameters (or an object carrying them) below 128-bit security by the security curve
/// (tfhe/security.h): a key dimension too small or a noise too low for it.
class InsecureParameters : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Two objects that must share parameters (a key and a ciphertext, two ciphertexts, ...) do not.
class ParameterMismatch : public Error {
 public:
  using Error::Error;
};

/// Bytes being loaded are truncated, corrupted, of another kind or of an unsupported version.
class SerializationError : public Error {
 public:
  using Error::Error;
};

/// A program cannot be compiled (e.g. a table input wider than the supported precision).
class CompileError : public Error {
 public:
  using Error::Error;
};

/// An internal invariant does not hold: a bug in TorusML, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace torusml
