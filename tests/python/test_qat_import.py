"""Quantization-aware models from torch's own tooling (torch.ao.quantization) imported exactly.

Eager-mode QAT as torch documents it: QuantStub / DeQuantStub, fuse_modules_qat, a QConfig,
prepare_qat, a few training steps (fixed seeds, tiny data), then the prepared model (before
convert) given to compile_torch_model. Two models: a small CNN (1x8x8 input, Conv2d(1 -> 2, 3x3,
stride 2, padding 1) fused with its ReLU, AvgPool2d 2, Linear(8 -> 3)) and a small MLP
(Linear(6 -> 8) fused with its ReLU, Linear(8 -> 3)).

What Debian's torch (1.13) exports, per QConfig (torusml.torch.export_torch_model makes all of
these exportable; see torusml/torch/_qat.py):

* get_default_qat_qconfig("fbgemm") and ("qnnpack") (version 1: FusedMovingAvgObsFakeQuantize)
  do not export with plain torch.onnx.export (aten::fused_moving_avg_obs_fake_quant has no
  symbolic); their version 0 (FakeQuantize with MovingAverage[PerChannel]MinMaxObserver) exports
  once the observers are disabled (else aten::copy fails). Both compute the same function.
* fbgemm: activations quint8 with reduce_range (0..127) -> QuantizeLinear -> Clip(max 127, on the
  uint8 integers) -> DequantizeLinear; weights per_channel_symmetric int8 -> QuantizeLinear /
  DequantizeLinear with axis 0. qnnpack: activations 0..255, weights per tensor, no Clip.
* Low-bit QAT (FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
  quant_max=15, ...)): torch's symbolic refuses every range but (0, 255), (-128, 127) and
  (0, 127); TorusML's writes it as QuantizeLinear -> Clip(0, 15) -> DequantizeLinear.

The imported network uses the model's own quantizers: the client's input quantizer and each
lookup's output are the QAT bit widths (7 bits for reduce_range, 4 for 4-bit QAT), and without
rounding (rounding_threshold_bits=16) the clear outputs equal torch's fake-quantized ones up to
float rounding (float biases included). With the automatic rounding, lookups read about two bits
more than the QAT's activations (4-bit outputs from 6-bit lookups) and outputs stay within an
output step; fhe="execute" equals fhe="disable" (exact rounding), and so does the deployed MLP.
The activation patterns eager QAT exports around Conv + BatchNorm (fused or not, ReLU, ReLU6,
LeakyReLU, Sigmoid, MaxPool) import exactly too. Patterns that cannot be imported exactly are
ValueErrors naming the node.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
import onnx.numpy_helper  # noqa: E402

tq = pytest.importorskip("torch.ao.quantization")

from torusml.onnx import build_quantized_module  # noqa: E402
from torusml.torch import compile_torch_model, export_torch_model  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),  # FakeQuantize's flag tests
    pytest.mark.filterwarnings("ignore:Please use quant_min and quant_max"),  # reduce_range
]

NO_ROUNDING = 16  # bits kept of each accumulator: all of them
EXACT_AUTO_ROUNDING = {"n_bits": "auto", "method": "exact"}


def qconfig_4bit():
    """4-bit unsigned activations, 4-bit per-channel symmetric weights."""
    return tq.QConfig(
        activation=tq.FakeQuantize.with_args(
            observer=tq.MovingAverageMinMaxObserver,
            quant_min=0,
            quant_max=15,
            dtype=torch.quint8,
            qscheme=torch.per_tensor_affine,
        ),
        weight=tq.FakeQuantize.with_args(
            observer=tq.MovingAveragePerChannelMinMaxObserver,
            quant_min=-8,
            quant_max=7,
            dtype=torch.qint8,
            qscheme=torch.per_channel_symmetric,
            ch_axis=0,
        ),
    )


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = torch.nn.Conv2d(1, 2, 3, stride=2, padding=1)  # 1x8x8 -> 2x4x4
        self.relu = torch.nn.ReLU()
        self.pool = torch.nn.AvgPool2d(2)  # -> 2x2x2
        self.fc = torch.nn.Linear(8, 3)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool(self.relu(self.conv(self.quant(x))))
        return self.dequant(self.fc(torch.flatten(x, 1)))


class Mlp(torch.nn.Module):
    def __init__(self, activation=None):
        super().__init__()
        self.quant = tq.QuantStub()
        self.fc1 = torch.nn.Linear(6, 8)
        self.relu = activation if activation is not None else torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(8, 3)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.fc2(self.relu(self.fc1(self.quant(x)))))


def fit_qat(model, x, y, steps):
    """A few SGD steps of cross-entropy training (observers and fake quantizers update)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def train_qat(kind, qconfig, fuse=True, activation=None):
    """The model prepared for QAT and trained 20 SGD steps on 64 random samples (fixed seeds),
    in eval mode with its observers still on; and the samples (float64)."""
    torch.manual_seed(0)
    model = Cnn() if kind == "cnn" else Mlp(activation)
    model.train()
    if fuse:
        fused = ["conv", "relu"] if kind == "cnn" else ["fc1", "relu"]
        model = tq.fuse_modules_qat(model, [fused])
    model.qconfig = qconfig
    tq.prepare_qat(model, inplace=True)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, *((1, 8, 8) if kind == "cnn" else (6,)), generator=generator)
    y = torch.randint(0, 3, (64,), generator=generator)
    fit_qat(model, x, y, steps=20)
    return model.eval(), x.numpy().astype(np.float64)


