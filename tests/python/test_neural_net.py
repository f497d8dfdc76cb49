"""The built-in neural networks (NeuralNetClassifier, NeuralNetRegressor): quantization-aware
training, the ONNX export in QDQ form, FHE execution with real keys, the scikit-learn API and
errors. Models are small (few hidden neurons, 2-3 bits) so that the encrypted runs take seconds.
"""

import pickle

import numpy
import onnx
import onnx.numpy_helper
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import torusml
from torusml import _core
from torusml.sklearn import NeuralNetClassifier, NeuralNetRegressor


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def small_classifier(**kwargs):
    """Cheap in FHE: 3 layers of 4 neurons, ternary weights, 3-bit activations (8 lookups)."""
    params = dict(module__n_layers=3, module__n_w_bits=2, module__n_a_bits=3,
                  module__n_hidden_neurons_multiplier=1, max_epochs=60, batch_size=32,
                  random_state=0)
    params.update(kwargs)
    return NeuralNetClassifier(**params)


@pytest.fixture(scope="module")
def compiled_iris(iris):
    X_train, X_test, y_train, y_test = iris
    model = small_classifier().fit(X_train, y_train)
    clear_before = model.predict_proba(X_test)
    model.compile(X_train)
    return model, clear_before


def test_quantized_accuracy_close_to_float(iris):
    X_train, X_test, y_train, y_test = iris
    float_model = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(16, 16), learning_rate_init=0.01, max_iter=300,
                      random_state=0),
    ).fit(X_train, y_train)
    float_accuracy = float_model.score(X_test, y_test)
    # Concrete ML's configuration: 3 layers, 4 x 4 hidden neurons, 4-bit weights and activations.
    model = NeuralNetClassifier(module__n_layers=3, max_epochs=60, batch_size=32,
                                random_state=0).fit(X_train, y_train)
    quantized_accuracy = model.score(X_test, y_test)
    assert float_accuracy >= 0.95
    assert quantized_accuracy >= float_accuracy - 0.05
    # Even 3 bits everywhere keep most of it.
    model3 = NeuralNetClassifier(module__n_layers=3, module__n_w_bits=3, module__n_a_bits=3,
                                 max_epochs=60, batch_size=32, random_state=0)
    assert model3.fit(X_train, y_train).score(X_test, y_test) >= float_accuracy - 0.1


def test_training_is_quantization_aware(iris):
    X_train, _, y_train, _ = iris
    model = small_classifier(module__n_w_bits=3).fit(X_train, y_train)
    module = model.sklearn_model.module_
    assert len(module.linears) == 3
    assert [layer.out_features for layer in module.linears] == [4, 4, 3]
    for layer in module.linears:
        # The weights the network computes with: at most 2^3 - 1 symmetric levels.
        w = layer._quantized(1.0)[0].detach().numpy()
        scale = layer.weight_scale()
        levels = numpy.unique(numpy.rint(w / scale))
        assert set(levels) <= set(range(-3, 4))
        assert numpy.allclose(w, numpy.rint(w / scale) * scale)
    codes = model.quantize_input(X_train)
    assert codes.dtype == numpy.int64 and codes.shape == X_train.shape
    assert codes.min() >= 0 and codes.max() <= 7 and len(numpy.unique(codes)) > 4


def test_onnx_export_is_qdq_and_matches_the_clear_model(iris):
    X_train, X_test, y_train, _ = iris
    model = small_classifier(module__n_w_bits=3).fit(X_train, y_train)
    data = model.onnx_model
    proto = onnx.load_model_from_string(data)
    onnx.checker.check_model(proto)
    ops = [node.op_type for node in proto.graph.node]
    # The input, 3 weight tensors and 2 activations, each Clip -> QuantizeLinear ->
    # DequantizeLinear.
    assert ops.count("QuantizeLinear") == 6 and ops.count("DequantizeLinear") == 6
    assert ops.count("Clip") == 6 and ops.count("Gemm") == 3 and ops.count("Relu") == 2
    producer = {out: node for node in proto.graph.node for out in node.output}

    def constant(name):
        return onnx.numpy_helper.to_array(producer[name].attribute[0].t)

    kinds = []
    for dq in (node for node in proto.graph.node if node.op_type == "DequantizeLinear"):
        q = producer[dq.input[0]]
        clip = producer[q.input[0]]
        assert q.op_type == "QuantizeLinear" and clip.op_type == "Clip"
        scale, zero_point = float(constant(q.input[1])), int(constant(q.input[2]))
        assert list(dq.input[1:]) == list(q.input[1:]) and scale > 0
        lo, hi = (round(float(constant(name)) / scale) + zero_point for name in clip.input[1:])
        signed = constant(q.input[2]).dtype == numpy.int8
        kinds.append((signed, hi - lo + 1))
    # Weights: 3-bit symmetric (7 levels, int8); input and activations: 3-bit unsigned (8
    # levels, uint8).
    assert sorted(kinds) == [(False, 8)] * 3 + [(True, 7)] * 3
    # The float graph evaluates to the model's clear logits (float rounding aside).
    standardized = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    onnx_logits = _core.evaluate_onnx(data, [standardized], batch_size=len(X_test))[0]
    state = model._fitted
    clear_logits = state.clear_outputs(state.standardize(X_test))
    assert onnx_logits.shape == (len(X_test), 3)
    assert numpy.allclose(onnx_logits, clear_logits, atol=1e-4 * numpy.abs(clear_logits).max())


