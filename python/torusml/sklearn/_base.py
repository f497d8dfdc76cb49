"""Shared plumbing of the scikit-learn-style linear models (private).

Every model wraps a scikit-learn estimator (``sklearn_model``) trained on float data, then
quantizes its weights and inputs into a :class:`torusml.QuantizedLinear` (C++), which compiles to
FHE and runs whole batches in one call. Python only validates inputs, parses parameters, maps
class labels and calls the C++ core.
"""

import copy
import numbers

import numpy
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError

from torusml import _core
from torusml._errors import NotCompiledError

MAX_N_BITS = 16
FHE_MODES = ("disable", "simulate", "execute")
_N_BITS_KEYS = ("op_inputs", "op_weights")


def parse_n_bits(n_bits):
    """Returns (input_bits, weight_bits) from an int or a dict with op_inputs and op_weights."""
    if isinstance(n_bits, dict):
        unknown = sorted(set(n_bits) - set(_N_BITS_KEYS))
        missing = [k for k in _N_BITS_KEYS if k not in n_bits]
        if unknown or missing:
            raise ValueError(
                f"n_bits as a dict must have exactly the keys 'op_inputs' and 'op_weights' "
                f"(got {sorted(n_bits)}), e.g. n_bits={{'op_inputs': 8, 'op_weights': 6}}"
            )
        return tuple(_check_bits(n_bits[k], f"n_bits['{k}']") for k in _N_BITS_KEYS)
    bits = _check_bits(n_bits, "n_bits")
    return bits, bits