def fake_quantized_output(model, x):
    """torch's own output of the QAT model (observers off: the scales as exported), and the
    output quantizer's step."""
    model.apply(tq.disable_observer)
    with torch.no_grad():
        y = model(torch.tensor(x, dtype=torch.float32)).double().numpy()
    last = model.fc2 if isinstance(model, Mlp) else model.fc
    return y, float(last.activation_post_process.scale)


def nodes(onnx_bytes):
    return list(onnx.load_from_string(onnx_bytes).graph.node)


def integer_clips(graph_nodes):
    """The Clips between a QuantizeLinear and a DequantizeLinear."""
    producer = {o: n for n in graph_nodes for o in n.output}
    consumers = {}
    for n in graph_nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return [
        n
        for n in graph_nodes
        if n.op_type == "Clip"
        and producer.get(n.input[0]) is not None
        and producer[n.input[0]].op_type == "QuantizeLinear"
        and [c.op_type for c in consumers.get(n.output[0], [])] == ["DequantizeLinear"]
    ]


def constant_inputs(graph_nodes, clips):
    """Per Clip, the Constant nodes giving its min and max."""
    producer = {o: n for n in graph_nodes for o in n.output}
    return [[producer[i] for i in clip.input[1:]] for clip in clips]


def weight_axes(graph_nodes):
    return [
        onnx.helper.get_attribute_value(a)
        for n in graph_nodes
        if n.op_type == "DequantizeLinear"
        for a in n.attribute
        if a.name == "axis"
    ]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("backend", ["fbgemm", "qnnpack"])
def test_default_qconfigs_import_exactly(backend, version, kind):
    model, x = train_qat(kind, tq.get_default_qat_qconfig(backend, version))
    data = export_torch_model(model, x[0])
    graph_nodes = nodes(data)
    if backend == "fbgemm":  # reduce_range: 0..127 as QuantizeLinear -> Clip -> DequantizeLinear
        assert len(integer_clips(graph_nodes)) == 3  # input, hidden activation, output
        assert weight_axes(graph_nodes) == [0, 0]  # per-channel weights
        bits = 7
    else:
        assert integer_clips(graph_nodes) == []
        assert weight_axes(graph_nodes) == []
        bits = 8
    expected, step = fake_quantized_output(model, x)

    exact = build_quantized_module(data, x, rounding_threshold_bits=NO_ROUNDING)
    assert exact.quantized_network.input_quantizer.n_bits == bits
    assert [(entry["output_bits"], entry["quantization_aware"]) for entry in exact.lookups] == [
        (bits, True)
    ]
    np.testing.assert_allclose(exact.forward(x), expected, rtol=0, atol=1e-4 * step)

    # Automatic rounding (8 of the accumulators' 15-16 bits kept): one output step off at most.
    rounded = build_quantized_module(data, x)
    error = np.abs(rounded.forward(x) - expected) / step
    assert error.max() < 1.001 and np.mean(error < 1e-3) > 0.6


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_4bit_qat_keeps_its_bit_widths_and_runs_encrypted(kind, tmp_path):
    model, x = train_qat(kind, qconfig_4bit())
    data = export_torch_model(model, x[0])
    bounds = sorted(
        tuple(int(onnx.numpy_helper.to_array(c.attribute[0].t)) for c in constants)
        for constants in constant_inputs(nodes(data), integer_clips(nodes(data)))
    )
    # Clip on the integers: the input, the hidden activation, the output (0..15) and the two
    # weights (-8..7).
    assert bounds == [(-8, 7)] * 2 + [(0, 15)] * 3
    expected, step = fake_quantized_output(model, x)

    # The model's own integers: without rounding, torch's fake-quantized outputs exactly.
    exact = build_quantized_module(data, x, rounding_threshold_bits=NO_ROUNDING)
    assert exact.quantized_network.input_quantizer.n_bits == 4
    np.testing.assert_allclose(exact.forward(x), expected, rtol=0, atol=1e-4 * step)
    assert len({tuple(row) for row in np.round(expected, 6)}) > 20

    # Compiled with the automatic (exact) rounding: the lookups output the QAT's 4-bit integers
    # and read 6 bits (the accumulator rounded to the output's step over its whole range).
    module = compile_torch_model(model, x, rounding_threshold_bits=EXACT_AUTO_ROUNDING)
    (lookup,) = module.lookups
    assert lookup["ops"] == ["Relu", "QuantizeLinear", "Clip", "DequantizeLinear"]
    assert lookup["output_bits"] == 4 and lookup["quantization_aware"]
    assert lookup["lookups"] == (32 if kind == "cnn" else 8)
    assert lookup["precision"] <= 6
    assert "4-bit output (the model's own quantizer)" in module.statistics_text()
    y = module.forward(x)
    error = np.abs(y - expected) / step
    assert error.max() < 1.001 and np.mean(error < 1e-3) > 0.8

    few = 2 if kind == "cnn" else 3
    np.testing.assert_array_equal(module.forward(x[:few], fhe="execute", progress=False), y[:few])

    if kind == "mlp":  # deployed: the client applies the output's bias residual and quantizer
        from torusml.deployment import FHEModelClient, FHEModelDev, FHEModelServer

        FHEModelDev(tmp_path / "model", module).save()
        client = FHEModelClient(tmp_path / "model")
        client.generate_private_and_evaluation_keys()
        server = FHEModelServer(tmp_path / "model")
        server.load()
        result = server.run(
            client.quantize_encrypt_serialize(x[:2]), client.get_serialized_evaluation_keys()
        )
        np.testing.assert_allclose(
            client.deserialize_decrypt_dequantize(result), y[:2], rtol=0, atol=1e-12
        )


