"""Shared data and model lists of the pytest suite (real keys and real encryption everywhere)."""

import warnings

import numpy
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from torusml import sklearn as tml

CLASSIFIERS = [tml.LogisticRegression, tml.LinearSVC, tml.SGDClassifier]
REGRESSORS = [
    tml.LinearRegression,
    tml.Ridge,
    tml.Lasso,
    tml.ElasticNet,
    tml.LinearSVR,
    tml.SGDRegressor,
    tml.PoissonRegressor,
    tml.GammaRegressor,
    tml.TweedieRegressor,
]
# Models whose target must be positive (log link).
POSITIVE_TARGET = {tml.PoissonRegressor, tml.GammaRegressor}
MULTI_OUTPUT_REGRESSORS = [tml.LinearRegression, tml.Ridge, tml.Lasso, tml.ElasticNet]

# Tree models (the lists above are the linear ones).
TREE_CLASSIFIERS = [tml.DecisionTreeClassifier, tml.RandomForestClassifier, tml.XGBClassifier]
TREE_REGRESSORS = [tml.DecisionTreeRegressor, tml.RandomForestRegressor, tml.XGBRegressor]
TREE_MODELS = TREE_CLASSIFIERS + TREE_REGRESSORS


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def make_model(cls, **kwargs):
    """An instance with a fixed random_state where the model has one."""
    if "random_state" in cls().get_params():
        kwargs.setdefault("random_state", 0)
    return cls(**kwargs)


def small_tree(cls, max_depth=2, n_estimators=3, **kwargs):
    """A small tree model (FHE execution stays quick): depth 2, 3 trees for ensembles."""
    kwargs.setdefault("random_state", 0)
    if "n_estimators" in cls().get_params():
        kwargs.setdefault("n_estimators", n_estimators)
    return cls(max_depth=max_depth, **kwargs)


def split(x, y):
    return train_test_split(x, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="session")
def binary_data():
    x, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, class_sep=1.5, random_state=1
    )
    return split(x, y)


@pytest.fixture(scope="session")
def multiclass_data():
    x, y = make_classification(
        n_samples=300,
        n_features=8,
        n_informative=5,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=2,
    )
    return split(x, y)


@pytest.fixture(scope="session")
def regression_data():
    x, y = make_regression(n_samples=240, n_features=7, noise=5.0, random_state=3)
    return split(x, y)


@pytest.fixture(scope="session")
def positive_regression_data():
    x, y = make_regression(n_samples=240, n_features=7, noise=5.0, random_state=4)
    y = numpy.exp((y - y.mean()) / y.std())  # positive, log-linear in x
    return split(x, y)


@pytest.fixture(scope="session")
def multi_output_data():
    x, y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=2.0, random_state=5)
    return split(x, y)


def regression_data_for(cls, regression_data, positive_regression_data):
    return positive_regression_data if cls in POSITIVE_TARGET else regression_data
