"""scikit-learn's own estimator test suite (sklearn.utils.estimator_checks) on every estimator of
torusml.sklearn, found by introspection: an estimator added later joins this test by itself.

The checks exercise the scikit-learn contract (fit, predict, score, parameters, cloning, pickling,
input validation and its error messages, tags) in the clear quantized mode, the one predict uses
by default; FHE simulation and execution are compared with it in test_encrypted_equals_clear.py.
The whole suite runs in seconds: the checks never call compile (no keys are generated).

An expected failure is allowed only where FHE makes a check meaningless. Each one goes into
EXPECTED_FAILED_CHECKS with its reason, keyed by estimator class name ("*" for all) and check
name; such a check still runs, is reported as xfail with the reason when it fails, and fails the
test when it passes, so that the list never outlives its reason. Today no check needs it.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from torusml import sklearn as tml

ESTIMATORS = [
    cls
    for _, cls in sorted(inspect.getmembers(tml, inspect.isclass))
    if issubclass(cls, BaseEstimator)
]

# {estimator class name or "*": {check name: why FHE makes this check meaningless}}
EXPECTED_FAILED_CHECKS = {}

# Arguments an estimator requires (no default, as in Concrete ML): given to the checked instance.
REQUIRED_ARGUMENTS = {
    "NeuralNetClassifier": {"module__n_layers": 2},
    "NeuralNetRegressor": {"module__n_layers": 2},
}


def _instance(cls):
    return cls(**REQUIRED_ARGUMENTS.get(cls.__name__, {}))


def _check_name(check):
    return getattr(check, "func", check).__name__


def _expected_failure(estimator, check):
    name = _check_name(check)
    for key in (type(estimator).__name__, "*"):
        reason = EXPECTED_FAILED_CHECKS.get(key, {}).get(name)
        if reason is not None:
            return reason
    return None


def test_every_estimator_is_checked():
    assert len(ESTIMATORS) >= 12
    assert {cls.__name__ for cls in ESTIMATORS} == set(tml.__all__) - {"NotCompiledError"}
    names = {cls.__name__ for cls in ESTIMATORS}
    assert set(REQUIRED_ARGUMENTS) <= names
    for key, checks in EXPECTED_FAILED_CHECKS.items():
        assert key == "*" or key in names, f"EXPECTED_FAILED_CHECKS names no estimator {key!r}"
        assert all(isinstance(reason, str) and reason for reason in checks.values())


def test_wrapped_estimators_tags_are_forwarded():
    # Except the tags a wrapper declares in _tag_overrides, each with its reason there (XGBoost's
    # allow_nan and no_validation describe its missing-value handling, which FHE models refuse).
    for cls in ESTIMATORS:
        ours = cls()._get_tags()
        theirs = cls.sklearn_class()._get_tags()
        theirs.pop("_xfail_checks", None)
        overrides = getattr(cls, "_tag_overrides", {})
        assert all(theirs[k] != v for k, v in overrides.items()), cls.__name__
        theirs.update(overrides)
        assert {k: ours[k] for k in theirs} == theirs, cls.__name__
    assert tml.PoissonRegressor()._get_tags()["requires_positive_y"]
    assert tml.GammaRegressor()._get_tags()["requires_positive_y"]
    assert tml.LinearRegression()._get_tags()["multioutput"]
    assert tml.RandomForestClassifier()._get_tags()["multioutput"]
    assert not tml.XGBRegressor()._get_tags()["allow_nan"]


@parametrize_with_checks([_instance(cls) for cls in ESTIMATORS])
def test_sklearn_estimator_checks(estimator, check):
    reason = _expected_failure(estimator, check)
    if reason is None:
        check(estimator)
        return
    try:
        check(estimator)
    except Exception:  # noqa: BLE001 - any failure of a listed check is the expected one
        pytest.xfail(reason)
    pytest.fail(
        f"{_check_name(check)} passes for {type(estimator).__name__}: remove it from "
        f"EXPECTED_FAILED_CHECKS"
    )
