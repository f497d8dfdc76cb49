"""Shared plumbing of the scikit-learn-style models (private).

Every model wraps a scikit-learn estimator (``sklearn_model``) trained on float data, then
quantizes it and its inputs into a C++ model (:class:`torusml.QuantizedLinear` here, a
``torusml.QuantizedTreeEnsemble`` for the trees in ``_tree_base``), which compiles to FHE and
runs whole batches in one call. ``BaseQuantizedModel`` holds what every model shares;
``BaseLinearModel`` and its regressor and classifier bases the linear models. Python only
validates inputs, parses parameters, maps class labels and calls the C++ core.

Fitted state and threads: everything ``fit`` produces (the wrapped estimator, the calibration
range, the bit widths it was quantized with, the C++ model) is one fitted state object
(``_FittedState`` here), never modified once built; ``fit`` replaces it as a whole and every
method reads it once, at its start. Parameters set after ``fit`` (``set_params``) take effect at
the next ``fit``, as in scikit-learn, and a pickle keeps the fitted state. ``compile`` builds the new circuit and keys aside and swaps them in
atomically (in C++), so a model can be shared between threads: predictions run concurrently (and
in parallel: no lock is held while they compute) with each other, with ``compile`` and with
``fit``, each one finishing with the state, circuit and keys it started with.
"""

import copy
import inspect
import numbers
import sys

import numpy
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from torusml import _core
from torusml._errors import NotCompiledError

MAX_N_BITS = 16
FHE_MODES = ("disable", "simulate", "execute")
_N_BITS_KEYS = ("op_inputs", "op_weights")


def parse_n_bits(n_bits, keys=_N_BITS_KEYS, default=8):
    """The bit widths from an int (the same for every key) or a dict with exactly these keys.

    keys: the dict's keys, in the order of the returned tuple (op_inputs and op_weights for the
    linear models, op_inputs and op_leaves for the trees); default: the value the out-of-range
    message suggests.
    """
    if isinstance(n_bits, dict):
        unknown = sorted(set(n_bits) - set(keys))
        missing = [k for k in keys if k not in n_bits]
        if unknown or missing:
            example = ", ".join(f"{k!r}: {8 - 2 * i}" for i, k in enumerate(keys))
            raise ValueError(
                f"n_bits as a dict must have exactly the keys {' and '.join(map(repr, keys))} "
                f"(got {sorted(n_bits)}), e.g. n_bits={{{example}}}"
            )
        return tuple(_check_bits(n_bits[k], f"n_bits['{k}']", keys, default) for k in keys)
    bits = _check_bits(n_bits, "n_bits", keys, default)
    return (bits,) * len(keys)


def _check_bits(value, name, keys=_N_BITS_KEYS, default=8):
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        spelled = ", ".join(f"{k!r}: int" for k in keys)
        raise ValueError(
            f"{name} must be an integer between 1 and {MAX_N_BITS} (or, for n_bits, a dict "
            f"{{{spelled}}}), got {value!r}"
        )
    if not 1 <= int(value) <= MAX_N_BITS:
        raise ValueError(
            f"{name} = {int(value)} is out of range: use an integer between 1 and "
            f"{MAX_N_BITS} ({default} is a good default)"
        )
    return int(value)


def resolve_fhe_mode(fhe, execute_in_fhe):
    """The mode string from fhe= and the older execute_in_fhe= spelling."""
    if not isinstance(execute_in_fhe, (bool, numpy.bool_)):
        raise ValueError(f"execute_in_fhe must be True or False, got {execute_in_fhe!r}")
    mode = getattr(fhe, "value", fhe)  # an enum whose values are the strings
    if not isinstance(mode, str) or mode not in FHE_MODES:
        raise ValueError(
            f"fhe={fhe!r} is not a valid mode: use fhe='disable' (clear quantized inference), "
            f"'simulate' (FHE simulation, after compile) or 'execute' (real encryption, "
            f"after compile)"
        )
    if execute_in_fhe:
        if mode not in ("disable", "execute"):
            raise ValueError(
                f"execute_in_fhe=True contradicts fhe={mode!r}: pass only fhe='execute'"
            )
        mode = "execute"
    return mode


def _holds_complex(arr):
    """Whether a numpy array holds complex numbers (complex dtype, or complex objects)."""
    if arr.dtype.kind == "c":
        return True
    return arr.dtype.kind == "O" and any(
        isinstance(v, (complex, numpy.complexfloating)) for v in arr.flat
    )


