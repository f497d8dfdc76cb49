"""Neural networks from torch and ONNX compiled to FHE (torusml.torch, torusml.onnx).

Small models sized for CI, real keys: a torch MLP (4 -> 8 -> 3, ReLU) and a small CNN (1x5x5
input, Conv2d with 2 channels and a 2x2 kernel, ReLU, AvgPool2d 2, Flatten, Linear). At low bit
widths with rounding_threshold_bits=7 (wider than any accumulator here: no rounding), encrypted
execution and simulation must give exactly the clear quantized result on every sample. At 8 bits
the quantized MLP must stay close to torch's float output. The same ONNX model given as a
ModelProto, as bytes (serialized in Python) and as a file path (read by the C++ loader) must give
the same program, circuit and outputs. A quantization-aware CNN with per-channel weight scales
(exported in QDQ form) must compile to exactly its own integers: its clear outputs equal torch's
fake-quantized ones. Bad inputs must raise ValueError saying what is wrong.
"""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import torusml  # noqa: E402
from torusml import _core  # noqa: E402
from torusml.onnx import build_quantized_module, compile_onnx_model  # noqa: E402
from torusml.torch import compile_torch_model, export_torch_model  # noqa: E402

LOW_BITS = {"model_inputs": 3, "op_inputs": 3, "op_weights": 2, "model_outputs": 3}
NO_ROUNDING = 7  # bits kept of each accumulator: more than any accumulator of these models has
SEED = b"torusml-test-torch-compile-seed!"  # 32 bytes


def make_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).eval()


def make_cnn(seed=1):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, kernel_size=2),  # 1x5x5 -> 2x4x4
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),  # -> 2x2x2
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    ).eval()


@pytest.fixture(scope="module")
def mlp_data():
    return np.random.default_rng(0).normal(size=(60, 4))


@pytest.fixture(scope="module")
def cnn_data():
    return np.random.default_rng(1).uniform(-1.0, 1.0, size=(40, 1, 5, 5))


@pytest.fixture(scope="module")
def mlp_module(mlp_data):
    return compile_torch_model(
        make_mlp(), mlp_data, n_bits=LOW_BITS, rounding_threshold_bits=NO_ROUNDING
    )


@pytest.fixture(scope="module")
def cnn_module(cnn_data):
    return compile_torch_model(
        make_cnn(), cnn_data, n_bits=LOW_BITS, rounding_threshold_bits=NO_ROUNDING
    )


def onnx_bytes(model, sample):
    return export_torch_model(model, sample)


# --- encrypted execution and simulation equal the clear quantized result ----------------------


@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_execute_and_simulate_equal_disable(which, mlp_module, cnn_module, mlp_data, cnn_data):
    module, x = (mlp_module, mlp_data[:12]) if which == "mlp" else (cnn_module, cnn_data[:8])
    assert module.is_compiled
    q_x = module.quantize_input(x)
    assert q_x.dtype == np.int64 and q_x.shape == (len(x), int(np.prod(module.input_shape)))
    q_clear = module.run_integer(q_x, fhe="disable")
    q_fhe = module.run_integer(q_x, fhe="execute")
    np.testing.assert_array_equal(q_fhe, q_clear)
    np.testing.assert_array_equal(module.run_integer(q_x, fhe="simulate"), q_clear)

    y_clear = module.forward(x, fhe="disable")
    assert y_clear.shape == (len(x), 3) and y_clear.dtype == np.float64
    np.testing.assert_array_equal(module.dequantize_output(q_fhe), y_clear)
    np.testing.assert_array_equal(module.forward(x, fhe="simulate"), y_clear)
    np.testing.assert_array_equal(module(x, fhe="execute", progress=False), y_clear)
    # The model is not trivial: its outputs vary over the samples.
    assert len({tuple(row) for row in q_clear}) > 2


