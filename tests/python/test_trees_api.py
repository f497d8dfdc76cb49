"""Tree models: scikit-learn integration (parameters, cloning, from_sklearn_model with
scikit-learn's and XGBoost's models, pickling, Pipeline, GridSearchCV, pandas), the circuit and
its lookup statistics, quantize/dequantize, and every misuse as a clear exception."""

import json
import pickle

import numpy
import pandas
import pytest
import sklearn.ensemble
import sklearn.tree
import xgboost
from conftest import TREE_CLASSIFIERS, TREE_MODELS, TREE_REGRESSORS, small_tree
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import torusml
from torusml import sklearn as tml

WRAPPED = {
    tml.DecisionTreeClassifier: sklearn.tree.DecisionTreeClassifier,
    tml.DecisionTreeRegressor: sklearn.tree.DecisionTreeRegressor,
    tml.RandomForestClassifier: sklearn.ensemble.RandomForestClassifier,
    tml.RandomForestRegressor: sklearn.ensemble.RandomForestRegressor,
    tml.XGBClassifier: xgboost.XGBClassifier,
    tml.XGBRegressor: xgboost.XGBRegressor,
}


def _ids(cls):
    return cls.__name__


def _data(cls, binary_data, regression_data):
    return binary_data if cls in TREE_CLASSIFIERS else regression_data


def _assert_same_params(ours, theirs):
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():  # nan (XGBoost's missing) is not equal to itself
        both_nan = isinstance(value, float) and numpy.isnan(value) and numpy.isnan(ours[name])
        assert both_nan or ours[name] == value, name


def _float_library_model(cls, **params):
    """The wrapped library's model with small_tree's parameters."""
    params.setdefault("random_state", 0)
    params.setdefault("max_depth", 2)
    if "n_estimators" in WRAPPED[cls]().get_params():
        params.setdefault("n_estimators", 3)
    return WRAPPED[cls](**params)


# ---- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_constructor_mirrors_the_wrapped_library(cls):
    assert cls.sklearn_class is WRAPPED[cls]
    ours = cls().get_params()
    assert ours.pop("n_bits") == 6 and ours.pop("fhe_sum") is False
    _assert_same_params(ours, WRAPPED[cls]().get_params())
    model = cls(n_bits={"op_inputs": 5, "op_leaves": 7}, max_depth=3)
    assert model.set_params(n_bits=4, fhe_sum=True) is model
    assert model.get_params()["n_bits"] == 4 and model.get_params()["fhe_sum"] is True
    assert clone(model).get_params() == model.get_params()
    assert cls.__name__ in repr(cls(n_bits=3)) and "n_bits=3" in repr(cls(n_bits=3))
    with pytest.raises(TypeError):
        cls(not_a_parameter=1)


def test_positional_arguments_as_in_scikit_learn():
    # RandomForest*'s n_estimators is positional in scikit-learn, the rest keyword-only.
    assert tml.RandomForestClassifier(7).n_estimators == 7
    with pytest.raises(TypeError):
        tml.RandomForestClassifier(7, "entropy")
    with pytest.raises(TypeError):
        tml.DecisionTreeClassifier("entropy")


def test_set_params_reaches_the_wrapped_model(binary_data):
    x_train, _, y_train, _ = binary_data
    model = tml.RandomForestClassifier(n_estimators=4).set_params(max_depth=2, criterion="entropy")
    model.fit(x_train, y_train)
    assert model.sklearn_model.criterion == "entropy"
    assert len(model.estimators_) == 4 and model.quantized_module.n_trees == 4
    assert max(e.get_depth() for e in model.estimators_) <= 2


def test_parameters_set_after_fit_take_effect_at_the_next_fit(regression_data):
    x_train, x_test, y_train, _ = regression_data
    model = small_tree(tml.RandomForestRegressor, n_bits=6).fit(x_train, y_train)
    fitted = model.predict(x_test)
    model.set_params(n_bits=2, fhe_sum=True, max_depth=1)
    numpy.testing.assert_array_equal(model.predict(x_test), fitted)
    restored = pickle.loads(pickle.dumps(model))
    numpy.testing.assert_array_equal(restored.predict(x_test), fitted)
    assert restored.quantized_module.n_bits == 6 and not restored.quantized_module.fhe_sum
    for refitted in (model.fit(x_train, y_train), restored.fit(x_train, y_train)):
        assert refitted.quantized_module.n_bits == 2 and refitted.quantized_module.fhe_sum
    # A dict changed in place after fit does not reach the fitted model either.
    bits = {"op_inputs": 5, "op_leaves": 7}
    model = small_tree(tml.DecisionTreeRegressor, n_bits=bits).fit(x_train, y_train)
    bits["op_inputs"] = 3
    assert (model.quantized_module.n_bits, model.quantized_module.leaf_bits) == (5, 7)


