"""scikit-learn-style models compiled to FHE.

Every class mirrors its scikit-learn namesake (same constructor arguments, plus ``n_bits``) and
adds ``compile(X)`` and ``predict(X, fhe="disable" | "simulate" | "execute")``. Each passes
scikit-learn's ``check_estimator``. A model can be shared between threads: predictions run in
parallel with each other and with ``compile`` (which swaps in the new circuit and keys when they
are ready) or ``fit``.
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
