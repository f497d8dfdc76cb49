"""compile()'s optimizer options, on every entry point: multi_parameter, multi_parameter_gain,
grouping_factors and small_key_inputs (a tree takes its inputs under the small key, without
keyswitches, unless told not to). A multi-bit grouping factor gives a multi-bit parameter set ("_mb<g>" in its
name) whose encrypted predictions equal the clear ones; multi_parameter=False (or a gain no
partition reaches) keeps one parameter set on a circuit that is otherwise partitioned; invalid
values raise ValueError saying what to use, even for circuits without bootstraps."""

import inspect

import numpy
import pytest
import sklearn.tree
from conftest import small_tree

import torusml
from torusml import _core
from torusml import sklearn as tml
from torusml.sklearn._tree_base import sklearn_trees

OPTIONS = ("multi_parameter", "multi_parameter_gain", "grouping_factors", "small_key_inputs")


def _compile_entry_points():
    from torusml.onnx import compile_onnx_model  # noqa: PLC0415

    points = [
        tml.LogisticRegression.compile,
        tml.DecisionTreeClassifier.compile,
        tml.XGBRegressor.compile,
        tml.NeuralNetClassifier.compile,
        torusml.QuantizedModule.compile,
        compile_onnx_model,
        _core.QuantizedLinear.compile,
        _core.QuantizedTreeEnsemble.compile,
        _core.QuantizedNetwork.compile,
    ]
    try:
        from torusml.torch import compile_torch_model  # noqa: PLC0415

        points.append(compile_torch_model)
    except ImportError:
        pass
    return points


def test_every_compile_takes_the_options():
    for fn in _compile_entry_points():
        name = getattr(fn, "__qualname__", repr(fn))
        doc = fn.__doc__ or ""
        if "compile_onnx_model" not in doc:  # documented there for the wrappers of it
            for option in OPTIONS:
                assert option in doc, (name, option)
        try:
            params = inspect.signature(fn).parameters
        except ValueError:  # a pybind11 function: its signature is the docstring's first line
            assert "multi_parameter: bool = True" in doc, name
            continue
        assert params["multi_parameter"].default is True, name
        assert params["multi_parameter_gain"].default is None, name
        assert params["grouping_factors"].default is None, name
        assert params["small_key_inputs"].default is True, name
        for option in OPTIONS:
            assert params[option].kind is inspect.Parameter.KEYWORD_ONLY, (name, option)


def test_multi_bit_grouping_factor_tree(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = small_tree(tml.DecisionTreeClassifier).fit(x_train, y_train)
    circuit = model.compile(x_train, grouping_factors=[2])
    assert circuit.statistics["uses_pbs"]
    assert "_mb2" in str(circuit)
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"),
                                     model.predict(x_test[:4]))
    # Classic only, when asked.
    assert "_mb" not in str(model.compile(x_train, grouping_factors=[1]))


def test_multi_bit_grouping_factor_network():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from torusml.torch import compile_torch_model  # noqa: PLC0415

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2)).eval()
    x = numpy.random.default_rng(0).normal(size=(40, 4))
    bits = {"model_inputs": 3, "op_inputs": 3, "op_weights": 2, "model_outputs": 3}
    module = compile_torch_model(net, x, n_bits=bits, rounding_threshold_bits=7,
                                 grouping_factors=[2])
    assert "_mb2" in str(module.fhe_circuit)
    numpy.testing.assert_array_equal(module.forward(x[:3], fhe="execute"), module.forward(x[:3]))


