#!/usr/bin/python3
"""Neural networks in FHE: encrypted latency, lookups and their precisions, accuracy of the float,
quantized and encrypted models, compile time and key sizes.

Models (issue 10's benchmark; trained here with fixed seeds, in a few seconds each):
  - NeuralNetClassifier on iris: 3 layers, ReLU, quantization-aware (4-bit weights and
    activations, Concrete ML's defaults), module__n_accum_bits=5 (accumulators rounded to 5 bits:
    5-bit lookups); float baseline: the same architecture trained in float;
  - a CNN on scikit-learn's digits (8x8): Conv(1->4, 3x3) + AvgPool 2 + ReLU, Conv(4->8, 3x3) +
    AvgPool 2 + ReLU, then Gemm (32 -> 10), trained in float with torch, quantized after training
    (compile_torch_model, n_bits=6, rounding_threshold_bits=6);
  - an MLP on digits, 64-128-128-10: NeuralNetClassifier(module__n_layers=3,
    module__n_hidden_neurons_multiplier=2, module__n_accum_bits=5), quantization-aware; float
    baseline as for iris.
For each: lookups per sample and their precisions (what dominates the latency), the encrypted
latency per sample (median over --runs runs of one call on a batch of --batch test samples, on
every core), the compiler's estimate, compile time (with key generation), evaluation key size,
and accuracy float / quantized (clear) / FHE on the batch and float / quantized on the whole test
split ("same": encrypted predictions equal the clear quantized ones); then the first
--accuracy-samples test samples once more under encryption: FHE accuracy and its agreement with
the clear quantized predictions (approximate rounding may move a lookup by one step near a
rounding boundary, so they can differ on a few samples).

    /usr/bin/python3 bench/ml_nn.py [--runs 3] [--batch 20] [--quick] [--only iris]
        [--accuracy-samples 100]
"""

import argparse
import os
import pathlib
import sys
import time

import numpy
import torch

try:
    import torusml  # noqa: F401
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "build" / "python"))

from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from torusml.sklearn import NeuralNetClassifier
from torusml.torch import compile_torch_model


# Extra keyword arguments of every compile() call (--grouping-factors).
COMPILE_OPTIONS = {}

def split(loader):
    x, y = loader(return_X_y=True)
    return train_test_split(x.astype(numpy.float32), y, test_size=0.3, random_state=0, stratify=y)


