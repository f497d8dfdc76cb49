"""Every misuse is a clear Python exception whose message says what to do, never a crash."""

import numpy
import pytest
from conftest import CLASSIFIERS, REGRESSORS
from sklearn.exceptions import NotFittedError

import torusml
from torusml import sklearn as tml


@pytest.fixture(scope="module")
def fitted(binary_data):
    x_train, _, y_train, _ = binary_data
    return tml.LogisticRegression(n_bits=8).fit(x_train, y_train)


@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS, ids=lambda c: c.__name__)
def test_predict_or_compile_before_fit(cls):
    x = numpy.zeros((3, 4))
    model = cls()
    for call in (
        lambda: model.predict(x),
        lambda: model.predict(x, fhe="execute"),
        lambda: model.compile(x),
        lambda: model.quantize_input(x),
    ):
        with pytest.raises(NotFittedError, match=r"not fitted yet: call fit\(X, y\)"):
            call()
    assert isinstance(NotFittedError("x"), ValueError)


def test_execute_or_simulate_before_compile(fitted, binary_data):
    x_test = binary_data[1]
    for fhe in ("execute", "simulate"):
        with pytest.raises(torusml.NotCompiledError, match=r"call model.compile\(X_train\)"):
            fitted.predict(x_test, fhe=fhe)
    with pytest.raises(ValueError, match="compile"):
        fitted.predict_proba(x_test, execute_in_fhe=True)
    fitted.predict(x_test)  # the clear mode needs no compilation


def test_wrong_number_of_features(fitted, binary_data):
    x_train = binary_data[0]
    for x in (x_train[:, :3], numpy.hstack([x_train, x_train])):
        with pytest.raises(ValueError, match="expecting 6 features"):
            fitted.predict(x)
    with pytest.raises(ValueError, match="features"):
        fitted.compile(x_train[:, :2])


@pytest.mark.parametrize("bad", [numpy.nan, numpy.inf, -numpy.inf])
def test_nan_or_infinite_inputs(fitted, binary_data, bad):
    x_train, x_test, y_train, _ = binary_data
    x = x_test.copy()
    x[2, 3] = bad
    kind = "NaN" if numpy.isnan(bad) else "infinite"
    for call in (
        lambda: fitted.predict(x),
        lambda: fitted.decision_function(x),
        lambda: fitted.compile(x),
        lambda: tml.LogisticRegression().fit(x, y_test_like(x)),
    ):
        with pytest.raises(ValueError, match=f"{kind}.*row 2, column 3.*clean the data"):
            call()


def y_test_like(x):
    return numpy.arange(len(x)) % 2


def test_unknown_fhe_value(fitted, binary_data):
    x_test = binary_data[1]
    for fhe in ("encrypted", "", None, True, 1):
        with pytest.raises(ValueError, match="'disable'.*'simulate'.*'execute'"):
            fitted.predict(x_test, fhe=fhe)
    with pytest.raises(ValueError, match="contradicts"):
        fitted.predict(x_test, fhe="simulate", execute_in_fhe=True)
    with pytest.raises(ValueError, match="True or False"):
        fitted.predict(x_test, execute_in_fhe="yes")


@pytest.mark.parametrize(
    "n_bits",
    [0, 17, -1, 100, 8.5, "8", None, True, {"op_inputs": 8}, {"op_inputs": 0, "op_weights": 8},
     {"op_inputs": 8, "op_weights": 17}, {"op_inputs": 8, "op_weights": 8, "model_outputs": 8}],
    ids=repr,
)
def test_n_bits_out_of_range(n_bits, binary_data):
    x_train, _, y_train, _ = binary_data
    with pytest.raises(ValueError, match="n_bits"):
        tml.LogisticRegression(n_bits=n_bits).fit(x_train, y_train)


def test_n_bits_set_after_fit_is_checked_at_the_next_fit(binary_data):
    x_train, _, y_train, _ = binary_data
    model = tml.Ridge().fit(x_train, y_train).set_params(n_bits=40)
    with pytest.raises(ValueError, match="between 1 and 16"):
        model.fit(x_train, y_train)


def test_badly_shaped_or_typed_inputs(fitted, binary_data):
    x_test = binary_data[1]
    with pytest.raises(ValueError, match="2-D.*reshape"):
        fitted.predict(x_test[0])
    with pytest.raises(ValueError, match="2-D"):
        fitted.predict(x_test[None])
    with pytest.raises(ValueError, match="0 samples"):
        fitted.predict(x_test[:0])
    with pytest.raises(ValueError, match="numbers"):
        fitted.predict([["a"] * 6])
    with pytest.raises(ValueError, match="numbers"):
        fitted.predict([[1, 2], [3]])


