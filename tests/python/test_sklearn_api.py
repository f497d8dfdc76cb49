"""scikit-learn integration: parameters, cloning, Pipeline, GridSearchCV, from_sklearn_model,
fitted attributes, input types, the circuit object, quantize/dequantize, pickling."""

import pickle

import numpy
import pytest
import sklearn.linear_model
import sklearn.svm
from conftest import CLASSIFIERS, REGRESSORS, make_model
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import torusml
from torusml import sklearn as tml

ALL_MODELS = CLASSIFIERS + REGRESSORS


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
def test_constructor_mirrors_scikit_learn(cls):
    ours = cls().get_params()
    theirs = cls.sklearn_class().get_params()
    assert ours.pop("n_bits") == 8
    assert ours == theirs
    model = cls(n_bits={"op_inputs": 4, "op_weights": 3})
    assert model.set_params(n_bits=5) is model
    assert model.get_params()["n_bits"] == 5
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()
    assert cls.__name__ in repr(cls(n_bits=3))


def test_set_params_reaches_the_wrapped_estimator(binary_data):
    x_train, _, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=8).set_params(C=0.01, fit_intercept=False)
    model.fit(x_train, y_train)
    assert model.sklearn_model.C == 0.01
    numpy.testing.assert_array_equal(model.intercept_, [0.0])


def test_pipeline_with_fhe(binary_data):
    x_train, x_test, y_train, y_test = binary_data
    pipe = make_pipeline(StandardScaler(), tml.LogisticRegression(n_bits=8))
    pipe.fit(x_train, y_train)
    float_score = pipe[-1].sklearn_model.score(pipe[:-1].transform(x_test), y_test)
    assert abs(pipe.score(x_test, y_test) - float_score) < 0.05
    pipe[-1].compile(pipe[:-1].transform(x_train))
    numpy.testing.assert_array_equal(pipe.predict(x_test, fhe="execute"), pipe.predict(x_test))


def test_grid_search(binary_data):
    x_train, x_test, y_train, _ = binary_data
    pipe = Pipeline([("scale", StandardScaler()), ("model", tml.LogisticRegression())])
    search = GridSearchCV(
        pipe, {"model__n_bits": [2, 8], "model__C": [0.1, 1.0]}, cv=3, scoring="accuracy"
    )
    search.fit(x_train, y_train)
    assert search.best_params_["model__n_bits"] in (2, 8)
    best = search.best_estimator_
    best[-1].compile(best[:-1].transform(x_train))
    numpy.testing.assert_array_equal(best.predict(x_test, fhe="execute"), best.predict(x_test))


def test_grid_search_regressor_parallel(regression_data):
    x_train, _, y_train, _ = regression_data
    search = GridSearchCV(tml.Ridge(), {"alpha": [0.1, 10.0], "n_bits": [4, 8]}, cv=3, n_jobs=2)
    search.fit(x_train, y_train)
    assert search.best_score_ > 0.9


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
def test_from_sklearn_model(cls, binary_data, regression_data, positive_regression_data):
    if cls in CLASSIFIERS:
        x_train, x_test, y_train, _ = binary_data
    elif cls in (tml.PoissonRegressor, tml.GammaRegressor):
        x_train, x_test, y_train, _ = positive_regression_data
    else:
        x_train, x_test, y_train, _ = regression_data
    params = {"random_state": 0} if "random_state" in cls.sklearn_class().get_params() else {}
    fitted = cls.sklearn_class(**params).fit(x_train, y_train)
    model = cls.from_sklearn_model(fitted, x_train, n_bits=8)
    assert model.get_params()["n_bits"] == 8
    numpy.testing.assert_array_equal(model.coef_, fitted.coef_)
    trained = make_model(cls, n_bits=8).fit(x_train, y_train)
    numpy.testing.assert_array_equal(model.predict(x_test), trained.predict(x_test))
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), model.predict(x_test))


def test_from_sklearn_model_errors(binary_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match="expects a fitted"):
        tml.LogisticRegression.from_sklearn_model(sklearn.svm.LinearSVC(), x_train)
    with pytest.raises(ValueError, match="not fitted"):
        tml.LogisticRegression.from_sklearn_model(
            sklearn.linear_model.LogisticRegression(), x_train
        )
    fitted = sklearn.linear_model.LogisticRegression().fit(x_train, y_train)
    with pytest.raises(ValueError, match="calibrate"):
        tml.LogisticRegression.from_sklearn_model(fitted)
    with pytest.raises(ValueError, match="features"):
        tml.LogisticRegression.from_sklearn_model(fitted, x_train[:, :3])
    with pytest.raises(ValueError, match="between 1 and 16"):
        tml.LogisticRegression.from_sklearn_model(fitted, x_train, n_bits=0)