def _complex_error(what):
    # scikit-learn's phrase (check_array), which its tools match.
    return ValueError(
        f"Complex data not supported: {what} holds complex numbers; pass real numbers (e.g. the "
        f"real part {what}.real, or the magnitude abs({what}), if that is what the model should "
        f"see)"
    )


def _as_array(values, what):
    """values as a numpy array of its own dtype; complex numbers refused."""
    if hasattr(values, "toarray"):  # scipy sparse
        values = values.toarray()
    if hasattr(values, "to_numpy"):  # pandas DataFrame or Series
        values = values.to_numpy()
    try:
        arr = numpy.asarray(values)
    except (TypeError, ValueError) as error:  # e.g. rows of different lengths
        raise ValueError(
            f"{what} must hold numbers only, in rows of the same length; encode categorical "
            f"columns first (e.g. with sklearn.preprocessing.OneHotEncoder): {error}"
        ) from None
    if _holds_complex(arr):
        raise _complex_error(what)
    return arr


def reject_complex(values, what="y"):
    """Raises ValueError if values (e.g. the target y, any array-like) hold complex numbers.

    Anything else about them is left to the wrapped estimator's own checks (its messages, its
    label types).
    """
    if hasattr(values, "to_numpy"):  # pandas Series or DataFrame
        values = values.to_numpy()
    try:
        arr = numpy.asarray(values)
    except (TypeError, ValueError):
        return
    if _holds_complex(arr):
        raise _complex_error(what)


def to_float_matrix(X, what="X"):
    """X (numpy array, list, pandas DataFrame, sparse matrix) as a C-contiguous float64 2-D array.

    Refuses what scikit-learn's check_array refuses, with its phrases ("Complex data not
    supported", "Reshape your data", "0 sample(s)", "0 feature(s)"), so scikit-learn's tools
    recognize the errors: a ValueError (a TypeError for objects that are not numbers, as numpy
    and scikit-learn raise) saying what to do for non-numeric or complex data, wrong dimensions,
    no samples or features, NaN or infinities.
    """
    arr = _as_array(X, what)
    try:
        arr = arr.astype(numpy.float64, copy=False)
    except (TypeError, ValueError) as error:
        error_type = TypeError if isinstance(error, TypeError) else ValueError
        raise error_type(
            f"{what} must hold numbers only; encode categorical columns first "
            f"(e.g. with sklearn.preprocessing.OneHotEncoder): {error}"
        ) from None
    if arr.ndim != 2:
        if arr.ndim == 1:
            hint = (
                f"Reshape your data either using {what}.reshape(-1, 1) if it has a single "
                f"feature or {what}.reshape(1, -1) if it is a single sample"
            )
        else:
            hint = "Reshape your data: pass a table of shape (n_samples, n_features)"
        raise ValueError(f"{what} must be a 2-D array, got {arr.ndim} dimension(s). {hint}")
    if arr.shape[0] == 0:
        raise ValueError(
            f"{what} has 0 samples: found array with 0 sample(s) (shape={arr.shape}) while a "
            f"minimum of 1 is required; pass at least one sample"
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{what} has 0 features: found array with 0 feature(s) (shape={arr.shape}) while a "
            f"minimum of 1 is required; pass at least one feature"
        )
    finite = numpy.isfinite(arr)
    if not finite.all():
        row, col = numpy.argwhere(~finite)[0]
        kind = "NaN" if numpy.isnan(arr[row, col]) else "an infinite value"
        raise ValueError(
            f"{what} contains {kind} (first at row {row}, column {col}); clean the data first: "
            f"drop or impute missing values (e.g. sklearn.impute.SimpleImputer) and replace "
            f"infinities"
        )
    return numpy.ascontiguousarray(arr)


