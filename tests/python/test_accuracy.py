"""At n_bits=8 the quantized models are within 2 accuracy points (R^2 within 0.02) of the float
scikit-learn models on the datasets that ship with scikit-learn, and encrypted predictions score
exactly as the clear quantized ones."""

import pytest
from conftest import CLASSIFIERS, REGRESSORS, make_model
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def _scaled_split(loader):
    x, y = loader(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test), y_train, y_test


def _check(model, metric, tolerance, data):
    x_train, x_test, y_train, y_test = data
    model.fit(x_train, y_train)
    float_score = metric(y_test, model.sklearn_model.predict(x_test))
    quantized_score = metric(y_test, model.predict(x_test))
    assert abs(quantized_score - float_score) <= tolerance, (float_score, quantized_score)
    model.compile(x_train)
    assert metric(y_test, model.predict(x_test, fhe="execute")) == quantized_score


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris, load_wine])
def test_classifier_accuracy_at_8_bits(cls, loader):
    _check(make_model(cls, n_bits=8), accuracy_score, 0.02, _scaled_split(loader))


@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda c: c.__name__)
def test_regressor_r2_at_8_bits(cls):
    _check(make_model(cls, n_bits=8), r2_score, 0.02, _scaled_split(load_diabetes))


def test_unscaled_features_keep_their_resolution():
    # Per-feature input quantizers: raw breast-cancer features span 0.001 to 4000.
    x, y = load_breast_cancer(return_X_y=True)
    data = train_test_split(x, y, test_size=0.3, random_state=0)
    model = make_model(CLASSIFIERS[0], n_bits=8, max_iter=5000)
    _check(model, accuracy_score, 0.02, data)
