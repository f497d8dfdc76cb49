"""Reading the trees (pure Python, no FHE): the arrays handed to the C++ core, evaluated in float
with the model's split rule and passed through the model's transform (average, base score,
sigmoid/softmax, class frequencies), reproduce the wrapped library's own predictions, for every
kind of model the wrappers accept."""

import numpy
import pytest
import sklearn.ensemble
import sklearn.tree
import xgboost
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    make_multilabel_classification,
    make_regression,
)

from torusml.sklearn._tree_base import sklearn_trees, xgboost_trees


def _evaluate(trees, x, rule):
    """The sum over the trees of the leaf values reached (float, as the libraries compare:
    float32 inputs)."""
    x32 = x.astype(numpy.float32)
    total = numpy.zeros((len(x), trees[0]["value"].shape[1]))
    for tree in trees:
        node = numpy.zeros(len(x), dtype=numpy.int64)
        for _ in range(len(tree["left"])):  # at most that many levels
            inner = tree["left"][node] >= 0
            if not inner.any():
                break
            feature = numpy.where(inner, tree["feature"][node], 0)
            value = x32[numpy.arange(len(x)), feature]
            threshold = tree["threshold"][node]
            if rule == "<":
                left = value < threshold.astype(numpy.float32)
            else:
                left = value <= threshold
            node = numpy.where(inner, numpy.where(left, tree["left"][node],
                                                  tree["right"][node]), node)
        total += tree["value"][node]
    return total


def _check_layout(trees):
    for tree in trees:
        n = len(tree["feature"])
        leaves = tree["left"] < 0
        assert all(len(tree[k]) == n for k in ("threshold", "left", "right", "value"))
        assert (tree["feature"][leaves] == -1).all() and (tree["right"][leaves] == -1).all()
        assert (tree["feature"][~leaves] >= 0).all()
        children = numpy.concatenate([tree["left"][~leaves], tree["right"][~leaves]])
        assert sorted(children) == list(range(1, n))  # every node reached once from node 0
        assert tree["value"].dtype == numpy.float64 and tree["value"].ndim == 2


_X_IRIS, _Y_IRIS = load_iris(return_X_y=True)
_X_CANCER, _Y_CANCER = load_breast_cancer(return_X_y=True)
_X_DIABETES, _Y_DIABETES = load_diabetes(return_X_y=True)
_X_LABELS, _Y_LABELS = make_multilabel_classification(80, 5, n_classes=3, random_state=0)
_X_TARGETS, _Y_TARGETS = make_regression(80, 4, n_targets=2, random_state=0)
# Three targets of 2, 3 and 1 classes, string labels for one.
_Y_MIXED = numpy.stack([_Y_LABELS[:, 0], numpy.array(["a", "b", "c"])[_Y_LABELS[:, 1] +
                        _Y_LABELS[:, 2]], 0 * _Y_LABELS[:, 2]], axis=1)

SKLEARN_CASES = {
    "tree binary": (sklearn.tree.DecisionTreeClassifier(max_depth=4), _X_CANCER, _Y_CANCER),
    "tree multi-class": (sklearn.tree.DecisionTreeClassifier(max_depth=3), _X_IRIS, _Y_IRIS),
    "tree class weights": (sklearn.tree.DecisionTreeClassifier(max_depth=3,
                           class_weight="balanced"), _X_IRIS, _Y_IRIS),
    "tree one class": (sklearn.tree.DecisionTreeClassifier(), _X_IRIS, 0 * _Y_IRIS),
    "tree multi-output": (sklearn.tree.DecisionTreeClassifier(max_depth=3), _X_LABELS, _Y_MIXED),
    "forest multi-class": (sklearn.ensemble.RandomForestClassifier(5, max_depth=3,
                           random_state=0), _X_IRIS, _Y_IRIS),
    "forest multi-label": (sklearn.ensemble.RandomForestClassifier(5, max_depth=3,
                           random_state=0), _X_LABELS, _Y_LABELS),
    "extra trees": (sklearn.ensemble.ExtraTreesClassifier(5, max_depth=4, random_state=0),
                    _X_IRIS, _Y_IRIS),
    "tree regression": (sklearn.tree.DecisionTreeRegressor(max_depth=4), _X_DIABETES,
                        _Y_DIABETES),
    "forest regression": (sklearn.ensemble.RandomForestRegressor(5, max_depth=4,
                          random_state=0), _X_DIABETES, _Y_DIABETES),
    "forest two targets": (sklearn.ensemble.RandomForestRegressor(5, max_depth=4,
                           random_state=0), _X_TARGETS, _Y_TARGETS),
}


