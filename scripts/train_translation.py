#!/usr/bin/env python
"""Train the GRU encoder–decoder with attention (the chapter's English→Spanish translator) with Seq2SeqTrainer.

In the style of transformers' `run_translation.py`: arguments are dataclasses parsed by `HfArgumentParser` together
with `Seq2SeqTrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`,
logging...) works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_translation.py --output_dir outputs/nmt-en-es --num_train_epochs 5
    python scripts/train_translation.py --dataset_name Helsinki-NLP/tatoeba_mt --dataset_config_name eng-spa \
        --dataset_split validation --source_column sourceString --target_column targetString --output_dir ...

Data: the bundled `../shared/data/spa-eng/spa-eng.tsv` (English TAB Spanish) by default, `--train_file` for another
such TSV (e.g. fra-eng), or `--dataset_name` for a Hub dataset. The pairs are split by *source sentence*: all the
translations of one English sentence go to the same part, so no validation or test source was seen in training, and
each validation/test source is scored against all its translations (multi-reference BLEU and chrF, from sacrebleu,
through an `evaluate` module kept in the package). One byte-level BPE tokenizer is trained on the training part of
both languages. The output folder holds the model (safetensors + code), `tokenizer.json`, `generation_config.json`
and a model card with the measured scores.
"""

import csv
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, load_dataset
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    pipeline,
    set_seed,
)

from rnnformers import Seq2SeqGRUAttention, Seq2SeqGRUAttentionConfig
from rnnformers.metrics import load_metric
from rnnformers.modelcard import CardInfo, CardMetric, push_output_dir_to_hub, write_model_card
from rnnformers.scripts_utils import parse_args_and_set_up_logging, train_and_save
from rnnformers.tokenization import train_subword_tokenizer


logger = logging.getLogger(__name__)

BUNDLED_SPA_ENG = "../shared/data/spa-eng/spa-eng.tsv"


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved translation model (folder or Hub id) to continue; else a new one."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A saved tokenizer to use instead of training one on the training pairs."}
    )
    vocab_size: int = field(default=10_000, metadata={"help": "Size of the shared BPE vocabulary (the chapter: 10k)."})
    embedding_dim: int = field(default=512, metadata={"help": "Size of the shared token embeddings."})
    hidden_size: int = field(default=512, metadata={"help": "Units per GRU layer."})
    num_layers: int = field(default=2, metadata={"help": "GRU layers in the encoder and in the decoder."})
    dropout: float = field(default=0.1, metadata={"help": "Dropout on embeddings, between layers, before the output."})
    attention_type: str = field(default="dot", metadata={"help": "'dot', 'general' (Luong) or 'concat' (Bahdanau)."})
    bidirectional_encoder: bool = field(default=False, metadata={"help": "Read the source in both directions."})
    tie_word_embeddings: bool = field(default=False, metadata={"help": "Share the embedding with the output layer."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from a Hub model to run."})


@dataclass
class DataArguments:
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
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training pairs."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Score only this many validation sources during training (speed)."}
    )
    max_test_samples: int | None = field(default=None, metadata={"help": "Score only this many test sources."})
    test_num_beams: int = field(default=5, metadata={"help": "Beam width for the final validation/test scores."})


def load_pairs(data_args: DataArguments) -> Dataset:
    """All (source, target) pairs, loaded through `datasets`, as columns `source` and `target`."""
    if data_args.dataset_name is not None:
        raw = load_dataset(data_args.dataset_name, data_args.dataset_config_name, split=data_args.dataset_split)
    else:
        train_file = data_args.train_file or BUNDLED_SPA_ENG
        if not Path(train_file).is_file():
            raise ValueError(f"--train_file {train_file!r} does not exist.")
        # Tatoeba text holds quotes: read the TSV literally, without CSV quoting rules.
        raw = load_dataset(
            "csv",
            data_files={"train": train_file},
            split="train",
            delimiter="\t",
            column_names=[data_args.source_column, data_args.target_column],
            quoting=csv.QUOTE_NONE,
            usecols=[0, 1],
        )
    for column in (data_args.source_column, data_args.target_column):
        if column not in raw.column_names:
            raise ValueError(f"column {column!r} not in the data (columns: {raw.column_names}).")
    raw = raw.select_columns([data_args.source_column, data_args.target_column])
    raw = raw.rename_columns({data_args.source_column: "source", data_args.target_column: "target"})
    return raw.filter(lambda row: all(row[column] and row[column].strip() for column in ("source", "target")))


