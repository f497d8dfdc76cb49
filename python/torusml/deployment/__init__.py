"""Deployment of compiled models: the developer / client / server split (Concrete ML's names).

The developer saves a compiled model's artifacts; a client keeps the secret key, encrypts and
decrypts; a server holding only evaluation keys runs the model::

    from torusml.deployment import FHEModelClient, FHEModelDev, FHEModelServer

    FHEModelDev("model_dir", model).save()                 # server.bin, client.bin, manifest.json
    client = FHEModelClient("model_dir", key_dir="keys")
    client.generate_private_and_evaluation_keys()
    keys = client.get_serialized_evaluation_keys()          # seeded: what is uploaded
    inputs = client.quantize_encrypt_serialize(X)           # seeded ciphertexts
    server = FHEModelServer("model_dir"); server.load()
    result = server.run(inputs, keys)                       # encrypted outputs
    y = client.deserialize_decrypt_dequantize(result)       # predict_proba / predict

Everything cryptographic, the quantization and the post-processing run in C++
(``torusml::deploy``); this module only describes each model's post-processing (its task,
classes and link, read from the estimator) when saving, and converts arrays.
"""

import os

import numpy

from torusml import _core
from torusml._quantized_module import QuantizedModule

__all__ = ["FHEModelClient", "FHEModelDev", "FHEModelServer"]


def _require_compiled(quantized, model):
    if quantized is None or not getattr(quantized, "is_compiled", False):
        raise ValueError(
            f"this {type(model).__name__} is not compiled: call model.compile(X_train) before "
            f"saving its deployment artifacts"
        )


def _classes_as_text(classes):
    return [str(c) for c in numpy.asarray(classes).tolist()]


def _linear(model):
    from torusml.sklearn._base import LinearClassifierBase

    state = model._fitted_state("saving the deployment artifacts")
    quantized = state.quantized
    _require_compiled(quantized, model)
    sk = state.sklearn_model
    if isinstance(model, LinearClassifierBase):
        n_columns = int(quantized.n_outputs)
        probability = "none"
        if hasattr(model, "_is_multinomial"):  # LogisticRegression
            probability = "softmax" if model._is_multinomial(sk) else "sigmoid"
        elif type(model).__name__ == "SGDClassifier":
            loss = sk.get_params()["loss"]
            probability = {"log_loss": "sigmoid", "log": "sigmoid",
                           "modified_huber": "modified_huber"}.get(loss, "none")
        transform = {"task": "classification", "probability": probability,
                     "label_rule": "decision",
                     "targets": [(0, n_columns, _classes_as_text(sk.classes_))]}
    else:
        transform = {"task": "regression", "link": model._link(sk),
                     "output_is_1d": bool(state.output_is_1d)}
    return quantized, transform, None


def _trees(model):
    state = model._fitted_state("saving the deployment artifacts")
    quantized = state.quantized
    _require_compiled(quantized, model)
    t = state.transform
    transform = {"value_scale": [t.scale], "value_offset": [float(v) for v in t.offset],
                 "output_is_1d": bool(t.output_is_1d)}
    if t.targets is None:
        transform["task"] = "regression"
    else:
        targets = [(tg.start, tg.width, _classes_as_text(tg.classes)) for tg in t.targets]
        if t.link == "logistic":
            widths = {tg.width for tg in t.targets}
            if len(widths) != 1:
                raise ValueError("targets of different widths under a logistic link are not "
                                 "supported by the deployment artifacts")
            probability = "sigmoid" if widths == {1} else "softmax"
        else:
            probability = "frequency"
        transform.update({"task": "classification", "probability": probability,
                          "label_rule": "probabilities", "targets": targets})
    return quantized, transform, None


def _network(model):
    state = model._fitted_state("saving the deployment artifacts")
    compiled = state.compiled
    if compiled is None:
        _require_compiled(None, model)
    network = compiled.quantized_network
    standardization = ([float(v) for v in state.x_mean], [float(v) for v in state.x_scale])
    if state.classes is not None:
        transform = {"task": "classification", "probability": "softmax",
                     "label_rule": "decision",
                     "targets": [(0, len(state.classes), _classes_as_text(state.classes))]}
    else:
        transform = {"task": "regression", "value_scale": [float(v) for v in state.y_scale],
                     "value_offset": [float(v) for v in state.y_mean],
                     "output_is_1d": bool(state.output_is_1d)}
    return network, transform, standardization


