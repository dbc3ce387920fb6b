"""int8 dynamic quantization (`rnnformers.quantization`) for every family of tests/models/test_common.py."""

import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers.dynamic_module_utils import get_class_from_dynamic_module

from rnnformers.quantization import is_quantized_int8, quantize_dynamic_int8

sys.path.insert(0, str(Path(__file__).parent / "models"))
from test_common import FAMILY_VARIANTS, GENERATIVE, decoder_inputs, padded_batch  # noqa: E402


def max_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b))


@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_int8_model_runs_int8_kernels_and_stays_close_to_float(family, variant):
    model = family.model(**variant)
    quantized = quantize_dynamic_int8(model)
    assert is_quantized_int8(quantized) and not is_quantized_int8(model)
    # Every recurrent stack runs int8 kernels, one per layer and direction, and no float linear layer is left.
    stacks = [m for m in quantized.modules() if getattr(m, "int8_kernels", None) is not None]
    assert stacks and all(len(s.int8_kernels) == s.num_layers * s.num_directions for s in stacks)
    assert not any(type(m) is nn.Linear for m in quantized.modules())
    assert all(getattr(m, "int8_kernels", None) is None for m in model.modules())  # the float model is untouched

    _, ids, mask = padded_batch("right")
    with torch.no_grad():
        float_out = family.outputs(model(**family.inputs(ids, mask)), mask)
        int8_out = family.outputs(quantized(**family.inputs(ids, mask)), mask)
    scale = max(x.abs().max().item() for x in float_out)
    difference = max_difference(float_out, int8_out)
    assert 0 < difference < 0.05 * scale, (difference, scale)  # quantized (not equal), and close


@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_int8_model_honours_padding(family, variant):
    quantized = quantize_dynamic_int8(family.model(**variant))
    rows, ids, mask = padded_batch("left")
    with torch.no_grad():
        batched = family.outputs(quantized(**family.inputs(ids, mask)), mask)
        for i, row in enumerate(rows):
            inputs = family.inputs(row[None], torch.ones(1, len(row), dtype=torch.long))
            if "decoder_input_ids" in inputs:
                inputs["decoder_input_ids"] = decoder_inputs(len(rows))[i : i + 1]
            alone = family.outputs(quantized(**inputs), torch.ones(1, len(row)))[0]
            # Activations are quantized per call (one scale for the batch), so a row alone is close, not equal.
            scale = alone.abs().max().item()
            assert (batched[i] - alone).abs().max().item() < 0.05 * scale + 1e-3


@pytest.mark.parametrize(("family", "variant"), GENERATIVE)
def test_int8_generate_is_the_argmax_loop_of_the_int8_model(family, variant):
    quantized = quantize_dynamic_int8(family.model(**variant))
    _, ids, mask = padded_batch("left")
    generated = quantized.generate(ids, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=0)
    for kwargs in (dict(num_beams=3), dict(do_sample=True, top_k=5)):
        assert quantized.generate(ids, attention_mask=mask, max_new_tokens=5, pad_token_id=0, **kwargs).shape == (
            generated.shape)
    # The same steps by hand: the prompt once, then one token and the returned cache at a time.
    with torch.no_grad():
        if quantized.config.is_encoder_decoder:
            start = torch.full((len(ids), 1), quantized.config.decoder_start_token_id)
            encoder = quantized.get_encoder()(input_ids=ids, attention_mask=mask)
            out = quantized(encoder_outputs=encoder, attention_mask=mask, decoder_input_ids=start, use_cache=True)
            tokens, prefix = [], start
        else:
            out = quantized(input_ids=ids, attention_mask=mask, use_cache=True)
            tokens, prefix = [], ids
        cache_name = "cache" if getattr(out, "cache", None) is not None else "past_key_values"
        for _ in range(5):
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            tokens.append(token)
            step = dict(use_cache=True, **{cache_name: getattr(out, cache_name)})
            if quantized.config.is_encoder_decoder:
                out = quantized(encoder_outputs=encoder, attention_mask=mask, decoder_input_ids=token, **step)
            else:  # the mask of the new token only: the cache holds the rest
                out = quantized(input_ids=token, attention_mask=torch.ones_like(token), **step)
    expected = torch.cat([prefix, *tokens], dim=1)
    assert torch.equal(generated[:, -5:], expected[:, -5:])


def test_int8_refuses_what_it_cannot_do(tmp_path):
    family, variant = FAMILY_VARIANTS[0].values
    model = family.model(**variant)
    quantized = quantize_dynamic_int8(model)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_dynamic_int8(quantized)
    with pytest.raises(ValueError, match="not saved"):
        quantized.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="inference only"):
        quantized.train()
    quantized.eval()  # allowed: what pipelines call
    with pytest.raises(ValueError, match="float32"):
        quantize_dynamic_int8(family.model(**variant).to(torch.bfloat16))
    with pytest.raises(ValueError, match="no rnnformers recurrent layer"):
        quantize_dynamic_int8(nn.Sequential(nn.Linear(2, 2)))


def test_int8_quantizes_a_folder_loaded_as_remote_code(tmp_path):
    family, variant = GENERATIVE[0].values
    model = family.model(**variant)
    model.save_pretrained(tmp_path)
    # The class of the folder's own copy of the code (in this process the Auto class would map to the installed one).
    remote_class = get_class_from_dynamic_module("modeling_char_rnn.CharRNNForCausalLM", str(tmp_path))
    remote = remote_class.from_pretrained(tmp_path).eval()
    assert type(remote).__module__ != type(model).__module__  # the folder's own copy of the code
    quantized = quantize_dynamic_int8(remote)
    _, ids, mask = padded_batch("right")
    with torch.no_grad():
        difference = max_difference(list(quantized(input_ids=ids, attention_mask=mask).logits),
                                    list(model(input_ids=ids, attention_mask=mask).logits))
    assert 0 < difference < 0.05
