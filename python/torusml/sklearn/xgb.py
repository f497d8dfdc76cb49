"""Gradient-boosted trees of XGBoost (Debian's python3-xgboost), quantized and compiled to FHE.

Each class takes xgboost's constructor arguments plus ``n_bits`` (default 6) and ``fhe_sum``. The
trees are read from the fitted booster (split rule: left iff x < threshold; leaf values are
margins, each tree feeding its class); the FHE circuit computes the sum of the trees' margins,
and the base score, then the sigmoid (binary) or softmax (multi-class), are applied in the clear
after decryption. Supported: the tree boosters ('gbtree', 'dart'), numerical splits, objectives
binary:logistic, multi:softprob, multi:softmax and reg:squarederror (and the regression
objectives whose prediction is the margin: reg:squaredlogerror, reg:pseudohubererror,
reg:absoluteerror). Not supported, with a ValueError saying what to do: 'gblinear', categorical
splits, another ``missing`` value than NaN (NaN inputs are refused: FHE has no missing values).

XGBClassifier takes any labels (strings included): they are encoded to 0..n-1 for XGBoost.
"""

import numpy
from sklearn.utils.validation import column_or_1d

from torusml.sklearn._base import reject_complex, to_float_matrix
from torusml.sklearn._tree_base import (
    TreeClassifierBase,
    TreeRegressorBase,
    encode_labels,
    xgboost_trees,
)

try:
    import xgboost
except ImportError:  # pragma: no cover - python3-xgboost is a dependency of the package
    xgboost = None


class _XGBoostModel:
    """What the XGBoost wrappers share (a mixin ahead of the tree bases)."""

    _split_rule = "<"  # XGBoost: left iff x < threshold

    # XGBoost's tags describe XGBoost reading NaN as missing values and leaving the input checks
    # to its DMatrix; these models check their inputs and refuse NaN (there are no missing values
    # in FHE), and need y. scikit-learn's checks then test exactly that.
    _tag_overrides = {"allow_nan": False, "no_validation": False, "requires_y": True}

    @classmethod
    def _accepted_model_names(cls):
        return f"xgboost.{cls.sklearn_class.__name__}"


def _require_xgboost():
    if xgboost is None:
        raise ImportError(
            "XGBClassifier and XGBRegressor need XGBoost: install Debian's python3-xgboost "
            "(apt-get install python3-xgboost)"
        )


def _unavailable(name):
    """A stand-in for a class that needs XGBoost when it is not installed: it says so."""

    def __init__(self, *args, **kwargs):
        _require_xgboost()

    return type(name, (), {"__init__": __init__, "__doc__": f"{name}: needs python3-xgboost."})


class XGBClassifier(_XGBoostModel, TreeClassifierBase):
    """Gradient-boosted trees for classification (xgboost.XGBClassifier): binary and multi-class;
    predict_proba: sigmoid or softmax of the quantized margins."""

    sklearn_class = xgboost.XGBClassifier if xgboost is not None else None

    @staticmethod
    def _read_trees(sklearn_model, classes=None):
        return xgboost_trees(sklearn_model, is_classifier=True, classes=classes)

    def fit(self, X, y, **fit_params):
        """Trains xgboost.XGBClassifier on float data (labels encoded to 0..n-1), then quantizes
        the trees. The input quantizers are calibrated on X."""
        if y is None:  # scikit-learn's phrase
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        options = self._parse_own_params()
        X = to_float_matrix(X)
        reject_complex(y, "y")
        classes, encoded = encode_labels(y)
        eval_set = fit_params.get("eval_set")
        if eval_set is not None:  # its labels too
            fit_params = dict(fit_params)
            fit_params["eval_set"] = [(x, _encode_like(classes, y_eval)) for x, y_eval in eval_set]
        model = self.sklearn_class(**self._sklearn_params())
        model.fit(X, encoded, **fit_params)
        self._fitted = self._make_state(model, X, options, classes=classes)
        return self


def _encode_like(classes, y):
    """y's labels as indices into classes (those of the training labels)."""
    index = {label: i for i, label in enumerate(classes.tolist())}
    try:
        return numpy.array([index[label] for label in numpy.asarray(y).tolist()])
    except (KeyError, TypeError):
        raise ValueError(
            "eval_set holds labels that the training labels y do not have: pass validation "
            "labels of the same classes"
        ) from None


class XGBRegressor(_XGBoostModel, TreeRegressorBase):
    """Gradient-boosted trees for regression (xgboost.XGBRegressor)."""

    sklearn_class = xgboost.XGBRegressor if xgboost is not None else None

    @staticmethod
    def _read_trees(sklearn_model):
        return xgboost_trees(sklearn_model, is_classifier=False)

    def _fit_wrapped(self, X, y, fit_params):
        y = numpy.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
        if y.ndim == 2 and y.shape[1] == 1:  # one target, as a column: warn as scikit-learn
            y = column_or_1d(y, warn=True)
        return super()._fit_wrapped(X, y, fit_params)


if xgboost is None:  # the linear models and scikit-learn's trees still work
    XGBClassifier = _unavailable("XGBClassifier")  # noqa: F811
    XGBRegressor = _unavailable("XGBRegressor")  # noqa: F811