# ---- from_sklearn_model ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_from_sklearn_model(cls, binary_data, regression_data):
    x_train, x_test, y_train, _ = _data(cls, binary_data, regression_data)
    fitted = _float_library_model(cls).fit(x_train, y_train)
    model = cls.from_sklearn_model(fitted, x_train, n_bits=5)
    assert model.get_params()["n_bits"] == 5
    assert model.get_params()["max_depth"] == 2
    assert model.sklearn_model is not fitted  # a copy
    trained = small_tree(cls, n_bits=5).fit(x_train, y_train)
    numpy.testing.assert_array_equal(model.predict(x_test), trained.predict(x_test))
    default = cls.from_sklearn_model(fitted, x_train)
    assert default.get_params()["n_bits"] == 6 and default.quantized_module.n_bits == 6
    summed = cls.from_sklearn_model(fitted, x_train, fhe_sum=True)
    assert summed.quantized_module.fhe_sum
    numpy.testing.assert_array_equal(summed.predict(x_test), default.predict(x_test))


def test_from_xgboost_model_keeps_its_classes(multiclass_data):
    x_train, x_test, y_train, _ = multiclass_data
    fitted = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x_train, y_train)
    model = tml.XGBClassifier.from_sklearn_model(fitted, x_train)
    numpy.testing.assert_array_equal(model.classes_, fitted.classes_)
    agree = numpy.mean(model.predict(x_test) == fitted.predict(x_test))
    assert agree > 0.9
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"),
                                     model.predict(x_test[:4]))


def test_xgboost_fit_parameters_with_string_labels(multiclass_data):
    # fit's keyword arguments reach XGBoost; eval_set's labels are encoded like y's.
    x_train, x_test, y_train, y_test = multiclass_data
    names = numpy.array(["x", "y", "z"])
    model = tml.XGBClassifier(n_estimators=40, max_depth=2, early_stopping_rounds=3)
    shuffled = names[numpy.roll(y_test, 1)]  # validation loss rises soon: early stop
    model.fit(x_train, names[y_train], eval_set=[(x_test, shuffled)], verbose=False,
              sample_weight=numpy.ones(len(y_train)))
    booster = model.sklearn_model
    assert booster.best_iteration < 39
    assert model.quantized_module.n_trees == 3 * (booster.best_iteration + 1)
    assert set(model.predict(x_test)) <= set(names)
    with pytest.raises(ValueError, match="eval_set holds labels"):
        model.fit(x_train, names[y_train], eval_set=[(x_test, y_test)], verbose=False)


def test_from_sklearn_model_errors(binary_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match="expects a fitted sklearn DecisionTreeClassifier"):
        tml.DecisionTreeClassifier.from_sklearn_model(sklearn.tree.DecisionTreeRegressor(),
                                                      x_train)
    with pytest.raises(ValueError, match="expects a fitted xgboost.XGBClassifier"):
        tml.XGBClassifier.from_sklearn_model(sklearn.tree.DecisionTreeClassifier(), x_train)
    for unfitted, cls in ((sklearn.tree.DecisionTreeClassifier(), tml.DecisionTreeClassifier),
                          (xgboost.XGBClassifier(), tml.XGBClassifier)):
        with pytest.raises(NotFittedError, match="not fitted; call its fit"):
            cls.from_sklearn_model(unfitted, x_train)
    fitted = sklearn.tree.DecisionTreeClassifier(max_depth=2).fit(x_train, y_train)
    with pytest.raises(ValueError, match="calibrate"):
        tml.DecisionTreeClassifier.from_sklearn_model(fitted)
    with pytest.raises(ValueError, match="features"):
        tml.DecisionTreeClassifier.from_sklearn_model(fitted, x_train[:, :3])
    with pytest.raises(ValueError, match="between 1 and 8"):
        tml.DecisionTreeClassifier.from_sklearn_model(fitted, x_train, n_bits=9)
    with pytest.raises(TypeError, match="unexpected"):
        tml.DecisionTreeClassifier.from_sklearn_model(fitted, x_train, max_depth=3)


# ---- scikit-learn tools, inputs, pickling ----------------------------------------------------