class _FittedState:
    """Everything fit produces, never modified once built (fit replaces it as a whole).

    sklearn_model: the fitted scikit-learn estimator; calibration_range: (2, n_features) per-feature
    min and max of the calibration data; bits: (input_bits, weight_bits) it was quantized with;
    quantized: the C++ model built from these. Pickled without the C++ model, which unpickling
    rebuilds, identical, from the other three (a compiled circuit and its keys are never pickled:
    compile again after unpickling).
    """

    __slots__ = ("sklearn_model", "calibration_range", "bits", "quantized", "n_features",
                 "output_is_1d")

    def __init__(self, sklearn_model, calibration_range, bits):
        coef = numpy.asarray(sklearn_model.coef_, dtype=numpy.float64)
        n_features = coef.shape[-1]
        weights = coef.reshape(-1, n_features).T
        intercept = numpy.asarray(getattr(sklearn_model, "intercept_", 0.0), numpy.float64)
        bias = numpy.broadcast_to(numpy.atleast_1d(intercept), (weights.shape[1],)).copy()
        self.sklearn_model = sklearn_model
        self.calibration_range = calibration_range
        self.bits = tuple(bits)
        self.n_features = n_features
        self.output_is_1d = coef.ndim == 1
        self.quantized = _core.QuantizedLinear(
            numpy.ascontiguousarray(weights),
            bias,
            calibration_range,
            input_bits=self.bits[0],
            weight_bits=self.bits[1],
        )

    @classmethod
    def calibrated_on(cls, sklearn_model, X, bits):
        """The state of a fitted estimator, its input quantizers calibrated on X (float 2-D)."""
        n_features = numpy.asarray(sklearn_model.coef_).shape[-1]
        check_n_features(X, n_features)
        return cls(sklearn_model, numpy.vstack([X.min(axis=0), X.max(axis=0)]), bits)

    @property
    def circuit(self):
        return self.quantized.circuit

    def fitted_attribute(self, name):
        """A fitted attribute (name ends with '_'): n_features_in_, else the wrapped model's."""
        if name == "n_features_in_":
            return self.n_features
        return getattr(self.sklearn_model, name)

    def __reduce__(self):
        return (_FittedState, (self.sklearn_model, self.calibration_range, self.bits))


def check_n_features(X, n_features):
    """Raises ValueError unless the calibration data X has the fitted model's n_features columns."""
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the fitted model has {n_features}; pass "
            f"data with the columns the model was trained on"
        )


# ---- constructor generated from the wrapped class's signature ----------------------------------


def _wrapped_parameters(sklearn_class):
    """The wrapped class's constructor parameters (inspect.Parameter), in its order.

    Those it takes through **kwargs (XGBoost's classifier and regressor pass them on to
    XGBModel) are the remaining ones its get_params reports, keyword-only, with their defaults.
    """
    parameters = []
    takes_kwargs = False
    for p in list(inspect.signature(sklearn_class.__init__).parameters.values())[1:]:
        if p.kind == p.VAR_KEYWORD:
            takes_kwargs = True
        elif p.kind == p.VAR_POSITIONAL:
            raise TypeError(f"{sklearn_class.__name__} takes *args: it cannot be wrapped")
        else:
            parameters.append(p.replace(annotation=inspect.Parameter.empty))
    if takes_kwargs:
        names = {p.name for p in parameters}
        for name, default in sklearn_class().get_params(deep=False).items():
            if name not in names:
                parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                                    default=default))
    return parameters


def _public_name(cls):
    """cls's dotted name in the shortest loaded module that exports it (sklearn.linear_model.Ridge
    rather than sklearn.linear_model._ridge.Ridge), else in its own module."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts)):
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None and getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _make_init(cls):
    """An __init__ taking the wrapped class's arguments (as it takes them) plus ours
    (cls._own_defaults, keyword-only), storing each as an attribute of the same name, as
    scikit-learn requires (get_params, clone and repr read the signature)."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += _wrapped_parameters(cls.sklearn_class)
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in cls._own_defaults.items()
    ]
    signature = inspect.Signature(parameters)

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as error:  # named as Python names it: "Ridge.__init__() got an ..."
            raise TypeError(f"{__init__.__qualname__}() {error}") from None
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    ours = [
        f"{name} ({cls._own_docs[name]}; default {default!r})"
        for name, default in cls._own_defaults.items()
    ]
    if len(ours) > 1:
        ours = [", ".join(ours[:-1]) + " and " + ours[-1]]
    plus = f", plus the keyword-only {ours[0]}" if ours else ""
    __init__.__doc__ = f"The arguments of {_public_name(cls.sklearn_class)}{plus}."
    return __init__


