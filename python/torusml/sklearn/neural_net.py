"""Built-in neural networks: fully connected networks trained with quantization in the loop.

``NeuralNetClassifier`` and ``NeuralNetRegressor`` take Concrete ML's arguments: the network's
(``module__n_layers``, required; ``module__n_w_bits=4``, ``module__n_a_bits=4``,
``module__n_accum_bits=None``, ``module__n_hidden_neurons_multiplier=4``,
``module__activation_function=torch.nn.ReLU``) and skorch's (``max_epochs=10``, ``lr=0.01``,
``batch_size=128``, ``optimizer=torch.optim.Adam``, ``criterion``, ``iterator_train``,
``iterator_valid``, ``dataset``, ``train_split=None``, ``callbacks``, ``verbose=0``,
``device``, and any ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
``iterator_valid__*``, ``dataset__*`` or ``callbacks__*`` argument), plus ``random_state``
(seeds the weights' initialization and the batches' shuffling).

What ``fit`` does: standardizes the inputs (mean 0, variance 1 per feature: the client's
pre-processing, applied in the clear before quantization, as are the targets' standardization
for regressors, undone after decryption), then trains ``_qat.QuantizedMLP`` with skorch (a
``skorch.NeuralNetClassifier`` / ``NeuralNetRegressor``, kept as ``sklearn_model``): the network
computes with fake-quantized inputs and activations (``n_a_bits``) and weights (``n_w_bits``) at
every step, so that it learns weights that work at these bit widths (quantization-aware
training; see ``_qat`` for the quantizers). Training batches are shuffled
(``iterator_train__shuffle=True`` unless given).

Modes: before ``compile``, ``predict(X, fhe="disable")`` runs the trained quantized network in
the clear (float64, exactly its integer arithmetic). ``compile(X)`` exports the network to ONNX
in QDQ form (``onnx_model``) and compiles it with ``torusml.onnx.compile_onnx_model`` on the
standardized X, ``rounding_threshold_bits=module__n_accum_bits`` (the accumulators are rounded
to that many most significant bits before each lookup; None lets the compiler choose): from
then on every mode runs the compiled module (``quantized_module``), so that "disable" is the
circuit's clear execution. Without rounding (accumulators no wider than the lookups allow:
``module__n_accum_bits=None`` and small layers) "disable" after compile equals the trained
network exactly, and "simulate" and "execute" equal "disable"; with ``module__n_accum_bits`` the
compiler's approximate rounding may put a lookup one step off near a rounding boundary under
encryption, so "execute" may then differ from "disable" on some samples.
Outputs: logits (classifier; ``predict_proba`` is their softmax and ``predict`` their argmax,
computed by the client after decryption) or the regression targets.
"""

import copy
import inspect
import numbers

import numpy
import skorch
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d
from torch.utils.data import DataLoader

from torusml import _core
from torusml._errors import NotCompiledError
from torusml.sklearn._base import (
    BaseQuantizedModel,
    reject_complex,
    resolve_fhe_mode,
    to_float_matrix,
)
from torusml.sklearn._qat import MAX_QAT_BITS, MIN_QAT_BITS, QuantizedMLP, export_onnx

MAX_ACCUM_BITS = 16
# The module arguments of QuantizedMLP the estimators take (module__<name>), with their defaults
# (n_layers has none: it is required).
MODULE_DEFAULTS = {
    "n_layers": None,
    "n_w_bits": 4,
    "n_a_bits": 4,
    "n_accum_bits": None,
    "n_hidden_neurons_multiplier": 4,
    "activation_function": torch.nn.ReLU,
}
# Prefixes of the skorch arguments passed through **kwargs (e.g. optimizer__weight_decay).
SKORCH_PREFIXES = (
    "optimizer",
    "criterion",
    "iterator_train",
    "iterator_valid",
    "dataset",
    "callbacks",
)
# Set by fit from the data: not arguments.
_AUTOMATIC_MODULE_ARGS = ("input_dim", "n_outputs")


# ---- the wrapped skorch estimators -------------------------------------------------------------


class _SkorchClassifier(skorch.NeuralNetClassifier, BaseEstimator):
    """skorch's classifier with the quantization-aware MLP, cross-entropy on its logits and no
    validation split by default (BaseEstimator only adds scikit-learn's tags)."""

    def __init__(
        self,
        module=QuantizedMLP,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        train_split=None,
        **kwargs,
    ):
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, train_split=train_split, **kwargs
        )