def _describe(model):
    """(C++ model, transform dict, standardization or None) of a compiled torusml model."""
    from torusml.sklearn._base import BaseLinearModel
    from torusml.sklearn._tree_base import BaseTreeModel
    from torusml.sklearn.neural_net import _BaseNeuralNet

    if isinstance(model, QuantizedModule):
        if not model.is_compiled:
            _require_compiled(None, model)
        return model.quantized_network, {"task": "raw"}, None
    if isinstance(model, _core.QuantizedNetwork):
        return model, {"task": "raw"}, None
    if isinstance(model, BaseLinearModel):
        return _linear(model)
    if isinstance(model, BaseTreeModel):
        return _trees(model)
    if isinstance(model, _BaseNeuralNet):
        return _network(model)
    raise TypeError(
        f"FHEModelDev takes a compiled torusml model (torusml.sklearn estimators, or the "
        f"QuantizedModule of compile_torch_model / compile_onnx_model), got "
        f"{type(model).__name__}"
    )


class FHEModelDev:
    """Saves a compiled model's deployment artifacts into path_dir."""

    def __init__(self, path_dir, model=None):
        self.path_dir = os.fspath(path_dir)
        self.model = model

    def save(self):
        """Writes path_dir/server.bin (for the server), path_dir/client.bin (for clients) and
        path_dir/manifest.json, each atomically."""
        if self.model is None:
            raise ValueError("FHEModelDev needs the compiled model: FHEModelDev(path_dir, model)")
        quantized, transform, standardization = _describe(self.model)
        offset, scale = standardization if standardization is not None else ([], [])
        _core.save_model_artifacts(self.path_dir, quantized, transform, offset, scale)


class FHEModelClient:
    """The client: keys, encryption of inputs, decryption of results.

    key_dir: where the secret key and the evaluation keys are kept (mode 0600 in a 0700
    directory) and reloaded next time; None keeps them in memory only.
    """

    def __init__(self, path_dir, key_dir=None):
        self.path_dir = os.fspath(path_dir)
        self.key_dir = None if key_dir is None else os.fspath(key_dir)
        self._client = _core.DeployClient(self.path_dir)

    def generate_private_and_evaluation_keys(self, force=False):
        """Generates the keys, or reloads those of key_dir (force=True generates new ones)."""
        if self.key_dir is not None:
            self._client.load_or_generate_keys(self.key_dir, bool(force))
        elif force or not self._client.has_keys:
            self._client.generate_keys()

    def get_serialized_evaluation_keys(self):
        """The seeded evaluation keys (bytes) to send to the server; no secret."""
        self._ensure_keys()
        return self._client.serialized_evaluation_keys()

    def quantize_encrypt_serialize(self, X):
        """A batch (n_samples, n_features) quantized, encrypted (seeded) and serialized."""
        self._ensure_keys()
        X = numpy.asarray(X, dtype=numpy.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim > 2:
            X = X.reshape(len(X), -1)
        return self._client.quantize_encrypt_serialize(numpy.ascontiguousarray(X))

    def deserialize_decrypt(self, serialized_encrypted_output):
        """The decrypted integers of a server's result, (n_samples, *output shape)."""
        self._ensure_keys()
        return self._client.deserialize_decrypt(bytes(serialized_encrypted_output))

    def deserialize_decrypt_dequantize(self, serialized_encrypted_output):
        """Predictions of a server's result: probabilities for classifiers (as predict_proba;
        decision values for those without probabilities), values for regressors (as predict),
        the float outputs for modules."""
        self._ensure_keys()
        out = self._client.deserialize_decrypt_dequantize(bytes(serialized_encrypted_output))
        task = self._client.task
        if task == "classification" and self._client.has_probabilities:
            probabilities = out["probabilities"]
            return probabilities[0] if len(probabilities) == 1 else probabilities
        values = out["values"]
        if self._client.output_is_1d and values.ndim == 2 and values.shape[1] == 1:
            return values.ravel()
        if task == "classification" and values.shape[1] == 1:
            return values.ravel()
        return values

    def deserialize_decrypt_labels(self, serialized_encrypted_output):
        """Class labels (as text) of a classifier's result: one list per target."""
        self._ensure_keys()
        out = self._client.deserialize_decrypt_dequantize(bytes(serialized_encrypted_output))
        return out["labels"]

    def _ensure_keys(self):
        if not self._client.has_keys:
            raise ValueError(
                "the client has no keys: call generate_private_and_evaluation_keys() first"
            )


class FHEModelServer:
    """The server: runs the model of path_dir/server.bin on encrypted inputs."""

    def __init__(self, path_dir):
        self.path_dir = os.fspath(path_dir)
        self._server = None

    def load(self):
        """Loads path_dir/server.bin."""
        self._server = _core.DeployServer(self.path_dir)
        return self

    def run(self, serialized_encrypted_inputs, serialized_evaluation_keys):
        """Serialized encrypted outputs (bytes) for the serialized inputs of a client, with its
        serialized evaluation keys."""
        if self._server is None:
            self.load()
        return self._server.run(bytes(serialized_encrypted_inputs),
                                bytes(serialized_evaluation_keys))