def test_execute_equals_disable_on_iris(iris, compiled_iris):
    X_train, X_test, y_train, y_test = iris
    model, clear_before = compiled_iris
    module = model.quantized_module
    assert isinstance(module, torusml.QuantizedModule) and module.is_compiled
    # Cheap circuit: two lookup nodes of 4 lookups each, at most 6-bit tables, no rounding.
    lookups = module.lookups
    assert sum(node["lookups"] for node in lookups) == 8
    assert all(node["precision"] <= 6 and node["lsbs_removed"] == 0 for node in lookups)
    assert "8 lookups per sample" in str(model.fhe_circuit).replace("total: ", "")
    disable = model.predict_proba(X_test)
    # Without rounding, the compiled module computes exactly the trained quantized network.
    assert numpy.array_equal(disable, clear_before)
    assert numpy.array_equal(model.predict_proba(X_test, fhe="simulate"), disable)
    execute = model.predict_proba(X_test, fhe="execute")
    assert numpy.array_equal(execute, disable)
    labels = model.predict(X_test, fhe="execute")
    assert numpy.array_equal(labels, model.predict(X_test))
    assert (labels == y_test).mean() >= 0.85


def test_client_server_steps(iris, compiled_iris):
    _, X_test, _, _ = iris
    model, _ = compiled_iris
    q_x = model.quantize_input(X_test)
    q_y = model.quantized_module.run_integer(q_x, fhe="execute")
    logits = model.dequantize_output(q_y)
    assert numpy.allclose(_core.softmax(numpy.ascontiguousarray(logits)),
                          model.predict_proba(X_test))


