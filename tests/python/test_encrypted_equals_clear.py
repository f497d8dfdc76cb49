"""For every model class: encrypted predictions equal the clear quantized ones, and simulation
equals the clear mode (synthetic classification and regression data, real keys)."""

import numpy
import pytest
from conftest import (
    CLASSIFIERS,
    MULTI_OUTPUT_REGRESSORS,
    REGRESSORS,
    make_model,
    regression_data_for,
)

N_BITS = [2, 8, {"op_inputs": 6, "op_weights": 4}, 16]


def _ids(value):
    return str(value) if not isinstance(value, dict) else "dict"


@pytest.mark.parametrize("n_bits", N_BITS, ids=_ids)
@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("data", ["binary_data", "multiclass_data"])
def test_classifier_execute_equals_clear(cls, n_bits, data, request):
    x_train, x_test, y_train, _ = request.getfixturevalue(data)
    model = make_model(cls, n_bits=n_bits).fit(x_train, y_train)
    clear = model.predict(x_test)
    scores = model.decision_function(x_test)
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), clear)
    numpy.testing.assert_array_equal(model.decision_function(x_test, fhe="execute"), scores)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="simulate"), clear)
    numpy.testing.assert_array_equal(model.decision_function(x_test, fhe="simulate"), scores)
    numpy.testing.assert_array_equal(model.predict(x_test, execute_in_fhe=True), clear)
    if hasattr(model, "predict_proba"):
        numpy.testing.assert_array_equal(
            model.predict_proba(x_test, fhe="execute"), model.predict_proba(x_test)
        )


@pytest.mark.parametrize("n_bits", N_BITS, ids=_ids)
@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda c: c.__name__)
def test_regressor_execute_equals_clear(
    cls, n_bits, regression_data, positive_regression_data
):
    x_train, x_test, y_train, _ = regression_data_for(
        cls, regression_data, positive_regression_data
    )
    model = make_model(cls, n_bits=n_bits).fit(x_train, y_train)
    clear = model.predict(x_test)
    assert clear.shape == (len(x_test),)
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), clear)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="simulate"), clear)


@pytest.mark.parametrize("cls", MULTI_OUTPUT_REGRESSORS, ids=lambda c: c.__name__)
def test_multi_output_regression(cls, multi_output_data):
    x_train, x_test, y_train, _ = multi_output_data
    model = make_model(cls, n_bits=8).fit(x_train, y_train)
    clear = model.predict(x_test)
    assert clear.shape == (len(x_test), 3)
    model.compile(x_train)
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), clear)
    # Within the calibration range (test samples beyond it are clipped), close to the float model.
    reference = model.sklearn_model.predict(x_train)
    error = numpy.abs(model.predict(x_train) - reference).max()
    assert error < 0.02 * numpy.abs(reference).max()


def test_string_labels_binary_and_multiclass(binary_data, multiclass_data):
    for x_train, x_test, y_train, _ in (binary_data, multiclass_data):
        names = numpy.array(["cat", "dog", "bird"])[: len(numpy.unique(y_train))]
        model = make_model(CLASSIFIERS[0], n_bits=8).fit(x_train, names[y_train])
        assert set(model.classes_) == set(names)
        clear = model.predict(x_test)
        assert clear.dtype.kind in "US"
        model.compile(x_train)
        numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), clear)
        agree = numpy.mean(clear == model.sklearn_model.predict(x_test))
        assert agree > 0.95


def test_inputs_outside_the_calibration_range_still_agree(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = make_model(CLASSIFIERS[0], n_bits=8).fit(x_train, y_train)
    model.compile(x_train[:10])  # a narrow compile set: the extremes still bound everything
    far = numpy.vstack([x_test * 10.0, -x_test * 10.0])
    numpy.testing.assert_array_equal(
        model.decision_function(far, fhe="execute"), model.decision_function(far)
    )


def test_single_sample_and_large_batch(regression_data):
    x_train, x_test, y_train, _ = regression_data
    model = make_model(REGRESSORS[0], n_bits=8).fit(x_train, y_train)
    model.compile(x_train)
    numpy.testing.assert_array_equal(
        model.predict(x_test[:1], fhe="execute"), model.predict(x_test[:1])
    )
    big = numpy.repeat(x_test, 20, axis=0)  # 1200 samples in one call
    numpy.testing.assert_array_equal(model.predict(big, fhe="execute"), model.predict(big))
