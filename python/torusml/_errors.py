"""Exceptions of the torusml package (the C++ core raises ValueError and RuntimeError)."""


class NotCompiledError(ValueError, AttributeError):
    """Raised when FHE simulation or execution is requested before ``compile``.

    Like scikit-learn's ``NotFittedError``, it inherits from both ValueError and AttributeError.
    """