def test_shapes_lookups_and_circuit(cnn_module):
    assert cnn_module.input_shape == (1, 1, 5, 5)
    assert cnn_module.output_shape == (1, 3)
    assert cnn_module.n_bits == LOW_BITS
    lookups = cnn_module.lookups
    assert [entry["ops"] for entry in lookups][0] == ["Relu"]
    relu = lookups[0]
    assert relu["lookups"] == 2 * 4 * 4 and relu["lsbs_removed"] == 0
    assert all(isinstance(entry["precision"], int) and entry["precision"] >= 1 for entry in lookups)
    text = str(cnn_module.fhe_circuit)
    assert "programmable bootstraps" in text
    assert cnn_module.statistics_text() in text
    total = sum(entry["lookups"] for entry in lookups)
    assert f"total: {total} lookups per sample" in text
    assert cnn_module.fhe_circuit.pbs_count == total


def test_inputset_as_torch_tensor_and_verbose(mlp_data, capsys):
    model = make_mlp()
    model.train()
    module = compile_torch_model(
        model,
        torch.tensor(mlp_data, dtype=torch.float32),
        n_bits=LOW_BITS,
        rounding_threshold_bits=NO_ROUNDING,
        verbose=True,
    )
    assert model.training  # the export's eval mode is undone
    out = capsys.readouterr().out
    assert "programmable bootstraps" in out and "lookups per sample" in out
    # Samples as a torch tensor too.
    x = torch.tensor(mlp_data[:5], dtype=torch.float32)
    np.testing.assert_array_equal(module.forward(x, fhe="execute"), module.forward(x))


def test_quantized_mlp_close_to_torch_at_8_bits(mlp_data):
    model = make_mlp()
    module = build_quantized_module(onnx_bytes(model, mlp_data[0]), mlp_data, n_bits=8)
    assert module.n_bits == {"model_inputs": 8, "op_inputs": 8, "op_weights": 8,
                             "model_outputs": 8}
    with torch.no_grad():
        expected = model(torch.tensor(mlp_data, dtype=torch.float32)).numpy()
    actual = module.forward(mlp_data)
    spread = expected.max() - expected.min()
    assert np.abs(actual - expected).max() < 0.03 * spread  # 0.01 measured
    # ... and further at 2 bits (the test can tell the widths apart).
    coarse = build_quantized_module(onnx_bytes(model, mlp_data[0]), mlp_data, n_bits=2)
    assert np.abs(coarse.forward(mlp_data) - expected).mean() > np.abs(actual - expected).mean()


def test_progress_bar_chunks_execute(mlp_module, mlp_data, capsys, monkeypatch):
    monkeypatch.setenv("TORUSML_NUM_THREADS", "1")  # chunks of 2 samples
    x = mlp_data[:7]
    expected = mlp_module.forward(x)
    np.testing.assert_array_equal(mlp_module.forward(x, fhe="execute", progress=True), expected)
    err = capsys.readouterr().err
    assert "FHE execution" in err and "7/7" in err
    np.testing.assert_array_equal(mlp_module.forward(x, fhe="execute", progress=False), expected)
    # progress=None: silent when stderr is no terminal (pytest captures it).
    np.testing.assert_array_equal(mlp_module.forward(x, fhe="execute"), expected)
    assert capsys.readouterr().err == ""


# --- ONNX models: ModelProto, bytes and path; C++ file loader vs Python bytes ----------------


def test_onnx_proto_path_and_bytes_agree(mlp_data, tmp_path):
    data = onnx_bytes(make_mlp(seed=3), mlp_data[0])
    proto = onnx.load_from_string(data)
    path = tmp_path / "mlp.onnx"
    onnx.save(proto, str(path))
    x = mlp_data[:10]
    kwargs = {"n_bits": LOW_BITS, "rounding_threshold_bits": NO_ROUNDING}
    modules = [
        compile_onnx_model(source, mlp_data, **kwargs) for source in (proto, data, path, str(path))
    ]
    reference = modules[0].forward(x)
    for module in modules:
        np.testing.assert_array_equal(module.forward(x), reference)
        np.testing.assert_array_equal(module.forward(x, fhe="execute"), reference)
        assert module.statistics_text() == modules[0].statistics_text()