class BaseQuantizedModel(BaseEstimator):
    """Base of every model: the wrapped estimator, fit, quantization, compile, FHE modes.

    Subclasses set ``sklearn_class`` (the wrapped estimator); their ``__init__``, generated from
    its signature when they set it (``_make_init``), takes its arguments as it takes them, plus
    ours, keyword-only: ``_own_defaults`` (name: default; ``_own_params`` is derived from it)
    and ``_own_docs`` (name: what it is, for the generated docstring), declared by the family
    bases. Each argument is stored as an attribute of the same name. Subclasses define:

    - ``_parse_own_params()``: our parameters, checked (at fit: set_params does not check);
    - ``_make_state(sklearn_model, X, options)``: the fitted state (immutable; attributes
      sklearn_model, quantized, n_features and circuit, method fitted_attribute(name)) of a
      fitted wrapped model, its quantizers calibrated on X (float 2-D), options from
      _parse_own_params.
    """

    sklearn_class = None
    # The constructor arguments that are ours, not the wrapped estimator's (set by each family).
    _own_defaults = {}
    _own_docs = {}
    _own_params = ()
    # Tags where the model differs from the wrapped estimator (each with its reason where set).
    _tag_overrides = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._own_params = tuple(cls._own_defaults)
        if cls.__dict__.get("sklearn_class") is not None and "__init__" not in cls.__dict__:
            cls.__init__ = _make_init(cls)

    # ---- scikit-learn plumbing -------------------------------------------------------------

    def _sklearn_params(self):
        params = self.get_params(deep=False)
        for name in self._own_params:
            params.pop(name)
        return params

    def _more_tags(self):
        # The wrapped estimator's tags for these parameters (the data it accepts:
        # requires_positive_y, multioutput, ...), so that scikit-learn's checks and tools treat
        # both alike. Its expected check failures are its own, not forwarded.
        tags = self.sklearn_class(**self._sklearn_params())._get_tags()
        tags.pop("_xfail_checks", None)
        tags.update(self._tag_overrides)
        return tags

    @property
    def sklearn_model(self):
        """The fitted scikit-learn estimator (trained on float data) behind the quantized model."""
        state = self.__dict__.get("_fitted")
        if state is None:
            raise AttributeError(
                f"{type(self).__name__} has no sklearn_model: it is not fitted yet; call "
                f"fit(X, y) first"
            )
        return state.sklearn_model

    def __getattr__(self, name):
        # Fitted attributes: n_features_in_, then those of the wrapped model (coef_, intercept_,
        # classes_, n_iter_, ...).
        if name.endswith("_") and not name.startswith("__"):
            state = self.__dict__.get("_fitted")
            if state is not None:
                return state.fitted_attribute(name)
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r}: it is not fitted yet; call "
                f"fit(X, y) first"
            )
        if hasattr(type(self), name):
            # A class attribute whose getter raised AttributeError (e.g. predict_proba, which
            # exists only for some losses): raise its own message.
            return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_is_fitted__(self):
        return "_fitted" in self.__dict__

    # ---- training and quantization ---------------------------------------------------------

    def _fit_wrapped(self, X, y, fit_params):
        """A new wrapped estimator with this model's parameters, fitted on float data."""
        model = self.sklearn_class(**self._sklearn_params())
        model.fit(X, y, **fit_params)
        return model

    def fit(self, X, y, **fit_params):
        """Trains the wrapped estimator on float data, then quantizes the model.

        The input quantizers are calibrated on X (per feature, min/max). The parameters (n_bits
        included) are checked here: those set after a fit take effect at the next one.
        """
        options = self._parse_own_params()
        X = to_float_matrix(X)
        reject_complex(y, "y")
        model = self._fit_wrapped(X, y, fit_params)
        self._fitted = self._make_state(model, X, options)
        return self

    @classmethod
    def _accepts_model(cls, model):
        """Whether from_sklearn_model can wrap this (fitted or not) model."""
        return isinstance(model, cls.sklearn_class)

    @classmethod
    def _accepted_model_names(cls):
        return f"{cls.sklearn_class.__module__.split('.')[0]} {cls.sklearn_class.__name__}"

    @classmethod
    def from_sklearn_model(cls, sklearn_model, X=None, n_bits=None, **params):
        """A quantized model from an already fitted scikit-learn estimator.

        X (representative data, e.g. the training set) calibrates the input quantizers. n_bits:
        as in the constructor (None: its default); params: our other constructor arguments.
        """
        if not cls._accepts_model(sklearn_model):
            raise ValueError(
                f"{cls.__name__}.from_sklearn_model expects a fitted "
                f"{cls._accepted_model_names()}, got {type(sklearn_model).__name__}"
            )
        try:
            check_is_fitted(sklearn_model)
        except NotFittedError:
            raise NotFittedError(
                f"the {type(sklearn_model).__name__} passed to from_sklearn_model is not fitted; "
                f"call its fit(X, y) first"
            ) from None
        if X is None:
            raise ValueError(
                "from_sklearn_model needs X to calibrate the input quantizers: pass the "
                "training data (or representative samples)"
            )
        unknown = sorted(set(params) - set(cls._own_params))
        if unknown:
            raise TypeError(
                f"{cls.__name__}.from_sklearn_model got unexpected arguments {unknown}; it "
                f"takes the model, X and {', '.join(cls._own_params)}"
            )
        if n_bits is not None:
            params["n_bits"] = n_bits
        names = set(cls._get_param_names()) - set(cls._own_params)
        wrapped = sklearn_model.get_params(deep=False)
        model = cls(**params, **{k: v for k, v in wrapped.items() if k in names})
        model._fitted = model._make_state(
            copy.deepcopy(sklearn_model), to_float_matrix(X), model._parse_own_params()
        )
        return model

    # ---- compilation and inference ---------------------------------------------------------

    def _fitted_state(self, action):
        """The current fitted state (read once per call: fit may replace it meanwhile)."""
        state = self.__dict__.get("_fitted")
        if state is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call fit(X, y) before "
                f"{action} (or build one from a fitted {self._accepted_model_names()} with "
                f"{type(self).__name__}.from_sklearn_model(model, X))"
            )
        return state

    def _check_input(self, state, X):
        X = to_float_matrix(X)
        if X.shape[1] != state.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{state.n_features} features as input; pass data with the same columns as "
                f"at fit"
            )
        return X

    def _require_compiled(self, state, mode):
        if mode != "disable" and not state.quantized.is_compiled:
            raise NotCompiledError(
                f"This {type(self).__name__} is not compiled: call model.compile(X_train) "
                f"before predicting with fhe={mode!r} (fhe='disable' needs no compilation)"
            )

    def compile(self, X, p_error=None, global_p_error=None, verbose=False, progress=None, *,
                multi_parameter=True, multi_parameter_gain=None, grouping_factors=None,
                small_key_inputs=True):
        """Compiles the model to an FHE circuit and generates its keys.

        X: representative inputs (e.g. the training set). p_error: failure probability of each
        bootstrap; global_p_error: of a whole evaluation (set at most one). Returns the circuit.
        Predictions running meanwhile on other threads finish with the previous circuit and keys.
        Key generation that takes more than a few seconds shows a progress bar when stderr is a
        terminal (progress=False silences it, True forces it).
        multi_parameter: let lookups of different precisions get their own parameter sets
        (Concrete's multi-parameter optimization) when the cost model finds that at least
        multi_parameter_gain times cheaper (None: 1.15) than one set; False keeps a single set.
        grouping_factors: the blind rotations the optimizer weighs (1 classic, 2 to 4 multi-bit;
        None: [1, 2], classic or g = 2 by the cost model).
        small_key_inputs: let the client encrypt the inputs under the small key where they reach
        only linear operations and lookups (tree ensembles), whose lookups then skip the
        keyswitch, when the cost model finds it cheaper; False keeps them under the big key.
        """
        from torusml._quantized_module import KeygenProgress  # noqa: PLC0415

        state = self._fitted_state("compile()")
        X = self._check_input(state, X)
        with KeygenProgress(progress) as bar:
            state.quantized.compile(X, p_error=p_error, global_p_error=global_p_error,
                                    multi_parameter=multi_parameter,
                                    multi_parameter_gain=multi_parameter_gain,
                                    grouping_factors=grouping_factors,
                                    small_key_inputs=small_key_inputs, progress=bar.callback)
        circuit = state.circuit
        if verbose:
            print(circuit)
        return circuit

    @property
    def fhe_circuit(self):
        """The compiled circuit (print it for its statistics), or None before compile()."""
        state = self.__dict__.get("_fitted")
        return None if state is None else state.circuit

    @property
    def quantized_module(self):
        """The C++ quantized model (torusml.QuantizedLinear, torusml.QuantizedTreeEnsemble)."""
        return self._fitted_state("using the quantized module").quantized

    @property
    def input_quantizers(self):
        """One torusml.UniformQuantizer per feature."""
        return self.quantized_module.input_quantizers

    def quantize_input(self, X):
        """Quantized inputs: int64 array of shape (n_samples, n_features)."""
        state = self._fitted_state("quantize_input()")
        return state.quantized.quantize_input(self._check_input(state, X))