class ConvBlock(torch.nn.Module):
    """QuantStub -> Conv2d(1 -> 3, 3x3, padding 1) -> BatchNorm2d -> `activation` -> `pool` 2 ->
    Flatten -> Linear(48 -> 3) -> DeQuantStub, on 1x8x8 inputs."""

    def __init__(self, activation, pool):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(3)
        self.act = activation
        self.pool = pool
        self.fc = torch.nn.Linear(48, 3)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.conv(self.quant(x)))))
        return self.dequant(self.fc(torch.flatten(x, 1)))


# What eager-mode QAT exports around an activation (after the Conv and its BatchNormalization,
# which the fused QAT modules export as Conv -> Div -> Add -> BatchNormalization), and the ops of
# the one lookup (before any MaxPool) it becomes.
EXPORTED_PATTERNS = {
    # ConvBnReLU2d: Relu -> QuantizeLinear -> Clip -> DequantizeLinear.
    "conv_bn_relu": (["conv", "bn", "act"], torch.nn.ReLU, torch.nn.AvgPool2d, ["Relu"], []),
    # ConvBn2d, then an nn.ReLU without a quantizer of its own: Relu after the DequantizeLinear.
    "conv_bn_then_relu": (["conv", "bn"], torch.nn.ReLU, torch.nn.AvgPool2d, [], ["Relu"]),
    # Nothing fused: the Conv's output quantized, BatchNormalization, quantized again, Relu.
    "unfused": (None, torch.nn.ReLU, torch.nn.AvgPool2d, None, ["Relu"]),
    # ReLU6 (Clip 0..6 between two quantizers), LeakyReLU and Sigmoid (their own quantizers;
    # Sigmoid's fixed 8-bit one) after ConvBn2d.
    "relu6": (["conv", "bn"], torch.nn.ReLU6, torch.nn.AvgPool2d, [], ["Clip", "QDQ"]),
    "leaky_relu": (
        ["conv", "bn"], torch.nn.LeakyReLU, torch.nn.AvgPool2d, [], ["LeakyRelu", "QDQ"]
    ),
    "sigmoid": (["conv", "bn"], torch.nn.Sigmoid, torch.nn.AvgPool2d, [], ["Sigmoid", "QDQ"]),
    # MaxPool of the 4-bit activations: their re-encoding keeps the model's quantizer.
    "max_pool": (["conv", "bn", "act"], torch.nn.ReLU, torch.nn.MaxPool2d, ["Relu"], []),
}


