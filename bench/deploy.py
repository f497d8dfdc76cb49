"""Deployment sizes and latency (prints a table; not a test).

Per model (the README quickstart LogisticRegression, breast-cancer LogisticRegression n_bits=8,
a breast-cancer DecisionTreeClassifier, whose circuit has lookups): bytes of the evaluation keys
as uploaded (seeded), of one encrypted sample in seeded form (what FHEModelClient sends) and
unseeded (circuit::serialize_run_arguments' full ciphertexts: (n + 1) * 8 bytes each), of one
result; the in-process FHEModelServer.run latency per batch against model.predict(fhe="execute")
on the same batch, in the same run (median of 3).

Then, over HTTP: a real torusml-server on 127.0.0.1 serving the decision tree, and --clients
concurrent clients (threads, each with its own keys, uploaded once) sending --requests requests of
one sample in all: requests per second, latency quantiles, every result checked against the clear
prediction, and the server's peak resident memory.

    PYTHONPATH=build/python /usr/bin/python3 bench/deploy.py [--batch 8] [--clients 8]
        [--requests 200]
"""

import argparse
import json
import os
import pathlib
import select
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

import numpy
from sklearn.datasets import load_breast_cancer, make_classification

from torusml.deployment import FHEModelClient, FHEModelDev, FHEModelServer
from torusml.sklearn import DecisionTreeClassifier, LogisticRegression


def _median_seconds(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _models():
    x, y = make_classification(n_samples=100, class_sep=2, n_features=4, random_state=42)
    quick = LogisticRegression(n_bits=2).fit(x, y)
    quick.compile(x)
    yield "quickstart LogisticRegression n_bits=2", quick, x
    X, y = load_breast_cancer(return_X_y=True)
    logistic = LogisticRegression(n_bits=8, max_iter=5000).fit(X, y)
    logistic.compile(X)
    yield "breast cancer LogisticRegression n_bits=8", logistic, X
    tree = DecisionTreeClassifier(max_depth=4, n_bits=6, random_state=0).fit(X, y)
    tree.compile(X)
    yield "breast cancer DecisionTree depth 4 (lookups)", tree, X


ROOT = pathlib.Path(__file__).resolve().parents[1]


def _start_server(model_dir, keys_dir, threads):
    """A torusml-server process on 127.0.0.1 (ephemeral port) and its URL."""
    binary = os.environ.get("TORUSML_SERVER", str(ROOT / "build" / "apps" / "torusml-server"))
    process = subprocess.Popen(
        [binary, "--model", str(model_dir), "--keys", str(keys_dir), "--port", "0",
         "--threads", str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = b""
    deadline = time.monotonic() + 60
    while b"\n" not in line and time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.2)[0]:
            chunk = os.read(process.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    text = line.decode()
    if "listening on" not in text:
        process.kill()
        raise RuntimeError(f"torusml-server did not start: {text!r}")
    return process, text.strip().split("listening on ")[1]


def _post(url, body, headers=None):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/octet-stream",
                                          **(headers or {})})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()


def _peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_http(model, X, clients, requests):
    """(requests/s, p50 s, p90 s, all correct, server peak RSS MB) over loopback."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        FHEModelDev(tmp / "model", model).save()
        process, url = _start_server(tmp / "model", tmp / "server_keys", clients)
        try:
            sessions = []
            for _ in range(clients):
                client = FHEModelClient(tmp / "model")
                client.generate_private_and_evaluation_keys()
                key_id = json.loads(_post(url + "/keys",
                                          client.get_serialized_evaluation_keys()))["key_id"]
                sessions.append((client, key_id))
            expected = model.predict(X)
            latencies, wrong, lock = [], [], threading.Lock()
            counter = iter(range(requests))

            def work(client, key_id):
                for i in counter:  # shared: 'requests' in all
                    row = i % len(X)
                    start = time.perf_counter()
                    out = _post(url + "/run", client.quantize_encrypt_serialize(X[row:row + 1]),
                                {"X-Key-Id": key_id})
                    label = client.deserialize_decrypt_labels(out)
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
                        if str(label[0][0]) != str(expected[row]):
                            wrong.append(row)

            threads = [threading.Thread(target=work, args=s) for s in sessions]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            q = statistics.quantiles(latencies, n=10)
            rss = _peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=120)
        return len(latencies) / wall, q[4], q[8], not wrong and len(latencies) == requests, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    tree = None
    rows = []
    for name, model, X in _models():
        batch = X[: args.batch]
        with tempfile.TemporaryDirectory() as tmp:
            FHEModelDev(tmp, model).save()
            client = FHEModelClient(tmp)
            client.generate_private_and_evaluation_keys()
            keys = client.get_serialized_evaluation_keys()
            seeded_one = client.quantize_encrypt_serialize(X[:1])
            circuit = model.fhe_circuit
            n_inputs = int(client._client.n_features)
            # One sample's full ciphertexts: the circuit statistics' per-sample input bytes.
            unseeded_one = int(circuit.statistics["input_ciphertext_bytes"])
            server = FHEModelServer(tmp).load()
            inputs = client.quantize_encrypt_serialize(batch)
            result_one = server.run(seeded_one, keys)
            server.run(inputs, keys)  # expands and caches the keys
            t_server = _median_seconds(lambda: server.run(inputs, keys))
            t_model = _median_seconds(lambda: model.predict(batch, fhe="execute"))
            out = client.deserialize_decrypt_dequantize(server.run(inputs, keys))
            proba = model.predict_proba(batch, fhe="execute")
            same = bool(numpy.array_equal(out, proba))
        rows.append((name, len(keys), len(seeded_one), unseeded_one, len(result_one),
                     t_server, t_model, same, n_inputs))
        tree = (model, X)  # the last model: the one with lookups
    header = (f"{'model':46} {'eval keys':>11} {'sample seeded':>13} {'unseeded':>10} "
              f"{'result':>9} {'server.run':>11} {'predict':>9} {'ratio':>6} same")
    print(f"batch of {args.batch} rows, median of 3 (seconds)")
    print(header)
    print("-" * len(header))
    for name, k, s, u, r, ts, tm, same, _ in rows:
        print(f"{name:46} {k:>11} {s:>13} {u:>10} {r:>9} {ts:>11.4f} "
              f"{tm:>9.4f} {ts / tm:>6.2f} {same}")
    if args.clients > 0 and tree is not None:
        rps, p50, p90, correct, rss = bench_http(*tree, args.clients, args.requests)
        print(f"\nHTTP, {rows[-1][0]}: {args.clients} concurrent clients (own keys), "
              f"{args.requests} requests of one sample: {rps:.1f} requests/s, latency p50 "
              f"{p50:.3f} s, p90 {p90:.3f} s, all correct: {correct}, server peak RSS "
              f"{rss:.0f} MB")


if __name__ == "__main__":
    main()
