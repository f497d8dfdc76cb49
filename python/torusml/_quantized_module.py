"""The quantized module of a neural network (private; built by torusml.onnx and torusml.torch).

A :class:`QuantizedModule` wraps the C++ ``torusml._core.QuantizedNetwork``: an ONNX graph
quantized after training and lowered to an FHE circuit. Quantization, compilation, encryption and
execution all run in C++; this module only parses the Concrete ML-style arguments (``n_bits``,
``rounding_threshold_bits``), converts arrays and shows progress.
"""

import numbers
import os
import sys

import numpy

from torusml import _core
from torusml._errors import NotCompiledError

FHE_MODES = ("disable", "simulate", "execute")
MAX_N_BITS = 16
# Concrete ML's default precision of the model's inputs and outputs (n_bits as an int n gives
# them max(n, 5) bits; as a dict, model_inputs defaults to 5 and model_outputs to
# max(op_inputs, 5)).
DEFAULT_MODEL_BITS = 5
N_BITS_KEYS = ("model_inputs", "op_inputs", "op_weights", "model_outputs")
ROUNDING_METHODS = ("approximate", "exact")
# Seconds a forward(fhe="execute") runs before its progress bar appears (progress=None).
PROGRESS_DELAY_SECONDS = 2.0


def _check_bits(value, name):
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer between 1 and {MAX_N_BITS}, got {value!r}; n_bits is an "
            f"int (e.g. n_bits=8) or a dict with the keys 'op_inputs' and 'op_weights' "
            f"(required) and 'model_inputs' and 'model_outputs' (optional), e.g. "
            f"n_bits={{'model_inputs': 8, 'op_inputs': 6, 'op_weights': 4, 'model_outputs': 8}}"
        )
    if not 1 <= int(value) <= MAX_N_BITS:
        raise ValueError(
            f"{name} = {int(value)} is out of range: use an integer between 1 and {MAX_N_BITS} "
            f"(8 is a good default; fewer bits make faster circuits)"
        )
    return int(value)


def parse_network_n_bits(n_bits):
    """The bit widths as a dict with the four keys of N_BITS_KEYS, by Concrete ML's rules.

    An int n: op_inputs = op_weights = n, model_inputs = model_outputs = max(n, 5). A dict: the
    keys op_inputs and op_weights are required; model_inputs defaults to 5 and model_outputs to
    max(op_inputs, 5); model_outputs must be at least op_inputs. ValueError otherwise.
    """
    if isinstance(n_bits, dict):
        unknown = sorted(set(n_bits) - set(N_BITS_KEYS), key=str)
        missing = [k for k in ("op_inputs", "op_weights") if k not in n_bits]
        if unknown or missing:
            problem = (
                f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}"
            )
            raise ValueError(
                f"n_bits as a dict takes the keys 'op_inputs' and 'op_weights' (required) and "
                f"'model_inputs' and 'model_outputs' (optional): {problem}, e.g. "
                f"n_bits={{'model_inputs': 8, 'op_inputs': 6, 'op_weights': 4, "
                f"'model_outputs': 8}}"
            )
        bits = {k: _check_bits(v, f"n_bits[{k!r}]") for k, v in n_bits.items()}
        bits.setdefault("model_inputs", DEFAULT_MODEL_BITS)
        bits.setdefault("model_outputs", max(DEFAULT_MODEL_BITS, bits["op_inputs"]))
        if bits["model_outputs"] < bits["op_inputs"]:
            raise ValueError(
                f"n_bits['model_outputs'] = {bits['model_outputs']} is below "
                f"n_bits['op_inputs'] = {bits['op_inputs']}: give the model's outputs at least "
                f"the activations' precision (e.g. model_outputs={bits['op_inputs']})"
            )
        return {k: bits[k] for k in N_BITS_KEYS}
    n = _check_bits(n_bits, "n_bits")
    model = max(DEFAULT_MODEL_BITS, n)
    return {"model_inputs": model, "op_inputs": n, "op_weights": n, "model_outputs": model}


def _method_name(method):
    value = getattr(method, "value", method)  # an enum whose values are the strings
    if isinstance(value, str) and value.lower() in ROUNDING_METHODS:
        return value.lower()
    name = getattr(method, "name", None)  # an enum named EXACT / APPROXIMATE
    if isinstance(name, str) and name.lower() in ROUNDING_METHODS:
        return name.lower()
    raise ValueError(
        f"rounding_threshold_bits['method'] = {method!r} is not a rounding method: use "
        f"'approximate' (the lookup reads only the kept bits: cheapest, off by one near the "
        f"rounding boundaries) or 'exact'"
    )