def train_float(module, x, y, epochs, lr=0.01, seed=0):
    """Plain float training (Adam, cross-entropy, full batches of 64)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    xt, yt = torch.tensor(x), torch.tensor(y, dtype=torch.long)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(module(xt[idx]), yt[idx]).backward()
            opt.step()
    return module.eval()


def float_mlp(n_in, hidden, n_out, layers):
    mods, width = [], n_in
    for _ in range(layers - 1):
        mods += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        width = hidden
    mods.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*mods)


def torch_accuracy(module, x, y):
    with torch.no_grad():
        return float((module(torch.tensor(x)).argmax(1).numpy() == y).mean())


def timed(fn, runs):
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(numpy.median(times)), out


def fhe_accuracy(predict_fhe, predict_clear, predict_float, x, y, samples):
    """Accuracy of the float model, of the quantized one in the clear and under encryption, and
    the agreement of the last two, on the first `samples` test samples (one encrypted call): a
    batch of 10 is too few to compare accuracies point by point."""
    if samples <= 0:
        return {}
    xs, ys = x[:samples], y[:samples]
    fhe, clear = predict_fhe(xs), predict_clear(xs)
    return {"acc_n": len(xs), "fhe_acc": float((fhe == ys).mean()),
            "float_acc": float((predict_float(xs) == ys).mean()),
            "quant_acc": float((clear == ys).mean()), "agree": float((fhe == clear).mean())}


def circuit_row(circuit, lookups):
    s = circuit.statistics
    precisions = {}
    for l in lookups:
        if l.get("precision"):
            precisions[l["precision"]] = precisions.get(l["precision"], 0) + l["lookups"]
    return {
        "lookups": s["pbs_count"],
        "precisions": dict(sorted(precisions.items(), reverse=True)),
        "estimate_s": s["estimated_latency_seconds"],
        "eval_key_mb": s["evaluation_key_bytes"] / 1e6,
        "eval_key_seeded_mb": s["evaluation_key_seeded_bytes"] / 1e6,
        "params": str(circuit).split("parameters: ")[1].split("\n")[0],
    }


def bench_net_classifier(name, loader, layers, multiplier, epochs, runs, batch, target,
                         accum_bits=None, accuracy_samples=0):
    x_train, x_test, y_train, y_test = split(loader)
    scaler = StandardScaler().fit(x_train)
    xs_train, xs_test = (scaler.transform(v).astype(numpy.float32) for v in (x_train, x_test))
    hidden = multiplier * x_train.shape[1]
    n_classes = len(numpy.unique(y_train))
    baseline = train_float(float_mlp(x_train.shape[1], hidden, n_classes, layers), xs_train,
                           y_train, epochs)
    model = NeuralNetClassifier(module__n_layers=layers, module__n_accum_bits=accum_bits,
                                module__n_hidden_neurons_multiplier=multiplier,
                                max_epochs=epochs, random_state=0).fit(x_train, y_train)
    start = time.perf_counter()
    model.compile(x_train, **COMPILE_OPTIONS)
    compile_s = time.perf_counter() - start
    xb, yb = x_test[:batch], y_test[:batch]
    clear = model.predict(xb)
    seconds, fhe = timed(lambda: model.predict(xb, fhe="execute"), runs)
    row = {
        "model": name,
        "float": float((baseline(torch.tensor(scaler.transform(xb).astype(numpy.float32)))
                        .argmax(1).numpy() == yb).mean()),
        "quant": float((clear == yb).mean()),
        "fhe": float((fhe == yb).mean()),
        "same": bool(numpy.array_equal(fhe, clear)),
        "float_test": torch_accuracy(baseline, xs_test, y_test),
        "quant_test": float((model.predict(x_test) == y_test).mean()),
        "s_per_sample": seconds / len(xb),
        "compile_s": compile_s,
        "target": target,
        "batch": len(xb),
    }
    row.update(circuit_row(model.fhe_circuit, model.quantized_module.lookups))
    row.update(fhe_accuracy(
        lambda v: model.predict(v, fhe="execute"), model.predict,
        lambda v: baseline(torch.tensor(scaler.transform(v).astype(numpy.float32))).argmax(1)
        .numpy(), x_test, y_test, accuracy_samples))
    return row


class DigitsCnn(torch.nn.Module):
    """Conv(1->4, 3x3) + AvgPool 2 + ReLU, Conv(4->8, 3x3) + AvgPool 2 + ReLU, Gemm 32 -> 10.
    Pooling the convolution's accumulators (linear) before the ReLU leaves one lookup per pooled
    element: 64 + 32 per sample."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(torch.nn.functional.avg_pool2d(self.conv1(x), 2))
        x = torch.relu(torch.nn.functional.avg_pool2d(self.conv2(x), 2))
        return self.fc(x.flatten(1))