def _check_bits(value, name):
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer between 1 and {MAX_N_BITS} (or, for n_bits, a dict "
            f"{{'op_inputs': int, 'op_weights': int}}), got {value!r}"
        )
    if not 1 <= int(value) <= MAX_N_BITS:
        raise ValueError(
            f"{name} = {int(value)} is out of range: use an integer between 1 and "
            f"{MAX_N_BITS} (8 is a good default)"
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


def to_float_matrix(X, what="X"):
    """X (numpy array, list, pandas DataFrame, sparse matrix) as a C-contiguous float64 2-D array.

    Raises ValueError with what to do for non-numeric data, wrong dimensions, no samples, NaN or
    infinities.
    """
    if hasattr(X, "toarray"):  # scipy sparse
        X = X.toarray()
    if hasattr(X, "to_numpy"):  # pandas DataFrame or Series
        X = X.to_numpy()
    try:
        arr = numpy.asarray(X, dtype=numpy.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{what} must hold numbers only; encode categorical columns first "
            f"(e.g. with sklearn.preprocessing.OneHotEncoder): {error}"
        ) from None
    if arr.ndim != 2:
        hint = (
            "reshape it with X.reshape(-1, 1) if it has a single feature, or X.reshape(1, -1) "
            "if it is a single sample"
            if arr.ndim == 1
            else "pass a table of shape (n_samples, n_features)"
        )
        raise ValueError(f"{what} must be a 2-D array, got {arr.ndim} dimension(s); {hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{what} has 0 samples: pass at least one sample")
    if arr.shape[1] == 0:
        raise ValueError(f"{what} has 0 features: pass at least one feature")
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


class BaseLinearModel(BaseEstimator):
    """Base of every linear model: fit, quantization, compile, FHE modes.

    Subclasses set ``sklearn_class`` (the wrapped estimator) and define ``__init__`` with
    scikit-learn's arguments plus ``n_bits``, stored as attributes of the same names.
    """

    sklearn_class = None

    # ---- scikit-learn plumbing -------------------------------------------------------------

    def _sklearn_params(self):
        params = self.get_params(deep=False)
        params.pop("n_bits")
        return params

    def __getattr__(self, name):
        # Fitted attributes of the wrapped model (coef_, intercept_, classes_, n_iter_, ...).
        if name.endswith("_") and not name.startswith("__"):
            model = self.__dict__.get("sklearn_model")
            if model is not None:
                return getattr(model, name)
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
        return "_quantized" in self.__dict__

    def __getstate__(self):
        # The C++ model is rebuilt from the wrapped estimator and the calibration range; a
        # compiled circuit and its keys are not pickled (compile again after unpickling).
        state = self.__dict__.copy()
        state.pop("_quantized", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_calibration_range" in state and "sklearn_model" in state:
            self._build_quantized(self._calibration_range)

    # ---- training and quantization ---------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Trains the wrapped scikit-learn estimator on float data, then quantizes the model.

        The input quantizers are calibrated on X (per feature, min/max).
        """
        parse_n_bits(self.n_bits)
        X = to_float_matrix(X)
        model = self.sklearn_class(**self._sklearn_params())
        model.fit(X, y, **fit_params)
        self._set_fitted_model(model, X)
        return self

    @classmethod
    def from_sklearn_model(cls, sklearn_model, X=None, n_bits=8):
        """A quantized model from an already fitted scikit-learn estimator.

        X (representative data, e.g. the training set) calibrates the input quantizers.
        """
        if not isinstance(sklearn_model, cls.sklearn_class):
            raise ValueError(
                f"{cls.__name__}.from_sklearn_model expects a fitted "
                f"sklearn {cls.sklearn_class.__name__}, got {type(sklearn_model).__name__}"
            )
        if not hasattr(sklearn_model, "coef_"):
            raise NotFittedError(
                f"the {type(sklearn_model).__name__} passed to from_sklearn_model is not fitted; "
                f"call its fit(X, y) first"
            )
        if X is None:
            raise ValueError(
                "from_sklearn_model needs X to calibrate the input quantizers: pass the "
                "training data (or representative samples)"
            )
        parse_n_bits(n_bits)
        names = set(cls._get_param_names()) - {"n_bits"}
        params = sklearn_model.get_params(deep=False)
        model = cls(n_bits=n_bits, **{k: v for k, v in params.items() if k in names})
        model._set_fitted_model(copy.deepcopy(sklearn_model), to_float_matrix(X))
        return model

    def _set_fitted_model(self, sklearn_model, X):
        self.sklearn_model = sklearn_model
        n_features = numpy.asarray(sklearn_model.coef_).shape[-1]
        if X.shape[1] != n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the fitted model has {n_features}; pass "
                f"data with the columns the model was trained on"
            )
        self._calibration_range = numpy.vstack([X.min(axis=0), X.max(axis=0)])
        self._build_quantized(self._calibration_range)
        self.n_features_in_ = n_features

    def _build_quantized(self, calibration):
        input_bits, weight_bits = parse_n_bits(self.n_bits)
        coef = numpy.asarray(self.sklearn_model.coef_, dtype=numpy.float64)
        n_features = coef.shape[-1]
        weights = coef.reshape(-1, n_features).T
        intercept = numpy.asarray(getattr(self.sklearn_model, "intercept_", 0.0), numpy.float64)
        bias = numpy.broadcast_to(numpy.atleast_1d(intercept), (weights.shape[1],)).copy()
        self._output_is_1d = coef.ndim == 1
        self._quantized = _core.QuantizedLinear(
            numpy.ascontiguousarray(weights),
            bias,
            calibration,
            input_bits=input_bits,
            weight_bits=weight_bits,
        )

    # ---- compilation and inference ---------------------------------------------------------

    def _check_fitted(self, action):
        if "_quantized" not in self.__dict__:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: call fit(X, y) before "
                f"{action} (or build one from a fitted scikit-learn model with "
                f"{type(self).__name__}.from_sklearn_model(model, X))"
            )

    def _check_input(self, X):
        X = to_float_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input; pass data with the same columns as "
                f"at fit"
            )
        return X

    def compile(self, X, p_error=None, global_p_error=None, verbose=False):
        """Compiles the model to an FHE circuit and generates its keys.

        X: representative inputs (e.g. the training set). p_error: failure probability of each
        bootstrap; global_p_error: of a whole evaluation (set at most one). Returns the circuit.
        """
        self._check_fitted("compile()")
        X = self._check_input(X)
        self._quantized.compile(X, p_error=p_error, global_p_error=global_p_error)
        if verbose:
            print(self.fhe_circuit)
        return self.fhe_circuit

    @property
    def fhe_circuit(self):
        """The compiled circuit (print it for its statistics), or None before compile()."""
        quantized = self.__dict__.get("_quantized")
        return None if quantized is None else quantized.circuit

    @property
    def quantized_module(self):
        """The C++ quantized model (torusml.QuantizedLinear)."""
        self._check_fitted("using the quantized module")
        return self._quantized

    @property
    def input_quantizers(self):
        """One torusml.UniformQuantizer per feature."""
        return self.quantized_module.input_quantizers

    @property
    def weight_quantizer(self):
        return self.quantized_module.weight_quantizer

    def quantize_input(self, X):
        """Quantized inputs: int64 array of shape (n_samples, n_features)."""
        self._check_fitted("quantize_input()")
        return self._quantized.quantize_input(self._check_input(X))

    def dequantize_output(self, q_y):
        """Real outputs (before any link or post-processing) from the circuit's integer outputs."""
        self._check_fitted("dequantize_output()")
        q_y = numpy.asarray(q_y)
        n_outputs = self._quantized.n_outputs
        y = self._quantized.dequantize_output(q_y.reshape(-1, n_outputs))
        return y.ravel() if q_y.ndim == 1 and n_outputs == 1 else y

    def _linear_output(self, X, fhe, execute_in_fhe):
        """x @ W + b of the quantized model, (n_samples, n_outputs): one C++ call per batch."""
        mode = resolve_fhe_mode(fhe, execute_in_fhe)
        self._check_fitted(f"predicting (fhe={mode!r})")
        X = self._check_input(X)
        if mode != "disable" and not self._quantized.is_compiled:
            raise NotCompiledError(
                f"This {type(self).__name__} is not compiled: call model.compile(X_train) "
                f"before predicting with fhe={mode!r} (fhe='disable' needs no compilation)"
            )
        return self._quantized.predict(X, mode)


class LinearRegressorBase(RegressorMixin, BaseLinearModel):
    """Regressors: the dequantized output, through the inverse link (identity unless set)."""

    def _link(self):
        return "identity"

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Predictions of the quantized model (fhe: 'disable', 'simulate' or 'execute')."""
        y = self._linear_output(X, fhe, execute_in_fhe)
        link = self._link()
        if link != "identity":
            y = _core.apply_inverse_link(y, link)
        return y.ravel() if self._output_is_1d else y


class LinearClassifierBase(ClassifierMixin, BaseLinearModel):
    """Classifiers: decision values, probabilities and class labels."""

    def decision_function(self, X, fhe="disable", execute_in_fhe=False):
        """Dequantized decision values: (n_samples,) for 2 classes, else (n_samples, n_classes)."""
        scores = self._linear_output(X, fhe, execute_in_fhe)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X, fhe="disable", execute_in_fhe=False):
        """Class labels (those of classes_, strings included)."""
        scores = self._linear_output(X, fhe, execute_in_fhe)
        if scores.shape[1] == 1:
            indices = (scores[:, 0] > 0).astype(numpy.int64)
        else:
            indices = _core.argmax(scores)
        return self.classes_[indices]

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
