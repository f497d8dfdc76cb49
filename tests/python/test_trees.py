"""Tree models in FHE: for every class, encrypted predictions equal the clear quantized ones on
every test sample (real keys), simulation equals the clear mode, the trees' sum under encryption
(fhe_sum=True) equals the sum after decryption, the quantized model takes the float model's
decisions on inputs of the quantization grid, and accuracy stays close to the float model's.

The models are small (depth 2, 3 trees) so that real encryption stays quick on 2 cores.
"""

import numpy
import pytest
from conftest import TREE_CLASSIFIERS, TREE_MODELS, TREE_REGRESSORS, small_tree
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

from torusml import sklearn as tml

ENSEMBLES = [tml.RandomForestClassifier, tml.XGBClassifier, tml.RandomForestRegressor,
             tml.XGBRegressor]


def _ids(cls):
    return cls.__name__


def _data_for(cls, request, multiclass=False):
    if cls in TREE_CLASSIFIERS:
        return request.getfixturevalue("multiclass_data" if multiclass else "binary_data")
    return request.getfixturevalue("regression_data")


@pytest.mark.parametrize("cls", TREE_CLASSIFIERS, ids=_ids)
@pytest.mark.parametrize("data", ["binary_data", "multiclass_data"])
def test_classifier_execute_equals_clear(cls, data, request):
    x_train, x_test, y_train, _ = request.getfixturevalue(data)
    model = small_tree(cls).fit(x_train, y_train)
    labels, probabilities = model.predict(x_test), model.predict_proba(x_test)
    assert probabilities.shape == (len(x_test), len(numpy.unique(y_train)))
    model.compile(x_train)
    # One encrypted run over every test sample: probabilities equal bit for bit (the labels
    # follow from them), then the other entry points on a few samples.
    numpy.testing.assert_array_equal(model.predict_proba(x_test, fhe="execute"), probabilities)
    numpy.testing.assert_array_equal(model.predict(x_test[:6], fhe="execute"), labels[:6])
    numpy.testing.assert_array_equal(model.predict(x_test[:3], execute_in_fhe=True), labels[:3])
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="simulate"), labels)
    numpy.testing.assert_array_equal(model.predict_proba(x_test, fhe="simulate"), probabilities)


@pytest.mark.parametrize("cls", TREE_REGRESSORS, ids=_ids)
def test_regressor_execute_equals_clear(cls, regression_data):
    x_train, x_test, y_train, _ = regression_data
    model = small_tree(cls).fit(x_train, y_train)
    clear = model.predict(x_test)
    assert clear.shape == (len(x_test),) and clear.dtype == numpy.float64
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), clear)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="simulate"), clear)
    numpy.testing.assert_array_equal(model.predict(x_test[:2], execute_in_fhe=True), clear[:2])


@pytest.mark.parametrize("cls", [tml.DecisionTreeRegressor, tml.RandomForestRegressor], ids=_ids)
def test_multi_output_regression(cls, multi_output_data):
    x_train, x_test, y_train, _ = multi_output_data
    model = small_tree(cls, max_depth=3).fit(x_train, y_train)
    clear = model.predict(x_test)
    assert clear.shape == (len(x_test), 3)
    # Within a leaf step per tree and output of the float model (decisions equal away from the
    # thresholds: the test inputs are not on the grid, so allow a few to differ).
    steps = numpy.array([q.scale for q in model.leaf_quantizers])
    close = numpy.abs(clear - model.sklearn_model.predict(x_test)) <= steps + 1e-9
    assert close.all(axis=1).mean() > 0.8
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test[:8], fhe="execute"), clear[:8])