def split_by_source(pairs: Dataset, validation_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
    """Train pairs, and validation/test *sources* with all their translations as `references`.

    The distinct source sentences are shuffled with `seed` and cut into train / validation / test, so a source and all
    its translations fall in one part. Validation and test rows hold `source`, `target` (the first translation, for
    the loss) and `references` (every translation in the data, for BLEU and chrF).
    """
    if not (0 <= validation_fraction < 1 and 0 <= test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError("validation and test percentages must be in [0, 100) and leave pairs for training.")
    translations = defaultdict(list)
    for source, target in zip(pairs["source"], pairs["target"]):
        translations[source].append(target)
    sources = np.array(sorted(translations))
    np.random.default_rng(seed).shuffle(sources)
    num_validation = round(len(sources) * validation_fraction)
    num_test = round(len(sources) * test_fraction)
    parts = {
        "validation": sources[:num_validation],
        "test": sources[num_validation : num_validation + num_test],
        "train": sources[num_validation + num_test :],
    }
    train_sources = set(parts["train"].tolist())
    splits = {"train": pairs.filter(lambda row: row["source"] in train_sources)}
    for name in ("validation", "test"):
        if len(parts[name]):
            rows = [(s, translations[s][0], translations[s]) for s in parts[name].tolist()]
            splits[name] = Dataset.from_dict(
                {"source": [r[0] for r in rows], "target": [r[1] for r in rows], "references": [r[2] for r in rows]}
            )
    return splits


class TranslationScorer:
    """`compute_metrics` for Seq2SeqTrainer: BLEU and chrF of the generated translations against every reference of
    their source, and against the first reference only (the usual single-reference score).

    Predictions are matched to their references through their source ids (`include_for_metrics=["inputs"]`), not
    their position: the Trainer may evaluate in its own order (`group_by_length` sorts evaluation batches too).
    """

    def __init__(self, tokenizer, sources: list[list[int]], references: list[list[str]]):
        self.tokenizer = tokenizer
        self.metric = load_metric("bleu_chrf")
        self.references = {self._key(ids): refs for ids, refs in zip(sources, references)}

    def _key(self, ids) -> tuple[int, ...]:
        return tuple(int(i) for i in ids if i not in (-100, self.tokenizer.pad_token_id))

    def __call__(self, prediction) -> dict:
        if prediction.inputs is None:
            raise ValueError('the Trainer must pass the inputs to compute_metrics: include_for_metrics=["inputs"].')
        references = [self.references[self._key(ids)] for ids in prediction.inputs]
        token_ids = np.where(prediction.predictions != -100, prediction.predictions, self.tokenizer.pad_token_id)
        texts = [text.strip() for text in self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)]
        every = self.metric.compute(predictions=texts, references=references)
        first = self.metric.compute(predictions=texts, references=[refs[:1] for refs in references])
        return {"bleu": every["bleu"], "chrf": every["chrf"], "bleu_1ref": first["bleu"], "chrf_1ref": first["chrf"]}


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, Seq2SeqTrainingArguments), logger
    )
    set_seed(training_args.seed)

    # Data: pairs → split by source sentence.
    with training_args.main_process_first(desc="loading the pairs"):
        pairs = load_pairs(data_args)
        splits = split_by_source(
            pairs,
            data_args.validation_split_percentage / 100,
            data_args.test_split_percentage / 100,
            data_args.split_seed,
        )
    if data_args.max_train_samples is not None and data_args.max_train_samples < len(splits["train"]):
        splits["train"] = splits["train"].shuffle(seed=training_args.seed).select(range(data_args.max_train_samples))
    logger.info("pairs: %s", {name: len(part) for name, part in splits.items()})

    # Tokenizer: one byte-level BPE for both languages, trained on the training pairs only.
    if model_args.tokenizer_name or model_args.model_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.tokenizer_name or model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
    else:
        tokenizer = train_subword_tokenizer(
            (text for row in splits["train"] for text in (row["source"], row["target"])),
            vocab_size=model_args.vocab_size,
            add_bos_eos=True,
            model_max_length=data_args.max_source_length,
        )
    if tokenizer.bos_token_id is None or tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer needs <s>, </s> and <pad> tokens (train_subword_tokenizer(add_bos_eos=True)).")

    def tokenize(batch):
        # Sources read `<s> … </s>`; labels read `… </s>`: the model puts `<s>` in front when it shifts them right.
        features = tokenizer(batch["source"], truncation=True, max_length=data_args.max_source_length)
        targets = tokenizer(batch["target"], add_special_tokens=False, truncation=True,
                            max_length=data_args.max_target_length - 1)["input_ids"]
        features["labels"] = [ids + [tokenizer.eos_token_id] for ids in targets]
        return features

    tokenized = {}
    with training_args.main_process_first(desc="tokenizing"):
        for name, part in splits.items():
            tokenized[name] = part.map(
                tokenize, batched=True, remove_columns=part.column_names, desc=f"tokenize {name}"
            )
    eval_dataset = tokenized.get("validation")
    if eval_dataset is not None and data_args.max_eval_samples is not None:
        eval_dataset = eval_dataset.select(range(min(data_args.max_eval_samples, len(eval_dataset))))

    # Model.
    if model_args.model_name_or_path:
        model = AutoModelForSeq2SeqLM.from_pretrained(
            model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
    else:
        config = Seq2SeqGRUAttentionConfig(
            vocab_size=len(tokenizer),
            embedding_dim=model_args.embedding_dim,
            hidden_size=model_args.hidden_size,
            num_layers=model_args.num_layers,
            dropout=model_args.dropout,
            attention_type=model_args.attention_type,
            bidirectional_encoder=model_args.bidirectional_encoder,
            tie_word_embeddings=model_args.tie_word_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            unk_token_id=tokenizer.unk_token_id,
            decoder_start_token_id=tokenizer.bos_token_id,
        )
        model = Seq2SeqGRUAttention(config)
    if model.config.vocab_size != len(tokenizer):
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {model.config.vocab_size}."
        )
    # Saved with the model, so that generate() and the pipeline stop where training targets stop.
    model.generation_config.max_length = data_args.max_target_length + 1  # + the decoder start token
    logger.info("model: %s parameters", f"{model.num_parameters():,}")

    compute_metrics = None
    if training_args.predict_with_generate:
        held_out = [name for name in ("validation", "test") if name in splits]
        compute_metrics = TranslationScorer(
            tokenizer,
            sources=[ids for name in held_out for ids in tokenized[name]["input_ids"]],
            references=[refs for name in held_out for refs in splits[name]["references"]],
        )
        if "inputs" not in training_args.include_for_metrics:
            training_args.include_for_metrics.append("inputs")

    # A new model is always trained; a saved one (--model_name_or_path) only with --do_train, else just scored.
    # (`do_eval` cannot tell: TrainingArguments turns it on by itself whenever --eval_strategy is set.)
    do_train = training_args.do_train or not model_args.model_name_or_path
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"] if do_train else None,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        compute_metrics=compute_metrics,
    )

    if do_train:
        train_and_save(trainer)

    # Final scores with beam search on the whole validation and test parts.
    card_metrics = []
    for split in ("validation", "test"):
        if split not in tokenized or compute_metrics is None:
            continue
        dataset = tokenized[split]
        if split == "test" and data_args.max_test_samples is not None:
            dataset = dataset.select(range(min(data_args.max_test_samples, len(dataset))))
        metrics = trainer.predict(
            dataset,
            metric_key_prefix=split,
            num_beams=data_args.test_num_beams,
            max_length=data_args.max_target_length + 1,
        ).metrics
        trainer.log_metrics(split, metrics)
        trainer.save_metrics(split, metrics)
        share = data_args.validation_split_percentage if split == "validation" else data_args.test_split_percentage
        description = (
            f"{split}: {len(dataset):,} English sentences ({share:g}% of the distinct sources, split seed "
            f"{data_args.split_seed}, none seen in training), beam {data_args.test_num_beams}"
        )
        for key, name in (("bleu", "BLEU"), ("chrf", "chrF"), ("bleu_1ref", "BLEU (1 reference)")):
            card_metrics.append(
                CardMetric(
                    metric_type="chrf" if key == "chrf" else "bleu",
                    name=f"{split} {name}" + ("" if key.endswith("1ref") else " (all references)"),
                    value=round(metrics[f"{split}_{key}"], 2),
                    dataset_type=data_args.dataset_name or "tatoeba",
                    dataset_name=data_args.dataset_name or Path(data_args.train_file or BUNDLED_SPA_ENG).name,
                    split=description,
                )
            )

    if trainer.is_world_process_zero():
        # Saving through the pipeline adds its code and `custom_pipelines` to the folder, so that
        # pipeline("rnn-translation", model=<hub id>, trust_remote_code=True) works without rnnformers.
        pipeline("rnn-translation", model=trainer.model, tokenizer=tokenizer).save_pretrained(training_args.output_dir)
        write_card(training_args, model_args, data_args, trainer.model, card_metrics)
    if training_args.push_to_hub:
        push_output_dir_to_hub(trainer)


