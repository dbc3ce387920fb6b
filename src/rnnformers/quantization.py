"""int8 dynamic quantization of every rnnformers family, for fast CPU inference.

[`quantize_dynamic_int8`] returns a copy of a model whose recurrent layers and linear layers run in int8 (weights
quantized once, per tensor; activations quantized on the fly at each call, "dynamic" quantization), through PyTorch's
fbgemm kernels: `torch.ao.nn.quantized.dynamic.GRU` / `LSTM` for each layer and direction of a recurrent stack, and
`torch.ao.quantization.quantize_dynamic` for the `nn.Linear` layers (output layers, attention, projections).
Embeddings, layer norms, the CRF and everything else stay float32. The model keeps its class, config and generation
methods, so `generate()`, the pipelines and the scripts take it as they take the float model.

```python
from transformers import pipeline
from rnnformers.quantization import quantize_dynamic_int8

classifier = pipeline("text-classification", model=quantize_dynamic_int8(model), tokenizer=tokenizer)
```

An int8 model is for inference only, on the CPU: it is not saved (save the float model; quantizing takes well under
a second when it is loaded) and not trained.
"""

import copy
import warnings

import torch
from torch import nn
from transformers import PreTrainedModel


def _quantized_layer_kernel(cell_type: str, weights: list[torch.Tensor]):
    """One layer and direction as an int8 `torch.ao.nn.quantized.dynamic.GRU` / `LSTM`, wrapped as the float kernel's
    contract (the modeling files' `LayerKernel`): (inputs [batch, time, input_size], `(h,)` / `(h, c)` each
    [batch, hidden_size]) → (outputs [batch, time, hidden_size], final state)."""
    weight_ih, weight_hh, bias_ih, bias_hh = (w.detach().float() for w in weights)
    hidden_size, input_size = weight_hh.shape[1], weight_ih.shape[1]
    float_layer = (nn.GRU if cell_type == "gru" else nn.LSTM)(input_size, hidden_size, batch_first=True)
    with torch.no_grad():
        for name, value in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                               (weight_ih, weight_hh, bias_ih, bias_hh)):
            getattr(float_layer, name).copy_(value)
    float_layer.qconfig = torch.ao.quantization.default_dynamic_qconfig
    quantized_class = torch.ao.nn.quantized.dynamic.GRU if cell_type == "gru" else torch.ao.nn.quantized.dynamic.LSTM
    layer = quantized_class.from_float(float_layer)

    if cell_type == "gru":
        def kernel(inputs, state):
            outputs, h_n = layer(inputs.float(), state[0].float().unsqueeze(0).contiguous())
            return outputs, (h_n[0],)
    else:
        def kernel(inputs, state):
            hx = (state[0].float().unsqueeze(0).contiguous(), state[1].float().unsqueeze(0).contiguous())
            outputs, (h_n, c_n) = layer(inputs.float(), hx)
            return outputs, (h_n[0], c_n[0])
    kernel.quantized_layer = layer  # kept for inspection (tests, `repr`)
    return kernel


