"""PyTorch models compiled to FHE.

::

    from torusml.torch import compile_torch_model
    module = compile_torch_model(torch_model, X_train, n_bits=6, rounding_threshold_bits=6)
    y = module.forward(X_test, fhe="execute")

The model is exported to ONNX with ``torch.onnx.export`` (Debian's python3-torch) and compiled
by :func:`torusml.onnx.compile_onnx_model`: everything past the export runs in the C++ core.
"""

import io

from torusml._quantized_module import QuantizedModule, check_inputset
from torusml.onnx import compile_onnx_model
from torusml.torch import _qat

__all__ = ["ONNX_OPSET", "QuantizedModule", "compile_torch_model", "export_torch_model"]

# The opset torch.onnx.export writes (the C++ loader reads opsets 7 to 17).
ONNX_OPSET = 14


def export_torch_model(torch_model, sample):
    """The serialized ONNX model of torch_model (in eval mode, batch size 1) traced on `sample`
    (a float numpy array of one sample's shape, without the batch axis).

    A quantization-aware model (torch.ao.quantization's prepare_qat, before convert) exports its
    fake quantization as QuantizeLinear [-> Clip] -> DequantizeLinear with its own scales, zero
    points and integer ranges (any range within 8 bits, e.g. 4-bit activations; observers frozen
    for the export, fused fake-quantize modules included: see torusml/torch/_qat.py)."""
    import torch  # Debian's python3-torch; imported here so that torusml imports without it

    if not isinstance(torch_model, torch.nn.Module):
        raise ValueError(
            f"torch_model must be a torch.nn.Module, got {type(torch_model).__name__}; for an "
            f"ONNX model use torusml.onnx.compile_onnx_model"
        )
    parameter = next(iter(torch_model.parameters()), None)
    dtype = torch.float32
    device = torch.device("cpu")
    if parameter is not None:
        device = parameter.device
        if parameter.dtype == torch.float64:
            dtype = torch.float64
    dummy = torch.as_tensor(sample, dtype=dtype, device=device).unsqueeze(0)
    was_training = torch_model.training
    buffer = io.BytesIO()
    torch_model.eval()
    try:
        with _qat.exportable(torch_model, ONNX_OPSET):
            torch.onnx.export(
                torch_model,
                dummy,
                buffer,
                opset_version=ONNX_OPSET,
                input_names=["input"],
                output_names=["output"],
                do_constant_folding=True,
            )
    except Exception as error:  # torch raises many types; say what failed
        hint = ""
        if "quantized::" in str(error):  # a model after torch.ao.quantization.convert
            hint = (
                "; give a quantization-aware model before torch.ao.quantization.convert (the "
                "prepared and trained one): its fake quantization is imported exactly"
            )
        raise ValueError(
            f"torch.onnx.export could not export the model: {error}{hint}"
        ) from error
    finally:
        torch_model.train(was_training)
    return buffer.getvalue()


def compile_torch_model(
    torch_model,
    inputset,
    n_bits=8,
    rounding_threshold_bits=None,
    p_error=None,
    global_p_error=None,
    verbose=False,
    progress=None,
    *,
    multi_parameter=True,
    multi_parameter_gain=None,
    grouping_factors=None,
    small_key_inputs=True,
):
    """Exports a torch model to ONNX and compiles it to FHE; returns a compiled QuantizedModule.

    torch_model: a torch.nn.Module with one input and one output (put in eval mode for the
    export, its mode restored after), or a quantization-aware one prepared with
    torch.ao.quantization.prepare_qat and trained (not converted): its fake quantization is
    imported with its own scales and bit widths (see export_torch_model). inputset:
    representative samples (numpy array or torch tensor), shape (n_samples, *sample_shape). The
    other arguments as torusml.onnx.compile_onnx_model's.
    """
    inputset = check_inputset(inputset)
    onnx_bytes = export_torch_model(torch_model, inputset[0])
    return compile_onnx_model(
        onnx_bytes,
        inputset,
        n_bits=n_bits,
        rounding_threshold_bits=rounding_threshold_bits,
        p_error=p_error,
        global_p_error=global_p_error,
        verbose=verbose,
        progress=progress,
        multi_parameter=multi_parameter,
        multi_parameter_gain=multi_parameter_gain,
        grouping_factors=grouping_factors,
        small_key_inputs=small_key_inputs,
    )