class _SkorchRegressor(skorch.NeuralNetRegressor, BaseEstimator):
    """skorch's regressor with the quantization-aware MLP and no validation split by default."""

    def __init__(
        self,
        module=QuantizedMLP,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        train_split=None,
        **kwargs,
    ):
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, train_split=train_split, **kwargs
        )


# ---- the fitted state --------------------------------------------------------------------------


class _NetFittedState:
    """Everything fit produces (fit replaces it as a whole).

    sklearn_model: the fitted skorch estimator; module: its trained QuantizedMLP (float32, eval
    mode); inference: a float64 copy of it (the clear quantized model before compile); x_mean,
    x_scale: the input standardization; y_mean, y_scale: the targets' (regressors; None for
    classifiers); classes: the class labels (classifiers); options: the parsed module arguments;
    output_is_1d: regressors fitted on a 1-D y. ``compiled`` (the torusml.QuantizedModule of the
    last compile, or None) is the one slot compile replaces; a pickle leaves it out (compile again
    after unpickling).
    """

    __slots__ = ("sklearn_model", "module", "inference", "x_mean", "x_scale", "y_mean",
                 "y_scale", "classes", "options", "output_is_1d", "n_features", "compiled")

    def __init__(self, sklearn_model, x_mean, x_scale, y_mean, y_scale, classes, options,
                 output_is_1d):
        self.sklearn_model = sklearn_model
        self.module = sklearn_model.module_.to("cpu").eval()
        self.x_mean = x_mean
        self.x_scale = x_scale
        self.y_mean = y_mean
        self.y_scale = y_scale
        self.classes = classes
        self.options = options
        self.output_is_1d = output_is_1d
        self.n_features = len(x_mean)
        self.compiled = None
        inference = copy.deepcopy(self.module).double().eval()
        with torch.no_grad():  # freezes the quantized weights (read-only from now on)
            inference(torch.zeros((1, self.n_features), dtype=torch.float64))
        self.inference = inference

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__ if name != "compiled"}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)
        self.compiled = None
        with torch.no_grad():
            self.inference(torch.zeros((1, self.n_features), dtype=torch.float64))

    @property
    def quantized(self):
        return self.compiled

    @property
    def circuit(self):
        compiled = self.compiled
        return None if compiled is None else compiled.fhe_circuit

    def fitted_attribute(self, name):
        if name == "n_features_in_":
            return self.n_features
        if name == "classes_" and self.classes is not None:
            return self.classes
        return getattr(self.sklearn_model, name)

    def standardize(self, X):
        return (X - self.x_mean) / self.x_scale

    def clear_outputs(self, Xs):
        """The quantized network's outputs in the clear (float64), before compile."""
        with torch.no_grad():
            return self.inference(torch.from_numpy(Xs)).numpy()

    def onnx_model(self):
        return export_onnx(self.module, self.n_features)


def _seeded(random_state):
    """A context in which torch's global generator is seeded from random_state (None: as is),
    restored afterwards."""
    if random_state is None:
        return _NullContext()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state) % (2**63)
    else:
        seed = int(check_random_state(random_state).randint(2**31 - 1))
    return _ForkedTorchRng(seed)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _ForkedTorchRng:
    def __init__(self, seed):
        self.seed = seed
        self._fork = None

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=[])
        self._fork.__enter__()
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


# ---- the estimators ----------------------------------------------------------------------------


def _check_int(value, name, low, high, hint):
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer between {low} and {high}, got {value!r}; "
                         f"{hint}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} = {int(value)} is out of range: use an integer between {low} "
                         f"and {high}; {hint}")
    return int(value)


class _Options:
    """The parsed module arguments (what QuantizedMLP and the compiler get)."""

    __slots__ = ("n_layers", "n_w_bits", "n_a_bits", "n_accum_bits",
                 "n_hidden_neurons_multiplier", "activation_function")

    def __init__(self, **values):
        for name, value in values.items():
            setattr(self, name, value)

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)

    def module_kwargs(self):
        return {f"module__{name}": getattr(self, name) for name in self.__slots__}


