"""Deployment sizes and latency (prints a table; not a test).

Per model (the README quickstart LogisticRegression, breast-cancer LogisticRegression n_bits=8,
a breast-cancer DecisionTreeClassifier, whose circuit has lookups): bytes of the evaluation keys
as uploaded (seeded), of one encrypted sample in seeded form (what FHEModelClient sends) and
unseeded (circuit::serialize_run_arguments' full ciphertexts: (n + 1) * 8 bytes each), of one
result; the in-process FHEModelServer.run latency per batch against model.predict(fhe="execute")
on the same batch, in the same run (median of 3).

    PYTHONPATH=build/python /usr/bin/python3 bench/deploy.py [--batch 8]
"""

import argparse
import statistics
import tempfile
import time

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
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
    header = (f"{'model':46} {'eval keys':>11} {'sample seeded':>13} {'unseeded':>10} "
              f"{'result':>9} {'server.run':>11} {'predict':>9} {'ratio':>6} same")
    print(f"batch of {args.batch} rows, median of 3 (seconds)")
    print(header)
    print("-" * len(header))
    for name, k, s, u, r, ts, tm, same, _ in rows:
        print(f"{name:46} {k:>11} {s:>13} {u:>10} {r:>9} {ts:>11.4f} "
              f"{tm:>9.4f} {ts / tm:>6.2f} {same}")


if __name__ == "__main__":
    main()