def _recurrent_stacks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The outermost recurrent stacks of a model (any family's `RecurrentStack` / `MaskedRecurrentStack`, including the
    copies in a saved folder's remote code): modules with `layer_weights` and `int8_kernels`. A stack inside another
    (the one-layer stacks of a `MaskedRecurrentStack`) is run by its parent, so only the parent gets kernels."""
    stacks = []
    for name, module in model.named_modules():
        if hasattr(module, "layer_weights") and hasattr(module, "cell_type"):
            if any(name.startswith(f"{outer}.") for outer, _ in stacks):
                continue
            if not hasattr(module, "int8_kernels"):
                raise ValueError(
                    f"`{name}` ({type(module).__name__}) has no `int8_kernels`: this model's code predates int8 "
                    "quantization. Load it with the installed rnnformers (without `trust_remote_code`) or save it "
                    "again with a current rnnformers."
                )
            stacks.append((name, module))
    return stacks


def is_quantized_int8(model: nn.Module) -> bool:
    """True for a model returned by [`quantize_dynamic_int8`]."""
    return getattr(model, "_rnnformers_int8", False)


def quantize_dynamic_int8(model: PreTrainedModel) -> PreTrainedModel:
    """A copy of `model` (any rnnformers family, or an ensemble of translators) that runs its recurrent and linear
    layers in int8 on the CPU, for inference. `model` itself is left unchanged.

    Raises:
        ValueError: the model is not on the CPU, is not a float model, is already quantized, or has no recurrent layer
            this function knows.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` must be a PyTorch model, got {type(model).__name__}.")
    if is_quantized_int8(model):
        raise ValueError("`model` is already quantized to int8.")
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"int8 dynamic quantization runs on the CPU only; `model` is on {sorted(devices)}.")
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if dtypes - {torch.float32}:
        raise ValueError(
            f"`model` must be in float32 to be quantized to int8 (its parameters are {sorted(map(str, dtypes))}): "
            "load it without `dtype`, or call `.float()` first."
        )
    stacks = _recurrent_stacks(model)
    if not stacks:
        raise ValueError(f"{type(model).__name__} has no rnnformers recurrent layer to quantize.")

    quantized = copy.deepcopy(model).eval()
    with warnings.catch_warnings():
        # torch.ao.quantization's eager-mode API is deprecated in favour of torchao, whose int8 kernels cover linear
        # layers only; PyTorch 2.13 still ships (and tests) the fbgemm recurrent kernels used here.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        for name, stack in _recurrent_stacks(quantized):
            stack.int8_kernels = [
                _quantized_layer_kernel(stack.cell_type, stack.layer_weights(layer, direction))
                for layer in range(stack.num_layers)
                for direction in range(stack.num_directions)
            ]
        torch.ao.quantization.quantize_dynamic(quantized, {nn.Linear}, dtype=torch.qint8, inplace=True)
    quantized._rnnformers_int8 = True
    quantized.save_pretrained = _refuse_to_save
    quantized.train = _refuse_to_train(quantized.train)
    return quantized


def _refuse_to_save(*args, **kwargs):
    raise ValueError(
        "An int8-quantized model is not saved: save the float model, and quantize it with `quantize_dynamic_int8` "
        "after loading (it takes under a second)."
    )


def _refuse_to_train(train):
    def refuse(mode: bool = True):
        if mode:
            raise ValueError("An int8-quantized model is for inference only: train the float model.")
        return train(False)

    return refuse


INFERENCE_DTYPES = ("float32", "bfloat16", "int8")
"""What the inference scripts' `--dtype` takes: the weights in float32 or bfloat16, or int8 kernels."""


def check_inference_dtype(dtype: str, argument: str = "--dtype") -> None:
    """A `ValueError` naming `argument` unless `dtype` is one of `INFERENCE_DTYPES`."""
    if dtype not in INFERENCE_DTYPES:
        raise ValueError(f"{argument} must be one of {', '.join(INFERENCE_DTYPES)}, got {dtype!r}.")


def loading_dtype(dtype: str) -> torch.dtype:
    """The dtype to load a model in for `--dtype dtype` (an int8 model is quantized from the float32 one)."""
    check_inference_dtype(dtype)
    return torch.float32 if dtype == "int8" else getattr(torch, dtype)


def for_inference(pipeline_or_model, dtype: str):
    """A pipeline (or model) loaded with `loading_dtype(dtype)`, with its model quantized when `dtype` is "int8"."""
    check_inference_dtype(dtype)
    if dtype != "int8":
        return pipeline_or_model
    if isinstance(pipeline_or_model, nn.Module):
        return quantize_dynamic_int8(pipeline_or_model)
    pipeline_or_model.model = quantize_dynamic_int8(pipeline_or_model.model)
    return pipeline_or_model
