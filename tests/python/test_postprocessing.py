"""Post-processing in the clear matches scikit-learn's: probabilities (sigmoid, softmax,
one-vs-rest normalization, modified Huber), decision values and link functions, checked at 16 bits
where quantization error is negligible."""

import numpy
import pytest
from conftest import make_model, regression_data_for
from torusml import _core
from torusml import sklearn as tml


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (tml.LogisticRegression, {}),
        (tml.LogisticRegression, {"multi_class": "ovr"}),
        (tml.LogisticRegression, {"multi_class": "multinomial"}),
        (tml.LogisticRegression, {"solver": "liblinear"}),
        (tml.SGDClassifier, {"loss": "log_loss"}),
        (tml.SGDClassifier, {"loss": "modified_huber"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
@pytest.mark.parametrize("data", ["binary_data", "multiclass_data"])
def test_probabilities_match_scikit_learn(cls, kwargs, data, request):
    x_train, x_test, y_train, _ = request.getfixturevalue(data)
    model = make_model(cls, n_bits=16, **kwargs).fit(x_train, y_train)
    # Compared within the calibration range (samples beyond it are clipped by the quantizers).
    proba = model.predict_proba(x_train)
    expected = model.sklearn_model.predict_proba(x_train)
    assert proba.shape == expected.shape
    numpy.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    numpy.testing.assert_allclose(proba, expected, atol=5e-3)
    scores = model.sklearn_model.decision_function(x_train)
    numpy.testing.assert_allclose(
        model.decision_function(x_train), scores, atol=1e-4 * numpy.abs(scores).max()
    )
    assert numpy.mean(model.predict(x_test) == model.sklearn_model.predict(x_test)) >= 0.98


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (tml.PoissonRegressor, {}),
        (tml.GammaRegressor, {}),
        (tml.TweedieRegressor, {"power": 0.0}),
        (tml.TweedieRegressor, {"power": 1.5}),
        (tml.TweedieRegressor, {"power": 1.0, "link": "identity"}),
        (tml.LinearRegression, {}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_links_match_scikit_learn(cls, kwargs, regression_data, positive_regression_data):
    x_train, x_test, y_train, _ = positive_regression_data
    if cls is tml.LinearRegression:
        x_train, x_test, y_train, _ = regression_data_for(
            cls, regression_data, positive_regression_data
        )
    model = make_model(cls, n_bits=16, **kwargs).fit(x_train, y_train)
    expected = model.sklearn_model.predict(x_train)
    numpy.testing.assert_allclose(
        model.predict(x_train), expected, atol=2e-4 * numpy.abs(expected).max()
    )


def test_sgd_hinge_and_linear_svc_have_no_probabilities(binary_data):
    x_train, _, y_train, _ = binary_data
    assert not hasattr(make_model(tml.SGDClassifier).fit(x_train, y_train), "predict_proba")
    assert not hasattr(make_model(tml.LinearSVC).fit(x_train, y_train), "predict_proba")
    with pytest.raises(AttributeError, match="log_loss"):
        make_model(tml.SGDClassifier).fit(x_train, y_train).predict_proba(x_train)


def test_core_post_processing_functions():
    x = numpy.array([[0.0, 1000.0, -1000.0], [1.0, 1.0, 1.0]])
    numpy.testing.assert_allclose(_core.sigmoid(x)[0], [0.5, 1.0, 0.0])
    numpy.testing.assert_allclose(_core.softmax(x), [[0, 1, 0], [1 / 3, 1 / 3, 1 / 3]])
    numpy.testing.assert_array_equal(_core.argmax(x), [1, 0])
    numpy.testing.assert_allclose(
        _core.normalize_rows(numpy.array([[1.0, 3.0], [0.0, 0.0]])), [[0.25, 0.75], [0.5, 0.5]]
    )
    numpy.testing.assert_allclose(_core.apply_inverse_link(x[1:], "log"), [[numpy.e] * 3])
    with pytest.raises(ValueError, match="identity"):
        _core.apply_inverse_link(x, "logit")
    with pytest.raises(ValueError, match="NaN"):
        _core.argmax(numpy.array([[numpy.nan, 1.0]]))
