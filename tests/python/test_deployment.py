"""torusml.deployment: developer / client / server split with real keys.

For a linear model, a decision tree and a small neural network: save -> client keys ->
seeded encryption -> in-process server -> decryption equals the model's own fhe="execute"
predictions on the same rows (the same integers); another key set does not decrypt; a key
directory reloads the same keys; damaged bytes raise a clear ValueError.
"""

import os
import stat

import numpy
import pytest
from sklearn.datasets import load_breast_cancer, make_classification

from torusml.deployment import FHEModelClient, FHEModelDev, FHEModelServer
from torusml.sklearn import DecisionTreeClassifier, LogisticRegression, NeuralNetClassifier


def _roundtrip(tmp_path, model, X, key_dir=None):
    path = tmp_path / "model"
    FHEModelDev(path, model).save()
    for name in ("server.bin", "client.bin", "manifest.json"):
        assert (path / name).is_file()
    client = FHEModelClient(path, key_dir=key_dir)
    client.generate_private_and_evaluation_keys()
    keys = client.get_serialized_evaluation_keys()
    inputs = client.quantize_encrypt_serialize(X)
    server = FHEModelServer(path)
    server.load()
    result = server.run(inputs, keys)
    return client, server, keys, inputs, result


@pytest.fixture(scope="module")
def linear():
    x, y = make_classification(n_samples=100, class_sep=2, n_features=4, random_state=42)
    model = LogisticRegression(n_bits=2).fit(x, y)
    model.compile(x)
    return model, x[:5]


def test_linear_equals_execute_and_keys_reload(tmp_path, linear):
    model, X = linear
    key_dir = tmp_path / "keys"
    client, server, keys, inputs, result = _roundtrip(tmp_path, model, X, key_dir=key_dir)
    q_expected = model.quantized_module.run_integer(model.quantize_input(X), "execute")
    numpy.testing.assert_array_equal(client.deserialize_decrypt(result), q_expected)
    numpy.testing.assert_array_equal(client.deserialize_decrypt_dequantize(result),
                                     model.predict_proba(X, fhe="execute"))
    labels = client.deserialize_decrypt_labels(result)[0]
    assert labels == [str(v) for v in model.predict(X)]
    # Seeded inputs: about 8 bytes per ciphertext.
    assert len(inputs) < 8 * X.size + 300
    # The key directory holds the secret key privately and gives it back.
    mode = stat.S_IMODE(os.stat(key_dir / "client_keys.bin").st_mode)
    assert mode == 0o600
    again = FHEModelClient(tmp_path / "model", key_dir=key_dir)
    again.generate_private_and_evaluation_keys()
    assert again.get_serialized_evaluation_keys() == keys
    numpy.testing.assert_array_equal(again.deserialize_decrypt(result), q_expected)
    # Another key set does not decrypt these results.
    other = FHEModelClient(tmp_path / "model")
    other.generate_private_and_evaluation_keys()
    assert not numpy.array_equal(other.deserialize_decrypt(result), q_expected)
    # Damaged bytes: clear errors, the server keeps working.
    damaged = bytearray(inputs)
    damaged[len(damaged) // 2] ^= 0x40
    with pytest.raises(ValueError, match="checksum|invalid|damaged"):
        server.run(bytes(damaged), keys)
    with pytest.raises(ValueError, match="TorusML|truncated"):
        client.deserialize_decrypt(result[:40])
    assert server.run(inputs, keys)


def test_breast_cancer_logistic_8_bits(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(n_bits=8, max_iter=2000).fit(X, y)
    model.compile(X)
    client, _, _, _, result = _roundtrip(tmp_path, model, X[:4])
    numpy.testing.assert_array_equal(client.deserialize_decrypt_dequantize(result),
                                     model.predict_proba(X[:4], fhe="execute"))


def test_decision_tree_equals_execute(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=3, n_bits=4, random_state=0).fit(X, y)
    model.compile(X)
    client, _, _, _, result = _roundtrip(tmp_path, model, X[:3])
    numpy.testing.assert_array_equal(client.deserialize_decrypt_dequantize(result),
                                     model.predict_proba(X[:3], fhe="execute"))
    assert client.deserialize_decrypt_labels(result)[0] == [
        str(v) for v in model.predict(X[:3])]


def test_neural_net_classifier_equals_execute(tmp_path):
    X, y = make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=3, random_state=0)
    model = NeuralNetClassifier(module__n_layers=2, module__n_w_bits=2, module__n_a_bits=2,
                                module__n_hidden_neurons_multiplier=1, max_epochs=2,
                                random_state=0)
    model.fit(X.astype(numpy.float32), y)
    model.compile(X)
    client, _, _, _, result = _roundtrip(tmp_path, model, X[:2])
    numpy.testing.assert_allclose(client.deserialize_decrypt_dequantize(result),
                                  model.predict_proba(X[:2], fhe="execute"), rtol=0, atol=1e-12)


def test_artifacts_of_another_model_and_bad_arguments(tmp_path, linear):
    model, X = linear
    path = tmp_path / "model"
    FHEModelDev(path, model).save()
    client = FHEModelClient(path)
    with pytest.raises(ValueError, match="no keys"):
        client.quantize_encrypt_serialize(X)
    client.generate_private_and_evaluation_keys()
    with pytest.raises(ValueError, match="features"):
        client.quantize_encrypt_serialize(X[:, :2])
    with pytest.raises(TypeError, match="compiled torusml model"):
        FHEModelDev(tmp_path / "x", object()).save()
    damaged = bytearray((path / "client.bin").read_bytes())
    damaged[30] ^= 1
    (path / "client.bin").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="checksum|ClientArtifact"):
        FHEModelClient(path)
