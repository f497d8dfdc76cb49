"""A model shared between threads (as a web server's workers share it): predictions run
concurrently with each other, with compile and with fit, and always equal the clear ones.

Stress tests bounded in time (STRESS_SECONDS each): every call releases the GIL and runs in C++,
so a data race there shows up as a wrong result or a crash (faulthandler prints its stack).
Regression test of a use after free: compile() freed the circuit and keys that a concurrent
predict(X, fhe="execute") was encrypting with.
"""

import collections
import threading
import time

import numpy

import torusml
from torusml import sklearn as tml

STRESS_SECONDS = 2.0


def _run_threads(targets, seconds):
    """Runs each target(deadline) on its own thread until the deadline; returns the errors."""
    deadline = time.monotonic() + seconds
    errors = []

    def guarded(target):
        try:
            target(deadline)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


def test_predict_in_every_mode_while_other_threads_recompile(multiclass_data):
    x_train, x_test, y_train, _ = multiclass_data
    model = tml.LogisticRegression(n_bits=6).fit(x_train, y_train)
    model.compile(x_train)
    labels, probabilities = model.predict(x_test), model.predict_proba(x_test)
    counts = collections.Counter()

    def predictor(fhe):
        def run(deadline):
            while time.monotonic() < deadline:
                numpy.testing.assert_array_equal(model.predict(x_test, fhe=fhe), labels)
                numpy.testing.assert_array_equal(
                    model.predict_proba(x_test[:7], fhe=fhe), probabilities[:7]
                )
                counts[fhe] += 1

        return run

    def compiler(p_error):
        def run(deadline):
            while time.monotonic() < deadline:
                circuit = model.compile(x_train, p_error=p_error)
                assert isinstance(circuit, torusml.FheCircuit)
                assert model.fhe_circuit is not None
                counts["compile"] += 1

        return run

    modes = ["execute", "execute", "simulate", "disable"]
    errors = _run_threads(
        [predictor(fhe) for fhe in modes] + [compiler(2.0**-40), compiler(2.0**-60)],
        STRESS_SECONDS,
    )
    assert not errors, errors
    assert counts["compile"] >= 2 and all(counts[fhe] >= 1 for fhe in modes), counts
    numpy.testing.assert_array_equal(model.predict(x_test, fhe="execute"), labels)


def test_core_model_runs_while_another_thread_recompiles(regression_data):
    # The same race one level down, on the C++ model itself (torusml.QuantizedLinear).
    x_train, x_test, y_train, _ = regression_data
    core = tml.Ridge(n_bits=8).fit(x_train, y_train).quantized_module
    q_x = core.quantize_input(x_test)
    expected = core.run_integer(q_x, "disable")
    core.compile(x_train)
    counts = collections.Counter()

    def runner(mode):
        def run(deadline):
            while time.monotonic() < deadline:
                numpy.testing.assert_array_equal(core.run_integer(q_x, mode), expected)
                counts[mode] += 1

        return run

    def compiler(deadline):
        while time.monotonic() < deadline:
            core.compile(x_train)
            assert core.is_compiled and core.circuit is not None
            counts["compile"] += 1

    errors = _run_threads(
        [runner("execute"), runner("execute"), runner("simulate"), compiler], STRESS_SECONDS / 2
    )
    assert not errors, errors
    assert counts["compile"] >= 2 and counts["execute"] >= 1, counts


def test_predict_while_another_thread_refits(binary_data):
    # fit replaces the fitted state as a whole: a prediction sees the old model or the new one,
    # never a mix (here both are the same model, refitted on the same data).
    x_train, x_test, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=8).fit(x_train, y_train)
    labels, probabilities = model.predict(x_test), model.predict_proba(x_test)
    counts = collections.Counter()

    def predictor(deadline):
        while time.monotonic() < deadline:
            numpy.testing.assert_array_equal(model.predict(x_test), labels)
            numpy.testing.assert_array_equal(model.predict_proba(x_test), probabilities)
            assert model.n_features_in_ == x_train.shape[1]
            counts["predict"] += 1

    def refitter(deadline):
        while time.monotonic() < deadline:
            model.fit(x_train, y_train)
            counts["fit"] += 1

    errors = _run_threads([predictor, predictor, refitter], STRESS_SECONDS / 2)
    assert not errors, errors
    assert counts["fit"] >= 2 and counts["predict"] >= 2, counts


def test_tree_model_predicts_in_every_mode_while_other_threads_recompile_or_refit(
    multiclass_data,
):
    # The same contract for the tree models (torusml.QuantizedTreeEnsemble swaps its circuit and
    # keys atomically): a small forest, summed under encryption.
    x_train, x_test, y_train, _ = multiclass_data
    model = tml.RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0, fhe_sum=True)
    model.fit(x_train, y_train)
    model.compile(x_train)
    labels, probabilities = model.predict(x_test), model.predict_proba(x_test)
    counts = collections.Counter()

    def predictor(fhe, rows):
        def run(deadline):
            while time.monotonic() < deadline:
                numpy.testing.assert_array_equal(model.predict(x_test[:rows], fhe=fhe),
                                                 labels[:rows])
                numpy.testing.assert_array_equal(
                    model.predict_proba(x_test[:rows], fhe=fhe), probabilities[:rows]
                )
                counts[fhe] += 1

        return run

    def compiler(deadline):
        while time.monotonic() < deadline:
            assert isinstance(model.compile(x_train), torusml.FheCircuit)
            counts["compile"] += 1

    errors = _run_threads(
        [predictor("execute", 3), predictor("simulate", len(x_test)),
         predictor("disable", len(x_test)), compiler],
        STRESS_SECONDS,
    )
    assert not errors, errors
    assert counts["compile"] >= 1, counts  # a compile takes about a second on 2 cores
    assert all(counts[fhe] >= 1 for fhe in ("execute", "simulate", "disable")), counts
    numpy.testing.assert_array_equal(model.predict(x_test[:3], fhe="execute"), labels[:3])

    # fit replaces the fitted state (here by the same forest: fixed random_state), uncompiled:
    # clear predictions meanwhile see the old model or the new one.
    def refitter(deadline):
        while time.monotonic() < deadline:
            model.fit(x_train, y_train)
            counts["fit"] += 1

    errors = _run_threads([predictor("disable", len(x_test)), refitter], STRESS_SECONDS / 2)
    assert not errors, errors
    assert counts["fit"] >= 2, counts