def test_regressor():
    X, y = make_regression(n_samples=200, n_features=3, n_informative=3, noise=5.0,
                           random_state=3)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    # Ternary weights, 3-bit activations, 6 hidden neurons: 5-bit circuit, 6 lookups.
    model = NeuralNetRegressor(module__n_layers=2, module__n_w_bits=2, module__n_a_bits=3,
                               module__n_hidden_neurons_multiplier=2, max_epochs=30,
                               batch_size=32, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.8
    clear = model.predict(X_test)
    assert clear.shape == (len(X_test),)
    model.compile(X_train)
    assert sum(node["lookups"] for node in model.quantized_module.lookups) == 6
    assert numpy.array_equal(model.predict(X_test), clear)
    assert numpy.array_equal(model.predict(X_test, fhe="simulate"), clear)
    assert numpy.array_equal(model.predict(X_test, fhe="execute"), clear)
    # Several targets: one output each.
    Y = numpy.column_stack([y, -2 * y + 100])
    two = NeuralNetRegressor(module__n_layers=2, max_epochs=30, batch_size=32,
                             random_state=0).fit(X, Y)
    assert two.predict(X).shape == (len(X), 2)
    assert two.score(X, Y) >= 0.7


def test_string_labels(iris):
    X_train, X_test, y_train, y_test = iris
    names = numpy.array(["setosa", "versicolor", "virginica"])
    model = small_classifier().fit(X_train, names[y_train])
    assert list(model.classes_) == list(names)
    predicted = model.predict(X_test)
    assert predicted.dtype.kind == "U" and set(predicted) <= set(names)
    assert (predicted == names[y_test]).mean() >= 0.85


def test_pipeline_and_grid_search(iris):
    X_train, X_test, y_train, y_test = iris
    pipe = Pipeline([("scale", StandardScaler()),
                     ("nn", NeuralNetClassifier(module__n_layers=2, max_epochs=30,
                                                batch_size=32, random_state=0))])
    pipe.set_params(nn__module__n_w_bits=3)
    assert pipe.get_params()["nn__module__n_w_bits"] == 3
    assert pipe.fit(X_train, y_train).score(X_test, y_test) >= 0.85
    search = GridSearchCV(
        NeuralNetClassifier(module__n_layers=2, max_epochs=30, batch_size=32, random_state=0),
        {"module__n_a_bits": [2, 4], "lr": [0.01, 0.05]},
        cv=3,
    ).fit(X_train, y_train)
    assert search.best_params_["module__n_a_bits"] in (2, 4)
    assert search.best_estimator_.score(X_test, y_test) >= 0.85


def test_parameters_and_clone():
    model = NeuralNetClassifier(module__n_layers=3, optimizer__weight_decay=1e-4,
                                iterator_train__shuffle=False)
    params = model.get_params()
    assert params["module__n_layers"] == 3 and params["module__n_w_bits"] == 4
    assert params["optimizer__weight_decay"] == 1e-4
    copy = clone(model)
    assert copy.get_params() == params
    model.set_params(module__n_accum_bits=6, optimizer__weight_decay=0.0)
    assert model.module__n_accum_bits == 6 and model.optimizer__weight_decay == 0.0
    with pytest.raises(ValueError, match="Invalid parameter 'n_layers'"):
        model.set_params(n_layers=3)
    with pytest.raises(TypeError, match="unexpected argument 'module__width'"):
        NeuralNetClassifier(module__n_layers=3, module__width=4)
    with pytest.raises(TypeError, match="set by fit"):
        NeuralNetClassifier(module__n_layers=3, module__input_dim=4)
    with pytest.raises(TypeError, match="unexpected argument 'epochs'"):
        NeuralNetClassifier(module__n_layers=3, epochs=4)


def test_reproducible_and_picklable(iris):
    X_train, X_test, y_train, _ = iris
    first = small_classifier(max_epochs=10).fit(X_train, y_train)
    second = small_classifier(max_epochs=10).fit(X_train, y_train)
    assert numpy.array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    first.compile(X_train[:20])
    loaded = pickle.loads(pickle.dumps(first))
    assert loaded.fhe_circuit is None  # compile again after unpickling
    assert numpy.array_equal(loaded.predict_proba(X_test), second.predict_proba(X_test))
    with pytest.raises(torusml.NotCompiledError):
        loaded.predict(X_test, fhe="simulate")


def test_errors(iris):
    X_train, X_test, y_train, _ = iris
    unfitted = NeuralNetClassifier(module__n_layers=2)
    for call in (lambda: unfitted.predict(X_test), lambda: unfitted.compile(X_train),
                 lambda: unfitted.quantize_input(X_test), lambda: unfitted.onnx_model):
        with pytest.raises(NotFittedError, match=r"not fitted yet: call fit\(X, y\)"):
            call()
    with pytest.raises(ValueError, match="requires module__n_layers"):
        NeuralNetClassifier().fit(X_train, y_train)
    with pytest.raises(ValueError, match="requires module__n_layers"):
        NeuralNetRegressor().fit(X_train, X_train[:, 0])
    for bad in ({"module__n_w_bits": 9}, {"module__n_a_bits": 1}, {"module__n_layers": 0},
                {"module__n_accum_bits": 0}, {"module__activation_function": "relu"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            small_classifier(**bad).fit(X_train, y_train)
    model = small_classifier(max_epochs=5).fit(X_train, y_train)
    for fhe in ("simulate", "execute"):
        with pytest.raises(torusml.NotCompiledError, match=r"call model.compile\(X_train\)"):
            model.predict(X_test, fhe=fhe)
    with pytest.raises(ValueError, match="not a valid mode"):
        model.predict(X_test, fhe="encrypted")
    with pytest.raises(ValueError, match="expecting 4 features"):
        model.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="features"):
        model.compile(X_train[:, :2])
    x = X_test.copy()
    x[1, 2] = numpy.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(x)
    with pytest.raises(ValueError, match="NaN"):
        small_classifier().fit(x, y_train[: len(x)])
    with pytest.raises(ValueError, match="Unknown label type"):
        small_classifier().fit(X_train, X_train[:, 0])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        NeuralNetRegressor(module__n_layers=2).fit(X_train, numpy.full(len(X_train), numpy.nan))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small_classifier().fit(X_train, y_train[:-1])
