"""What generation must give for every recurrent model, whatever transformers release runs it.

This file imports only torch and transformers: the tests run it on the package's models and, as source, in an
interpreter without rnnformers on folders loaded as remote code (a saved folder runs its own copy of the modeling
code, so it must keep these properties by itself on every release).

The break it catches at once: a release that passes the generation cache under a name the model does not read makes
every step start from a zero state. Nothing raises, and the text is bigram noise. Cached and uncached generation
then differ, and per-step logits differ from one teacher-forced pass.
"""

import torch


def cache_of(output):
    """The cache a model or `generate()` returned, under the installed release's name (`cache` from 5.25 on)."""
    return output.cache if "cache" in type(output).__dataclass_fields__ else output.past_key_values


def _generate_both_ways(model, inputs, **kwargs):
    results = []
    for use_cache in (True, False):
        torch.manual_seed(7)
        results.append(model.generate(**inputs, use_cache=use_cache, **kwargs))
    return results


def _losing_the_cache(model):
    """`model` whose `generate()` drops the cache between steps, as a release that renames it without telling the
    model would: the model must refuse to go on rather than restart from a zero state."""
    keep = model._update_model_kwargs_for_generation

    def update(outputs, model_kwargs, *args, **kwargs):
        model_kwargs = keep(outputs, model_kwargs, *args, **kwargs)
        for name in ("cache", "past_key_values"):
            model_kwargs.pop(name, None)
        return model_kwargs

    model._update_model_kwargs_for_generation = update
    return keep


def check_generation(model, inputs: dict, new_tokens: int = 8) -> None:
    """Greedy, sampling and beam search give the same tokens with and without the cache; greedy per-step logits equal
    one teacher-forced forward pass; continuing from a returned cache (under either name) equals one longer call; a
    lost cache, a cache that has read more than the inputs, and `cache` with `past_key_values` all raise."""
    encoder_decoder = model.config.is_encoder_decoder
    fixed = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "pad_token_id": model.config.pad_token_id}
    for mode in ({"do_sample": False}, {"do_sample": True, "top_k": 8}, {"num_beams": 3, "do_sample": False}):
        cached, uncached = _generate_both_ways(model, inputs, **fixed, **mode)
        assert torch.equal(cached, uncached), f"{mode}: cached generation differs from uncached"

    out = model.generate(**inputs, **fixed, return_dict_in_generate=True, output_logits=True)
    step_logits = torch.stack(out.logits, dim=1)
    if encoder_decoder:
        forward = model(**inputs, decoder_input_ids=out.sequences[:, :-1], use_cache=False).logits[:, -new_tokens:]
    else:
        mask = inputs.get("attention_mask")
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], new_tokens)], dim=1)
        forward = model(out.sequences[:, :-1], attention_mask=None if mask is None else mask[:, :-1],
                        use_cache=False).logits[:, -new_tokens:]
    gap = (step_logits - forward).abs().max().item()
    assert gap < 1e-4, f"per-step logits differ from the teacher-forced pass by {gap}"

    # Continuation: the first half's sequences and cache, then the second half, equal one call of both halves.
    half = new_tokens // 2
    halves = {**fixed, "max_new_tokens": half, "min_new_tokens": half}
    whole = model.generate(**inputs, **fixed)
    for name in ("cache", "past_key_values"):  # the new name, and the older one, on every release
        first = model.generate(**inputs, **halves, return_dict_in_generate=True)
        more = dict(inputs)
        if encoder_decoder:
            more["decoder_input_ids"] = first.sequences
        else:
            more["input_ids"] = first.sequences
            if "attention_mask" in inputs:
                mask = inputs["attention_mask"]
                more["attention_mask"] = torch.cat([mask, mask.new_ones(mask.shape[0], half)], dim=1)
        continued = model.generate(**more, **halves, **{name: cache_of(first)})
        assert torch.equal(continued, whole), f"continuing from a returned cache (as `{name}`) differs"

    # Wrong answers are loud.
    first = model.generate(**inputs, **halves, return_dict_in_generate=True)
    stale = dict(inputs)
    key = "decoder_input_ids" if encoder_decoder else "input_ids"
    stale[key] = first.sequences[:, :2]
    if not encoder_decoder:
        stale.pop("attention_mask", None)  # else its length, not the ids', would say where the sequence ends
    _assert_raises(lambda: model.generate(**stale, **halves, cache=cache_of(first)), "nothing new to continue from")
    _assert_raises(lambda: model.generate(**inputs, **halves, cache=cache_of(first), past_key_values=cache_of(first)),
                   "not both")
    keep = _losing_the_cache(model)
    try:
        for mode in ({"do_sample": False}, {"num_beams": 3, "do_sample": False}):
            _assert_raises(lambda: model.generate(**inputs, **fixed, **mode), "Refusing to restart from a zero state")
    finally:
        model._update_model_kwargs_for_generation = keep


def _assert_raises(call, fragment: str) -> None:
    try:
        call()
    except ValueError as error:
        assert fragment in str(error), f"ValueError without {fragment!r}: {error}"
    else:
        raise AssertionError(f"no ValueError ({fragment!r})")