def test_multi_output_classification(multi_output_data):
    # scikit-learn's trees and forests take several targets (here of 2, 3 and 1 classes).
    x_train, x_test, y_train, _ = multi_output_data
    y = numpy.stack(
        [y_train[:, 0] > 0, numpy.digitize(y_train[:, 1], [-50, 50]), numpy.zeros(len(y_train))],
        axis=1,
    ).astype(int)
    model = small_tree(tml.RandomForestClassifier, max_depth=3).fit(x_train, y)
    labels, probabilities = model.predict(x_test), model.predict_proba(x_test)
    assert labels.shape == (len(x_test), 3)
    assert [p.shape[1] for p in probabilities] == [2, 3, 1]
    assert model.quantized_module.n_outputs == 1 + 3 + 1  # two classes: one output
    for k, p in enumerate(probabilities):
        numpy.testing.assert_array_equal(labels[:, k], model.classes_[k][p.argmax(axis=1)])
    model.compile(x_train)
    executed = model.predict_proba(x_test[:5], fhe="execute")
    for p, expected in zip(executed, probabilities):
        numpy.testing.assert_array_equal(p, expected[:5])


@pytest.mark.parametrize("cls", TREE_CLASSIFIERS, ids=_ids)
def test_string_labels(cls, binary_data, multiclass_data):
    for x_train, x_test, y_train, _ in (binary_data, multiclass_data):
        names = numpy.array(["cat", "dog", "bird"])[: len(numpy.unique(y_train))]
        model = small_tree(cls).fit(x_train, names[y_train])
        numpy.testing.assert_array_equal(model.classes_, numpy.sort(names))
        clear = model.predict(x_test)
        assert clear.dtype.kind in "US"
        numbered = small_tree(cls).fit(x_train, y_train)
        # The same trees as with integer labels (sorted names: classes in another order).
        order = numpy.argsort(names)
        numpy.testing.assert_allclose(
            model.predict_proba(x_test), numbered.predict_proba(x_test)[:, order], atol=1e-12
        )
        if len(names) == 2:
            model.compile(x_train)
            numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"), clear[:4])


@pytest.mark.parametrize("cls", ENSEMBLES, ids=_ids)
def test_sum_under_encryption_equals_sum_after_decryption(cls, request):
    x_train, x_test, y_train, _ = _data_for(cls, request, multiclass=True)
    per_tree = small_tree(cls).fit(x_train, y_train)
    summed = small_tree(cls, fhe_sum=True).fit(x_train, y_train)
    n_trees = per_tree.quantized_module.n_trees
    assert n_trees >= 3 and summed.quantized_module.fhe_sum
    q_x = per_tree.quantize_input(x_test)
    numpy.testing.assert_array_equal(summed.quantize_input(x_test), q_x)
    trees = per_tree.quantized_module.run_integer(q_x)
    total = summed.quantized_module.run_integer(q_x)
    assert trees.shape[:2] == (len(x_test), n_trees) and total.shape[:2] == (len(x_test), 1)
    numpy.testing.assert_array_equal(total[:, 0], trees.sum(axis=1))
    numpy.testing.assert_array_equal(per_tree.dequantize_output(trees),
                                     summed.dequantize_output(total))
    method = "predict_proba" if cls in TREE_CLASSIFIERS else "predict"
    expected = getattr(per_tree, method)(x_test)
    numpy.testing.assert_array_equal(getattr(summed, method)(x_test), expected)
    summed.compile(x_train)
    numpy.testing.assert_array_equal(getattr(summed, method)(x_test[:6], fhe="execute"),
                                     expected[:6])
    assert summed.quantized_module.run_integer(q_x[:2], "execute").shape[1] == 1


