"""The `"rnn-translation"` pipeline: text in, `[{"translation_text": ...}]` out, through the model's `generate()`.

transformers 5 removed its `"translation"` task (asking for it raises before any custom registry is consulted), so
rnnformers registers this pipeline under its own name. It works with any sequence-to-sequence model whose tokenizer
wraps texts in `<s> … </s>`, such as [`Seq2SeqGRUAttention`].

This file imports only transformers: `save_pretrained` on the pipeline copies it next to the weights and lists it in
the config's `custom_pipelines`, so `pipeline("rnn-translation", model=<hub id>, trust_remote_code=True)` works where
rnnformers is not installed.
"""

import warnings

from transformers import GenerationConfig, Pipeline


class RnnTranslationPipeline(Pipeline):
    """Translates texts with a sequence-to-sequence model's `generate()`.

    Example:

    ```python
    >>> from transformers import pipeline
    >>> import rnnformers  # registers "rnn-translation"
    >>> translator = pipeline("rnn-translation", model="outputs/nmt-en-es")
    >>> translator("I like soccer.", num_beams=5)
    [{'translation_text': 'Me gusta el fútbol.'}]
    ```

    Call arguments:
        texts (`str` or `list[str]`): source texts. An empty (or blank) text raises a `ValueError`.
        max_source_length (`int`, *optional*): source tokens kept, `<s>` and `</s>` included (default: the
            tokenizer's `model_max_length`, when it is set). A longer source is cut, keeping its `</s>`, with a
            warning: the model has no length limit, but it was trained on sources up to that length.
        **generate_kwargs: passed to `generate()` (`num_beams`, `max_new_tokens`, `do_sample`,
            `num_return_sequences`, ...); those given when building the pipeline apply to every call.

    Returns:
        For one text, a list with one `{"translation_text": str}` per returned sequence; for a list of texts, a list
        of such lists.
    """

    _pipeline_calls_generate = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    # generate()'s own default (max_length=20, counting the start token) cuts sentences short.
    _default_generation_config = GenerationConfig(max_new_tokens=64)

    def _sanitize_parameters(self, max_source_length=None, **generate_kwargs):
        preprocess_params = {}
        if max_source_length is not None:
            if isinstance(max_source_length, bool) or not isinstance(max_source_length, int) or max_source_length < 3:
                raise ValueError(f"`max_source_length` must be an integer of at least 3, got {max_source_length!r}.")
            preprocess_params["max_source_length"] = max_source_length
        num_beams = generate_kwargs.get("num_beams")
        if num_beams is not None and (isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1):
            raise ValueError(f"`num_beams` must be an integer of at least 1, got {num_beams!r}.")
        return preprocess_params, generate_kwargs, {}

    def _source_limit(self, max_source_length: int | None) -> int | None:
        if max_source_length is not None:
            return max_source_length
        limit = getattr(self.tokenizer, "model_max_length", None)
        # Tokenizers without a limit report a huge sentinel value (int(1e30)).
        return limit if isinstance(limit, int) and limit < 1_000_000 else None

    def preprocess(self, text, max_source_length=None):
        if not isinstance(text, str):
            raise ValueError(f"the pipeline translates strings, got {type(text).__name__}.")
        if not text.strip():
            raise ValueError("cannot translate an empty text.")
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        if bos is None or eos is None:
            raise ValueError(
                "the tokenizer has no <s>/</s> tokens: the model reads sources as `<s> … </s>` (train the tokenizer "
                "with rnnformers.tokenization.train_subword_tokenizer(..., add_bos_eos=True))."
            )
        input_ids = self.tokenizer(text, add_special_tokens=True)["input_ids"]
        if input_ids[0] != bos or input_ids[-1] != eos:
            raise ValueError("the tokenizer does not wrap texts in <s> … </s>, which the model expects.")
        limit = self._source_limit(max_source_length)
        if limit is not None and len(input_ids) > limit:
            warnings.warn(
                f"the source has {len(input_ids)} tokens, more than the {limit} the model was trained on "
                "(max_source_length / the tokenizer's model_max_length): it is cut there, keeping its </s>.",
                stacklevel=2,
            )
            input_ids = input_ids[: limit - 1] + [eos]
        return self.tokenizer.pad({"input_ids": [input_ids]}, return_tensors="pt")

    def _forward(self, model_inputs, **generate_kwargs):
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **generate_kwargs)
        return {"output_ids": output_ids}

    def postprocess(self, model_outputs):
        texts = self.tokenizer.batch_decode(model_outputs["output_ids"], skip_special_tokens=True)
        return [{"translation_text": text.strip()} for text in texts]
