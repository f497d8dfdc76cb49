"""Export of torch's quantization-aware models (torch.ao.quantization) to ONNX in QDQ form
(private; used by torusml.torch.export_torch_model).

A model prepared with ``torch.ao.quantization.prepare_qat`` (QuantStub / DeQuantStub, fused
modules, fake-quantize modules from a QConfig) exports *before* ``convert``: each fake
quantization becomes QuantizeLinear -> DequantizeLinear with the model's own scale and zero
point, which TorusML imports as they are. Debian's torch (1.13) cannot export such models as
they come; within :func:`exportable` it can:

* every fake-quantize module's observer is disabled for the export (the scales and zero points
  stay as they are: exporting with observers on fails on ``aten::copy``, and tracing would move
  them), then restored;
* ``FusedMovingAvgObsFakeQuantize`` (the fake quantization of ``get_default_qat_qconfig(backend)``
  with the default version 1, and of ``default_qat_qconfig_v2`` and the qnnpack symmetric ones)
  exports as ``aten::fused_moving_avg_obs_fake_quant``, which has no ONNX symbolic: with its
  observer off it computes FakeQuantize's function, whose forward it runs for the export;
* torch's symbolic of ``fake_quantize_per_tensor_affine`` / ``_per_channel_affine`` accepts only
  the ranges (0, 255), (-128, 127) and (0, 127) (the last, reduce_range's 7 bits, as
  QuantizeLinear -> Clip -> DequantizeLinear); this one writes any range within uint8 (quant_min
  >= 0) or int8 the same way, e.g. 4-bit activations (0, 15) as QuantizeLinear -> Clip(0, 15) ->
  DequantizeLinear, so that low-bit QAT (narrow lookups) exports too. Ranges wider than 8 bits
  raise (QuantizeLinear holds 8-bit integers in opset 14).
"""

import contextlib
import types

_OPS = ("fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine")


def _fake_quantize_symbolic(g, x, scale, zero_point, axis, quant_min, quant_max):
    import torch

    uint8, int8, float32 = 2, 3, 1  # ONNX TensorProto data types
    if 0 <= quant_min <= quant_max <= 255:
        onnx_type, torch_type, type_range = uint8, torch.uint8, (0, 255)
    elif -128 <= quant_min <= quant_max <= 127:
        onnx_type, torch_type, type_range = int8, torch.int8, (-128, 127)
    else:
        raise ValueError(
            f"fake quantization to the integer range ({quant_min}, {quant_max}) does not fit "
            f"8 bits: QuantizeLinear holds uint8 or int8 integers in ONNX opset 14; use "
            f"quant_min and quant_max within [0, 255] or [-128, 127]"
        )
    zero_point = g.op("Cast", zero_point, to_i=onnx_type)
    if scale.type().scalarType() != "Float":
        scale = g.op("Cast", scale, to_i=float32)
    axis_attribute = {} if axis is None else {"axis_i": axis}
    quantized = g.op("QuantizeLinear", x, scale, zero_point, **axis_attribute)
    if (quant_min, quant_max) != type_range:
        # A range narrower than the type (reduce_range, low-bit QAT): Clip on the integers.
        quantized = g.op(
            "Clip",
            quantized,
            g.op("Constant", value_t=torch.tensor(quant_min, dtype=torch_type)),
            g.op("Constant", value_t=torch.tensor(quant_max, dtype=torch_type)),
        )
    return g.op("DequantizeLinear", quantized, scale, zero_point, **axis_attribute)


def _symbolics():
    from torch.onnx import symbolic_helper

    @symbolic_helper.parse_args("v", "v", "v", "i", "i")
    def per_tensor(g, x, scale, zero_point, quant_min, quant_max):
        return _fake_quantize_symbolic(g, x, scale, zero_point, None, quant_min, quant_max)

    @symbolic_helper.parse_args("v", "v", "v", "i", "i", "i")
    def per_channel(g, x, scale, zero_point, axis, quant_min, quant_max):
        return _fake_quantize_symbolic(g, x, scale, zero_point, axis, quant_min, quant_max)

    return dict(zip(_OPS, (per_tensor, per_channel)))


def _fake_quantize_modules(model):
    """The model's fake-quantize modules, and the class whose forward the fused ones run."""
    try:
        from torch.ao.quantization.fake_quantize import FakeQuantize, FakeQuantizeBase
    except ImportError:  # a torch without torch.ao.quantization: nothing to prepare
        return [], None
    return [m for m in model.modules() if isinstance(m, FakeQuantizeBase)], FakeQuantize


@contextlib.contextmanager
def exportable(model, opset):
    """Within it, torch.onnx.export writes `model`'s fake quantization as QDQ nodes (see the
    module docstring); the model's observers and modules are restored on exit."""
    import torch

    modules, fake_quantize_class = _fake_quantize_modules(model)
    fused_class = None
    if modules:
        from torch.ao.quantization import fake_quantize

        fused_class = getattr(fake_quantize, "FusedMovingAvgObsFakeQuantize", None)
    saved = []
    registered = []
    try:
        for module in modules:
            patched = fused_class is not None and isinstance(module, fused_class)
            saved.append((module, module.observer_enabled.clone(), patched))
            module.disable_observer()
            if patched:
                module.forward = types.MethodType(fake_quantize_class.forward, module)
        for name, function in _symbolics().items():
            torch.onnx.register_custom_op_symbolic(f"::{name}", function, opset)
            registered.append(name)
        yield
    finally:
        for name in registered:
            torch.onnx.unregister_custom_op_symbolic(f"::{name}", opset)
        for module, observer_enabled, patched in saved:
            module.observer_enabled.copy_(observer_enabled)
            if patched:
                module.__dict__.pop("forward", None)
