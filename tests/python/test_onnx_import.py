"""Differential tests of the onnx layer (torusml._core.evaluate_onnx, double precision).

Small models are built with onnx.helper, one per operator and attribute variant, and evaluated on
random inputs (fixed seeds); the reference is a numpy formula, or torch's float64 functional ops
for convolutions and pools (ONNX 1.12 has no onnx.reference). Whole torch modules exported with
torch.onnx.export (opsets 11, 13, 17) are compared with torch's own float32 output.
"""

import io
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from torusml import _core  # noqa: E402

F = TensorProto.FLOAT
I64 = TensorProto.INT64
BOOL = TensorProto.BOOL
RTOL = 1e-9


def rng(seed=0):
    return np.random.default_rng(seed)


def f32(a):
    """Values exact in float32 (initializers are stored as float32), as float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def model_of(nodes, inputs, outputs, initializers=(), opset=17, extra_opsets=()):
    """inputs: [(name, elem_type, shape)], outputs: [(name, elem_type)], initializers: numpy
    arrays by name (float64 arrays are stored as float32)."""
    inits = []
    for name, value in initializers:
        value = np.asarray(value)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        inits.append(numpy_helper.from_array(value, name))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        inits,
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def evaluate(model, inputs, batch_size=1):
    return _core.evaluate_onnx(
        model.SerializeToString(), [np.asarray(a, dtype=np.float64) for a in inputs], batch_size
    )


def run_single(op, xs, attrs=None, init=(), opset=17, out_type=F, in_types=None, domain=""):
    """One node of `op` on graph inputs xs (then initializers `init`, names i0, i1...)."""
    names = [f"x{i}" for i in range(len(xs))] + [name for name, _ in init]
    types = in_types or [F] * len(xs)
    node = helper.make_node(op, names, ["y"], domain=domain, **(attrs or {}))
    extra = [(domain, 1)] if domain else []
    model = model_of(
        [node],
        [(f"x{i}", types[i], np.shape(x)) for i, x in enumerate(xs)],
        [("y", out_type)],
        init,
        opset,
        extra,
    )
    return evaluate(model, xs)[0]


def close(actual, expected, rtol=RTOL, atol=1e-12):
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ---- Elementwise -----------------------------------------------------------------------------

X = rng(1).normal(size=(3, 4)) * 2
UNIT = rng(2).uniform(-0.95, 0.95, size=(3, 4))
POS = rng(3).uniform(0.1, 5.0, size=(3, 4))
erf = np.vectorize(math.erf)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY = {
    "Relu": (X, {}, lambda x: np.maximum(x, 0)),
    "Neg": (X, {}, lambda x: -x),
    "Abs": (X, {}, np.abs),
    "Sign": (X, {}, np.sign),
    "Floor": (X, {}, np.floor),
    "Round": (np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, 2.6]), {}, np.round),
    "Exp": (X, {}, np.exp),
    "Log": (POS, {}, np.log),
    "Sigmoid": (X, {}, sigmoid),
    "Tanh": (X, {}, np.tanh),
    "Softplus": (X, {}, lambda x: np.log1p(np.exp(x))),
    "Softsign": (X, {}, lambda x: x / (1 + np.abs(x))),
    "Erf": (X, {}, erf),
    "Sin": (X, {}, np.sin),
    "Cos": (X, {}, np.cos),
    "Tan": (UNIT, {}, np.tan),
    "Asin": (UNIT, {}, np.arcsin),
    "Acos": (UNIT, {}, np.arccos),
    "Atan": (X, {}, np.arctan),
    "Sinh": (X, {}, np.sinh),
    "Cosh": (X, {}, np.cosh),
    "Asinh": (X, {}, np.arcsinh),
    "Acosh": (POS + 1, {}, np.arccosh),
    "Atanh": (UNIT, {}, np.arctanh),
    "Identity": (X, {}, lambda x: x),
    "HardSwish": (X * 2, {}, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "LeakyRelu": (X, {}, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "LeakyRelu/alpha": (X, {"alpha": 0.25}, lambda x: np.where(x >= 0, x, 0.25 * x)),
    "Elu": (X, {"alpha": 0.75}, lambda x: np.where(x >= 0, x, 0.75 * np.expm1(x))),
    "Selu": (
        X,
        {"alpha": 1.5, "gamma": 2.0},
        lambda x: np.where(x > 0, 2.0 * x, 2.0 * 1.5 * np.expm1(x)),
    ),
    "Celu": (
        X,
        {"alpha": 1.5},
        lambda x: np.maximum(0, x) + np.minimum(0, 1.5 * np.expm1(x / 1.5)),
    ),
    "HardSigmoid": (X, {"alpha": 0.25, "beta": 0.375}, lambda x: np.clip(0.25 * x + 0.375, 0, 1)),
    "ThresholdedRelu": (X, {"alpha": 0.5}, lambda x: np.where(x > 0.5, x, 0)),
}


@pytest.mark.parametrize("case", sorted(UNARY))
def test_unary(case):
    x, attrs, ref = UNARY[case]
    close(run_single(case.split("/")[0], [x], attrs), ref(x))


def test_selu_defaults():
    a, g = 1.67326319217681884765625, 1.05070102214813232421875
    close(run_single("Selu", [X]), np.where(X > 0, g * X, g * a * np.expm1(X)))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_contrib(approximate):
    attrs = {} if approximate == "none" else {"approximate": "tanh"}
    y = run_single("Gelu", [X], attrs, domain="com.microsoft")
    if approximate == "none":
        ref = 0.5 * X * (1 + erf(X / math.sqrt(2)))
    else:
        ref = 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))
    close(y, ref)


def test_not():
    b = np.array([[1, 0, 1], [0, 0, 1]])
    close(run_single("Not", [b], in_types=[BOOL], out_type=BOOL), 1 - b)


BROADCAST_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((1,), (2, 3)), ((), (3,))]

BINARY = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": np.divide,
    "Greater": lambda a, b: (a > b).astype(float),
    "GreaterOrEqual": lambda a, b: (a >= b).astype(float),
    "Less": lambda a, b: (a < b).astype(float),
    "LessOrEqual": lambda a, b: (a <= b).astype(float),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
def test_binary_broadcasting(op, shapes):
    r = rng(4)
    a = np.round(r.normal(size=shapes[0]) * 2, 1)
    b = np.round(r.normal(size=shapes[1]) * 2, 1) + 0.05
    out_type = BOOL if op not in ("Add", "Sub", "Mul", "Div") else F
    close(run_single(op, [a, b], out_type=out_type), BINARY[op](a, b))


def test_pow_equal_and_logic():
    r = rng(5)
    a, b = r.uniform(0.5, 3, size=(2, 3)), r.normal(size=(3,))
    close(run_single("Pow", [a, b]), a**b)
    i, j = r.integers(0, 3, size=(4, 3)), r.integers(0, 3, size=(3,))
    close(run_single("Equal", [i, j], in_types=[I64, I64], out_type=BOOL), (i == j))
    p, q = r.integers(0, 2, size=(4, 3)), r.integers(0, 2, size=(1, 3))
    for op, fn in (("And", np.logical_and), ("Or", np.logical_or)):
        close(run_single(op, [p, q], in_types=[BOOL, BOOL], out_type=BOOL), fn(p, q))


def test_integer_division_truncates_toward_zero():
    a = np.array([7, -7, 9, -9, 5])
    b = np.array([2, 2, -4, -4, 3])
    close(run_single("Div", [a, b], in_types=[I64, I64], out_type=I64), np.trunc(a / b))


@pytest.mark.parametrize("op", ["Max", "Min"])
def test_variadic_max_min(op):
    r = rng(6)
    xs = [r.normal(size=(2, 3)), r.normal(size=(3,)), r.normal(size=(2, 1))]
    fn = np.maximum if op == "Max" else np.minimum
    close(run_single(op, xs), fn(fn(xs[0], xs[1]), xs[2]))


def test_prelu_and_where():
    r = rng(7)
    x, slope = r.normal(size=(2, 3, 2)), r.normal(size=(3, 1))
    close(run_single("PRelu", [x, slope]), np.where(x >= 0, x, slope * x))
    c = r.integers(0, 2, size=(2, 1, 3))
    a, b = r.normal(size=(4, 3)), r.normal(size=(3,))
    close(run_single("Where", [c, a, b], in_types=[BOOL, F, F]), np.where(c, a, b))


@pytest.mark.parametrize("opset", [10, 11, 13])
def test_clip(opset):
    if opset < 11:
        y = run_single("Clip", [X], {"min": -0.5, "max": 1.25}, opset=opset)
    else:
        y = run_single(
            "Clip", [X], init=[("lo", np.array(-0.5, np.float32)), ("hi", np.array(1.25, np.float32))],
            opset=opset,
        )
    close(y, np.clip(X, -0.5, 1.25))


@pytest.mark.parametrize(
    "to,dtype", [(TensorProto.INT32, np.int32), (TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8)]
)
def test_cast_to_integers(to, dtype):
    x = np.array([-3.75, -1.5, 0.25, 2.5, 100.9, 200.2, 1000.7])
    expected = np.trunc(x).astype(np.int64).astype(dtype)  # truncate, then wrap
    close(run_single("Cast", [x], {"to": to}, out_type=to), expected)
    close(run_single("Cast", [x], {"to": TensorProto.BOOL}, out_type=BOOL), x != 0)


@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize(zp_dtype, per_axis):
    r = rng(8)
    x = r.normal(size=(2, 3, 2)) * 40
    if per_axis:
        scale = f32(r.uniform(0.1, 0.6, size=3))
        zp = r.integers(-5, 5, size=3).astype(zp_dtype) if zp_dtype == np.int8 else r.integers(100, 140, size=3).astype(zp_dtype)
        s_b, z_b = scale.reshape(1, 3, 1), zp.astype(np.float64).reshape(1, 3, 1)
    else:
        scale, zp = f32(0.37), np.array(3 if zp_dtype == np.int8 else 128, zp_dtype)
        s_b, z_b = scale, float(zp)
    info = np.iinfo(zp_dtype)
    ref_q = np.clip(np.round(x / s_b) + z_b, info.min, info.max)
    init = [("s", scale), ("z", zp)]
    attrs = {"axis": 1} if per_axis else {}
    zt = TensorProto.INT8 if zp_dtype == np.int8 else TensorProto.UINT8
    close(run_single("QuantizeLinear", [x], attrs, init=init, out_type=zt), ref_q)
    q = ref_q
    close(
        run_single("DequantizeLinear", [q], attrs, init=init, in_types=[zt]),
        (q - z_b) * s_b,
    )


# ---- Linear ----------------------------------------------------------------------------------


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (4,), (3, 4), (3, 1), ()])
def test_gemm(trans_a, trans_b, c_shape):
    r = rng(9)
    a = r.normal(size=(5, 3) if trans_a else (3, 5))
    b = f32(r.normal(size=(4, 5) if trans_b else (5, 4)))
    init = [("b", b)]
    ref = 0.75 * (a.T if trans_a else a) @ (b.T if trans_b else b)
    if c_shape is not None:
        c = f32(r.normal(size=c_shape))
        init.append(("c", c))
        ref = ref + 1.5 * c
    y = run_single("Gemm", [a], {"transA": trans_a, "transB": trans_b, "alpha": 0.75, "beta": 1.5}, init)
    close(y, ref)


@pytest.mark.parametrize(
    "sa,sb", [((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3, 5)), ((2, 1, 2, 3), (3, 3, 2)), ((3,), (3,))]
)
def test_matmul(sa, sb):
    r = rng(10)
    a, b = r.normal(size=sa), r.normal(size=sb)
    close(run_single("MatMul", [a, b]), np.matmul(a, b))


def test_batch_normalization():
    r = rng(11)
    x = r.normal(size=(2, 3, 4, 2))
    s, b, m = f32(r.normal(size=3)), f32(r.normal(size=3)), f32(r.normal(size=3))
    v = f32(r.uniform(0.5, 2, size=3))
    eps = float(np.float32(1e-3))
    y = run_single(
        "BatchNormalization", [x], {"epsilon": 1e-3}, [("s", s), ("b", b), ("m", m), ("v", v)]
    )
    sh = (1, 3, 1, 1)
    close(y, s.reshape(sh) * (x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + eps) + b.reshape(sh))


# ---- Shapes ----------------------------------------------------------------------------------

A = rng(12).normal(size=(2, 3, 4))


def ints(name, values):
    return (name, np.array(values, dtype=np.int64))


SHAPE_CASES = {
    "Reshape": ("Reshape", {}, [ints("s", [0, -1])], 17, lambda a: a.reshape(2, 12)),
    "Reshape/2": ("Reshape", {}, [ints("s", [4, 3, 2])], 13, lambda a: a.reshape(4, 3, 2)),
    "Flatten": ("Flatten", {"axis": 2}, [], 17, lambda a: a.reshape(6, 4)),
    "Flatten/neg": ("Flatten", {"axis": -1}, [], 11, lambda a: a.reshape(6, 4)),
    "Unsqueeze13": ("Unsqueeze", {}, [ints("ax", [0, -1])], 13, lambda a: a[None, ..., None]),
    "Unsqueeze11": ("Unsqueeze", {"axes": [1]}, [], 11, lambda a: a[:, None]),
    "Transpose": ("Transpose", {"perm": [2, 0, 1]}, [], 17, lambda a: a.transpose(2, 0, 1)),
    "Transpose/default": ("Transpose", {}, [], 17, lambda a: a.transpose()),
    "Slice13": (
        "Slice",
        {},
        [ints("st", [1, -1]), ints("en", [3, -100]), ints("ax", [2, 1]), ints("sp", [1, -2])],
        13,
        lambda a: a[:, -1:-100:-2, 1:3],
    ),
    "Slice9": ("Slice", {"starts": [0], "ends": [1], "axes": [0]}, [], 9, lambda a: a[0:1]),
    "Slice/max": ("Slice", {}, [ints("st", [1]), ints("en", [2**63 - 1]), ints("ax", [2])], 13, lambda a: a[:, :, 1:]),
    "Gather": ("Gather", {"axis": 1}, [ints("i", [[2, 0], [1, -1]])], 17, lambda a: np.take(a, [[2, 0], [1, 2]], axis=1)),
    "Gather/scalar": ("Gather", {"axis": 2}, [("i", np.array(-2, np.int64))], 17, lambda a: a[:, :, -2]),
    "Pad13": (
        "Pad",
        {},
        [ints("p", [0, 1, 2, 1, 0, 1]), ("v", np.array(0.5, np.float32))],
        13,
        lambda a: np.pad(a, [(0, 1), (1, 0), (2, 1)], constant_values=0.5),
    ),
    "Pad/reflect": ("Pad", {"mode": "reflect"}, [ints("p", [0, 1, 2, 0, 1, 1])], 13, lambda a: np.pad(a, [(0, 0), (1, 1), (2, 1)], mode="reflect")),
    "Pad/edge": ("Pad", {"mode": "edge"}, [ints("p", [1, 0, 0, 0, 2, 3])], 11, lambda a: np.pad(a, [(1, 0), (0, 2), (0, 3)], mode="edge")),
    "Pad10": ("Pad", {"pads": [0, 0, 1, 0, 0, 1], "value": -1.0}, [], 10, lambda a: np.pad(a, [(0, 0), (0, 0), (1, 1)], constant_values=-1)),
    "Expand": ("Expand", {}, [ints("s", [3, 2, 1, 4])], 17, lambda a: np.broadcast_to(a, (3, 2, 3, 4))),
    "ReduceSum13": ("ReduceSum", {"keepdims": 0}, [ints("ax", [0, 2])], 13, lambda a: a.sum(axis=(0, 2))),
    "ReduceSum11": ("ReduceSum", {"axes": [1]}, [], 11, lambda a: a.sum(axis=1, keepdims=True)),
    "ReduceSum/all": ("ReduceSum", {}, [], 13, lambda a: a.sum(keepdims=True).reshape(1, 1, 1)),
    "ReduceMean": ("ReduceMean", {"axes": [-1]}, [], 13, lambda a: a.mean(axis=-1, keepdims=True)),
    "ReduceMean/nokeep": ("ReduceMean", {"axes": [0, 1], "keepdims": 0}, [], 11, lambda a: a.mean(axis=(0, 1))),
}


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_shape_operators(case):
    op, attrs, init, opset, ref = SHAPE_CASES[case]
    close(run_single(op, [A], attrs, init, opset=opset), ref(A))


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze(opset):
    x = rng(13).normal(size=(2, 1, 3, 1))
    if opset < 13:
        y = run_single("Squeeze", [x], {"axes": [1]}, opset=opset)
    else:
        y = run_single("Squeeze", [x], init=[ints("ax", [-1])], opset=opset)
    close(y, x.squeeze(axis=1 if opset < 13 else -1))
    close(run_single("Squeeze", [x], opset=opset), x.squeeze())


def test_concat():
    r = rng(14)
    a, b, c = r.normal(size=(2, 1, 3)), r.normal(size=(2, 4, 3)), f32(r.normal(size=(2, 2, 3)))
    close(run_single("Concat", [a, b], {"axis": 1}, [("c", c)]), np.concatenate([a, b, c], axis=1))


def test_shape_constant_of_shape_and_one_hot():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["z"], value=numpy_helper.from_array(np.array([2.5], np.float32))),
        helper.make_node("Add", ["x", "z"], ["y"]),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array([1.0, -1.0], np.float32))),
        helper.make_node("Mul", ["y", "k"], ["w"]),
        helper.make_node("OneHot", ["idx", "depth", "vals"], ["oh"], axis=1),
    ]
    model = model_of(
        nodes,
        [("x", F, (3, 2)), ("idx", I64, (4,))],
        [("w", F), ("oh", F)],
        [("depth", np.array(3, np.int64)), ("vals", np.array([-1.0, 2.0]))],
    )
    x = rng(15).normal(size=(3, 2))
    idx = np.array([0, 2, -1, 1])
    w, oh = evaluate(model, [x, idx])
    close(w, (x + 2.5) * np.array([1, -1]))
    expected = np.full((4, 3), -1.0)
    expected[np.arange(4), idx % 3] = 2.0
    close(oh, expected)
    summary = _core.onnx_graph_summary(model.SerializeToString())
    assert "OneHot" in summary and "ConstantOfShape" not in summary  # folded


# ---- Convolutions and pools (torch float64 as the reference) ----------------------------------

TF = torch.nn.functional


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


CONV_CASES = [
    dict(x=(1, 2, 6, 6), w=(3, 2, 3, 3)),
    dict(x=(2, 2, 7, 5), w=(4, 2, 2, 3), strides=[2, 1], pads=[1, 0, 1, 2]),
    dict(x=(1, 4, 6, 6), w=(4, 1, 3, 3), group=4, pads=[1, 1, 1, 1]),
    dict(x=(1, 4, 8, 8), w=(6, 2, 3, 3), group=2, dilations=[2, 2], strides=[2, 2]),
    dict(x=(2, 3, 9), w=(2, 3, 3), strides=[2], pads=[1, 2]),
    dict(x=(1, 2, 10), w=(2, 1, 4), group=2, dilations=[3]),
    dict(x=(1, 1, 5, 5), w=(2, 1, 2, 2), auto_pad="SAME_UPPER"),
    dict(x=(1, 1, 5, 6), w=(1, 1, 3, 2), auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(x=(1, 1, 5, 5), w=(1, 1, 3, 3), auto_pad="VALID", strides=[2, 2]),
]


def same_pads(in_sizes, kernel, strides, dilations, upper):
    pads_begin, pads_end = [], []
    for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-n // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small = total // 2
        pads_begin.append(small if upper else total - small)
        pads_end.append(total - small if upper else small)
    return pads_begin + pads_end


def torch_pad(x, pads):
    nd = len(pads) // 2
    torch_order = []
    for i in reversed(range(nd)):
        torch_order += [pads[i], pads[i + nd]]
    return TF.pad(x, torch_order)


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("bias", [False, True])
def test_conv(case, bias):
    c = dict(CONV_CASES[case])
    r = rng(20 + case)
    x = r.normal(size=c.pop("x"))
    w = f32(r.normal(size=c.pop("w")))
    nd = x.ndim - 2
    init = [("w", w)]
    b = f32(r.normal(size=w.shape[0])) if bias else None
    if bias:
        init.append(("b", b))
    y = run_single("Conv", [x], c, init)
    strides = c.get("strides", [1] * nd)
    dil = c.get("dilations", [1] * nd)
    pads = c.get("pads", [0] * (2 * nd))
    if c.get("auto_pad", "").startswith("SAME"):
        pads = same_pads(x.shape[2:], w.shape[2:], strides, dil, c["auto_pad"] == "SAME_UPPER")
    conv = TF.conv1d if nd == 1 else TF.conv2d
    ref = conv(torch_pad(t64(x), pads), t64(w), None if b is None else t64(b), stride=strides,
               dilation=dil, groups=c.get("group", 1))
    close(y, ref.numpy())


CONV_T_CASES = [
    dict(x=(1, 2, 3, 3), w=(2, 3, 3, 3)),
    dict(x=(2, 2, 3, 4), w=(2, 1, 2, 2), strides=[2, 2], pads=[0, 1, 1, 0]),
    dict(x=(1, 4, 3, 3), w=(4, 1, 3, 3), group=4, strides=[2, 2], output_padding=[1, 1]),
    dict(x=(1, 2, 4, 4), w=(2, 2, 3, 3), dilations=[2, 1], pads=[1, 1, 1, 1]),
    dict(x=(2, 3, 5), w=(3, 2, 3), strides=[3], pads=[1, 1]),
]


@pytest.mark.parametrize("case", range(len(CONV_T_CASES)))
def test_conv_transpose(case):
    c = dict(CONV_T_CASES[case])
    r = rng(40 + case)
    x = r.normal(size=c.pop("x"))
    w = f32(r.normal(size=c.pop("w")))
    group = c.get("group", 1)
    b = f32(r.normal(size=w.shape[1] * group))
    y = run_single("ConvTranspose", [x], c, [("w", w), ("b", b)])
    nd = x.ndim - 2
    pads = c.get("pads", [0] * (2 * nd))
    assert pads[:nd] == pads[nd:] or nd == 2  # torch pads symmetrically: crop the rest below
    conv_t = TF.conv_transpose1d if nd == 1 else TF.conv_transpose2d
    full = conv_t(t64(x), t64(w), t64(b), stride=c.get("strides", 1),
                  output_padding=c.get("output_padding", 0), groups=group,
                  dilation=c.get("dilations", 1))
    slices = [slice(None), slice(None)]
    for i in range(nd):
        slices.append(slice(pads[i], full.shape[2 + i] - pads[i + nd]))
    close(y, full.numpy()[tuple(slices)])


POOL_CASES = [
    dict(x=(1, 2, 6, 6), kernel_shape=[2, 2], strides=[2, 2]),
    dict(x=(2, 1, 7, 5), kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 0]),
    dict(x=(1, 1, 7, 7), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    dict(x=(1, 2, 9), kernel_shape=[3], strides=[2], pads=[1, 1]),
    dict(x=(1, 1, 8, 8), kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1),
]


@pytest.mark.parametrize("case", range(len(POOL_CASES)))
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "AveragePool/include_pad"])
def test_pool(case, op):
    c = dict(POOL_CASES[case])
    x = rng(60 + case).normal(size=c.pop("x"))
    nd = x.ndim - 2
    attrs = dict(c)
    if op.endswith("include_pad"):
        attrs["count_include_pad"] = 1
    y = run_single(op.split("/")[0], [x], attrs)
    pads = c.get("pads", [0] * (2 * nd))
    assert pads[:nd] == pads[nd:]
    kw = dict(kernel_size=c["kernel_shape"], stride=c["strides"], padding=pads[:nd],
              ceil_mode=bool(c.get("ceil_mode", 0)))
    if op == "MaxPool":
        ref = (TF.max_pool1d if nd == 1 else TF.max_pool2d)(t64(x), **kw)
    else:
        pool = TF.avg_pool1d if nd == 1 else TF.avg_pool2d
        ref = pool(t64(x), count_include_pad=op.endswith("include_pad"), **kw)
    close(y, ref.numpy())


def test_global_average_pool():
    x = rng(70).normal(size=(2, 3, 4, 5))
    close(run_single("GlobalAveragePool", [x]), x.mean(axis=(2, 3), keepdims=True))


# ---- Errors ----------------------------------------------------------------------------------


def test_softmax_and_log_softmax():
    x = rng(71).normal(size=(2, 3, 4))
    for axis in (-1, 1, 0):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        p = e / e.sum(axis=axis, keepdims=True)
        close(run_single("Softmax", [x], {"axis": axis}), p)
        close(run_single("LogSoftmax", [x], {"axis": axis}), np.log(p))


def test_errors_are_value_errors():
    model = model_of([helper.make_node("LpNormalization", ["x"], ["y"], name="lp_node")],
                     [("x", F, (1, 3))], [("y", F)])
    with pytest.raises(ValueError, match="LpNormalization.*lp_node|lp_node.*LpNormalization"):
        evaluate(model, [np.zeros((1, 3))])
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        _core.evaluate_onnx(b"\x08\x07garbage", [], 1)
    good = model_of([helper.make_node("Relu", ["x"], ["y"])], [("x", F, ("N", 3))], [("y", F)])
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(good, [np.zeros((2, 3))])
    assert evaluate(good, [np.zeros((2, 3))], batch_size=2)[0].shape == (2, 3)


# ---- Exported torch modules --------------------------------------------------------------------


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 8)
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.nn.functional.leaky_relu(self.fc1(x), 0.1)).clamp(-1.0, 1.0)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.conv2 = torch.nn.Conv2d(4, 4, 3, stride=2, groups=2)
        self.pool = torch.nn.AvgPool2d(2, ceil_mode=True)
        self.fc = torch.nn.Linear(4 * 2 * 2, 5)

    def forward(self, x):
        h = torch.sigmoid(self.bn(self.conv1(x)))
        h = torch.nn.functional.max_pool2d(h, 2, stride=1)
        h = self.pool(torch.nn.functional.hardswish(self.conv2(h)))
        h = torch.flatten(h, 1)
        return torch.nn.functional.gelu(self.fc(h)) + h.sum(dim=1, keepdim=True)


class Shapes(torch.nn.Module):
    def forward(self, x):
        b = x.shape[0]
        y = x.reshape(b, -1, 2).transpose(1, 2)
        y = torch.cat([y, y.flip(2)], dim=1)
        y = torch.nn.functional.pad(y, (1, 2), mode="reflect")
        return y[:, 1:, 1:-1].unsqueeze(1).mean(dim=-1) * torch.where(y.sum() > 0, 1.0, -1.0)


class Upsampler(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
        self.conv1d = torch.nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x):
        h = torch.nn.functional.elu(self.up(x))
        h = h.flatten(2)
        return torch.tanh(self.conv1d(h)).abs()


MODULES = {
    "mlp": (Mlp, (2, 6)),
    "cnn": (Cnn, (2, 2, 8, 8)),
    "shapes": (Shapes, (2, 3, 4)),
    "upsampler": (Upsampler, (1, 3, 3, 3)),
}


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_export(name, opset, dynamic):
    cls, shape = MODULES[name]
    torch.manual_seed(0)
    module = cls().eval()
    if hasattr(module, "bn"):
        with torch.no_grad():
            module.bn.running_mean.uniform_(-0.5, 0.5)
            module.bn.running_var.uniform_(0.5, 2.0)
    x = torch.from_numpy(rng(80).normal(size=shape).astype(np.float32))
    buffer = io.BytesIO()
    kwargs = {"dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(module, (x,), buffer, opset_version=opset, input_names=["x"],
                      output_names=["y"], **kwargs)
    with torch.no_grad():
        expected = module(x).numpy().astype(np.float64)
    (y,) = _core.evaluate_onnx(buffer.getvalue(), [x.numpy().astype(np.float64)], shape[0])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    summary = _core.onnx_graph_summary(buffer.getvalue(), shape[0])
    for folded in ("Shape", "ConstantOfShape", "Constant "):
        assert f"  {folded}" not in summary, summary