def test_cpp_file_loader_gives_the_python_circuit(cnn_data, tmp_path):
    """The same .onnx file read by the C++ loader (path) and serialized by Python (bytes)."""
    data = onnx_bytes(make_cnn(seed=4), cnn_data[0])
    path = tmp_path / "cnn.onnx"
    path.write_bytes(data)
    kwargs = dict(
        rounding_threshold_bits=NO_ROUNDING, rounding_method="approximate", **LOW_BITS
    )
    from_file = _core.QuantizedNetwork(str(path), cnn_data, **kwargs)
    from_bytes = _core.QuantizedNetwork(path.read_bytes(), cnn_data, **kwargs)
    assert from_file.graph_summary() == from_bytes.graph_summary()
    assert from_file.program_text() == from_bytes.program_text()
    assert from_file.statistics_text() == from_bytes.statistics_text()
    for net in (from_file, from_bytes):
        net.compile(cnn_data, key_seed=SEED)
    assert str(from_file.fhe_circuit) == str(from_bytes.fhe_circuit)
    assert from_file.fhe_circuit.program == from_bytes.fhe_circuit.program
    q_x = from_file.quantize_input(cnn_data[:6])
    np.testing.assert_array_equal(q_x, from_bytes.quantize_input(cnn_data[:6]))
    expected = from_bytes.run_integer(q_x, "execute")
    np.testing.assert_array_equal(from_file.run_integer(q_x, "execute"), expected)
    np.testing.assert_array_equal(from_file.run_integer(q_x, "disable"), expected)
    assert expected.shape == (6, 3)


# --- quantization-aware models: per-channel weight scales (QDQ) -------------------------------


def _activation_qparams(x, n_bits):
    """(scale, zero point) of an unsigned n-bit per-tensor quantizer of x (torch.ao's observer)."""
    from torch.ao.quantization import MinMaxObserver

    observer = MinMaxObserver(
        quant_min=0, quant_max=2**n_bits - 1, dtype=torch.quint8, qscheme=torch.per_tensor_affine
    )
    observer(x)
    scale, zero_point = observer.calculate_qparams()
    return float(scale), int(zero_point)


def _fake_quant_activation(x, scale, zero_point, n_bits):
    """n-bit fake quantization, exported as Clip (its n-bit range) -> QuantizeLinear ->
    DequantizeLinear (torch's exporter only writes 8-bit ranges: the Clip narrows it)."""
    lo, hi = -zero_point * scale, (2**n_bits - 1 - zero_point) * scale
    return torch.fake_quantize_per_tensor_affine(torch.clamp(x, lo, hi), scale, zero_point, 0, 255)


class PerChannelQatCnn(torch.nn.Module):
    """A small CNN with fake quantization as torch's QAT writes it: a 2-bit input, Conv2d(1 -> 3,
    2x2) whose weights are fake-quantized per output channel (torch.ao's per_channel_symmetric
    observer, 3 bits in the narrow range; the channels of very different magnitudes), AvgPool2d 2,
    ReLU, 3-bit activations, Flatten, Linear(12 -> 2) with per-channel weights too. Biases on
    their accumulators' grids (input scale times each channel's weight scale). Exported with
    opset 14: QuantizeLinear / DequantizeLinear with axis 0 on the weights."""

    def __init__(self, data, w_bits=3, a_bits=3, in_bits=2):
        super().__init__()
        torch.manual_seed(5)
        self.conv = torch.nn.Conv2d(1, 3, 2)
        self.fc = torch.nn.Linear(12, 2)
        self.in_bits, self.a_bits, self.w_bits = in_bits, a_bits, w_bits
        x = torch.tensor(data, dtype=torch.float32)
        with torch.no_grad():
            self.conv.weight[1] *= 0.1
            self.conv.weight[2] *= 4.0
            self.s_in, self.z_in = _activation_qparams(x, in_bits)
            self.w1_scale, self.w1_zero = self._weight_qparams(self.conv.weight)
            self._bias_on_grid(self.conv.bias, self.s_in * self.w1_scale)
            self.s_a, self.z_a = _activation_qparams(self._features(x), a_bits)
            self.w2_scale, self.w2_zero = self._weight_qparams(self.fc.weight)
            self._bias_on_grid(self.fc.bias, self.s_a * self.w2_scale)

    def _weight_qparams(self, w):
        from torch.ao.quantization import PerChannelMinMaxObserver

        q = 2 ** (self.w_bits - 1) - 1
        observer = PerChannelMinMaxObserver(
            ch_axis=0,
            quant_min=-q,
            quant_max=q,
            dtype=torch.qint8,
            qscheme=torch.per_channel_symmetric,
        )
        observer(w)
        scale, zero_point = observer.calculate_qparams()
        return scale.float(), zero_point.int()

    @staticmethod
    def _bias_on_grid(bias, step):
        bias.copy_(torch.round(bias / step) * step)

    def _features(self, x):
        x = _fake_quant_activation(x, self.s_in, self.z_in, self.in_bits)
        # (-128, 127): the range torch's exporter accepts; the weights' integers lie within +-3.
        w = torch.fake_quantize_per_channel_affine(
            self.conv.weight, self.w1_scale, self.w1_zero, 0, -128, 127
        )
        x = torch.nn.functional.conv2d(x, w, self.conv.bias)
        return torch.relu(torch.nn.functional.avg_pool2d(x, 2))

    def forward(self, x):
        x = _fake_quant_activation(self._features(x), self.s_a, self.z_a, self.a_bits).flatten(1)
        w = torch.fake_quantize_per_channel_affine(
            self.fc.weight, self.w2_scale, self.w2_zero, 0, -128, 127
        )
        return torch.nn.functional.linear(x, w, self.fc.bias)


