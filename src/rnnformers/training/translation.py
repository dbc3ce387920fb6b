"""Translation support shared by the scripts and tests: tokenising pairs within the length limits (counting what is
cut), scoring generated translations (`TranslationScorer`), reading attention weights (`attention_matrix`) and
combining trained translators into an ensemble (`save_ensemble`)."""

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, concatenate_datasets
from huggingface_hub import ModelCard, ModelCardData
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, pipeline

from ..metrics import load_metric
from ..models.seq2seq_gru_attention import Seq2SeqGRUAttention, Seq2SeqGRUAttentionEnsemble
from ..pipelines.translation import RnnTranslationPipeline
from ..quantization import for_inference, loading_dtype
from .checkpoints import check_folders_to_combine, check_same_tokenizer, staged_folder
from .lifecycle import load_pretrained


logger = logging.getLogger(__name__)


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
    translation the data holds for that source; `exact_match` is the share of translations equal (stripped) to one of
    their references (the measure of `--task dates`).

    Predictions are matched to their references through their source ids (`include_for_metrics=["inputs"]`), not
    their position: the Trainer may evaluate in its own order (`group_by_length` sorts evaluation batches too).
    Sources identical once cut to `max_source_length` tokens share their ids: the model reads the same input and
    gives them the same translation, so each such row takes the next of their reference lists (every list is used
    once, whatever the order) as long as an evaluation holds all of them.
    """

    def __init__(self, tokenizer, sources: list[list[int]], references: list[list[str]]):
        self.tokenizer = tokenizer
        self.metric = load_metric("bleu_chrf")
        self.references: dict[tuple[int, ...], list[list[str]]] = {}
        for ids, refs in zip(sources, references):
            self.references.setdefault(self._key(ids), []).append(refs)

    @classmethod
    def for_held_out_parts(cls, tokenizer, splits: dict, tokenized: dict) -> "TranslationScorer":
        """A scorer knowing the references of every validation and test source (`splits[name]["references"]`,
        matched to the encoded sources `tokenized[name]["input_ids"]`)."""
        held_out = [name for name in ("validation", "test") if name in splits]
        if len(held_out) == 2:
            # Which part a row is scored in is not known to compute_metrics: a shared input would be ambiguous.
            validation = {tuple(ids): text for ids, text in zip(tokenized["validation"]["input_ids"],
                                                                 splits["validation"]["source"])}
            shared = [(validation[tuple(ids)], text) for ids, text in zip(tokenized["test"]["input_ids"],
                                                                           splits["test"]["source"])
                      if tuple(ids) in validation]
            if shared:
                raise ValueError(
                    f"{len(shared)} validation and test sources are identical once cut to the source length limit "
                    f"(--max_source_length), e.g. {shared[0][0]!r} and {shared[0][1]!r}: their translations cannot "
                    "be scored apart. Raise --max_source_length."
                )
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
        keys = [self._key(ids) for ids in prediction.inputs]
        for key, count in Counter(keys).items():
            known = len(self.references.get(key, ()))
            if known == 0:
                raise ValueError(f"no references for the evaluated source {self.tokenizer.decode(key)!r}.")
            if known > 1 and count != known:
                raise ValueError(
                    f"{known} sources are identical once cut to the source length limit "
                    f"({self.tokenizer.decode(key)!r}) but this evaluation holds {count}: which references go with "
                    "which row is unknown. Evaluate all of them, or raise --max_source_length."
                )
        taken = Counter()
        references = []
        for key in keys:
            references.append(self.references[key][taken[key]])
            taken[key] += 1
        token_ids = np.where(prediction.predictions != -100, prediction.predictions, self.tokenizer.pad_token_id)
        texts = [text.strip() for text in self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)]
        first = self.metric.compute(predictions=texts, references=[refs[:1] for refs in references])
        every = self.metric.compute(predictions=texts, references=references)
        exact = np.mean([text in [ref.strip() for ref in refs] for text, refs in zip(texts, references)])
        return {"bleu": first["bleu"], "chrf": first["chrf"], "bleu_all_refs": every["bleu"],
                "chrf_all_refs": every["chrf"], "exact_match": float(exact)}


def attention_matrix(model, tokenizer, source: str, target: str | None, num_beams: int,
                     generated: torch.Tensor | None = None):
    """The decoder's attention weights over the source for one pair, as (source tokens, target tokens, weights
    [target_len, source_len]): for `target`, the weights read while teacher-forcing it; without it, for the model's
    own translation (beam search with `num_beams`, or `generated`: the ids `generate()` already returned for
    `source`, decoder start token first). Used by `scripts/plot_attention.py` and the app."""
    inputs = tokenizer(source, return_tensors="pt")
    if target is None:
        if generated is None:
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


def save_ensemble(folders: list[str | Path], output_dir: str | Path, overwrite: bool = False) -> Path:
    """Writes to `output_dir` a [`Seq2SeqGRUAttentionEnsemble`] of the translators saved in `folders` (each a
    `Seq2SeqGRUAttention` folder of `scripts/train_translation.py`, all with one tokenizer): the members' weights in
    one `model.safetensors`, the first folder's tokenizer and generation config, the model and pipeline code (so it
    loads with `trust_remote_code=True` where rnnformers is absent) and a card naming the members.

    Raises `ValueError`, naming the folder, for fewer than two folders, an `output_dir` that is or holds one of them,
    a folder without a model configuration or a tokenizer, another tokenizer, or a model that is not a `Seq2SeqGRUAttention`."""
    folders, output_dir = check_folders_to_combine(folders, output_dir, overwrite, "an ensemble", "member",
                                                   "scripts/ensemble_translators.py")
    for folder in folders:
        missing = [name for name in ("config.json", "tokenizer.json") if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder} holds no {' or '.join(missing)}: not a translator saved by "
                             "train_translation.py.")
    check_same_tokenizer(folders, folders[0])
    members = []
    for folder in folders:
        model = AutoModelForSeq2SeqLM.from_pretrained(folder)
        if not isinstance(model, Seq2SeqGRUAttention):
            raise ValueError(f"{folder} holds a {type(model).__name__}, not a Seq2SeqGRUAttention translator.")
        members.append(model)
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(members)
    tokenizer = AutoTokenizer.from_pretrained(folders[0])

    with staged_folder(output_dir) as staging:
        # Through the pipeline: the folder also gets the pipeline's code and `custom_pipelines`.
        pipeline("rnn-translation", model=ensemble, tokenizer=tokenizer).save_pretrained(staging)
        card_data = ModelCardData(library_name="transformers", pipeline_tag="translation",
                                  tags=["rnnformers", "custom_code", "gru", "seq2seq", "attention", "ensemble"])
        ModelCard(
            f"---\n{card_data.to_yaml()}\n---\n\n# {output_dir.name}\n\nAn ensemble of {len(folders)} GRU "
            "encoder–decoders with attention (`scripts/ensemble_translators.py`), translating together: each "
            "next-token distribution is the mean of the members'.\n\n"
            + "".join(f"- `{folder}`\n" for folder in folders)
            + "\nNot scored yet: `scripts/train_translation.py --model_name_or_path <this folder> --output_dir <a new "
            "folder> --do_eval --do_predict --predict_with_generate` scores it and writes a card with the scores.\n"
        ).save(staging / "README.md")
    logger.info("saved an ensemble of %d translators in %s", len(folders), output_dir)
    return output_dir


__all__ = ["PairTokenizer", "TranslationScorer", "attention_matrix", "save_ensemble"]


def distilled_training_part(train: Dataset, distilled: Dataset, keep_original: bool, argument: str) -> Dataset:
    """The training pairs of sequence-level knowledge distillation: the teacher's translations (`distilled`, columns
    `source` / `target`) of the training part's sources, alone or after the original pairs (`keep_original`).

    A distilled source that is not a training source is refused (naming `argument`): the file was made from another
    split, and a validation or test source among the training pairs would inflate every score."""
    training_sources = set(train["source"])
    foreign = [source for source in distilled["source"] if source not in training_sources]
    if foreign:
        raise ValueError(
            f"{argument}: {len(foreign)} of its sources are not in this run's training part (e.g. {foreign[0]!r}): "
            "it was made from another data file or split (--validation_split_percentage, --test_split_percentage, "
            "--split_seed must be the ones given to distill_translations.py)."
        )
    original = train.select_columns(["source", "target"])
    distilled = distilled.select_columns(["source", "target"]).cast(original.features)  # string vs large_string
    if not keep_original:
        return distilled
    return concatenate_datasets([original, distilled])


def load_translator(model: str, dtype: str = "float32", trust_remote_code: bool = False, argument: str = "model"):
    """The "rnn-translation" pipeline of a saved folder or Hub id (`scripts/translate.py`, the distillation teacher),
    with the weights in `dtype` ("float32", "bfloat16", or "int8": the recurrent and linear layers quantized, see
    `rnnformers.quantization`). A model that is not there is a `ValueError` naming `argument`."""
    load_pretrained(AutoConfig, model, argument, trust_remote_code=trust_remote_code)  # a clear error first
    # A saved folder names its own copy of the pipeline code (for Hub users without rnnformers); here the installed
    # class is used unless `trust_remote_code` asks for the folder's copy.
    pipeline_class = None if trust_remote_code else RnnTranslationPipeline
    translator = pipeline("rnn-translation", model=model, trust_remote_code=trust_remote_code,
                          pipeline_class=pipeline_class, dtype=loading_dtype(dtype))
    return for_inference(translator, dtype)

