"""scikit-learn-style models compiled to FHE.

Every class mirrors its scikit-learn namesake (same constructor arguments, plus ``n_bits``) and
adds ``compile(X)`` and ``predict(X, fhe="disable" | "simulate" | "execute")``.
"""

from torusml._errors import NotCompiledError
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

__all__ = [
    "ElasticNet",
    "GammaRegressor",
    "Lasso",
    "LinearRegression",
    "LinearSVC",
    "LinearSVR",
    "LogisticRegression",
    "NotCompiledError",
    "PoissonRegressor",
    "Ridge",
    "SGDClassifier",
    "SGDRegressor",
    "TweedieRegressor",
]
