"""Quantization-aware training of the built-in MLP and its export to ONNX in QDQ form (private).

``QuantizedMLP`` is the torch module that ``NeuralNetClassifier`` and ``NeuralNetRegressor``
(``neural_net.py``) train with skorch: ``n_layers`` linear layers, ``n_hidden_neurons_multiplier *
input_dim`` neurons on each hidden layer (Concrete ML's rule), the activation between layers, and
fake quantization everywhere an FHE circuit holds an encrypted integer:

- the input: ``n_a_bits`` unsigned integers with a zero point (asymmetric), its range the running
  min and max of the training batches (Concrete ML's choice: ``n_a_bits`` are "activation and
  input bits"; the input of the first layer costs no lookup, only accumulator width);
- the weights of every linear layer: ``n_w_bits`` symmetric signed integers per tensor, in the
  narrow range [-(2^(n-1) - 1), 2^(n-1) - 1], the scale max|w| / (2^(n-1) - 1) of the current
  weights (so the largest weight is always on the grid's end);
- the bias: rounded to the accumulator's scale (input scale times weight scale), as the circuit
  adds it to the integer accumulator;
- every activation (after the activation function): ``n_a_bits`` unsigned integers with a zero
  point, the range the running min and max (always including 0) of the training batches; after a
  ReLU the zero point is 0;
- the output of the last layer is not quantized: it is the exact integer accumulator (no lookup),
  dequantized by the client.

Rounding uses a straight-through estimator (the gradient of round is taken as 1, and 0 where the
value is clipped); the scales are not learned. In eval mode the quantizers are frozen (their
scales and zero points read once) and the forward pass is the exact fake-quantized model, which
``export_onnx`` writes as ONNX (opset 13): each quantizer becomes ``Clip`` (to its n-bit range)
-> ``QuantizeLinear`` -> ``DequantizeLinear`` (uint8 zero points for the activations and the
input, int8 for the weights), the weights and biases stored already on their grids, so that the
float graph evaluates, up to float rounding, to the torch model's outputs.

What the QAT does not model: the rounding of wide accumulators to ``rounding_threshold_bits``
before a lookup, which the compiled circuit applies (``n_accum_bits``, see ``neural_net.py``).
"""

import io
import math
import warnings

import numpy
import torch
from torch import nn

MIN_QAT_BITS = 2
MAX_QAT_BITS = 8  # QuantizeLinear's integers are 8-bit (uint8, int8) in opset 13


def _float32(value):
    """value rounded to float32 (ONNX stores scales as float32: torch uses the same numbers)."""
    return float(numpy.float32(value))


def _round_ste(x):
    """round(x) forward, identity backward (straight-through estimator)."""
    return x + (torch.round(x) - x).detach()


