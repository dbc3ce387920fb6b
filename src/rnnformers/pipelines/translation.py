"""The `"rnn-translation"` pipeline: text in, `[{"translation_text": ...}]` out, through the model's `generate()`.

transformers 5 removed its `"translation"` task (asking for it raises before any custom registry is consulted), so
rnnformers registers this pipeline under its own name. It works with any sequence-to-sequence model, such as
[`Seq2SeqGRUAttention`], and encodes sources as its tokenizer says (ours wraps them in `<s> … </s>`).

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
        max_source_length (`int`, *optional*): source tokens kept, special tokens included (default: the
            tokenizer's `model_max_length`, when it is set). A longer source is cut by the tokenizer (which keeps its
            special tokens), with a warning: the model has no length limit, but it was trained on sources up to that
            length.
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
        # Encoded as the tokenizer says (ours wraps texts in `<s> … </s>`; a model trained on unwrapped sources has a
        # tokenizer that does not), as transformers' own pipelines do.
        encoding = self.tokenizer(text)
        limit = self._source_limit(max_source_length)
        if limit is not None and len(encoding["input_ids"]) > limit:
            warnings.warn(
                f"the source has {len(encoding['input_ids'])} tokens, more than the {limit} the model was trained on "
                "(max_source_length / the tokenizer's model_max_length): the tokenizer cuts it there, keeping its "
                "special tokens.",
                stacklevel=2,
            )
            encoding = self.tokenizer(text, truncation=True, max_length=limit)
        input_ids = encoding["input_ids"]
        return self.tokenizer.pad({"input_ids": [input_ids]}, return_tensors="pt")

    def _forward(self, model_inputs, **generate_kwargs):
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **generate_kwargs)
        return {"output_ids": output_ids}

    def postprocess(self, model_outputs):
        texts = self.tokenizer.batch_decode(model_outputs["output_ids"], skip_special_tokens=True)
        return [{"translation_text": text.strip()} for text in texts]