def test_per_channel_qdq_cnn_keeps_its_integers():
    data = np.random.default_rng(2).uniform(-1.0, 1.0, size=(40, 1, 5, 5))
    model = PerChannelQatCnn(data).eval()
    assert len(set(model.w1_scale.tolist())) == 3  # three different channel scales
    proto = onnx.load_from_string(export_torch_model(model, data[0]))
    axes = [
        onnx.helper.get_attribute_value(a)
        for node in proto.graph.node
        if node.op_type == "DequantizeLinear"
        for a in node.attribute
        if a.name == "axis"
    ]
    assert axes == [0, 0]  # the two weights' per-channel DequantizeLinear

    module = compile_torch_model(model, data)  # the QDQ nodes choose the bits and the scales
    # One lookup (ReLU and the 3-bit activation quantizer, one table per channel and position)
    # per pooled element; no re-quantization of the per-channel accumulators.
    assert [entry["ops"] for entry in module.lookups] == [
        ["Relu", "Clip", "QuantizeLinear", "DequantizeLinear"]
    ]
    assert module.lookups[0]["lookups"] == 12 and module.lookups[0]["lsbs_removed"] == 0
    assert module.fhe_circuit.pbs_count == 12

    # The clear quantized module computes torch's fake-quantized model (the last layer's output
    # is its exact accumulator: float32 rounding only, far below its quantization step).
    with torch.no_grad():
        expected = model(torch.tensor(data, dtype=torch.float32)).double().numpy()
    y = module.forward(data, fhe="disable")
    step = model.s_a * model.w2_scale.double().numpy()  # the output's step, per feature
    assert np.all(np.abs(y - expected) <= 1e-5), np.abs(y - expected).max()
    assert np.all(np.abs(y - expected) < step)
    assert len({tuple(row) for row in np.round(y, 6)}) > 5

    # Encrypted execution equals the clear run.
    q_x = module.quantize_input(data[:3])
    q_clear = module.run_integer(q_x, fhe="disable")
    np.testing.assert_array_equal(module.run_integer(q_x, fhe="execute"), q_clear)
    np.testing.assert_array_equal(module.forward(data[:3], fhe="execute", progress=False), y[:3])


# --- errors -------------------------------------------------------------------------------------


class OuterProduct(torch.nn.Module):
    """x^T x: a matrix product of two encrypted values, which the lowering refuses."""

    def forward(self, x):
        return (x.unsqueeze(-1) @ x.unsqueeze(-2)).flatten(1)


class Recurrent(torch.nn.Module):
    """An LSTM: an operator TorusML does not implement."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(2, 3, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class UnfoldNet(torch.nn.Module):
    """nn.Unfold (exported as Range / Gather / Reshape on constants: data movement) + Relu +
    Linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.unfold = torch.nn.Unfold(kernel_size=2, stride=1)
        self.fc = torch.nn.Linear(4 * 9, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.unfold(x) - 0.5).flatten(1))