def test_pipeline_with_fhe(binary_data):
    x_train, x_test, y_train, y_test = binary_data
    pipe = make_pipeline(StandardScaler(), small_tree(tml.XGBClassifier))
    pipe.fit(x_train, y_train)
    assert pipe.score(x_test, y_test) > 0.8
    pipe[-1].compile(pipe[:-1].transform(x_train))
    numpy.testing.assert_array_equal(pipe.predict(x_test[:5], fhe="execute"),
                                     pipe.predict(x_test[:5]))


def test_grid_search(binary_data):
    x_train, x_test, y_train, _ = binary_data
    pipe = Pipeline([("scale", StandardScaler()), ("model", tml.RandomForestClassifier())])
    grid = {"model__n_bits": [3, 6], "model__max_depth": [2, 3], "model__n_estimators": [3]}
    search = GridSearchCV(pipe, grid, cv=3, scoring="accuracy")
    search.fit(x_train, y_train)
    assert search.best_params_["model__n_bits"] in (3, 6) and search.best_score_ > 0.8
    best = search.best_estimator_
    best[-1].compile(best[:-1].transform(x_train))
    numpy.testing.assert_array_equal(best.predict(x_test[:4], fhe="execute"),
                                     best.predict(x_test[:4]))


def test_grid_search_regressor_parallel(regression_data):
    x_train, _, y_train, _ = regression_data
    search = GridSearchCV(tml.XGBRegressor(n_estimators=20),
                          {"max_depth": [2, 3], "n_bits": [4, 6]}, cv=3, n_jobs=2)
    search.fit(x_train, y_train)
    float_score = GridSearchCV(xgboost.XGBRegressor(n_estimators=20), {"max_depth": [2, 3]},
                               cv=3).fit(x_train, y_train).best_score_
    assert search.best_score_ > float_score - 0.05


@pytest.mark.parametrize("cls", [tml.DecisionTreeClassifier, tml.XGBClassifier, tml.XGBRegressor],
                         ids=_ids)
def test_pandas_inputs(cls, binary_data, regression_data):
    x_train, x_test, y_train, _ = _data(cls, binary_data, regression_data)
    columns = [f"f{i}" for i in range(x_train.shape[1])]
    frame_train = pandas.DataFrame(x_train, columns=columns)
    frame_test = pandas.DataFrame(x_test, columns=columns)
    y = pandas.Series(numpy.array(["no", "yes"])[y_train] if cls in TREE_CLASSIFIERS
                      else y_train)
    from_frame = small_tree(cls).fit(frame_train, y)
    from_arrays = small_tree(cls).fit(x_train, y.to_numpy())
    expected = from_arrays.predict(x_test)
    numpy.testing.assert_array_equal(from_frame.predict(frame_test), expected)
    numpy.testing.assert_array_equal(from_frame.predict(x_test.tolist()), expected)
    numpy.testing.assert_array_equal(from_frame.predict(numpy.asfortranarray(x_test)), expected)
    from_frame.compile(frame_train)
    numpy.testing.assert_array_equal(from_frame.predict(frame_test[:3], fhe="execute"),
                                     expected[:3])


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_pickle_round_trip(cls, multiclass_data, regression_data):
    data = multiclass_data if cls in TREE_CLASSIFIERS else regression_data
    x_train, x_test, y_train, _ = data
    model = small_tree(cls).fit(x_train, y_train)
    method = "predict_proba" if cls in TREE_CLASSIFIERS else "predict"
    expected = getattr(model, method)(x_test)
    model.compile(x_train)
    restored = pickle.loads(pickle.dumps(model))
    numpy.testing.assert_array_equal(getattr(restored, method)(x_test), expected)
    _assert_same_params(restored.get_params(), model.get_params())
    assert restored.fhe_circuit is None  # keys are never pickled: compile again
    if cls in (tml.RandomForestClassifier, tml.XGBRegressor):  # two real runs suffice
        restored.compile(x_train)
        numpy.testing.assert_array_equal(getattr(restored, method)(x_test[:3], fhe="execute"),
                                         expected[:3])


def test_fitted_attributes(multiclass_data):
    x_train, _, y_train, _ = multiclass_data
    model = small_tree(tml.RandomForestClassifier)
    assert not hasattr(model, "classes_")
    with pytest.raises(AttributeError, match="fit"):
        model.feature_importances_
    model.fit(x_train, y_train)
    numpy.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.n_classes_ == 3 and model.n_features_in_ == x_train.shape[1]
    assert len(model.estimators_) == 3
    numpy.testing.assert_array_equal(model.feature_importances_,
                                     model.sklearn_model.feature_importances_)
    names = numpy.array(["a", "b", "c"])
    xgb = small_tree(tml.XGBClassifier).fit(x_train, names[y_train])
    numpy.testing.assert_array_equal(xgb.classes_, names)  # XGBoost's own are 0..2
    numpy.testing.assert_array_equal(xgb.sklearn_model.classes_, [0, 1, 2])
    assert xgb.n_classes_ == 3
    with pytest.raises(AttributeError):
        model.not_an_attribute_