class BaseLinearModel(BaseQuantizedModel):
    """Base of every linear model.

    Subclasses set ``sklearn_class`` (the wrapped estimator); their constructor, the wrapped
    class's arguments plus ``n_bits``, is generated from its signature.
    """

    _own_defaults = {"n_bits": 8}
    _own_docs = {"n_bits": "int, or dict with 'op_inputs' and 'op_weights'"}

    def _parse_own_params(self):
        return parse_n_bits(self.n_bits)

    def _make_state(self, sklearn_model, X, bits):
        return _FittedState.calibrated_on(sklearn_model, X, bits)

    def __setstate__(self, state):
        # Pickles of the first layout (sklearn_model and _calibration_range as attributes, the
        # bit widths read from n_bits) load into the fitted state.
        if "_calibration_range" in state and "sklearn_model" in state:
            state = dict(state)
            state["_fitted"] = _FittedState(
                state.pop("sklearn_model"),
                state.pop("_calibration_range"),
                parse_n_bits(state.get("n_bits", 8)),
            )
            state.pop("_output_is_1d", None)
            state.pop("n_features_in_", None)
        super().__setstate__(state)

    @property
    def weight_quantizer(self):
        return self.quantized_module.weight_quantizer

    def dequantize_output(self, q_y):
        """Real outputs (before any link or post-processing) from the circuit's integer outputs."""
        quantized = self._fitted_state("dequantize_output()").quantized
        q_y = numpy.asarray(q_y)
        n_outputs = quantized.n_outputs
        y = quantized.dequantize_output(q_y.reshape(-1, n_outputs))
        return y.ravel() if q_y.ndim == 1 and n_outputs == 1 else y

    def _linear_output(self, X, fhe, execute_in_fhe):
        """(state, x @ W + b of its quantized model as (n_samples, n_outputs)): one C++ call.

        The fitted state is returned with the output so that post-processing reads the same one.
        """
        mode = resolve_fhe_mode(fhe, execute_in_fhe)
        state = self._fitted_state(f"predicting (fhe={mode!r})")
        X = self._check_input(state, X)
        self._require_compiled(state, mode)
        return state, state.quantized.predict(X, mode)