def bench_cnn(n_bits, rounding_bits, epochs, runs, batch, target, accuracy_samples=0):
    x_train, x_test, y_train, y_test = split(load_digits)
    x_train, x_test = (v.reshape(-1, 1, 8, 8) / 16.0 for v in (x_train, x_test))
    x_train, x_test = x_train.astype(numpy.float32), x_test.astype(numpy.float32)
    cnn = train_float(DigitsCnn(), x_train, y_train, epochs, lr=0.01)
    start = time.perf_counter()
    module = compile_torch_model(cnn, x_train, n_bits=n_bits, rounding_threshold_bits=rounding_bits,
                                 **COMPILE_OPTIONS)
    compile_s = time.perf_counter() - start
    xb, yb = x_test[:batch], y_test[:batch]
    clear = module.forward(xb).argmax(1)
    seconds, fhe = timed(lambda: module.forward(xb, fhe="execute", progress=False), runs)
    fhe = fhe.argmax(1)
    row = {
        "model": f"CNN digits (n_bits={n_bits}, rounding {rounding_bits})",
        "float": torch_accuracy(cnn, xb, yb),
        "quant": float((clear == yb).mean()),
        "fhe": float((fhe == yb).mean()),
        "same": bool(numpy.array_equal(fhe, clear)),
        "float_test": torch_accuracy(cnn, x_test, y_test),
        "quant_test": float((module.forward(x_test).argmax(1) == y_test).mean()),
        "s_per_sample": seconds / len(xb),
        "compile_s": compile_s,
        "target": target,
        "batch": len(xb),
    }
    row.update(circuit_row(module.fhe_circuit, module.lookups))
    row.update(fhe_accuracy(
        lambda v: module.forward(v, fhe="execute", progress=False).argmax(1),
        lambda v: module.forward(v).argmax(1),
        lambda v: cnn(torch.tensor(v)).argmax(1).detach().numpy(), x_test, y_test,
        accuracy_samples))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (median)")
    parser.add_argument("--batch", type=int, default=None,
                        help="test samples per encrypted call (default 20; 4 with --quick)")
    parser.add_argument("--quick", action="store_true", help="few epochs, small batch")
    parser.add_argument("--only", action="append", default=None,
                        help="run only models whose name contains this (repeatable)")
    parser.add_argument("--accuracy-samples", type=int, default=None,
                        help="test samples run under encryption once more for the FHE accuracy "
                             "(default 100; 0 with --quick)")
    parser.add_argument("--grouping-factors", default=None,
                        help="blind rotations the optimizer weighs, e.g. 1,2,3 (compile's "
                             "grouping_factors; default: the library's)")
    args = parser.parse_args()
    if args.grouping_factors:
        COMPILE_OPTIONS["grouping_factors"] = [int(g) for g in args.grouping_factors.split(",")]
    batch = args.batch or (4 if args.quick else 20)
    acc_n = args.accuracy_samples if args.accuracy_samples is not None else (
        0 if args.quick else 100)
    epochs = 5 if args.quick else 60
    configs = [
        ("NeuralNetClassifier iris (3 layers)",
         lambda: bench_net_classifier("NeuralNetClassifier iris (3 layers)", load_iris, 3, 4,
                                      epochs * 2, args.runs, batch, 0.5, accum_bits=5,
                                      accuracy_samples=acc_n)),
        ("CNN digits", lambda: bench_cnn(6, 6, epochs, args.runs, batch, 2.5, acc_n)),
        ("MLP digits 64-128-128-10",
         lambda: bench_net_classifier("MLP digits 64-128-128-10", load_digits, 3, 2, epochs // 2,
                                      args.runs, batch, 3.5, accum_bits=5,
                                      accuracy_samples=acc_n)),
    ]
    configs = [c for c in configs
               if args.only is None or any(o.lower() in c[0].lower() for o in args.only)]
    print(f"TorusML neural networks: batch of {batch} test samples, median of {args.runs} run(s), "
          f"{os.cpu_count()} cores")
    header = (f"{'model':<38}{'lookups':>8}  {'precisions (bits x n)':<24}{'s/sample':>9}"
              f"{'estim.':>8}{'compile':>9}{'eval key MB':>13}")
    print(header)
    print("-" * len(header))
    rows = []
    for _, run in configs:
        r = run()
        rows.append(r)
        precisions = " ".join(f"{b}x{n}" for b, n in r["precisions"].items())
        keys = f"{r['eval_key_mb']:.0f} ({r['eval_key_seeded_mb']:.0f})"
        print(f"{r['model']:<38}{r['lookups']:>8}  {precisions:<24}{r['s_per_sample']:>9.3f}"
              f"{r['estimate_s']:>8.3f}{r['compile_s']:>8.1f}s{keys:>13}", flush=True)
    print(f"\n{'model':<38}{'float':>8}{'quant':>8}{'fhe':>8}{'same':>6}   "
          f"{'test split: float':>17}{'quant':>8}   parameters")
    for r in rows:
        print(f"{r['model']:<38}{r['float']:>8.4f}{r['quant']:>8.4f}{r['fhe']:>8.4f}"
              f"{'yes' if r['same'] else 'NO':>6}   {r['float_test']:>17.4f}{r['quant_test']:>8.4f}"
              f"   {r['params']}")
    print(f"(float, quant, fhe: accuracy on the batch of {batch}; test split: 30% of the dataset)")
    if any("acc_n" in r for r in rows):
        print(f"\n{'model':<38}{'samples':>8}{'float':>8}{'quant':>8}{'fhe':>8}"
              f"{'fhe = quant':>12}")
        for r in rows:
            if "acc_n" in r:
                print(f"{r['model']:<38}{r['acc_n']:>8}{r['float_acc']:>8.4f}{r['quant_acc']:>8.4f}"
                      f"{r['fhe_acc']:>8.4f}{r['agree']:>12.4f}")
        print("(encrypted again on the first test samples: accuracy in the clear (quantized) and "
              "under encryption, and how often the two predictions agree; approximate rounding "
              "may move a lookup by one step near a rounding boundary)")
    print()
    for r in rows:
        loss = r["float_test"] - r["quant_test"]
        print(f"{r['model']}: {r['s_per_sample']:.3f} s per sample "
              f"({'meets' if r['s_per_sample'] <= r['target'] else 'MISSES'} {r['target']} s); "
              f"compile {r['compile_s']:.1f} s ({'meets' if r['compile_s'] < 10 else 'MISSES'} "
              f"< 10 s); test accuracy float - quantized {loss:+.4f} "
              f"({'within' if loss <= 0.03 else 'NOT within'} 3 points)")
        if "acc_n" in r:
            fhe_loss = r["float_acc"] - r["fhe_acc"]
            print(f"  on {r['acc_n']} test samples: float {r['float_acc']:.4f}, FHE "
                  f"{r['fhe_acc']:.4f}: float - FHE {fhe_loss:+.4f} "
                  f"({'within' if fhe_loss <= 0.03 else 'NOT within'} 3 points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