def test_fhe_circuit_statistics_and_quantization_api(multiclass_data, capsys):
    x_train, x_test, y_train, _ = multiclass_data
    model = small_tree(tml.XGBClassifier).fit(x_train, y_train)
    assert model.fhe_circuit is None
    module = model.quantized_module
    assert isinstance(module, torusml._core.QuantizedTreeEnsemble)
    assert (module.n_features, module.n_outputs, module.n_trees) == (8, 3, 9)
    assert module.split_rule == "<" and small_tree(tml.RandomForestClassifier).fit(
        x_train, y_train).quantized_module.split_rule == "<="
    stats = module.lookup_statistics()
    assert 0 < stats["lookups_per_sample"] < stats["reference_lookups_per_sample"]
    assert stats["lookups_per_sample"] == stats["comparison_lookups"] + stats["leaf_lookups"]
    assert sum(stats["precisions"].values()) == stats["lookups_per_sample"]
    circuit = model.compile(x_train, verbose=True)
    assert "statistics" in capsys.readouterr().out
    assert isinstance(circuit, torusml.FheCircuit) and model.fhe_circuit is not None
    text = str(model.fhe_circuit)
    assert "lookups per sample" in text and "reference method" in text
    # compile() chose the encoding and group width: the statistics now describe that circuit.
    compiled = module.lookup_statistics()
    assert model.fhe_circuit.statistics["pbs_count"] == compiled["lookups_per_sample"]
    assert compiled["lookups_per_sample"] <= stats["lookups_per_sample"]
    assert compiled["input_encoding"] in ("value", "digits", "thermometer")
    assert compiled["input_ciphertexts"] == {"value": 8, "digits": 16, "thermometer": 8 * 63}[
        compiled["input_encoding"]]
    assert "input ciphertexts per sample" in text
    # The inputs are packed (N per GLWE): the full form of one sample is a few GLWEs, seeded a
    # body per input and a seed.
    circuit_stats = model.fhe_circuit.statistics
    assert circuit_stats["input_seeded_bytes"] == 8 * compiled["input_ciphertexts"] + 32
    assert circuit_stats["input_ciphertext_bytes"] < 8 * (circuit_stats["lwe_dimension"] + 1) * \
        compiled["input_ciphertexts"]

    q_x = model.quantize_input(x_test)
    assert q_x.dtype == numpy.int64 and q_x.shape == x_test.shape
    assert q_x.min() >= 0 and q_x.max() <= 63  # 6 bits
    assert len(model.input_quantizers) == 8 and len(model.leaf_quantizers) == 3
    q_y = module.run_integer(q_x[:4], "execute")
    assert q_y.shape == (4, 9, 3)
    numpy.testing.assert_array_equal(q_y, module.run_integer(q_x[:4]))
    # The trees' sum of margins; predict_proba adds the base score and takes the softmax.
    config = json.loads(model.sklearn_model.get_booster().save_config())
    margins = model.dequantize_output(q_y) + float(
        config["learner"]["learner_model_param"]["base_score"]
    )
    numpy.testing.assert_allclose(torusml.softmax(margins), model.predict_proba(x_test[:4]))


def test_compile_options(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = small_tree(tml.DecisionTreeClassifier).fit(x_train, y_train)
    model.compile(x_train, global_p_error=1e-3)
    assert model.fhe_circuit.statistics["log2_global_p_error"] <= numpy.log2(1e-3) + 1e-6
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"),
                                     model.predict(x_test[:4]))


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_predict_or_compile_before_fit(cls):
    x = numpy.zeros((3, 4))
    model = cls()
    calls = [lambda: model.predict(x), lambda: model.predict(x, fhe="execute"),
             lambda: model.compile(x), lambda: model.quantize_input(x)]
    if cls in TREE_CLASSIFIERS:
        calls.append(lambda: model.predict_proba(x))
    for call in calls:
        with pytest.raises(NotFittedError, match=r"not fitted yet: call fit\(X, y\)"):
            call()


