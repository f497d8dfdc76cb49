"""Key generation reports its progress: the core calls progress(done, total) while compile()
generates the keys (and once at the end), and the estimators turn it into a tqdm bar on stderr
(forced with progress=True, silenced with progress=False or when stderr is not a terminal)."""

import numpy
import pytest
from sklearn.datasets import make_classification

from torusml.sklearn import DecisionTreeClassifier


@pytest.fixture(scope="module")
def data():
    x, y = make_classification(n_samples=60, n_features=4, random_state=3)
    return x, y


def test_core_compile_reports_the_bootstrap_key_generation(data):
    x, y = data
    model = DecisionTreeClassifier(max_depth=2, n_bits=3).fit(x, y)
    calls = []
    model._fitted.quantized.compile(x, progress=lambda done, total: calls.append((done, total)))
    assert calls, "the callback is called at least once, at the end"
    done, total = calls[-1]
    assert total > 0 and done == total
    assert all(d <= t for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_estimator_compile_shows_a_bar_only_when_asked(data, capsys):
    x, y = data
    model = DecisionTreeClassifier(max_depth=2, n_bits=3).fit(x, y)
    model.compile(x, progress=True)
    assert "Key generation" in capsys.readouterr().err
    model.compile(x, progress=False)
    assert "Key generation" not in capsys.readouterr().err
    model.compile(x)  # stderr is not a terminal under pytest: silent
    assert "Key generation" not in capsys.readouterr().err
    assert (model.predict(x[:3], fhe="execute") == model.predict(x[:3])).all()


def test_a_failing_callback_raises_after_compile_finishes(data):
    x, y = data
    model = DecisionTreeClassifier(max_depth=2, n_bits=3).fit(x, y)

    def fail(done, total):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        model._fitted.quantized.compile(x, progress=fail)
    numpy.testing.assert_array_equal(model.predict(x[:2]), model.predict(x[:2]))
