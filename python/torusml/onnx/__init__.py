"""Neural networks from ONNX models, compiled to FHE.

::

    from torusml.onnx import compile_onnx_model
    module = compile_onnx_model("model.onnx", X_train, n_bits=6, rounding_threshold_bits=6)
    y = module.forward(X_test, fhe="execute")

The model is read, quantized (post-training, calibrated on the input set), lowered to an integer
circuit and compiled by the C++ core (``torusml._core.QuantizedNetwork``), which also reads
``.onnx`` files without Python; this package only parses the arguments.
"""

import os

from torusml import _core
from torusml._quantized_module import (
    QuantizedModule,
    check_inputset,
    parse_network_n_bits,
    parse_rounding_threshold_bits,
)

__all__ = ["QuantizedModule", "build_quantized_module", "compile_onnx_model"]


def _model_source(onnx_model):
    """Serialized bytes (from a ModelProto or bytes) or a path string for the C++ loader."""
    if hasattr(onnx_model, "SerializeToString"):  # an onnx.ModelProto
        return onnx_model.SerializeToString()
    if isinstance(onnx_model, (bytes, bytearray, memoryview)):
        return bytes(onnx_model)
    if isinstance(onnx_model, (str, os.PathLike)):
        path = os.fspath(onnx_model)
        if not os.path.isfile(path):
            raise ValueError(f"no ONNX file at {path!r}: pass the path of an .onnx file")
        return path
    raise ValueError(
        f"onnx_model must be an onnx.ModelProto, the path of an .onnx file or its bytes, got "
        f"{type(onnx_model).__name__}"
    )


def build_quantized_module(onnx_model, inputset, n_bits=8, rounding_threshold_bits=None):
    """The quantized module of an ONNX model calibrated on `inputset`, not compiled yet.

    Runs with fhe="disable" at once; call its compile(inputset) before "simulate" or "execute".
    Arguments as compile_onnx_model's.
    """
    source = _model_source(onnx_model)
    inputset = check_inputset(inputset)
    bits = parse_network_n_bits(n_bits)
    rounding_bits, method = parse_rounding_threshold_bits(rounding_threshold_bits)
    network = _core.QuantizedNetwork(
        source,
        inputset,
        rounding_threshold_bits=rounding_bits,
        rounding_method=method,
        **bits,
    )
    return QuantizedModule(network)


def compile_onnx_model(
    onnx_model,
    inputset,
    n_bits=8,
    rounding_threshold_bits=None,
    p_error=None,
    global_p_error=None,
    verbose=False,
    progress=None,
    *,
    multi_parameter=True,
    multi_parameter_gain=None,
    grouping_factors=None,
    small_key_inputs=True,
):
    """Quantizes an ONNX model and compiles it to FHE; returns a compiled QuantizedModule.

    onnx_model: an onnx.ModelProto, the path of an .onnx file, or its bytes; one input (its
    dynamic leading dimension, if any, is the batch and fixed to 1) and one output.
    inputset: representative samples (numpy array or torch tensor), shape (n_samples,
    *sample_shape), e.g. the training set: calibrates the quantization and the compilation.
    n_bits: an int, or a dict with 'op_inputs' and 'op_weights' (required) and 'model_inputs'
    and 'model_outputs' (optional), as in Concrete ML (an int n gives model inputs and outputs
    max(n, 5) bits; a dict's model_inputs defaults to 5 and model_outputs to max(op_inputs, 5)).
    rounding_threshold_bits: None (the lowering rounds each accumulator as much as its lookup's
    output quantization allows, keeping at most 8 bits; the statistics report it), an int (most
    significant bits kept of each accumulator before its lookup, approximate rounding), or
    {"n_bits": int or "auto", "method": "exact" | "approximate"}. Unlike Concrete ML, an int
    means "approximate": exact rounding costs 2 or 3 more bootstraps per lookup (more when the
    accumulator is over twice as wide as the bits kept), each reading no more bits than the
    lookup, and less noise (larger parameters). Approximate rounding may put a lookup's input one step off
    near a rounding boundary under encryption, so fhe="execute" may differ from fhe="disable"
    there; with "exact" they are equal.
    p_error / global_p_error: failure probability of one bootstrap / one whole evaluation (set at
    most one). verbose: print the circuit's statistics. progress: key generation's progress bar
    (None: when stderr is a terminal and it takes more than a few seconds; False: never).
    multi_parameter: let lookups of different precisions get their own parameter sets (Concrete's
    multi-parameter optimization) when the cost model finds that at least multi_parameter_gain
    times cheaper (None: 1.15) than one set; False keeps a single set. grouping_factors: the blind
    rotations the optimizer weighs (1 classic, 2 to 4 multi-bit; None: [1, 2], classic or g = 2 by the cost model).
    small_key_inputs: let the client encrypt the inputs under the small key where they reach only
    linear operations and lookups, whose lookups then skip the keyswitch, when the cost model
    finds it cheaper; False keeps them under the big key.

    Raises ValueError for a model that cannot be read or compiled (e.g. an unsupported operator,
    named with its node), bad arguments or an empty input set.
    """
    module = build_quantized_module(onnx_model, inputset, n_bits, rounding_threshold_bits)
    module.compile(inputset, p_error=p_error, global_p_error=global_p_error, verbose=verbose,
                   progress=progress, multi_parameter=multi_parameter,
                   multi_parameter_gain=multi_parameter_gain, grouping_factors=grouping_factors,
                   small_key_inputs=small_key_inputs)
    return module