class LinearRegressorBase(RegressorMixin, BaseLinearModel):
    """Regressors: the dequantized output, through the inverse link (identity unless set)."""

    def _link(self, sklearn_model):
        """The inverse link to apply for this fitted scikit-learn model."""
        return "identity"

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Predictions of the quantized model (fhe: 'disable', 'simulate' or 'execute')."""
        state, y = self._linear_output(X, fhe, execute_in_fhe)
        link = self._link(state.sklearn_model)
        if link != "identity":
            y = _core.apply_inverse_link(y, link)
        return y.ravel() if state.output_is_1d else y


class LinearClassifierBase(ClassifierMixin, BaseLinearModel):
    """Classifiers: decision values, probabilities and class labels."""

    def decision_function(self, X, fhe="disable", execute_in_fhe=False):
        """Dequantized decision values: (n_samples,) for 2 classes, else (n_samples, n_classes)."""
        _, scores = self._linear_output(X, fhe, execute_in_fhe)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Class labels (those of classes_, strings included)."""
        state, scores = self._linear_output(X, fhe, execute_in_fhe)
        if scores.shape[1] == 1:
            indices = (scores[:, 0] > 0).astype(numpy.int64)
        else:
            indices = _core.argmax(scores)
        return state.sklearn_model.classes_[indices]

    def _logistic_proba(self, scores, multinomial):
        """scikit-learn's probabilities for logistic decision values (binary, OvR, softmax)."""
        if multinomial:
            if scores.shape[1] == 1:
                scores = numpy.hstack([-scores, scores])
            return _core.softmax(scores)
        probabilities = _core.sigmoid(scores)
        if scores.shape[1] == 1:
            return numpy.hstack([1.0 - probabilities, probabilities])
        return _core.normalize_rows(probabilities)
