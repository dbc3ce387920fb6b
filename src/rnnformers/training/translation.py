"""Translation support shared by the scripts and tests: tokenising pairs within the length limits (counting what is
cut), scoring generated translations (`TranslationScorer`) and reading attention weights (`attention_matrix`)."""

import numpy as np
import torch

from ..metrics import load_metric


class PairTokenizer:
    """Turns a batch of `source` / `target` texts into `input_ids`, `attention_mask` and `labels` (for `Dataset.map`).

    Sources are encoded as the tokenizer says (ours wraps them in `<s> … </s>`); labels are the target's tokens and
    `</s>` (the model puts its start token in front when it shifts them right). A source longer than
    `max_source_length` is cut by the tokenizer (keeping its special tokens), a target longer than `max_target_length`
    keeps its first tokens and `</s>`; the columns `source_cut` / `target_cut` say which were, so that the script can
    report how many.
    """

    def __init__(self, tokenizer, max_source_length: int, max_target_length: int):
        self.tokenizer = tokenizer
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length

    def __call__(self, batch: dict) -> dict:
        features = self.tokenizer(batch["source"])
        too_long = [i for i, ids in enumerate(features["input_ids"]) if len(ids) > self.max_source_length]
        if too_long:
            cut = self.tokenizer([batch["source"][i] for i in too_long], truncation=True,
                                 max_length=self.max_source_length)
            for j, i in enumerate(too_long):
                features["input_ids"][i] = cut["input_ids"][j]
                features["attention_mask"][i] = cut["attention_mask"][j]
        targets = self.tokenizer(batch["target"], add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        # `max_target_length` counts the `</s>`: the one place where the text's room is that length minus one.
        features["labels"] = [ids[: self.max_target_length - 1] + [eos] for ids in targets]
        cut_rows = set(too_long)
        features["source_cut"] = [i in cut_rows for i in range(len(targets))]
        features["target_cut"] = [len(ids) + 1 > self.max_target_length for ids in targets]
        return features


class TranslationScorer:
    """`compute_metrics` for Seq2SeqTrainer: corpus BLEU and chrF (sacrebleu) of the generated translations.

    `bleu` / `chrf` score each translation against the first reference of its source (the single-reference figures,
    comparable with standard test sets, which have one reference); `bleu_all_refs` / `chrf_all_refs` against every
    translation the data holds for that source.

    Predictions are matched to their references through their source ids (`include_for_metrics=["inputs"]`), not
    their position: the Trainer may evaluate in its own order (`group_by_length` sorts evaluation batches too).
    """

    def __init__(self, tokenizer, sources: list[list[int]], references: list[list[str]]):
        self.tokenizer = tokenizer
        self.metric = load_metric("bleu_chrf")
        self.references = {self._key(ids): refs for ids, refs in zip(sources, references)}

    @classmethod
    def for_held_out_parts(cls, tokenizer, splits: dict, tokenized: dict) -> "TranslationScorer":
        """A scorer knowing the references of every validation and test source (`splits[name]["references"]`,
        matched to the encoded sources `tokenized[name]["input_ids"]`)."""
        held_out = [name for name in ("validation", "test") if name in splits]
        return cls(
            tokenizer,
            sources=[ids for name in held_out for ids in tokenized[name]["input_ids"]],
            references=[refs for name in held_out for refs in splits[name]["references"]],
        )

    def _key(self, ids) -> tuple[int, ...]:
        return tuple(int(i) for i in ids if i not in (-100, self.tokenizer.pad_token_id))

    def __call__(self, prediction) -> dict:
        if prediction.inputs is None:
            raise ValueError('the Trainer must pass the inputs to compute_metrics: include_for_metrics=["inputs"].')
        references = [self.references[self._key(ids)] for ids in prediction.inputs]
        token_ids = np.where(prediction.predictions != -100, prediction.predictions, self.tokenizer.pad_token_id)
        texts = [text.strip() for text in self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)]
        first = self.metric.compute(predictions=texts, references=[refs[:1] for refs in references])
        every = self.metric.compute(predictions=texts, references=references)
        return {"bleu": first["bleu"], "chrf": first["chrf"], "bleu_all_refs": every["bleu"],
                "chrf_all_refs": every["chrf"]}


def attention_matrix(model, tokenizer, source: str, target: str | None, num_beams: int):
    """The decoder's attention weights over the source for one pair, as (source tokens, target tokens, weights
    [target_len, source_len]): for `target`, the weights read while teacher-forcing it; without it, for the model's
    own translation (beam search with `num_beams`). Used by `scripts/plot_attention.py`."""
    inputs = tokenizer(source, return_tensors="pt")
    if target is None:
        generated = model.generate(**inputs, num_beams=num_beams)[0]
        labels = generated[1:]  # drop the decoder start token
        labels = labels[labels != tokenizer.pad_token_id].unsqueeze(0)
    else:
        ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        labels = torch.tensor([ids])
    with torch.no_grad():
        weights = model(**inputs, labels=labels, output_attentions=True).cross_attentions[0][0, 0]

    def readable(ids):  # byte-level BPE tokens → text ("Ġgusta" → " gusta")
        return [tokenizer.convert_tokens_to_string([token]) for token in tokenizer.convert_ids_to_tokens(ids)]

    source_tokens, target_tokens = readable(inputs["input_ids"][0]), readable(labels[0])
    return source_tokens, target_tokens, weights.numpy()


__all__ = ["PairTokenizer", "TranslationScorer", "attention_matrix"]