def test_unfold_runs_as_data_movement():
    x = np.random.RandomState(0).rand(30, 1, 4, 4).astype(np.float32)
    net = UnfoldNet().eval()
    module = compile_torch_model(net, x, n_bits=6, rounding_threshold_bits=8)
    ref = net(torch.tensor(x)).detach().numpy()
    y = module.forward(x)
    assert np.abs(y - ref).max() <= 0.1 * np.abs(ref).max() + 0.02
    assert sum(entry["lookups"] for entry in module.lookups) == 36  # the Relu of 36 elements
    np.testing.assert_array_equal(module.forward(x[:2], fhe="execute"), y[:2])


def test_unsupported_operator_names_the_node(mlp_data):
    with pytest.raises(ValueError, match=r"node '[^']*MatMul[^']*' \(MatMul\)"):
        compile_torch_model(OuterProduct(), mlp_data, n_bits=LOW_BITS)
    sequences = mlp_data.reshape(-1, 2, 2)
    with warnings.catch_warnings():  # torch's export warns about LSTM's batch_first
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"LSTM \(node '[^']*LSTM[^']*'"):
            compile_torch_model(Recurrent(), sequences, n_bits=LOW_BITS)


def test_wrong_input_shape(mlp_module, mlp_data, cnn_module):
    with pytest.raises(ValueError, match="expects 4"):
        mlp_module.forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="expects 25"):
        cnn_module.forward(np.zeros((2, 1, 4, 4)), fhe="execute")
    with pytest.raises(ValueError, match="scalar"):
        mlp_module.forward(np.float64(1.0))
    with pytest.raises(ValueError, match="values per sample"):
        compile_onnx_model(onnx_bytes(make_mlp(), mlp_data[0]), np.zeros((10, 6)))
    with pytest.raises(ValueError, match="input elements|shape"):
        mlp_module.run_integer(np.zeros(4, dtype=np.int64))


@pytest.mark.parametrize("empty", [np.zeros((0, 4)), []])
def test_empty_inputset(empty, mlp_data):
    with pytest.raises(ValueError, match="empty"):
        compile_onnx_model(onnx_bytes(make_mlp(), mlp_data[0]), empty)
    with pytest.raises(ValueError, match="empty"):
        compile_torch_model(make_mlp(), empty)
    with pytest.raises(ValueError, match="empty"):
        _core.QuantizedNetwork(onnx_bytes(make_mlp(), mlp_data[0]), np.zeros((0, 4)))