def test_fitted_attributes(multiclass_data):
    x_train, _, y_train, _ = multiclass_data
    model = tml.LogisticRegression()
    assert not hasattr(model, "coef_")
    with pytest.raises(AttributeError, match="fit"):
        model.classes_
    model.fit(x_train, y_train)
    numpy.testing.assert_array_equal(model.coef_, model.sklearn_model.coef_)
    numpy.testing.assert_array_equal(model.intercept_, model.sklearn_model.intercept_)
    numpy.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.n_features_in_ == x_train.shape[1]
    assert model.n_iter_ is model.sklearn_model.n_iter_
    with pytest.raises(AttributeError):
        model.not_an_attribute_


def test_input_types(regression_data):
    pandas = pytest.importorskip("pandas")
    x_train, x_test, y_train, _ = regression_data
    columns = [f"f{i}" for i in range(x_train.shape[1])]
    frame_train = pandas.DataFrame(x_train, columns=columns)
    frame_test = pandas.DataFrame(x_test, columns=columns)
    from_frame = tml.Ridge().fit(frame_train, pandas.Series(y_train))
    from_list = tml.Ridge().fit(x_train.tolist(), list(y_train))
    expected = tml.Ridge().fit(x_train, y_train).predict(x_test)
    numpy.testing.assert_array_equal(from_frame.predict(frame_test), expected)
    numpy.testing.assert_array_equal(from_list.predict(x_test.tolist()), expected)
    numpy.testing.assert_array_equal(from_frame.predict(x_test.astype(numpy.float32)),
                                     from_frame.predict(x_test.astype(numpy.float32).tolist()))
    from_frame.compile(frame_train)
    numpy.testing.assert_array_equal(from_frame.predict(frame_test, fhe="execute"), expected)
    # Non-contiguous and integer inputs.
    numpy.testing.assert_array_equal(
        from_list.predict(numpy.asfortranarray(x_test)), from_list.predict(x_test)
    )
    assert from_list.predict(numpy.ones((2, x_train.shape[1]), dtype=int)).shape == (2,)


def test_fhe_circuit_and_quantization_api(binary_data, capsys):
    x_train, x_test, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=8).fit(x_train, y_train)
    assert model.fhe_circuit is None
    circuit = model.compile(x_train, verbose=True)
    assert "statistics" in capsys.readouterr().out
    assert circuit is not None and isinstance(model.fhe_circuit, torusml.FheCircuit)
    text = str(model.fhe_circuit)
    assert "programmable bootstraps: 0" in text and "leveled" in text
    assert repr(model.fhe_circuit) == text
    assert model.fhe_circuit.pbs_count == 0
    assert not model.fhe_circuit.uses_pbs
    assert model.fhe_circuit.statistics["max_bit_width"] >= 8
    assert "matmul" in model.fhe_circuit.program

    q_x = model.quantize_input(x_test)
    assert q_x.dtype == numpy.int64 and q_x.shape == x_test.shape
    assert q_x.min() >= 0 and q_x.max() <= 255
    q_y = model.quantized_module.run_integer(q_x, "execute")
    numpy.testing.assert_array_equal(q_y, model.quantized_module.run_integer(q_x, "disable"))
    numpy.testing.assert_array_equal(model.dequantize_output(q_y).ravel(),
                                     model.decision_function(x_test))
    assert len(model.input_quantizers) == x_train.shape[1]
    assert model.weight_quantizer.is_signed


def test_compile_options(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=8).fit(x_train, y_train)
    model.compile(x_train, global_p_error=1e-3)
    loose = model.fhe_circuit.lwe_dimension
    assert model.fhe_circuit.statistics["log2_global_p_error"] <= numpy.log2(1e-3) + 1e-6
    model.compile(x_train, p_error=2.0**-80)
    assert model.fhe_circuit.lwe_dimension > loose
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), model.predict(x_test))


def test_pickle_round_trip(multiclass_data):
    x_train, x_test, y_train, _ = multiclass_data
    model = tml.LogisticRegression(n_bits=6).fit(x_train, y_train)
    model.compile(x_train)
    restored = pickle.loads(pickle.dumps(model))
    numpy.testing.assert_array_equal(restored.predict_proba(x_test), model.predict_proba(x_test))
    assert restored.fhe_circuit is None  # keys are never pickled: compile again
    restored.compile(x_train)
    numpy.testing.assert_array_equal(
        restored.predict(x_test, fhe="execute"), model.predict(x_test)
    )



def test_parameters_set_after_fit_take_effect_at_the_next_fit(regression_data):
    # As in scikit-learn: set_params changes the parameters, not the fitted model; predict and a
    # pickle round trip both keep the fitted model (and its bit widths) until the next fit.
    x_train, x_test, y_train, _ = regression_data
    model = tml.Ridge(n_bits=8).fit(x_train, y_train)
    fitted_8 = model.predict(x_test)
    model.set_params(n_bits=2, alpha=100.0)
    numpy.testing.assert_array_equal(model.predict(x_test), fitted_8)
    restored = pickle.loads(pickle.dumps(model))
    assert restored.get_params()["n_bits"] == 2 and restored.get_params()["alpha"] == 100.0
    assert restored.quantized_module.input_bits == 8
    numpy.testing.assert_array_equal(restored.predict(x_test), fitted_8)
    expected_2 = tml.Ridge(n_bits=2, alpha=100.0).fit(x_train, y_train).predict(x_test)
    for refitted in (model.fit(x_train, y_train), restored.fit(x_train, y_train)):
        assert refitted.quantized_module.input_bits == 2
        numpy.testing.assert_array_equal(refitted.predict(x_test), expected_2)
    # A dict n_bits changed in place after fit does not reach the fitted model either.
    bits = {"op_inputs": 6, "op_weights": 5}
    model = tml.Ridge(n_bits=bits).fit(x_train, y_train)
    bits["op_inputs"] = 3
    restored = pickle.loads(pickle.dumps(model))
    assert (restored.quantized_module.input_bits, restored.quantized_module.weight_bits) == (6, 5)