# The estimators' own arguments in order: the module's (prefixed), then skorch's; the criterion's
# default differs between the classifier and the regressor. skorch's prefixed arguments
# (optimizer__weight_decay, ...) come through **kwargs.
_NETWORK_ARGUMENTS = {
    **{f"module__{name}": default for name, default in MODULE_DEFAULTS.items()},
    "criterion": None,
    "optimizer": torch.optim.Adam,
    "lr": 0.01,
    "max_epochs": 10,
    "batch_size": 128,
    "iterator_train": DataLoader,
    "iterator_valid": DataLoader,
    "dataset": skorch.dataset.Dataset,
    "train_split": None,
    "callbacks": None,
    "verbose": 0,
    "device": "cpu",
    "random_state": None,
}


def _network_init(criterion):
    """The keyword-only __init__ over _NETWORK_ARGUMENTS (criterion defaulting to `criterion`)
    plus skorch's prefixed arguments, storing each as an attribute (scikit-learn's get_params,
    clone and repr read the signature)."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(name, keyword, default=criterion if name == "criterion" else default)
        for name, default in _NETWORK_ARGUMENTS.items()
    ]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    signature = inspect.Signature(parameters)

    def __init__(self, **kwargs):
        bound = signature.bind(self, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        extra = arguments.pop("kwargs", {})
        arguments.pop("self")
        self._store_params(arguments, extra)

    __init__.__signature__ = signature
    __init__.__doc__ = ("The module's arguments (module__n_layers is required), skorch's, and "
                        "skorch's prefixed ones (optimizer__..., criterion__..., ...).")
    return __init__


class _BaseNeuralNet(BaseQuantizedModel):
    """What the classifier and the regressor share: arguments, training, compile, FHE modes."""

    _skorch_class = None  # _SkorchClassifier or _SkorchRegressor
    _default_criterion = None

    # ---- parameters (explicit constructor; skorch's prefixed arguments through **kwargs) -----

    @classmethod
    def _extra_param_ok(cls, name):
        prefix, sep, rest = name.partition("__")
        return bool(sep) and bool(rest) and prefix in SKORCH_PREFIXES

    def _store_params(self, params, kwargs):
        for name, value in params.items():
            setattr(self, name, value)
        for name, value in kwargs.items():
            if not self._extra_param_ok(name):
                raise TypeError(self._unknown_param_message(name))
            setattr(self, name, value)

    def _unknown_param_message(self, name):
        cls = type(self).__name__
        if name.startswith("module__"):
            short = name[len("module__"):]
            if short in _AUTOMATIC_MODULE_ARGS:
                return (f"{cls}: {name} is set by fit from the data (the number of features or "
                        f"of outputs): do not pass it")
            known = ", ".join(f"module__{k}" for k in MODULE_DEFAULTS)
            return f"{cls} got an unexpected argument {name!r}: the module takes {known}"
        return (f"{cls} got an unexpected argument {name!r}: pass the estimator's own arguments "
                f"(see help({cls})) or skorch's prefixed ones ("
                f"{', '.join(p + '__...' for p in SKORCH_PREFIXES)})")

    def _extra_params(self):
        names = set(self._get_param_names())
        return {k: v for k, v in self.__dict__.items()
                if k not in names and self._extra_param_ok(k)}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._extra_params())
        return params

    def set_params(self, **params):
        """Sets parameters (the constructor's, and skorch's prefixed ones, e.g.
        optimizer__weight_decay); they take effect at the next fit."""
        if not params:
            return self
        valid = set(self._get_param_names())
        for name, value in params.items():
            if name in valid or self._extra_param_ok(name):
                setattr(self, name, value)
            else:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self}. Valid parameters are: "
                    f"{sorted(valid)!r}, plus skorch's prefixed ones ("
                    f"{', '.join(p + '__...' for p in SKORCH_PREFIXES)})"
                )
        return self

    def _sklearn_params(self):
        # The tags are those of the wrapped skorch estimator with its defaults (BaseQuantizedModel
        # builds one from these); our arguments go to it at fit (_skorch_net).
        return {}

    @classmethod
    def _accepted_model_names(cls):
        return f"skorch {cls._skorch_class.__mro__[1].__name__}"

    @classmethod
    def from_sklearn_model(cls, *args, **kwargs):
        raise NotImplementedError(
            f"{cls.__name__} trains its own quantization-aware network: use fit(X, y) (for a "
            f"trained torch model, use torusml.torch.compile_torch_model)"
        )

    def _parse_own_params(self):
        n_layers = self.module__n_layers
        if n_layers is None:
            raise ValueError(
                f"{type(self).__name__} requires module__n_layers, the number of linear layers "
                f"(e.g. {type(self).__name__}(module__n_layers=3)), as Concrete ML's does"
            )
        n_layers = _check_int(n_layers, "module__n_layers", 1, 1024,
                              "the number of linear layers, e.g. 3")
        bits_hint = (f"QuantizeLinear holds at most {MAX_QAT_BITS}-bit integers; 3 or 4 bits "
                     f"keep the lookups cheap")
        n_w_bits = _check_int(self.module__n_w_bits, "module__n_w_bits", MIN_QAT_BITS,
                              MAX_QAT_BITS, bits_hint)
        n_a_bits = _check_int(self.module__n_a_bits, "module__n_a_bits", MIN_QAT_BITS,
                              MAX_QAT_BITS, bits_hint)
        n_accum_bits = self.module__n_accum_bits
        if n_accum_bits is not None:
            n_accum_bits = _check_int(
                n_accum_bits, "module__n_accum_bits", 1, MAX_ACCUM_BITS,
                "the most significant bits of each accumulator kept before its lookup (None: "
                "the compiler's choice)")
        multiplier = _check_int(self.module__n_hidden_neurons_multiplier,
                                "module__n_hidden_neurons_multiplier", 1, 1024,
                                "hidden neurons per layer = multiplier x number of features")
        activation = self.module__activation_function
        if not (isinstance(activation, type) and issubclass(activation, torch.nn.Module)):
            raise ValueError(
                f"module__activation_function must be a torch.nn.Module class (e.g. "
                f"torch.nn.ReLU, torch.nn.Sigmoid), got {activation!r}"
            )
        random_state = self.random_state
        if not (random_state is None or isinstance(random_state, numpy.random.RandomState) or (
                isinstance(random_state, numbers.Integral)
                and not isinstance(random_state, bool))):
            raise ValueError(f"random_state must be None, an int or a numpy RandomState, got "
                             f"{random_state!r}")
        return _Options(n_layers=n_layers, n_w_bits=n_w_bits, n_a_bits=n_a_bits,
                        n_accum_bits=n_accum_bits, n_hidden_neurons_multiplier=multiplier,
                        activation_function=activation)

    # ---- training ----------------------------------------------------------------------------

    def _skorch_net(self, options, n_features, n_outputs):
        extras = self._extra_params()
        extras.setdefault("iterator_train__shuffle", True)
        return self._skorch_class(
            module=QuantizedMLP,
            criterion=self.criterion,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=self.iterator_train,
            iterator_valid=self.iterator_valid,
            dataset=self.dataset,
            train_split=self.train_split,
            callbacks=self.callbacks,
            verbose=self.verbose,
            device=self.device,
            module__input_dim=n_features,
            module__n_outputs=n_outputs,
            **options.module_kwargs(),
            **extras,
        )

    def fit(self, X, y, **fit_params):
        """Trains the network with quantization in the loop (see the module docstring).

        X: (n_samples, n_features) numbers; y: class labels (classifier) or targets, (n_samples,)
        or (n_samples, n_targets) (regressor). fit_params go to skorch's fit.
        """
        options = self._parse_own_params()
        X = to_float_matrix(X)
        if y is None:  # scikit-learn's phrase
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        reject_complex(y, "y")
        targets = self._encode_targets(y)
        check_consistent_length(X, targets[0])
        x_mean = X.mean(axis=0)
        x_scale = X.std(axis=0)
        x_scale[~(x_scale > 1e-12)] = 1.0
        Xs = ((X - x_mean) / x_scale).astype(numpy.float32)
        y_train, n_outputs, extra = targets
        net = self._skorch_net(options, X.shape[1], n_outputs)
        with _seeded(self.random_state):
            net.fit(Xs, y_train, **fit_params)
        self._fitted = _NetFittedState(net, x_mean, x_scale, options=options, **extra)
        return self

    # ---- compilation and inference -----------------------------------------------------------

    def compile(self, X, p_error=None, global_p_error=None, verbose=False, progress=None, *,
                multi_parameter=True, multi_parameter_gain=None, grouping_factors=None,
                small_key_inputs=True):
        """Exports the network to ONNX (QDQ form) and compiles it to an FHE circuit, keys
        included (torusml.onnx.compile_onnx_model on the standardized X, with
        rounding_threshold_bits=module__n_accum_bits; the other arguments as its). Returns the
        circuit.

        From then on every mode runs the compiled module. Predictions running meanwhile on other
        threads finish with the module they started with.
        """
        from torusml.onnx import compile_onnx_model  # noqa: PLC0415 (imports the ONNX layer)

        state = self._fitted_state("compile()")
        X = self._check_input(state, X)
        options = state.options
        n_bits = {
            "model_inputs": options.n_a_bits,
            "op_inputs": options.n_a_bits,
            "op_weights": options.n_w_bits,
            "model_outputs": max(options.n_a_bits, 8),
        }
        module = compile_onnx_model(
            state.onnx_model(),
            state.standardize(X),
            n_bits=n_bits,
            rounding_threshold_bits=options.n_accum_bits,
            p_error=p_error,
            global_p_error=global_p_error,
            progress=progress,
            multi_parameter=multi_parameter,
            multi_parameter_gain=multi_parameter_gain,
            grouping_factors=grouping_factors,
            small_key_inputs=small_key_inputs,
        )
        state.compiled = module
        circuit = module.fhe_circuit
        if verbose:
            print(circuit)
        return circuit

    @property
    def onnx_model(self):
        """The fitted network as a serialized ONNX model (bytes; opset 13, QDQ form: input "x"
        of shape (batch, n_features), already standardized; output "y")."""
        return self._fitted_state("exporting the network").onnx_model()

    @property
    def quantized_module(self):
        """The compiled torusml.QuantizedModule (None before compile())."""
        return self._fitted_state("using the quantized module").compiled

    @property
    def input_quantizers(self):
        """The compiled module's input quantizer (one torusml.UniformQuantizer for every
        feature), after compile()."""
        state = self._fitted_state("using the input quantizers")
        compiled = state.compiled
        if compiled is None:
            raise NotCompiledError(f"This {type(self).__name__} is not compiled: its input "
                                   f"quantizer is the compiled module's; call compile(X) first")
        return compiled.quantized_network.input_quantizer

    def quantize_input(self, X):
        """The integers the client encrypts: int64 (n_samples, n_features), after the
        standardization."""
        state = self._fitted_state("quantize_input()")
        Xs = state.standardize(self._check_input(state, X))
        compiled = state.compiled
        if compiled is not None:
            return compiled.quantize_input(Xs)
        return state.module.input_quantizer.quantize(Xs)

    def dequantize_output(self, q_y):
        """The network's float outputs from its integer outputs (n_samples, n_outputs): logits
        (classifier) or targets in the units of y (regressor: standardization undone)."""
        state = self._fitted_state("dequantize_output()")
        q_y = numpy.asarray(q_y)
        compiled = state.compiled
        if compiled is not None:
            y = numpy.asarray(compiled.dequantize_output(q_y), dtype=numpy.float64)
        else:
            y = q_y.astype(numpy.float64) * state.module.output_scale()
        return self._output_units(state, y.reshape(len(y), -1))

    def _output_units(self, state, y):
        return y

    def _network_output(self, X, fhe, execute_in_fhe):
        """(state, the network's float outputs (n_samples, n_outputs)) in the clear or FHE."""
        mode = resolve_fhe_mode(fhe, execute_in_fhe)
        state = self._fitted_state(f"predicting (fhe={mode!r})")
        X = self._check_input(state, X)
        compiled = state.compiled
        if mode != "disable" and compiled is None:
            raise NotCompiledError(
                f"This {type(self).__name__} is not compiled: call model.compile(X_train) "
                f"before predicting with fhe={mode!r} (fhe='disable' needs no compilation)"
            )
        Xs = state.standardize(X)
        if compiled is None:
            y = state.clear_outputs(Xs)
        else:
            y = numpy.asarray(compiled.forward(Xs, fhe=mode), dtype=numpy.float64)
        return state, self._output_units(state, y.reshape(len(Xs), -1))


_COMMON_DOC = """
    Arguments (keyword-only): module__n_layers (required: linear layers, >= 1),
    module__n_w_bits (weight bits, 2 to 8; default 4), module__n_a_bits (input and activation
    bits, 2 to 8; default 4), module__n_accum_bits (None, or 1 to 16: the most significant bits
    of each accumulator kept before its lookup, the compiler's rounding threshold),
    module__n_hidden_neurons_multiplier (hidden neurons per layer = this x n_features; default
    4), module__activation_function (a torch.nn.Module class; default torch.nn.ReLU), skorch's
    criterion, optimizer (default torch.optim.Adam), lr (0.01), max_epochs (10), batch_size
    (128), iterator_train, iterator_valid, dataset, train_split (None: train on all the data),
    callbacks, verbose (0), device ('cpu'), random_state (None, or an int for reproducible
    training), and skorch's prefixed arguments (optimizer__*, criterion__*, iterator_train__*,
    iterator_valid__*, dataset__*, callbacks__*).
"""


class NeuralNetClassifier(ClassifierMixin, _BaseNeuralNet):
    __doc__ = (
        """A fully connected classifier trained with quantization in the loop, compiled to FHE.
    """
        + _COMMON_DOC
        + """
    predict_proba: the softmax of the dequantized logits; predict: their argmax, as labels of
    classes_ (strings included).
    """
    )

    sklearn_class = _SkorchClassifier
    _skorch_class = _SkorchClassifier

    __init__ = _network_init(criterion=torch.nn.CrossEntropyLoss)

    def _encode_targets(self, y):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, indices = numpy.unique(y, return_inverse=True)
        return indices.astype(numpy.int64), len(classes), {
            "y_mean": None, "y_scale": None, "classes": classes, "output_is_1d": True}

    def predict_proba(self, X, fhe="disable", execute_in_fhe=False):
        """Class probabilities (n_samples, n_classes): softmax of the logits, in the clear."""
        _, logits = self._network_output(X, fhe, execute_in_fhe)
        return _core.softmax(numpy.ascontiguousarray(logits))

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Class labels (those of classes_)."""
        state, logits = self._network_output(X, fhe, execute_in_fhe)
        return state.classes[_core.argmax(numpy.ascontiguousarray(logits))]


class NeuralNetRegressor(RegressorMixin, _BaseNeuralNet):
    __doc__ = (
        """A fully connected regressor trained with quantization in the loop, compiled to FHE.
    """
        + _COMMON_DOC
        + """
    The targets are standardized for training (the network predicts them with mean 0 and
    variance 1) and the predictions scaled back in the clear. y may be (n_samples,) or
    (n_samples, n_targets).
    """
    )

    sklearn_class = _SkorchRegressor
    _skorch_class = _SkorchRegressor
    _tag_overrides = {
        # The network has one output per target: y of shape (n_samples, n_targets) is fitted as
        # it is (skorch's regressor does too, without declaring it).
        "multioutput": True,
    }

    __init__ = _network_init(criterion=torch.nn.MSELoss)

    def _encode_targets(self, y):
        if hasattr(y, "to_numpy"):
            y = y.to_numpy()
        try:
            y = numpy.asarray(y, dtype=numpy.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"y must hold numbers (regression targets): {error}") from None
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
            raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_targets), got "
                             f"{y.shape}")
        if not numpy.isfinite(y).all():
            kind = "NaN" if numpy.isnan(y).any() else "infinity"
            raise ValueError(f"Input y contains {kind}: clean the targets first (drop or impute "
                             f"missing values)")
        output_is_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        y_mean = y2.mean(axis=0)
        y_scale = y2.std(axis=0)
        y_scale[~(y_scale > 1e-12)] = 1.0
        y_train = ((y2 - y_mean) / y_scale).astype(numpy.float32)
        return y_train, y2.shape[1], {
            "y_mean": y_mean, "y_scale": y_scale, "classes": None, "output_is_1d": output_is_1d}

    def _output_units(self, state, y):
        return y * state.y_scale + state.y_mean

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Predicted targets: (n_samples,) if fitted on a 1-D y, else (n_samples, n_targets)."""
        state, y = self._network_output(X, fhe, execute_in_fhe)
        return y.ravel() if state.output_is_1d else y