def test_corrupt_onnx(mlp_data, tmp_path):
    data = onnx_bytes(make_mlp(), mlp_data[0])
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        compile_onnx_model(data[: len(data) // 2], mlp_data)
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ValueError, match="ONNX"):
        compile_onnx_model(bad, mlp_data)
    with pytest.raises(ValueError, match="no ONNX file"):
        compile_onnx_model(tmp_path / "missing.onnx", mlp_data)
    with pytest.raises(ValueError, match="onnx.ModelProto"):
        compile_onnx_model(12, mlp_data)


@pytest.mark.parametrize(
    "n_bits, message",
    [
        (0, "out of range"),
        (17, "out of range"),
        ("8", "integer between 1 and 16"),
        (True, "integer between 1 and 16"),
        (4.0, "integer between 1 and 16"),
        ({"op_inputs": 4}, "missing key"),
        ({"op_inputs": 4, "op_weights": 4, "inputs": 4}, "unknown key"),
        ({"op_inputs": 4, "op_weights": 0}, r"n_bits\['op_weights'\] = 0 is out of range"),
        ({"op_inputs": 6, "op_weights": 4, "model_outputs": 5}, "model_outputs"),
    ],
)
def test_bad_n_bits(n_bits, message, mlp_data):
    data = onnx_bytes(make_mlp(), mlp_data[0])
    with pytest.raises(ValueError, match=message):
        build_quantized_module(data, mlp_data, n_bits=n_bits)
    with pytest.raises(ValueError, match=message):
        compile_torch_model(make_mlp(), mlp_data, n_bits=n_bits)


@pytest.mark.parametrize(
    "rounding, message",
    [
        (0, "out of range"),
        (20, "out of range"),
        (2.5, "None, an integer"),
        ({"n_bits": 5, "method": "fast"}, "not a rounding method"),
        ({"bits": 5}, "unknown key"),
    ],
)
def test_bad_rounding_threshold_bits(rounding, message, mlp_data):
    data = onnx_bytes(make_mlp(), mlp_data[0])
    with pytest.raises(ValueError, match=message):
        compile_onnx_model(data, mlp_data, n_bits=LOW_BITS, rounding_threshold_bits=rounding)


def test_bad_mode_and_progress(mlp_module, mlp_data):
    with pytest.raises(ValueError, match="not a valid mode"):
        mlp_module.forward(mlp_data[:2], fhe="encrypted")
    with pytest.raises(ValueError, match="progress"):
        mlp_module.forward(mlp_data[:2], progress="yes")
    uncompiled = build_quantized_module(onnx_bytes(make_mlp(), mlp_data[0]), mlp_data)
    with pytest.raises(torusml.NotCompiledError, match="compile"):
        uncompiled.forward(mlp_data[:2], fhe="execute")
    assert uncompiled.fhe_circuit is None and uncompiled.lookups[0]["precision"] is None


# --- argument parsing (Concrete ML's n_bits rules) ----------------------------------------------


def test_n_bits_defaults(mlp_data):
    data = onnx_bytes(make_mlp(), mlp_data[0])

    def bits(n_bits):
        return build_quantized_module(data, mlp_data, n_bits=n_bits).n_bits

    assert bits(3) == {"model_inputs": 5, "op_inputs": 3, "op_weights": 3, "model_outputs": 5}
    assert bits(7) == {"model_inputs": 7, "op_inputs": 7, "op_weights": 7, "model_outputs": 7}
    assert bits({"op_inputs": 6, "op_weights": 2}) == {
        "model_inputs": 5, "op_inputs": 6, "op_weights": 2, "model_outputs": 6,
    }
    net = build_quantized_module(
        data, mlp_data, rounding_threshold_bits={"n_bits": 6, "method": "exact"}
    ).quantized_network
    assert (net.rounding_threshold_bits, net.rounding_method) == (6, "exact")
    net = build_quantized_module(data, mlp_data, rounding_threshold_bits=5).quantized_network
    assert (net.rounding_threshold_bits, net.rounding_method) == (5, "approximate")


def test_rounding_reported(mlp_data):
    """Accumulators are rounded: automatically (at most 8 bits kept), or to the bits given."""
    data = onnx_bytes(make_mlp(), mlp_data[0])
    relu = build_quantized_module(data, mlp_data, n_bits=8).lookups[0]
    assert relu["accumulator_bits"] > 8 and relu["lsbs_removed"] > 0
    assert relu["accumulator_bits"] - relu["lsbs_removed"] <= 8
    module = build_quantized_module(data, mlp_data, n_bits=8, rounding_threshold_bits=5)
    relu = module.lookups[0]
    assert relu["accumulator_bits"] - relu["lsbs_removed"] == 5
    assert f"accumulator {relu['accumulator_bits']} bits -> 5" in module.statistics_text()


def test_exact_rounding_of_wide_accumulators(mlp_data):
    """6-bit activations and weights make 12-bit accumulators, wider than a lookup may read:
    rounded exactly to 6 bits (by digits: a sign and the removed bits, each bootstrap reading at
    most 6 bits), fhe="execute" and fhe="simulate" equal fhe="disable" on every sample."""
    bits = {"model_inputs": 6, "op_inputs": 6, "op_weights": 6, "model_outputs": 6}
    module = compile_torch_model(
        make_mlp(), mlp_data, n_bits=bits,
        rounding_threshold_bits={"n_bits": 6, "method": "exact"},
    )
    lookups = module.lookups
    assert max(entry["accumulator_bits"] for entry in lookups) > 10
    assert all(entry["accumulator_bits"] - entry["lsbs_removed"] == 6 for entry in lookups)
    statistics = module.fhe_circuit.statistics
    assert statistics["exact_rounding_pbs_count"] > 0
    assert statistics["max_table_bits"] <= 7
    assert "after an exact rounding of" in str(module.fhe_circuit)
    clear = module.forward(mlp_data, fhe="disable")
    np.testing.assert_array_equal(module.forward(mlp_data, fhe="simulate"), clear)
    np.testing.assert_array_equal(module.forward(mlp_data[:3], fhe="execute"), clear[:3])