@pytest.mark.parametrize("bad", [0, 17, "8", {"op_inputs": 8}])
def test_invalid_parameters_set_after_fit_fail_at_fit_never_at_unpickling(bad, binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=8).fit(x_train, y_train)
    expected = model.predict_proba(x_test)
    assert model.set_params(n_bits=bad) is model  # not checked here, as in scikit-learn
    restored = pickle.loads(pickle.dumps(model))
    numpy.testing.assert_array_equal(restored.predict_proba(x_test), expected)
    assert clone(restored).get_params()["n_bits"] == bad
    for fitted in (model, restored):
        with pytest.raises(ValueError, match="n_bits"):
            fitted.fit(x_train, y_train)


def test_fitted_loss_and_link_decide_post_processing(binary_data, positive_regression_data):
    x_train, x_test, y_train, _ = binary_data
    model = tml.SGDClassifier(loss="hinge", random_state=0).fit(x_train, y_train)
    labels = model.predict(x_test)
    model.set_params(loss="log_loss")  # predict_proba exists for the parameter, not the fit
    numpy.testing.assert_array_equal(model.predict(x_test), labels)
    with pytest.raises(ValueError, match="fitted with loss='hinge'.*call fit"):
        model.predict_proba(x_test)
    model.fit(x_train, y_train)
    assert model.predict_proba(x_test).shape == (len(x_test), 2)
    xp_train, xp_test, yp_train, _ = positive_regression_data
    tweedie = tml.TweedieRegressor(power=1.0).fit(xp_train, yp_train)
    expected = tweedie.predict(xp_test)
    assert (expected > 0).all()  # log link: exp applied after decryption
    tweedie.set_params(power=0.0)  # 'auto' would now mean the identity link
    numpy.testing.assert_array_equal(tweedie.predict(xp_test), expected)
    numpy.testing.assert_array_equal(pickle.loads(pickle.dumps(tweedie)).predict(xp_test), expected)


def test_pickles_of_the_first_layout_still_load(regression_data):
    # Before the fitted state was one object, a pickle held sklearn_model and _calibration_range as
    # attributes and the bit widths in n_bits.
    x_train, x_test, y_train, _ = regression_data
    model = tml.Ridge(n_bits=5).fit(x_train, y_train)
    old_state = {
        "alpha": 1.0, "fit_intercept": True, "copy_X": True, "max_iter": None, "tol": 1e-4,
        "solver": "auto", "positive": False, "random_state": None, "n_bits": 5,
        "sklearn_model": model.sklearn_model,
        "_calibration_range": numpy.vstack([x_train.min(axis=0), x_train.max(axis=0)]),
        "_output_is_1d": True, "n_features_in_": x_train.shape[1],
    }
    restored = tml.Ridge.__new__(tml.Ridge)
    restored.__setstate__(old_state)
    assert restored.get_params() == model.get_params()
    numpy.testing.assert_array_equal(restored.predict(x_test), model.predict(x_test))
    assert restored.n_features_in_ == x_train.shape[1]
    assert "sklearn_model" not in restored.__dict__

def test_uniform_quantizer_binding():
    values = numpy.linspace(-3.0, 5.0, 101)
    q = torusml.UniformQuantizer.calibrate(values, n_bits=4)
    assert (q.q_min, q.q_max, q.n_bits, q.is_signed) == (0, 15, 4, False)
    expected = numpy.clip(numpy.rint(values / q.scale) + q.zero_point, 0, 15)
    numpy.testing.assert_array_equal(q.quantize(values), expected)
    numpy.testing.assert_allclose(
        q.dequantize(q.quantize(values)), q.scale * (expected - q.zero_point)
    )
    grid = q.quantize(values.reshape(101, 1, 1))
    assert grid.shape == (101, 1, 1) and grid.dtype == numpy.int64
    s = torusml.UniformQuantizer.calibrate(values, n_bits=8, is_signed=True, is_symmetric=True)
    assert s.zero_point == 0 and s.quantize(numpy.array([5.0]))[0] == 127
    explicit = torusml.UniformQuantizer(n_bits=8, scale=0.5, zero_point=3)
    assert explicit.quantize(numpy.array([1.0]))[0] == 5
    assert pickle.loads(pickle.dumps(explicit)) == explicit
    assert "scale=0.5" in repr(explicit)
    assert torusml.UniformQuantizer.from_range(0.0, 1.0, n_bits=1).scale == 1.0