@pytest.mark.parametrize("case", SKLEARN_CASES)
def test_scikit_learn_trees(case):
    model, x, y = SKLEARN_CASES[case]
    model.fit(x, y)
    is_classifier = sklearn.base.is_classifier(model)
    trees, transform = sklearn_trees(model, is_classifier)
    _check_layout(trees)
    assert len(trees) == len(getattr(model, "estimators_", [model]))
    outputs = _evaluate(trees, x, "<=")
    if is_classifier:
        ours = transform.probabilities(outputs)
        theirs = model.predict_proba(x)
        for p, expected in zip(ours, theirs if isinstance(theirs, list) else [theirs]):
            numpy.testing.assert_allclose(p, expected, atol=1e-12)
        labels = transform.labels(outputs)
        numpy.testing.assert_array_equal(labels, model.predict(x))
        assert labels.dtype == model.predict(x).dtype
    else:
        numpy.testing.assert_allclose(transform.regression(outputs), model.predict(x),
                                      rtol=1e-12)


def test_binary_classification_has_one_output_per_tree():
    model = sklearn.tree.DecisionTreeClassifier(max_depth=3).fit(_X_CANCER, _Y_CANCER)
    trees, _ = sklearn_trees(model, True)
    assert trees[0]["value"].shape[1] == 1  # the second class's frequency: half the lookups
    leaves = trees[0]["left"] < 0
    counts = model.tree_.value[leaves, 0]
    numpy.testing.assert_allclose(trees[0]["value"][leaves, 0], counts[:, 1] / counts.sum(1))


XGBOOST_CASES = {
    "binary": (xgboost.XGBClassifier(n_estimators=5, max_depth=3), _X_CANCER, _Y_CANCER, {}),
    "multi-class": (xgboost.XGBClassifier(n_estimators=4, max_depth=2), _X_IRIS, _Y_IRIS, {}),
    "softmax": (xgboost.XGBClassifier(n_estimators=4, max_depth=2, objective="multi:softmax"),
                _X_IRIS, _Y_IRIS, {}),
    "parallel trees": (xgboost.XGBClassifier(n_estimators=3, max_depth=2, num_parallel_tree=3,
                       subsample=0.7, random_state=0), _X_IRIS, _Y_IRIS, {}),
    "random forest": (xgboost.XGBRFClassifier(n_estimators=4, max_depth=3, random_state=0),
                      _X_CANCER, _Y_CANCER, {}),
    "dart": (xgboost.XGBClassifier(n_estimators=6, max_depth=2, booster="dart", rate_drop=0.3,
             random_state=0), _X_CANCER, _Y_CANCER, {}),
    "base score": (xgboost.XGBClassifier(n_estimators=3, max_depth=2, base_score=0.3),
                   _X_CANCER, _Y_CANCER, {}),
    "regression": (xgboost.XGBRegressor(n_estimators=5, max_depth=3), _X_DIABETES, _Y_DIABETES,
                   {}),
    "absolute error": (xgboost.XGBRegressor(n_estimators=5, max_depth=3,
                       objective="reg:absoluteerror"), _X_DIABETES, _Y_DIABETES, {}),
    # Validation targets shuffled: it stops after a few rounds, and predict uses only those.
    "early stopping": (xgboost.XGBRegressor(n_estimators=50, max_depth=3,
                       early_stopping_rounds=2), _X_DIABETES, _Y_DIABETES,
                       {"eval_set": [(_X_DIABETES[:60], _Y_DIABETES[60:120])], "verbose": False}),
    "two targets": (xgboost.XGBRegressor(n_estimators=4, max_depth=2, tree_method="hist"),
                    _X_TARGETS, _Y_TARGETS, {}),
}


@pytest.mark.parametrize("case", XGBOOST_CASES)
def test_xgboost_trees(case):
    model, x, y, fit_params = XGBOOST_CASES[case]
    model.fit(x, y, **fit_params)
    is_classifier = sklearn.base.is_classifier(model)
    trees, transform = xgboost_trees(model, is_classifier)
    _check_layout(trees)
    outputs = _evaluate(trees, x, "<")
    margins = transform.values(outputs)
    expected = model.predict(x, output_margin=True)
    scale = max(1.0, numpy.abs(expected).max())
    numpy.testing.assert_allclose(margins.reshape(expected.shape), expected, atol=2e-6 * scale)
    if is_classifier:
        numpy.testing.assert_allclose(transform.probabilities(outputs)[0], model.predict_proba(x),
                                      atol=1e-6)
        numpy.testing.assert_array_equal(transform.labels(outputs), model.predict(x))
    else:
        numpy.testing.assert_allclose(transform.regression(outputs), model.predict(x),
                                      atol=2e-6 * scale)
    if case == "early stopping":
        assert len(trees) == model.best_iteration + 1 < model.get_booster().num_boosted_rounds()


def test_multi_class_trees_feed_their_class():
    model = xgboost.XGBClassifier(n_estimators=2, max_depth=2).fit(_X_IRIS, _Y_IRIS)
    trees, _ = xgboost_trees(model, True)
    assert len(trees) == 6
    for i, tree in enumerate(trees):
        nonzero = numpy.flatnonzero(numpy.abs(tree["value"]).sum(axis=0))
        assert list(nonzero) == [i % 3]