def parse_rounding_threshold_bits(rounding_threshold_bits):
    """(bits, method) for the C++ core: bits 0 lets the compiler choose (None or "auto").

    None, an int (1 to 16: most significant bits kept of each accumulator before its lookup,
    with the "approximate" method), or a dict {"n_bits": int or "auto", "method": "exact" or
    "approximate"} (both optional). ValueError otherwise.
    """
    value, method = rounding_threshold_bits, "approximate"
    if isinstance(rounding_threshold_bits, dict):
        unknown = sorted(set(rounding_threshold_bits) - {"n_bits", "method"}, key=str)
        if unknown:
            raise ValueError(
                f"rounding_threshold_bits as a dict takes the keys 'n_bits' and 'method', got "
                f"unknown key(s) {unknown}; e.g. rounding_threshold_bits={{'n_bits': 6, "
                f"'method': 'approximate'}}"
            )
        value = rounding_threshold_bits.get("n_bits", "auto")
        method = _method_name(rounding_threshold_bits.get("method", "approximate"))
    if value is None or (isinstance(value, str) and value == "auto"):
        return 0, method
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"rounding_threshold_bits must be None, an integer between 1 and {MAX_N_BITS}, or a "
            f"dict {{'n_bits': int, 'method': 'exact' or 'approximate'}}, got {value!r}"
        )
    if not 1 <= int(value) <= MAX_N_BITS:
        raise ValueError(
            f"rounding_threshold_bits = {int(value)} is out of range: use an integer between 1 "
            f"and {MAX_N_BITS} (e.g. 6), or None to let the compiler choose"
        )
    return int(value), method


def to_numpy(values, what):
    """A numpy array (or torch tensor, or nested lists) as a float64 numpy array."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    try:
        arr = numpy.asarray(values, dtype=numpy.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be an array of numbers (samples along the first axis): "
                         f"{error}") from None
    if arr.ndim == 0:
        raise ValueError(f"{what} must be an array of samples (first axis: the samples), got a "
                         f"scalar")
    return numpy.ascontiguousarray(arr)


def check_inputset(inputset):
    """The input set as a float64 array (N, *sample_shape); ValueError if it has no sample."""
    arr = to_numpy(inputset, "inputset")
    if arr.shape[0] == 0:
        raise ValueError(
            "inputset is empty: pass representative samples (e.g. the training set), one per "
            "row, to calibrate the quantization and compile on"
        )
    return arr


def _cpu_count():
    env = os.environ.get("TORUSML_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _progress_wanted(progress):
    """Whether to show a progress bar: progress=True always, False never, None when stderr is a
    terminal."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())
    return bool(progress)


def _progress_bar(total, progress):
    """A tqdm bar over `total` samples, or None when silenced (progress=False, stderr not a
    terminal with progress=None, or tqdm missing)."""
    if not _progress_wanted(progress):
        return None
    try:
        from tqdm import tqdm  # Debian's python3-tqdm
    except ImportError:
        return None
    delay = 0.0 if progress else PROGRESS_DELAY_SECONDS
    return tqdm(total=total, desc="FHE execution", unit="sample", delay=delay, file=sys.stderr)


class KeygenProgress:
    """The progress callback of a compile(): a tqdm bar over the key-generation work (units of
    the bootstrapping key), shown once key generation has run for PROGRESS_DELAY_SECONDS (at once
    with progress=True), when stderr is a terminal (progress=None) or always (True); nothing with
    progress=False. Use as a context manager and pass ``callback`` (or None) to compile."""

    def __init__(self, progress):
        self._progress = progress
        self._bar = None

    @property
    def callback(self):
        return self._update if _progress_wanted(self._progress) else None

    def _update(self, done, total):
        if total == 0:
            return
        if self._bar is None:
            try:
                from tqdm import tqdm  # Debian's python3-tqdm
            except ImportError:
                self._progress = False
                return
            delay = 0.0 if self._progress else PROGRESS_DELAY_SECONDS
            self._bar = tqdm(total=total, desc="Key generation", unit="key", delay=delay,
                             file=sys.stderr)
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False


