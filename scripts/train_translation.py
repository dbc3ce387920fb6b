#!/usr/bin/env python
"""Train the GRU encoder–decoder with attention (the chapter's English→Spanish translator) with Seq2SeqTrainer.

In the style of transformers' `run_translation.py`: arguments are dataclasses parsed by `HfArgumentParser` together
with `Seq2SeqTrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`,
logging...) works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_translation.py --output_dir outputs/nmt-en-es --do_train --do_eval --do_predict \
        --predict_with_generate --num_train_epochs 5 --config_overrides "bidirectional_encoder=true"
    python scripts/train_translation.py --dataset_name Helsinki-NLP/tatoeba_mt --dataset_config_name eng-spa \
        --dataset_split validation --source_column sourceString --target_column targetString --output_dir ...
    python scripts/train_translation.py --task dates --tokenizer_type char --output_dir outputs/dates ...

Data: the bundled `../shared/data/spa-eng/spa-eng.tsv` (English TAB Spanish) by default, `--train_file` for another
such TSV (e.g. fra-eng), or `--dataset_name` for a Hub dataset. The pairs are split by *source sentence*: all the
translations of one English sentence go to the same part, so no validation or test source was seen in training. With
`--predict_with_generate`, `--do_eval` / `--do_predict` score the validation / test sources with beam search
(`--num_beams`): BLEU and chrF (sacrebleu) against the first translation (the single-reference headline figures) and
against all of them. One byte-level BPE tokenizer is trained on the training part of both languages. The output
folder holds the model (safetensors + code), the pipeline code, `tokenizer.json`, `generation_config.json` and a
model card with the scores. The flags every training script shares are described in `rnnformers.training.lifecycle`.

`--task dates` (the chapter's exercise 8) trains on generated dates instead: a date in one of several formats
("April 22, 2019", "22.04.2019", ...) → its ISO form ("2019-04-22"), from
`rnnformers.training.exercises.dates_dataset` (seed `--split_seed`): validation dates of the training years
(`--dates_train_years`) never seen in training, test dates of other years (`--dates_test_years`). `exact_match` (the
share of translations equal to their reference) is reported beside BLEU and chrF; `--tokenizer_type char` makes the
tokenizer character-level.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForSeq2SeqLM, DataCollatorForSeq2Seq, Seq2SeqTrainer, pipeline, set_seed

from rnnformers import Seq2SeqGRUAttention, Seq2SeqGRUAttentionEnsemble
from rnnformers.tokenization import build_char_tokenizer, train_subword_tokenizer
from rnnformers.training.data import BUNDLED_SPA_ENG, load_pairs, split_by_source
from rnnformers.training.exercises import dates_dataset, parse_year_ranges
from rnnformers.training.hub import HubUpload, push_at_end
from rnnformers.training.lifecycle import (
    BaseDataArguments,
    BaseModelArguments,
    Seq2SeqTrainingArguments,
    check_tokenizer_matches,
    evaluate_and_save,
    load_or_build_model,
    load_saved_tokenizer,
    parse_args_and_set_up_logging,
    parts_to_score,
    save_tokenizer_and_card,
    take_samples,
    train_and_save,
)
from rnnformers.training.modelcard import CardInfo, CardMetric, not_trained_text, write_model_card
from rnnformers.training.translation import PairTokenizer, TranslationScorer, distilled_training_part


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(BaseModelArguments):
    vocab_size: int | None = field(
        default=None,
        metadata={"help": "Size of the shared BPE vocabulary trained on the pairs (default, as the chapter: 10000)."},
    )
    tokenizer_type: str | None = field(
        default=None,
        metadata={"help": "The tokenizer this run builds on the training pairs: 'bpe' (default: byte-level BPE) or "
                          "'char' (one token per character of the training pairs, e.g. for --task dates)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.tokenizer_type not in (None, "bpe", "char"):
            raise ValueError(f"--tokenizer_type must be 'bpe' or 'char', got {self.tokenizer_type!r}.")
        if self.tokenizer_type == "char" and self.vocab_size is not None:
            raise ValueError("--vocab_size: a character-level tokenizer's vocabulary is the training characters; "
                             "drop it with --tokenizer_type char.")
        loading = [f"--{name}" for name in ("tokenizer_name", "model_name_or_path") if getattr(self, name)]
        building = [f"--{name}" for name in ("vocab_size", "tokenizer_type") if getattr(self, name) is not None]
        if building and loading:
            these, them = ("it shapes", "it") if len(building) == 1 else ("these shape", "them")
            raise ValueError(f"{', '.join(building)}: {these} a tokenizer this run builds, but "
                             f"{' / '.join(loading)} gives a saved one, used as it is: drop {them}.")


@dataclass
class DataArguments(BaseDataArguments):
    task: str | None = field(
        default=None,
        metadata={"help": "'dates': the chapter's exercise 8, generated dates in several formats to ISO 8601 "
                          "(rnnformers.training.exercises.dates_dataset, seed --split_seed) instead of pairs read from "
                          "a file: validation = held-out sources of the training years, test = dates of other years."},
    )
    dates_train_years: str = field(
        default="1900-2049",
        metadata={"help": "--task dates: the years of the training and validation dates, e.g. '1900-2049' or "
                          "'1000-1799,1900-2049,2100-2999'."},
    )
    dates_test_years: str = field(
        default="1800-1899,2050-2099",
        metadata={"help": "--task dates: the years of the test dates, outside --dates_train_years."},
    )
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset, e.g. 'Helsinki-NLP/tatoeba_mt'."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration, e.g. 'eng-spa'."})
    dataset_split: str = field(default="train", metadata={"help": "The split holding the pairs to use."})
    train_file: str | None = field(
        default=None, metadata={"help": f"A local TSV of source TAB target pairs (default: {BUNDLED_SPA_ENG})."}
    )
    source_column: str = field(default="en", metadata={"help": "Column of the source text (TSV: 'en')."})
    target_column: str = field(default="es", metadata={"help": "Column of the target text (TSV: 'es')."})
    source_lang: str = field(default="en", metadata={"help": "Language code of the source, for the model card."})
    target_lang: str = field(default="es", metadata={"help": "Language code of the target, for the model card."})
    validation_split_percentage: float = field(default=2.0, metadata={"help": "Percent of sources for validation."})
    test_split_percentage: float = field(default=3.0, metadata={"help": "Percent of sources for the test part."})
    split_seed: int = field(
        default=42, metadata={"help": "Seed of the split (kept apart from --seed, so a continued run keeps its split)."}
    )
    max_source_length: int = field(default=64, metadata={"help": "Source tokens kept, <s> and </s> included."})
    max_target_length: int = field(default=64, metadata={"help": "Target tokens kept (and generated), </s> included."})
    num_beams: int = field(default=5, metadata={"help": "Beam width of the final --do_eval / --do_predict scores."})
    distilled_train_file: str | None = field(
        default=None,
        metadata={"help": "Sequence-level knowledge distillation: a TSV of `source TAB translation` lines made by "
                          "scripts/distill_translations.py from this split's training sources. Its pairs replace the "
                          "training part's (validation and test keep the data's own references)."},
    )
    keep_original_pairs: bool = field(
        default=False, metadata={"help": "With --distilled_train_file: train on the distilled and the original pairs."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.distilled_train_file and self.task:
            raise ValueError("--distilled_train_file: --task dates generates its own pairs; drop one of them.")
        if self.keep_original_pairs and not self.distilled_train_file:
            raise ValueError("--keep_original_pairs keeps the original pairs beside --distilled_train_file: give it.")
        if self.task not in (None, "dates"):
            raise ValueError(f"--task must be 'dates' (or left out: pairs from a file), got {self.task!r}.")
        if self.task and (self.train_file or self.dataset_name):
            raise ValueError("--task dates generates its pairs: drop --train_file / --dataset_name.")
        self.dates_year_ranges = (parse_year_ranges(self.dates_train_years, "--dates_train_years"),
                                  parse_year_ranges(self.dates_test_years, "--dates_test_years"))
        for name, minimum in (("max_source_length", 3), ("max_target_length", 2), ("num_beams", 1)):
            if getattr(self, name) < minimum:
                raise ValueError(f"--{name} must be at least {minimum}, got {getattr(self, name)}.")


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, Seq2SeqTrainingArguments), logger
    )
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: pairs → split by source sentence (or generated dates, already split).
    with training_args.main_process_first(desc="loading the pairs"):
        if data_args.task == "dates":
            train_years, test_years = data_args.dates_year_ranges
            splits = dict(dates_dataset(train_years=train_years, test_years=test_years, seed=data_args.split_seed))
        else:
            pairs = load_pairs(data_args.train_file, data_args.dataset_name, data_args.dataset_config_name,
                               data_args.dataset_split, data_args.source_column, data_args.target_column)
            splits = split_by_source(pairs, data_args.validation_split_percentage / 100,
                                     data_args.test_split_percentage / 100, data_args.split_seed)
            if data_args.distilled_train_file:
                distilled = load_pairs(data_args.distilled_train_file)
                splits["train"] = distilled_training_part(splits["train"], distilled, data_args.keep_original_pairs,
                                                          "--distilled_train_file")
    splits = take_samples(splits, data_args, training_args.seed)
    logger.info("pairs: %s", {name: len(part) for name, part in splits.items()})

    # Tokenizer: a saved one, or one byte-level BPE (or character-level) for both languages, built on the training
    # pairs only.
    tokenizer = load_saved_tokenizer(model_args, training_args)
    if tokenizer is None and model_args.tokenizer_type == "char":
        # Right padding: DataCollatorForSeq2Seq pads the labels on the tokenizer's side, and they must end padded.
        tokenizer = build_char_tokenizer(
            (text for row in splits["train"] for text in (row["source"], row["target"])), add_bos_eos=True,
            padding_side="right", model_max_length=data_args.max_source_length,
        )
    elif tokenizer is None:
        tokenizer = train_subword_tokenizer(
            (text for row in splits["train"] for text in (row["source"], row["target"])),
            vocab_size=model_args.vocab_size or 10_000, add_bos_eos=True, model_max_length=data_args.max_source_length,
        )
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path)
    if None in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id):
        raise ValueError("the tokenizer needs <s> (the decoder's start), </s> and <pad> tokens.")

    tokenized = {}
    with training_args.main_process_first(desc="tokenizing"):
        for name, part in splits.items():
            if name == "train" and not training_args.do_train:
                continue  # a scoring run reads only the held-out parts (the training part is 100k pairs)
            tokenized[name] = part.map(
                PairTokenizer(tokenizer, data_args.max_source_length, data_args.max_target_length),
                batched=True, remove_columns=part.column_names, desc=f"tokenize {name}",
            )
    cut_counts = report_cut_pairs(tokenized["train"], data_args) if training_args.do_train else {}
    tokenized = {name: part.remove_columns(["source_cut", "target_cut"]) for name, part in tokenized.items()}
    scored_parts = parts_to_score(training_args, tokenized)  # checked now, not after training

    # Model.
    model = load_or_build_model(
        model_args, Seq2SeqGRUAttention, AutoModelForSeq2SeqLM, tokenizer,
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, unk_token_id=tokenizer.unk_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
    )
    # Saved with the model, so that generate() and the pipeline stop where training targets stop.
    model.generation_config.max_length = data_args.max_target_length + 1  # + the decoder start token

    # Trainer: with --predict_with_generate, evaluation generates and scores BLEU / chrF.
    compute_metrics = None
    if training_args.predict_with_generate:
        compute_metrics = TranslationScorer.for_held_out_parts(tokenizer, splits, tokenized)
        if "inputs" not in training_args.include_for_metrics:  # the scorer finds references through the sources
            training_args.include_for_metrics.append("inputs")
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"] if training_args.do_train else None,
        eval_dataset=tokenized.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        compute_metrics=compute_metrics,
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer, data_metrics=cut_counts)

    # Evaluate: beam search on the validation (--do_eval) and test (--do_predict) sources.
    card_metrics = []
    for split, dataset in scored_parts:
        metrics = evaluate_and_save(trainer, dataset, split, num_beams=data_args.num_beams)
        card_metrics += card_metrics_of(split, metrics, data_args)

    # Save: tokenizer, the pipeline's code, card, upload.
    def write_card():
        # Saving through the pipeline adds its code and `custom_pipelines` to the folder, so that
        # pipeline("rnn-translation", model=<hub id>, trust_remote_code=True) works without rnnformers.
        pipeline("rnn-translation", model=trainer.model, tokenizer=tokenizer).save_pretrained(training_args.output_dir)
        write_translation_card(training_args, model_args, data_args, trainer.model, card_metrics, cut_counts)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def report_cut_pairs(train: Dataset, data_args: DataArguments) -> dict:
    """Counts the training sources / targets cut at --max_source_length / --max_target_length, and warns."""
    counts = {"train_sources_cut": sum(train["source_cut"]), "train_targets_cut": sum(train["target_cut"])}
    for (key, count), flag in zip(counts.items(), ("--max_source_length", "--max_target_length")):
        if count:
            limit = getattr(data_args, flag.lstrip("-"))
            logger.warning("%d of %d training %s (%.2f%%) are longer than %s %d tokens: the model sees them cut.",
                           count, len(train), key.split("_")[1], 100 * count / len(train), flag, limit)
    return counts


def dataset_display_name(data_args: DataArguments) -> str:
    if data_args.task == "dates":
        return "generated dates (rnnformers.training.exercises.dates_dataset)"
    return data_args.dataset_name or Path(data_args.train_file or BUNDLED_SPA_ENG).name


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments) -> list[CardMetric]:
    share = data_args.validation_split_percentage if split == "validation" else data_args.test_split_percentage
    description = (
        f"{split}: {metrics[f'{split}_samples']:,} English sentences ({share:g}% of the distinct sources, split "
        f"seed {data_args.split_seed}, none seen in training), beam {data_args.num_beams}"
    )
    if data_args.task == "dates":
        description = (
            f"{split}: {metrics[f'{split}_samples']:,} generated dates ("
            + (f"held-out sources of the training years {data_args.dates_train_years}" if split == "validation"
               else f"years {data_args.dates_test_years}, outside the training range")
            + f", seed {data_args.split_seed}, no source seen in training), beam {data_args.num_beams}"
        )
    # Without --predict_with_generate, evaluation measures the loss only.
    names = (
        {"bleu": "BLEU", "chrf": "chrF", "bleu_all_refs": "BLEU (all references)",
         "chrf_all_refs": "chrF (all references)", "exact_match": "exact match"}
        if f"{split}_bleu" in metrics
        else {"loss": "loss"}
    )
    return [
        CardMetric(
            metric_type=key.removesuffix("_all_refs"),
            name=f"{split} {name}",
            value=round(metrics[f"{split}_{key}"], 4 if key in ("loss", "exact_match") else 2),
            dataset_type="generated" if data_args.task else data_args.dataset_name or "tatoeba",
            dataset_name=dataset_display_name(data_args),
            split=description,
        )
        for key, name in names.items()
    ]


def architecture_text(config) -> str:
    attention = {"dot": "Luong dot-product", "general": "Luong general", "concat": "Bahdanau additive (concat)"}
    return (
        f"GRU encoder–decoder with {attention[config.attention_type]} attention "
        f"({'bidirectional ' if config.bidirectional_encoder else ''}encoder and decoder of {config.num_layers} layers "
        f"of {config.hidden_size} units, {config.embedding_dim}-dimensional shared embeddings, a shared vocabulary of "
        f"{config.vocab_size:,} tokens)"
    )


def write_translation_card(training_args, model_args, data_args, model, card_metrics, cut_counts):
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    if isinstance(model, Seq2SeqGRUAttentionEnsemble):
        members = Counter(architecture_text(config) for config in model.config.member_configs())
        architecture = (
            f"An ensemble of {model.config.num_members} translators that decode together (each next-token "
            f"distribution is the mean of the members'; {model.num_parameters():,} parameters in all): "
            + "; ".join(f"{count} × {text}" for text, count in members.items())
        )
    else:
        architecture = f"A {architecture_text(model.config)}, {model.num_parameters():,} parameters"
    description = (
        f"{architecture}. The translation model of the chapter "
        f"\"NLP with RNNs and Attention\", {data_args.source_lang}→{data_args.target_lang}, "
        f"{'trained' if training_args.do_train else 'scored'} on {dataset_display_name(data_args)}. BLEU and chrF are "
        "sacrebleu corpus scores on detokenised text against one reference (the first translation of each source, as "
        "in standard test sets); \"all references\" scores each source against every translation the data holds."
    )
    if data_args.task == "dates":
        description = (
            f"{architecture}, with a character-level tokenizer. The chapter's exercise 8 (\"NLP with RNNs and "
            f"Attention\"): dates written in one of several formats (\"April 22, 2019\", \"22.04.2019\", ...) to ISO "
            f"8601 (\"2019-04-22\"), {'trained' if training_args.do_train else 'scored'} on "
            f"{dataset_display_name(data_args)} of the years {data_args.dates_train_years}. Exact match is the "
            "share of outputs equal to the reference."
        )
    example = "April 22, 2019" if data_args.task == "dates" else "I like soccer."
    usage = f"""
from transformers import pipeline

translator = pipeline("rnn-translation", model="{repo}", trust_remote_code=True)
print(translator({example!r}, num_beams=5)[0]["translation_text"])
"""
    if training_args.do_train:
        training = (
            f"`scripts/train_translation.py` of rnnformers: learning rate {training_args.learning_rate}, batch size "
            f"{training_args.per_device_train_batch_size} per device, "
            + (f"{training_args.max_steps} steps" if training_args.max_steps > 0 else
               f"{training_args.num_train_epochs:g} epochs")
            + f", sources and targets cut at {data_args.max_source_length} / {data_args.max_target_length} tokens "
            f"({cut_counts['train_sources_cut']:,} / {cut_counts['train_targets_cut']:,} training pairs were cut)."
        )
    else:
        training = not_trained_text("scripts/train_translation.py", model_args.model_name_or_path)
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="translation",
            tags=["gru", "seq2seq", "attention", "translation"],
            datasets=[data_args.dataset_name] if data_args.dataset_name else [],
            metrics=card_metrics,
            language=["en"] if data_args.task == "dates" else [data_args.source_lang, data_args.target_lang],
        ),
    )


if __name__ == "__main__":
    main()