def test_small_key_inputs_option(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = small_tree(tml.DecisionTreeClassifier).fit(x_train, y_train)
    clear = model.predict(x_test[:4])
    stats = model.compile(x_train).statistics
    assert stats["small_key_inputs"] and stats["keyswitch_count"] == 0
    assert "under the small key" in str(model.fhe_circuit)
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"), clear)
    stats = model.compile(x_train, small_key_inputs=False).statistics
    assert not stats["small_key_inputs"]
    assert stats["keyswitch_count"] == stats["pbs_count"] > 0
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"), clear)


@pytest.fixture(scope="module")
def partitioned_trees(binary_data):
    """A depth-2 tree, 4-bit inputs encrypted as two digits: 2-bit comparison lookups and a 4-bit
    leaf lookup, which the cost model finds cheaper with two parameter sets than with one."""
    x_train, _, y_train, _ = binary_data
    tree = sklearn.tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(x_train, y_train)
    trees, _ = sklearn_trees(tree, True)
    return _core.QuantizedTreeEnsemble(trees, x_train, n_bits=4, leaf_bits=8,
                                       input_encoding="digits")


def test_multi_parameter_false_keeps_one_parameter_set(binary_data, partitioned_trees):
    x_train, x_test, _, _ = binary_data
    model = partitioned_trees
    # Any cost-model gain kept: two partitions (the default gain keeps them too, by a small
    # margin that this test does not rely on).
    model.compile(x_train, multi_parameter_gain=1.0)
    assert model.fhe_circuit.partition_count == 2
    for options in ({"multi_parameter": False}, {"multi_parameter_gain": 1e9},
                    {"multi_parameter": False, "multi_parameter_gain": 1.0}):
        model.compile(x_train, **options)
        circuit = model.fhe_circuit
        assert circuit.partition_count == 1, options
        assert len(circuit.statistics["partitions"]) == 1
        numpy.testing.assert_array_equal(model.predict_raw(x_test[:4], fhe="execute"),
                                         model.predict_raw(x_test[:4]))


def test_options_on_a_circuit_without_bootstraps(binary_data):
    x_train, x_test, y_train, _ = binary_data
    model = tml.LogisticRegression(n_bits=4).fit(x_train, y_train)
    model.compile(x_train, multi_parameter=False, multi_parameter_gain=2.0,
                  grouping_factors=[1, 2])
    numpy.testing.assert_array_equal(model.predict(x_test[:4], fhe="execute"),
                                     model.predict(x_test[:4]))


BAD_OPTIONS = [
    ({"grouping_factors": [5]}, r"grouping_factors: 5 is out of range: use 1 .* or 2 to 4"),
    ({"grouping_factors": [1, 0]}, r"grouping_factors: 0 is out of range: use 1 .* or 2 to 4"),
    ({"grouping_factors": [-1]}, r"grouping_factors: -1 is out of range"),
    ({"grouping_factors": []}, r"grouping_factors is empty: .* None for the default \[1, 2\]"),
    ({"multi_parameter_gain": 0.5}, r"multi_parameter_gain = 0.5 is invalid: use a finite "
                                    r"number >= 1"),
    ({"multi_parameter_gain": float("nan")}, r"multi_parameter_gain = nan is invalid: use a "
                                             r"finite number >= 1 .* None for the default"),
    ({"multi_parameter_gain": float("inf")}, r"multi_parameter_gain = inf is invalid"),
]


@pytest.mark.parametrize("options, message", BAD_OPTIONS, ids=lambda v: repr(v))
def test_invalid_options(binary_data, options, message):
    x_train, _, y_train, _ = binary_data
    for model in (tml.LogisticRegression(n_bits=4), small_tree(tml.DecisionTreeClassifier)):
        model.fit(x_train, y_train)
        with pytest.raises(ValueError, match=message):
            model.compile(x_train, **options)
        assert model.fhe_circuit is None  # nothing compiled


def test_options_are_keyword_only_and_typed(binary_data):
    x_train, _, y_train, _ = binary_data
    model = small_tree(tml.DecisionTreeClassifier).fit(x_train, y_train)
    with pytest.raises(TypeError):
        model.compile(x_train, None, None, False, False, False)
    for options in ({"multi_parameter": None}, {"multi_parameter": "no"},
                    {"grouping_factors": 2}, {"grouping_factors": "12"},
                    {"small_key_inputs": None}, {"small_key_inputs": "yes"}):
        with pytest.raises(TypeError):
            model.compile(x_train, **options)
    assert model.fhe_circuit is None