class QuantizedModule:
    """A neural network quantized and compiled to FHE (what compile_torch_model returns).

    ``forward(x, fhe="disable" | "simulate" | "execute")`` runs a batch (samples along the first
    axis, each of the model's input shape) and returns float64 outputs
    ``(n_samples, *output_shape[1:])``. ``quantize_input``, ``run_integer`` and
    ``dequantize_output`` are its three steps (the client quantizes and encrypts, the server runs
    the circuit, the client decrypts and dequantizes). ``fhe_circuit`` prints the compiled
    circuit's statistics and, per lookup, the operations it computes.
    """

    def __init__(self, network):
        if not isinstance(network, _core.QuantizedNetwork):
            raise TypeError(
                "QuantizedModule wraps a torusml._core.QuantizedNetwork; build one with "
                "torusml.onnx.compile_onnx_model or torusml.torch.compile_torch_model"
            )
        self._network = network

    @property
    def quantized_network(self):
        """The C++ network (torusml._core.QuantizedNetwork)."""
        return self._network

    @property
    def input_shape(self):
        """The model input's shape with batch size 1, e.g. (1, 1, 28, 28)."""
        return self._network.input_shape

    @property
    def output_shape(self):
        """The model output's shape with batch size 1, e.g. (1, 10)."""
        return self._network.output_shape

    @property
    def n_bits(self):
        """The bit widths: dict with model_inputs, op_inputs, op_weights, model_outputs."""
        return self._network.bits

    @property
    def is_compiled(self):
        return self._network.is_compiled

    @property
    def fhe_circuit(self):
        """The compiled circuit (print it for its statistics), or None before compile()."""
        return self._network.fhe_circuit

    @property
    def lookups(self):
        """The circuit's lookup nodes, as dicts (name, ops, lookups per sample, tables,
        accumulator_bits, lsbs_removed, node, precision once compiled)."""
        return self._network.lookups

    def statistics_text(self):
        """Per lookup node: operations fused, lookups per sample, accumulator bits, rounding."""
        return self._network.statistics_text()

    def compile(self, inputset, p_error=None, global_p_error=None, verbose=False, progress=None,
                *, multi_parameter=True, multi_parameter_gain=None, grouping_factors=None,
                small_key_inputs=True):
        """Compiles the circuit on `inputset` and generates the keys; returns the circuit.

        p_error: failure probability of each bootstrap; global_p_error: of a whole evaluation
        (set at most one). verbose=True prints the circuit's statistics. Key generation that
        takes more than a few seconds shows a progress bar when stderr is a terminal
        (progress=False silences it, True forces it).
        multi_parameter: let lookups of different precisions get their own parameter sets
        (Concrete's multi-parameter optimization) when the cost model finds that at least
        multi_parameter_gain times cheaper (None: 1.15) than one set; False keeps a single set.
        grouping_factors: the blind rotations the optimizer weighs (1 classic, 2 to 4 multi-bit;
        None: [1, 2], classic or g = 2 by the cost model).
        small_key_inputs: let the client encrypt the inputs under the small key where they reach
        only linear operations and lookups (tree ensembles), whose lookups then skip the
        keyswitch, when the cost model finds it cheaper; False keeps them under the big key.
        """
        inputset = check_inputset(inputset)
        with KeygenProgress(progress) as bar:
            self._network.compile(
                inputset, p_error=p_error, global_p_error=global_p_error,
                multi_parameter=multi_parameter, multi_parameter_gain=multi_parameter_gain,
                grouping_factors=grouping_factors, small_key_inputs=small_key_inputs,
                progress=bar.callback
            )
        circuit = self._network.fhe_circuit
        if verbose:
            print(circuit)
        return circuit

    def quantize_input(self, x):
        """Quantized inputs: int64 array (n_samples, input elements)."""
        return self._network.quantize_input(to_numpy(x, "x"))

    def run_integer(self, q_x, fhe="disable"):
        """The circuit's integer outputs for quantized inputs, (n_samples, *output_shape[1:])."""
        mode = self._check_mode(fhe)
        return self._network.run_integer(numpy.asarray(q_x), mode)

    def dequantize_output(self, q_y):
        """Float outputs (n_samples, *output_shape[1:]) from the circuit's integer outputs."""
        return self._network.dequantize_output(numpy.asarray(q_y))

    def forward(self, x, fhe="disable", progress=None):
        """Float outputs (n_samples, *output_shape[1:]) of the quantized model on x.

        fhe: "disable" (quantized inference in the clear), "simulate" (the compiled circuit with
        its noise model) or "execute" (encrypt, run under FHE on every core, decrypt).
        progress (fhe="execute" only): True shows a progress bar, False never; None (the
        default) shows one when stderr is a terminal and the batch takes more than a couple of
        seconds. With a bar, the batch runs in chunks of 2 x (core count) samples.
        """
        mode = self._check_mode(fhe)
        if progress is not None and not isinstance(progress, (bool, numpy.bool_)):
            raise ValueError(f"progress must be True, False or None (auto), got {progress!r}")
        x = to_numpy(x, "x")
        q_x = self._network.quantize_input(x)
        chunk = 2 * _cpu_count()
        bar = None
        if mode == "execute" and q_x.shape[0] > chunk:
            bar = _progress_bar(q_x.shape[0], progress)
        if bar is None:
            q_y = self._network.run_integer(q_x, mode)
        else:
            parts = []
            with bar:
                for start in range(0, q_x.shape[0], chunk):
                    part = q_x[start : start + chunk]
                    parts.append(self._network.run_integer(part, mode))
                    bar.update(part.shape[0])
            q_y = numpy.concatenate(parts, axis=0)
        return self._network.dequantize_output(q_y)

    __call__ = forward

    def _check_mode(self, fhe):
        mode = getattr(fhe, "value", fhe)  # an enum whose values are the strings
        if not isinstance(mode, str) or mode not in FHE_MODES:
            raise ValueError(
                f"fhe={fhe!r} is not a valid mode: use fhe='disable' (clear quantized "
                f"inference), 'simulate' (FHE simulation, after compile) or 'execute' (real "
                f"encryption, after compile)"
            )
        if mode != "disable" and not self._network.is_compiled:
            raise NotCompiledError(
                f"This QuantizedModule is not compiled: call compile(inputset) before running "
                f"with fhe={mode!r} (fhe='disable' needs no compilation)"
            )
        return mode

    def __repr__(self):
        state = "compiled" if self.is_compiled else "not compiled"
        return (
            f"QuantizedModule(input_shape={self.input_shape}, output_shape={self.output_shape}, "
            f"n_bits={self.n_bits}, {state})"
        )