@pytest.mark.parametrize("pattern", sorted(EXPORTED_PATTERNS))
def test_exported_activation_patterns_import_exactly(pattern):
    fuse, activation, pool, before, after = EXPORTED_PATTERNS[pattern]
    torch.manual_seed(0)
    model = ConvBlock(activation(), pool(2)).train()
    if fuse:
        model = tq.fuse_modules_qat(model, [fuse])
    model.qconfig = qconfig_4bit()
    tq.prepare_qat(model, inplace=True)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(32, 1, 8, 8, generator=generator)
    y = torch.randint(0, 3, (32,), generator=generator)
    fit_qat(model, x, y, steps=5)
    model.eval()
    x = x.numpy().astype(np.float64)
    module = build_quantized_module(
        export_torch_model(model, x[0]), x, rounding_threshold_bits=NO_ROUNDING
    )
    expected, step = fake_quantized_output(model, x)
    np.testing.assert_allclose(module.forward(x), expected, rtol=0, atol=1e-4 * step)
    qdq = ["QuantizeLinear", "Clip", "DequantizeLinear"]
    ops = module.lookups[0]["ops"]
    if before is not None:
        conv_bn = ["Div", "Add", "BatchNormalization"]
        expected_ops = conv_bn + before + qdq
        for op in after:
            expected_ops += qdq if op == "QDQ" else [op]
        if pattern == "sigmoid":  # its fixed quantizer is 0..255: no Clip
            expected_ops[-2:-1] = []
        assert ops == expected_ops
    else:
        assert ops == qdq + ["BatchNormalization"] + qdq + ["Relu"]
    assert all(entry["quantization_aware"] for entry in module.lookups if entry["output_bits"])
    if pattern == "max_pool":
        assert [entry["ops"] for entry in module.lookups[1:]] == [["MaxPool"], ["Identity"]]
        assert module.lookups[2]["output_bits"] == 4  # the maxima re-encoded on their grid


def test_compile_leaves_the_qat_model_as_it_was():
    model, x = train_qat("mlp", tq.get_default_qat_qconfig("fbgemm"))  # fused fake quantization
    fake_quantizers = [m for m in model.modules() if isinstance(m, tq.FakeQuantizeBase)]
    scales = [m.scale.clone() for m in fake_quantizers]
    model.train()
    export_torch_model(model, x[0])
    assert model.training
    for m, scale in zip(fake_quantizers, scales):
        assert int(m.observer_enabled[0]) == 1  # observers back on, as they were
        assert "forward" not in m.__dict__  # the fused forward restored
        assert torch.equal(m.scale, scale)  # the export did not observe the sample


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: no shape inference for a tuple
def test_converted_model_error_says_to_compile_before_convert():
    model, x = train_qat("mlp", tq.get_default_qat_qconfig("qnnpack"))
    converted = tq.convert(model, inplace=False)  # torch 1.13 cannot export quantized::linear
    with pytest.raises(ValueError, match="before torch.ao.quantization.convert"):
        export_torch_model(converted, x[0])


class FakeQuantized(torch.nn.Module):
    """Linear -> fake quantization of its output by `fake_quantize` -> `after` -> Linear."""

    def __init__(self, fake_quantize, after=None):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = torch.nn.Linear(4, 3)
        self.fc2 = torch.nn.Linear(3, 2)
        self.fake_quantize = fake_quantize
        self.after = after if after is not None else torch.nn.Identity()

    def forward(self, x):
        return self.fc2(self.after(self.fake_quantize(self.fc1(x))))


def test_ranges_wider_than_8_bits_cannot_be_exported():
    model = FakeQuantized(lambda h: torch.fake_quantize_per_tensor_affine(h, 0.01, 0, 0, 1023))
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        export_torch_model(model, np.zeros(4))


def test_inexact_patterns_are_errors_naming_the_node():
    x = np.random.default_rng(0).normal(size=(20, 4))
    # An activation quantized per channel.
    per_channel = FakeQuantized(
        lambda h: torch.fake_quantize_per_channel_affine(
            h, torch.tensor([0.05, 0.1, 0.2]), torch.zeros(3, dtype=torch.int32), 1, 0, 255
        )
    )
    with pytest.raises(ValueError, match=r"DequantizeLinear.*per-axis quantization"):
        build_quantized_module(export_torch_model(per_channel, x[0]), x)
    # An unquantized Hardtanh after a quantized activation: values off the grid (1.25 is between
    # two steps of 0.1) reach the next layer.
    hardtanh = FakeQuantized(
        lambda h: torch.fake_quantize_per_tensor_affine(h, 0.1, 128, 0, 255),
        torch.nn.Hardtanh(-1.0, 1.25),
    )
    with pytest.raises(ValueError, match=r"Clip.*cannot be imported exactly"):
        build_quantized_module(export_torch_model(hardtanh, x[0]), x)
    # A Hardtanh to bounds on the grid keeps it: its lookup outputs the grid's integers.
    on_grid = FakeQuantized(hardtanh.fake_quantize, torch.nn.Hardtanh(-1.0, 1.2))
    (lookup,) = build_quantized_module(export_torch_model(on_grid, x[0]), x).lookups
    assert lookup["ops"][-1] == "Clip"
    assert lookup["quantization_aware"] and lookup["output_bits"] == 5  # -10..12: 23 levels