class _FrozenQDQ(torch.autograd.Function):
    """((clamp(round(x / scale) + zero_point, qmin, qmax) - zero_point) * scale, exported as
    Clip -> QuantizeLinear -> DequantizeLinear. Eval mode and export only (scale, zero_point,
    qmin, qmax: Python numbers; signed: int8 zero point, else uint8)."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax, signed):  # noqa: ARG004
        # (clamp(round(x / s) + z, qmin, qmax) - z) s, written without adding z: the exporter
        # traces this body too, and its peephole pass fails on an addition of 0 (torch 1.13).
        return torch.clamp(torch.round(x / scale), qmin - zero_point, qmax - zero_point) * scale

    @staticmethod
    def symbolic(g, x, scale, zero_point, qmin, qmax, signed):
        lo = torch.tensor(_float32((qmin - zero_point) * scale), dtype=torch.float32)
        hi = torch.tensor(_float32((qmax - zero_point) * scale), dtype=torch.float32)
        clipped = g.op("Clip", x, g.op("Constant", value_t=lo), g.op("Constant", value_t=hi))
        s = g.op("Constant", value_t=torch.tensor(scale, dtype=torch.float32))
        z = g.op(
            "Constant",
            value_t=torch.tensor(zero_point, dtype=torch.int8 if signed else torch.uint8),
        )
        return g.op("DequantizeLinear", g.op("QuantizeLinear", clipped, s, z), s, z)


class ActivationQuantizer(nn.Module):
    """Asymmetric unsigned n-bit fake quantization (zero point in [0, 2^n - 1]); its range the
    running min and max of the training batches (exponential average, 0 always included)."""

    def __init__(self, n_bits, momentum=0.1):
        super().__init__()
        self.n_bits = int(n_bits)
        self.momentum = float(momentum)
        self.register_buffer("running_min", torch.zeros(()))
        self.register_buffer("running_max", torch.zeros(()))
        self.register_buffer("observed", torch.zeros((), dtype=torch.bool))

    @property
    def qmax(self):
        return (1 << self.n_bits) - 1

    def _observe(self, x):
        with torch.no_grad():
            lo, hi = x.min().to(self.running_min), x.max().to(self.running_max)
            if not bool(self.observed):
                self.running_min.copy_(lo)
                self.running_max.copy_(hi)
                self.observed.fill_(True)
            else:
                self.running_min.lerp_(lo, self.momentum)
                self.running_max.lerp_(hi, self.momentum)

    def parameters_(self):
        """(scale, zero_point) of the current range: float32 scale, integer zero point."""
        lo = min(float(self.running_min), 0.0)
        hi = max(float(self.running_max), 0.0)
        if not hi - lo > 1e-8 or not math.isfinite(hi - lo):
            lo, hi = 0.0, 1.0  # nothing seen (or a constant 0): any grid will do
        scale = _float32((hi - lo) / self.qmax)
        zero_point = int(min(max(round(-lo / scale), 0), self.qmax))
        return scale, zero_point

    def forward(self, x):
        """(quantized x, its scale)."""
        if self.training:
            self._observe(x)
            scale, zero_point = self.parameters_()
            q = torch.clamp(_round_ste(x / scale), -zero_point, self.qmax - zero_point)
            return q * scale, scale
        scale, zero_point = self.parameters_()
        return _FrozenQDQ.apply(x, scale, zero_point, 0, self.qmax, False), scale

    def quantize(self, x):
        """Integer codes (numpy int64) of x (numpy float), as QuantizeLinear computes them."""
        scale, zero_point = self.parameters_()
        q = numpy.rint(numpy.asarray(x, dtype=numpy.float64) / scale) + zero_point
        return numpy.clip(q, 0, self.qmax).astype(numpy.int64)


class QuantLinear(nn.Linear):
    """nn.Linear with n-bit symmetric weights (per tensor) and the bias on the accumulator's
    grid (input scale times weight scale).

    In eval mode the quantized weights and bias are computed once (``freeze``) and used as
    constants, so that an export writes them as initializers, already on their grids."""

    def __init__(self, in_features, out_features, n_w_bits):
        super().__init__(in_features, out_features)
        self.n_w_bits = int(n_w_bits)
        self._frozen = None

    @property
    def qmax(self):
        return (1 << (self.n_w_bits - 1)) - 1

    def weight_scale(self):
        w_max = float(self.weight.detach().abs().max())
        return _float32(w_max / self.qmax if w_max > 0 else 1.0)

    def _quantized(self, input_scale):
        w_scale = self.weight_scale()
        acc_scale = input_scale * w_scale
        w = torch.clamp(_round_ste(self.weight / w_scale), -self.qmax, self.qmax) * w_scale
        b = _round_ste(self.bias / acc_scale) * acc_scale
        return w, b, w_scale

    def freeze(self, input_scale):
        """Computes the eval-mode constants (quantized weight and bias) for this input scale."""
        with torch.no_grad():
            w, b, w_scale = self._quantized(input_scale)
        self._frozen = (input_scale, w.detach().clone(), b.detach().clone(), w_scale)

    def train(self, mode=True):
        if mode:
            self._frozen = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .double(), .to(device): recomputed at next use
        self._frozen = None
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x, input_scale):
        """(x @ W_q^T + b_q, the accumulator's scale)."""
        if self.training:
            w, b, w_scale = self._quantized(input_scale)
        else:
            if self._frozen is None or self._frozen[0] != input_scale:
                self.freeze(input_scale)
            _, w, b, w_scale = self._frozen
            # The weights go through their QDQ (idempotent: they are on the grid) so that the
            # exported graph states their quantization.
            w = _FrozenQDQ.apply(w, w_scale, 0, -self.qmax, self.qmax, True)
        return nn.functional.linear(x, w, b), input_scale * w_scale


class QuantizedMLP(nn.Module):
    """The built-in MLP with fake quantization (see the module docstring).

    input_dim: features; n_outputs: classes or regression targets; n_layers: linear layers
    (>= 1); hidden layers have n_hidden_neurons_multiplier * input_dim neurons; n_w_bits and
    n_a_bits: weight and activation (and input) bits, 2 to 8; activation_function: a torch module
    class (instantiated once per hidden layer). n_accum_bits is not used in training (the
    estimator passes it to the compiler as the rounding threshold).
    """

    def __init__(
        self,
        input_dim,
        n_outputs,
        n_layers,
        n_hidden_neurons_multiplier=4,
        n_w_bits=4,
        n_a_bits=4,
        n_accum_bits=None,
        activation_function=nn.ReLU,
    ):
        super().__init__()
        hidden = int(n_hidden_neurons_multiplier) * int(input_dim)
        widths = [int(input_dim)] + [hidden] * (int(n_layers) - 1) + [int(n_outputs)]
        self.n_accum_bits = n_accum_bits
        self.input_quantizer = ActivationQuantizer(n_a_bits)
        self.linears = nn.ModuleList(
            QuantLinear(widths[i], widths[i + 1], n_w_bits) for i in range(len(widths) - 1)
        )
        self.activations = nn.ModuleList(activation_function() for _ in widths[1:-1])
        self.activation_quantizers = nn.ModuleList(
            ActivationQuantizer(n_a_bits) for _ in widths[1:-1]
        )

    def forward(self, x):
        x, scale = self.input_quantizer(x)
        for i, linear in enumerate(self.linears):
            x, _ = linear(x, scale)
            if i < len(self.activations):
                x, scale = self.activation_quantizers[i](self.activations[i](x))
        return x

    def output_scale(self):
        """The scale of the outputs (the last accumulator's): x = scale * q, zero point 0."""
        scale = self.input_quantizer.parameters_()[0]
        for i, linear in enumerate(self.linears):
            acc_scale = scale * linear.weight_scale()
            if i < len(self.activation_quantizers):
                scale = self.activation_quantizers[i].parameters_()[0]
        return acc_scale


def export_onnx(module, input_dim):
    """The serialized ONNX model (opset 13, input "x" of shape (batch, input_dim), output "y") of
    the frozen module, in QDQ form (see the module docstring)."""
    was_training = module.training
    module.eval()
    try:
        buffer = io.BytesIO()
        dummy = torch.zeros((1, int(input_dim)), dtype=next(module.parameters()).dtype)
        with torch.no_grad(), warnings.catch_warnings():
            # The quantizers' scales are read as Python numbers: constants of the graph, as they
            # should be (the tracer warns about each).
            warnings.simplefilter("ignore")
            module(dummy)  # computes the frozen weights outside the trace: initializers
            torch.onnx.export(
                module,
                (dummy,),
                buffer,
                opset_version=13,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                do_constant_folding=True,
            )
        return buffer.getvalue()
    finally:
        module.train(was_training)
