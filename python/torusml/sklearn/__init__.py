"""scikit-learn-style models compiled to FHE.

Every class mirrors its scikit-learn (or XGBoost) namesake (same constructor arguments, plus
``n_bits``, and ``fhe_sum`` for the trees) and adds ``compile(X)`` and
``predict(X, fhe="disable" | "simulate" | "execute")``. Linear models: linear_model, svm; tree
models: tree, ensemble, xgb; built-in neural networks trained with quantization in the loop:
neural_net (NeuralNetClassifier, NeuralNetRegressor; imported on first use, as they load torch
and skorch). Each passes scikit-learn's ``check_estimator``. A model can be
shared between threads: predictions run in parallel with each other and with ``compile`` (which
swaps in the new circuit and keys when they are ready) or ``fit``.
"""

from torusml._errors import NotCompiledError
from torusml.sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from torusml.sklearn.linear_model import (
    ElasticNet,
    GammaRegressor,
    Lasso,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from torusml.sklearn.svm import LinearSVC, LinearSVR
from torusml.sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from torusml.sklearn.xgb import XGBClassifier, XGBRegressor

__all__ = [
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ElasticNet",
    "GammaRegressor",
    "Lasso",
    "LinearRegression",
    "LinearSVC",
    "LinearSVR",
    "LogisticRegression",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "NotCompiledError",
    "PoissonRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "Ridge",
    "SGDClassifier",
    "SGDRegressor",
    "TweedieRegressor",
    "XGBClassifier",
    "XGBRegressor",
]

# The neural networks import torch and skorch (seconds): loaded on first access.
_LAZY = {"NeuralNetClassifier": "neural_net", "NeuralNetRegressor": "neural_net"}


def __getattr__(name):
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