def write_card(training_args, model_args, data_args, model, card_metrics):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    attention = {"dot": "Luong dot-product", "general": "Luong general", "concat": "Bahdanau additive (concat)"}
    description = (
        f"A GRU encoder–decoder with {attention[config.attention_type]} attention "
        f"({'bidirectional ' if config.bidirectional_encoder else ''}encoder and decoder of {config.num_layers} layers "
        f"of {config.hidden_size} units, {config.embedding_dim}-dimensional shared embeddings, a shared byte-level BPE "
        f"vocabulary of {config.vocab_size:,} tokens, {model.num_parameters():,} parameters): the translation model "
        f"of the chapter \"NLP with RNNs and Attention\", {data_args.source_lang}→{data_args.target_lang}, "
        "trained on "
        f"{data_args.dataset_name or Path(data_args.train_file or BUNDLED_SPA_ENG).name}. BLEU and chrF are sacrebleu "
        "corpus scores on detokenised text; \"all references\" scores each source against every translation the data "
        "holds for it."
    )
    usage = f"""
from transformers import pipeline

translator = pipeline("rnn-translation", model="{repo}", trust_remote_code=True)
print(translator("I like soccer.", num_beams=5)[0]["translation_text"])
"""
    training = (
        f"`scripts/train_translation.py` of rnnformers: learning rate {training_args.learning_rate}, batch size "
        f"{training_args.per_device_train_batch_size} per device, "
        + (f"{training_args.max_steps} steps" if training_args.max_steps > 0 else
           f"{training_args.num_train_epochs:g} epochs")
        + f", sources and targets cut at {data_args.max_source_length} / {data_args.max_target_length} tokens."
    )
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
            language=[data_args.source_lang, data_args.target_lang],
        ),
    )


if __name__ == "__main__":
    main()