def test_compile_options_errors(fitted, binary_data):
    x_train = binary_data[0]
    with pytest.raises(ValueError, match="only one"):
        fitted.compile(x_train, p_error=1e-5, global_p_error=1e-5)
    for bad in (0.0, 1.5, -1.0, float("nan")):
        with pytest.raises(ValueError, match="p_error"):
            fitted.compile(x_train, p_error=bad)


def test_core_errors_are_value_errors():
    with pytest.raises(ValueError, match="no values"):
        torusml.UniformQuantizer.calibrate(numpy.array([]))
    with pytest.raises(ValueError, match="NaN"):
        torusml.UniformQuantizer.calibrate(numpy.array([1.0, numpy.nan]))
    with pytest.raises(ValueError, match="between 1 and 16"):
        torusml.UniformQuantizer(n_bits=0)
    with pytest.raises(ValueError, match="scale"):
        torusml.UniformQuantizer(scale=0.0)
    with pytest.raises(ValueError, match="integer array"):
        torusml.UniformQuantizer().dequantize(numpy.array([0.5]))
    q = torusml.QuantizedLinear(numpy.ones((2, 1)), numpy.zeros(1), numpy.eye(2))
    with pytest.raises(ValueError, match="intercepts"):
        torusml.QuantizedLinear(numpy.ones((2, 1)), numpy.zeros(3), numpy.eye(2))
    with pytest.raises(ValueError, match="2-D"):
        torusml.QuantizedLinear(numpy.ones(2), numpy.zeros(1), numpy.eye(2))
    with pytest.raises(ValueError, match="not compiled"):
        q.predict(numpy.eye(2), "execute")
    with pytest.raises(ValueError, match="unknown FHE mode"):
        q.predict(numpy.eye(2), "fast")
    with pytest.raises(ValueError, match="outside"):
        q.run_integer(numpy.array([[0, 300]]), "disable")
    with pytest.raises(ValueError, match="32 bytes"):
        q.compile(numpy.eye(2), key_seed=b"short")


@pytest.mark.parametrize(
    "make_complex",
    [
        lambda x: x + 1j,
        lambda x: x.astype(numpy.complex64),  # a complex dtype, even with zero imaginary parts
        lambda x: (x + 1j).tolist(),
        lambda x: numpy.where(numpy.arange(x.size).reshape(x.shape) == 5, x + 1j, x).astype(object),
    ],
    ids=["complex128", "complex64", "list", "object"],
)
def test_complex_inputs_are_refused(fitted, binary_data, make_complex):
    x_train, x_test, y_train, _ = binary_data
    for call in (
        lambda: fitted.predict(make_complex(x_test)),
        lambda: fitted.predict_proba(make_complex(x_test)),
        lambda: fitted.compile(make_complex(x_train)),
        lambda: fitted.quantize_input(make_complex(x_test)),
        lambda: tml.LogisticRegression().fit(make_complex(x_train), y_train),
        lambda: tml.LogisticRegression.from_sklearn_model(
            fitted.sklearn_model, make_complex(x_train)
        ),
    ):
        with pytest.raises(ValueError, match="Complex data not supported.*pass real numbers"):
            call()


@pytest.mark.parametrize("cls", [tml.Ridge, tml.LogisticRegression, tml.PoissonRegressor],
                         ids=lambda c: c.__name__)
def test_complex_targets_are_refused(cls, binary_data):
    x_train, _, y_train, _ = binary_data
    y = y_train + 1.0  # positive, for the Poisson regressor
    for bad in (y + 1j, (y + 0j).tolist(), y.astype(object) + numpy.where(y > 1, 1j, 0)):
        with pytest.raises(ValueError, match="Complex data not supported: y holds complex"):
            cls().fit(x_train, bad)
    cls().fit(x_train, y)  # the real part alone fits


def test_messages_scikit_learn_recognizes(fitted, binary_data):
    # The phrases of scikit-learn's check_array, which its tools and checks match.
    x_train, x_test, y_train, _ = binary_data
    with pytest.raises(ValueError, match="Reshape your data"):
        fitted.predict(x_test[0])
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 6\)\) while a minimum of 1"):
        fitted.predict(x_test[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(12, 0\)\) while a minimum"):
        tml.LogisticRegression().fit(numpy.empty((12, 0)), y_train[:12])
    objects = x_train.astype(object)
    numpy.testing.assert_array_equal(
        tml.LogisticRegression().fit(objects, y_train).predict(objects), fitted.predict(x_train)
    )
    objects[0, 0] = {"not": "a number"}
    with pytest.raises(TypeError, match="X must hold numbers only.*argument must be a string"):
        tml.LogisticRegression().fit(objects, y_train)