def _grid_inputs(model, x, n_random=400, seed=0):
    """Inputs on the quantization grid: the test samples snapped to it (dequantize(quantize(x)))
    and random grid points over the whole range of every feature."""
    quantizers = model.input_quantizers
    q = model.quantize_input(x)
    rng = numpy.random.default_rng(seed)
    q_random = numpy.stack(
        [rng.integers(qz.q_min, qz.q_max + 1, n_random) for qz in quantizers], axis=1
    )
    q = numpy.vstack([q, q_random])
    grid = numpy.stack([qz.dequantize(q[:, j]) for j, qz in enumerate(quantizers)], axis=1)
    numpy.testing.assert_array_equal(model.quantize_input(grid), q)  # on the grid indeed
    return grid


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_grid_inputs_take_the_float_models_decisions(cls, request):
    # With 16-bit leaves the quantized leaf values are within a step (range / 65535) of the float
    # ones, so a single wrong decision (another leaf) would show; the thresholds are the only
    # thing mapped, and on grid inputs they decide exactly as the float ones.
    x_train, x_test, y_train, _ = _data_for(cls, request, multiclass=True)
    model = small_tree(cls, max_depth=4, n_bits={"op_inputs": 6, "op_leaves": 16})
    model.fit(x_train, y_train)
    grid = _grid_inputs(model, x_test)
    n_trees = model.quantized_module.n_trees
    steps = numpy.array([q.scale for q in model.leaf_quantizers])
    if cls in TREE_CLASSIFIERS:
        float_proba = model.sklearn_model.predict_proba(grid)
        proba = model.predict_proba(grid)
        # Forests: the average of errors of half a step; XGBoost: probabilities of margins off by
        # n_trees * step / 2 at most.
        tolerance = n_trees * steps.max() + 1e-6
        numpy.testing.assert_allclose(proba, float_proba, atol=tolerance, rtol=0)
        ranked = numpy.sort(float_proba, axis=1)
        decided = ranked[:, -1] - ranked[:, -2] > 2 * tolerance  # no tie within the error
        assert decided.mean() > 0.9
        float_labels = model.classes_[float_proba.argmax(axis=1)]
        numpy.testing.assert_array_equal(model.predict(grid)[decided], float_labels[decided])
    else:
        numpy.testing.assert_allclose(
            model.predict(grid), model.sklearn_model.predict(grid),
            atol=n_trees * steps.max() + 1e-3, rtol=0,
        )
    # At the default n_bits (6-bit leaves), the labels still agree wherever the float model's
    # choice is not within the leaf quantization error.
    if cls in TREE_CLASSIFIERS:
        model = small_tree(cls, max_depth=4).fit(x_train, y_train)
        grid = _grid_inputs(model, x_test)
        float_proba = numpy.sort(model.sklearn_model.predict_proba(grid), axis=1)
        clear_choice = float_proba[:, -1] - float_proba[:, -2] > 0.1
        assert clear_choice.mean() > 0.8
        float_labels = model.sklearn_model.predict(grid)
        if cls is tml.XGBClassifier:
            float_labels = model.classes_[float_labels]
        numpy.testing.assert_array_equal(model.predict(grid)[clear_choice],
                                         float_labels[clear_choice])


# Modest models, as in the benchmark (bench/ml_trees.py), at the default n_bits=6.
ACCURACY_MODELS = {
    tml.DecisionTreeClassifier: {"max_depth": 4},
    tml.RandomForestClassifier: {"n_estimators": 10, "max_depth": 4},
    tml.XGBClassifier: {"n_estimators": 10, "max_depth": 3},
    tml.DecisionTreeRegressor: {"max_depth": 4},
    tml.RandomForestRegressor: {"n_estimators": 10, "max_depth": 4},
    tml.XGBRegressor: {"n_estimators": 10, "max_depth": 3},
}


def _float_score(model, metric, x_test, y_test):
    y = model.sklearn_model.predict(x_test)
    if isinstance(model, tml.XGBClassifier):  # trained on encoded labels
        y = model.classes_[y]
    return metric(y_test, y)


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_accuracy_close_to_the_float_model(cls):
    # Over 5 splits of each dataset (one test sample of iris is 2.2 points, of breast cancer 0.6):
    # on average within one point of accuracy (R^2 within 0.02), never more than 3 points off.
    # The clear quantized mode is what FHE computes (test_*_execute_equals_clear).
    loaders = [load_breast_cancer, load_iris] if cls in TREE_CLASSIFIERS else [load_diabetes]
    metric, tolerance = (accuracy_score, 0.01) if cls in TREE_CLASSIFIERS else (r2_score, 0.02)
    for loader in loaders:
        x, y = loader(return_X_y=True)
        losses = []
        for seed in range(5):
            x_train, x_test, y_train, y_test = train_test_split(
                x, y, test_size=0.3, random_state=seed
            )
            model = cls(random_state=0, **ACCURACY_MODELS[cls]).fit(x_train, y_train)
            quantized = metric(y_test, model.predict(x_test))
            losses.append(_float_score(model, metric, x_test, y_test) - quantized)
        assert numpy.mean(losses) <= tolerance, (loader.__name__, losses)
        assert max(losses) <= 0.03, (loader.__name__, losses)
