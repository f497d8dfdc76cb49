"""TorusML: machine-learning models turned into their fully-homomorphic-encryption equivalents.

The scikit-learn-style models live in :mod:`torusml.sklearn`, neural networks in
:mod:`torusml.torch` and :mod:`torusml.onnx` (``compile_torch_model``, ``compile_onnx_model``)::

    from torusml.sklearn import LogisticRegression
    model = LogisticRegression(n_bits=8).fit(X_train, y_train)
    model.compile(X_train)
    y_pred = model.predict(X_test, fhe="execute")

This package is a thin layer over the C++ core (:mod:`torusml._core`): quantization, compilation
to FHE, encrypted execution and post-processing all run in C++; Python only does the
scikit-learn plumbing.
"""

from torusml._core import (
    FheCircuit,
    QuantizedLinear,
    QuantizedNetwork,
    UniformQuantizer,
    apply_inverse_link,
    argmax,
    normalize_rows,
    sigmoid,
    softmax,
)
from torusml._errors import NotCompiledError
from torusml._quantized_module import QuantizedModule

__version__ = "0.1.0"

__all__ = [
    "FheCircuit",
    "NotCompiledError",
    "QuantizedLinear",
    "QuantizedModule",
    "QuantizedNetwork",
    "UniformQuantizer",
    "apply_inverse_link",
    "argmax",
    "normalize_rows",
    "sigmoid",
    "softmax",
]