@pytest.mark.parametrize("cls", TREE_MODELS, ids=_ids)
def test_bad_inputs(cls, binary_data, regression_data):
    x_train, x_test, y_train, _ = _data(cls, binary_data, regression_data)
    model = small_tree(cls).fit(x_train, y_train)
    n = x_train.shape[1]
    for fhe in ("execute", "simulate"):
        with pytest.raises(torusml.NotCompiledError, match=r"call model.compile\(X_train\)"):
            model.predict(x_test, fhe=fhe)
    for x in (x_test[:, :3], numpy.hstack([x_test, x_test])):
        with pytest.raises(ValueError, match=f"expecting {n} features"):
            model.predict(x)
    with pytest.raises(ValueError, match="features"):
        model.compile(x_train[:, :2])
    x = x_test.copy()
    x[2, 3] = numpy.nan
    for call in (lambda: model.predict(x), lambda: model.compile(x),
                 lambda: small_tree(cls).fit(x, y_train[: len(x)])):
        with pytest.raises(ValueError, match="NaN.*row 2, column 3.*clean the data"):
            call()
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.predict(x_test + 1j)
    with pytest.raises(ValueError, match="Reshape your data"):
        model.predict(x_test[0])
    with pytest.raises(ValueError, match="'disable'.*'simulate'.*'execute'"):
        model.predict(x_test, fhe="encrypted")
    with pytest.raises(ValueError, match="requires y to be passed"):
        small_tree(cls).fit(x_train, None)


@pytest.mark.parametrize(
    "n_bits, message",
    [(0, "between 1 and 16"), (9, "between 1 and 8"), ({"op_inputs": 9, "op_leaves": 6},
     r"n_bits\['op_inputs'\] = 9.*between 1 and 8"), ({"op_inputs": 6, "op_leaves": 17},
     "between 1 and 16"), ({"op_inputs": 6, "op_weights": 6}, "'op_inputs' and 'op_leaves'"),
     ("6", "integer"), (True, "integer")],
    ids=repr,
)
def test_invalid_n_bits(n_bits, message, binary_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match=message):
        tml.DecisionTreeClassifier(n_bits=n_bits).fit(x_train, y_train)


def test_invalid_fhe_sum(binary_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match="fhe_sum must be True"):
        tml.RandomForestClassifier(n_estimators=2, fhe_sum="yes").fit(x_train, y_train)


def test_unsupported_xgboost_models(binary_data, regression_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match="booster='gblinear' is not supported.*LogisticRegression"):
        tml.XGBClassifier(booster="gblinear", n_estimators=2).fit(x_train, y_train)
    with pytest.raises(ValueError, match="missing=0.0.*default branch.*missing=numpy.nan"):
        tml.XGBClassifier(missing=0.0, n_estimators=2).fit(x_train, y_train)
    with pytest.raises(ValueError, match="objective='binary:hinge' is not supported"):
        tml.XGBClassifier(objective="binary:hinge", n_estimators=2).fit(x_train, y_train)
    xr_train, _, yr_train, _ = regression_data
    with pytest.raises(ValueError, match="'count:poisson' is not supported.*squarederror"):
        tml.XGBRegressor(objective="count:poisson", n_estimators=2).fit(
            xr_train, numpy.abs(yr_train))
    # Categorical splits (pandas categories with enable_categorical=True).
    frame = pandas.DataFrame({"a": pandas.Categorical(numpy.array(["u", "v", "w"])[y_train + (
        x_train[:, 0] > 0)]), "b": x_train[:, 1]})
    fitted = xgboost.XGBClassifier(n_estimators=2, max_depth=2, tree_method="hist",
                                   enable_categorical=True).fit(frame, y_train)
    with pytest.raises(ValueError, match="categorical splits.*OneHotEncoder.*enable_categorical"):
        tml.XGBClassifier.from_sklearn_model(fitted, frame.assign(a=frame["a"].cat.codes))


def test_continuous_labels_are_refused_by_classifiers(regression_data):
    x_train, _, y_train, _ = regression_data
    for cls in TREE_CLASSIFIERS:
        with pytest.raises(ValueError, match="Unknown label type"):
            cls(n_estimators=2).fit(x_train, y_train) if "n_estimators" in cls().get_params() \
                else cls().fit(x_train, y_train)


@pytest.mark.parametrize("cls", TREE_REGRESSORS, ids=_ids)
def test_regressor_outputs_are_float(cls, regression_data):
    x_train, x_test, y_train, _ = regression_data
    y = small_tree(cls).fit(x_train, y_train.astype(int)).predict(x_test)
    assert y.dtype == numpy.float64 and y.shape == (len(x_test),)
