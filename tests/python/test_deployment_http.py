"""torusml.deployment over HTTP: a real torusml-server process on 127.0.0.1 (--port 0).

FHEModelDev saves a compiled decision tree (a circuit with programmable bootstrapping, so the
uploaded evaluation keys are real ones); torusml-server serves it; an FHEModelClient talks to it
with urllib only: GET /health and /model/client, POST /keys, POST /run with X-Key-Id. The
decrypted predictions equal model.predict_proba / predict(X, fhe="execute"); a client with another
key set gets other values; unknown key ids and damaged bodies are clear HTTP errors. The server
binary is build/apps/torusml-server (or $TORUSML_SERVER); the test is skipped only if it is not
built.
"""

import json
import os
import pathlib
import select
import subprocess
import time
import urllib.error
import urllib.request

import numpy
import pytest
from sklearn.datasets import load_breast_cancer

from torusml.deployment import FHEModelClient, FHEModelDev
from torusml.sklearn import DecisionTreeClassifier

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _server_binary():
    candidates = [os.environ.get("TORUSML_SERVER"), ROOT / "build" / "apps" / "torusml-server"]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return str(c)
    pytest.skip("torusml-server is not built (ninja -C build torusml_server, or set "
                "TORUSML_SERVER to its path)")


class _Server:
    """torusml-server on 127.0.0.1 with --port 0; stops with SIGTERM."""

    def __init__(self, model_dir, keys_dir, log_path):
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [_server_binary(), "--model", str(model_dir), "--keys", str(keys_dir),
             "--port", "0", "--host", "127.0.0.1", "--threads", "2"],
            stdout=subprocess.PIPE, stderr=self._log)
        line = b""
        deadline = time.monotonic() + 60
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        text = line.decode()
        if "listening on" not in text:
            self.stop()
            raise RuntimeError(f"torusml-server did not start: {text!r}; log: "
                               f"{pathlib.Path(log_path).read_text()}")
        self.url = text.strip().split("listening on ")[1]

    def request(self, method, path, body=None, headers=None):
        """(status, content type, body bytes) of one request."""
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=dict(headers or {}))
        if body is not None:
            req.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def upload_keys(self, client):
        status, _, body = self.request("POST", "/keys", client.get_serialized_evaluation_keys())
        assert status in (200, 201), body
        return json.loads(body)["key_id"]

    def run(self, key_id, inputs):
        status, ctype, body = self.request("POST", "/run", inputs, {"X-Key-Id": key_id})
        assert status == 200, body
        assert ctype == "application/octet-stream"
        return body

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    X, y = load_breast_cancer(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=3, n_bits=4, random_state=0).fit(X, y)
    model.compile(X)
    FHEModelDev(tmp / "model", model).save()
    server = _Server(tmp / "model", tmp / "server_keys", tmp / "server.log")
    yield model, X, tmp, server
    assert server.stop() == 0  # SIGTERM: a clean exit


def test_client_over_http_equals_execute(deployed):
    model, X, tmp, server = deployed
    X = X[:4]
    status, _, health = server.request("GET", "/health")
    assert status == 200 and json.loads(health)["status"] == "ok"
    # The client artifact the server hands out is the developer's client.bin.
    status, _, artifact = server.request("GET", "/model/client")
    assert status == 200 and artifact == (tmp / "model" / "client.bin").read_bytes()
    (tmp / "downloaded").mkdir()
    (tmp / "downloaded" / "client.bin").write_bytes(artifact)

    client = FHEModelClient(tmp / "downloaded", key_dir=tmp / "keys")
    client.generate_private_and_evaluation_keys()
    assert len(client.get_serialized_evaluation_keys()) > 1 << 20  # bootstrapping keys, seeded
    key_id = server.upload_keys(client)
    assert server.upload_keys(client) == key_id  # the same keys: the same id, stored once
    result = server.run(key_id, client.quantize_encrypt_serialize(X))
    numpy.testing.assert_array_equal(client.deserialize_decrypt_dequantize(result),
                                     model.predict_proba(X, fhe="execute"))
    assert client.deserialize_decrypt_labels(result)[0] == [
        str(v) for v in model.predict(X, fhe="execute")]

    # Another key set (its own keys uploaded, its own id): the first client's result decrypts to
    # other values, and its own ciphertexts run under its own id.
    other = FHEModelClient(tmp / "downloaded", key_dir=tmp / "other_keys")
    other.generate_private_and_evaluation_keys()
    other_id = server.upload_keys(other)
    assert other_id != key_id
    expected_q = client.deserialize_decrypt(result)
    assert not numpy.array_equal(other.deserialize_decrypt(result), expected_q)
    other_result = server.run(other_id, other.quantize_encrypt_serialize(X))
    numpy.testing.assert_array_equal(other.deserialize_decrypt_dequantize(other_result),
                                     model.predict_proba(X, fhe="execute"))


def test_http_errors(deployed):
    _, X, tmp, server = deployed
    client = FHEModelClient(tmp / "model")
    client.generate_private_and_evaluation_keys()
    inputs = client.quantize_encrypt_serialize(X[:1])
    status, ctype, body = server.request("POST", "/run", inputs, {"X-Key-Id": "0" * 64})
    assert status == 404 and ctype.startswith("application/json")
    assert "key" in json.loads(body)["error"]
    status, _, body = server.request("POST", "/run", inputs)
    assert status == 400 and "X-Key-Id" in json.loads(body)["error"]
    key_id = server.upload_keys(client)
    damaged = bytearray(inputs)
    damaged[len(damaged) // 2] ^= 0x40
    status, _, body = server.request("POST", "/run", bytes(damaged), {"X-Key-Id": key_id})
    assert status == 400 and json.loads(body)["error"]
    status, _, _ = server.request("POST", "/keys", b"not keys")
    assert status == 400
    # The server still serves after the errors.
    assert server.run(key_id, inputs)
