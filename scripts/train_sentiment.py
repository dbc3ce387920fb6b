#!/usr/bin/env python
"""Train a GRU sentiment classifier (the chapter's IMDb model) with the Trainer API.

In the style of transformers' `run_glue.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`, logging...)
works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_sentiment.py --train_file ../shared/data/imdb/train.parquet --output_dir outputs/gru-imdb \
        --do_train \
        --bidirectional --pooling mean_max --num_train_epochs 4 --eval_strategy epoch --save_strategy epoch \
        --load_best_model_at_end --metric_for_best_model accuracy --early_stopping_patience 1

Data: `--dataset_name stanfordnlp/imdb` by default, or `--train_file` for a local parquet/csv/json file with `text`
and `label` columns. Its training split is cut 80/20 into train and validation with `train_test_split(train_size=0.8,
seed=42)`, as in the chapter; a `test` split of the dataset, when there is one, is scored at the end. Empty texts are
dropped (they have no tokens to read). The tokenizer is a byte-level BPE (or WordPiece) trained on the 80% training
part, or any pretrained tokenizer (`--tokenizer_name`); with `--pretrained_embeddings` the embedding is copied from a
pretrained model's input embeddings and can be kept frozen for the first epochs (`--freeze_embeddings_epochs`).
The output folder holds the model (safetensors + code), the tokenizer and a model card with the measured validation
accuracy; `pipeline("text-classification", model=output_dir)` then returns `NEGATIVE`/`POSITIVE` with scores.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
from datasets import load_dataset
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)

from rnnformers import FreezeEmbeddingsCallback, GRUConfig, GRUForSequenceClassification
from rnnformers.metrics import load_metric
from rnnformers.modelcard import CardInfo, CardMetric, push_output_dir_to_hub, write_model_card
from rnnformers.scripts_utils import parse_args_and_set_up_logging, train_and_save
from rnnformers.tokenization import train_subword_tokenizer


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved GRU classifier (folder or Hub id) to continue training; else a new one."}
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "A pretrained tokenizer (folder or Hub id, e.g. bert-base-uncased) instead of training one."},
    )
    tokenizer_algorithm: str = field(default="bpe", metadata={"help": "Tokenizer to train: 'bpe' or 'wordpiece'."})
    tokenizer_vocab_size: int = field(default=20_000, metadata={"help": "Vocabulary size of the trained tokenizer."})
    lowercase: bool = field(default=True, metadata={"help": "Lower-case the text in the trained tokenizer."})
    pretrained_embeddings: str | None = field(
        default=None,
        metadata={
            "help": "A pretrained model (folder or Hub id) whose input embeddings initialise ours; its tokenizer is "
            "used unless --tokenizer_name says otherwise, and --embedding_dim is taken from it."
        },
    )
    freeze_embeddings_epochs: float = field(
        default=0, metadata={"help": "Keep the embeddings frozen for this many epochs, then fine-tune them."}
    )
    embedding_dim: int = field(default=128, metadata={"help": "Size of the token embeddings."})
    hidden_size: int = field(default=64, metadata={"help": "Units per recurrent layer and direction."})
    num_layers: int = field(default=2, metadata={"help": "Number of recurrent layers."})
    dropout: float = field(default=0.2, metadata={"help": "Dropout between recurrent layers and before the head."})
    embedding_dropout: float = field(default=0.0, metadata={"help": "Dropout on the token embeddings."})
    bidirectional: bool = field(default=False, metadata={"help": "Read each text in both directions."})
    cell_type: str = field(default="gru", metadata={"help": "'gru' or 'lstm'."})
    pooling: str = field(default="last", metadata={"help": "'last' (the chapter's), 'mean', 'max' or 'mean_max'."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from a Hub model to run."})


@dataclass
class DataArguments:
    dataset_name: str | None = field(default="stanfordnlp/imdb", metadata={"help": "A Hub dataset with text/label."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration, if any."})
    train_file: str | None = field(
        default=None, metadata={"help": "A local parquet/csv/json file with text and label columns (replaces the Hub)."}
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    label_column: str = field(default="label", metadata={"help": "Column holding the class ids."})
    class_names: str = field(
        default="NEGATIVE,POSITIVE", metadata={"help": "Comma-separated names of class ids 0, 1, ... (id2label)."}
    )
    validation_split_percentage: float = field(
        default=20.0, metadata={"help": "Percent of the training split kept for validation (the chapter: 20)."}
    )
    split_seed: int = field(default=42, metadata={"help": "Seed of the train/validation split (the chapter: 42)."})
    max_length: int = field(default=400, metadata={"help": "Truncate each text to this many tokens."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training texts."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many validation/test texts."})
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without improvement (needs --load_best_model_at_end)."},
    )


def load_splits(data_args: DataArguments, seed: int) -> datasets.DatasetDict:
    """Train / validation (and test, when the dataset has one) splits with non-empty texts, through `datasets`."""
    if data_args.train_file is not None:
        path = Path(data_args.train_file)
        if not path.is_file():
            raise ValueError(f"--train_file {data_args.train_file!r} does not exist.")
        builder = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}.get(path.suffix)
        if builder is None:
            raise ValueError(f"--train_file must be .parquet, .csv, .json or .jsonl, got {path.name!r}.")
        raw = load_dataset(builder, data_files={"train": str(path)})
        source = path.name
    else:
        raw = load_dataset(data_args.dataset_name, data_args.dataset_config_name)
        source = data_args.dataset_name
    for name, split in raw.items():
        missing = {data_args.text_column, data_args.label_column} - set(split.column_names)
        if missing:
            raise ValueError(f"{source} ({name}) has no column {sorted(missing)}; columns: {split.column_names}.")
    raw = raw.select_columns([data_args.text_column, data_args.label_column])
    # An empty review has no token for the model to read; drop it instead of failing in the middle of an epoch.
    raw = raw.filter(lambda text: isinstance(text, str) and text.strip() != "", input_columns=data_args.text_column)

    split = raw["train"].train_test_split(train_size=1 - data_args.validation_split_percentage / 100, seed=seed)
    splits = datasets.DatasetDict(train=split["train"], validation=split["test"])
    if "test" in raw:
        splits["test"] = raw["test"]
    for name, limit in (("train", data_args.max_train_samples), ("validation", data_args.max_eval_samples),
                        ("test", data_args.max_eval_samples)):
        if name in splits and limit is not None and limit < len(splits[name]):
            splits[name] = splits[name].select(range(limit))
    return splits


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    if data_args.early_stopping_patience is not None and not training_args.load_best_model_at_end:
        raise ValueError("--early_stopping_patience needs --load_best_model_at_end and an --eval_strategy.")
    set_seed(training_args.seed)

    with training_args.main_process_first(desc="loading the data"):
        splits = load_splits(data_args, data_args.split_seed)
    logger.info("texts: %s", {name: len(split) for name, split in splits.items()})
    id2label = dict(enumerate(name.strip() for name in data_args.class_names.split(",")))
    labels = np.asarray(splits["train"][data_args.label_column])
    if labels.min() < 0 or labels.max() >= len(id2label):
        raise ValueError(
            f"labels range from {labels.min()} to {labels.max()} but --class_names names {len(id2label)} classes."
        )

    # Tokenizer: a pretrained one, the saved model's, or one trained on the training part only (no validation text).
    tokenizer_source = model_args.tokenizer_name or model_args.pretrained_embeddings or model_args.model_name_or_path
    if tokenizer_source:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=model_args.trust_remote_code)
    else:
        tokenizer = train_subword_tokenizer(
            splits["train"][data_args.text_column],
            algorithm=model_args.tokenizer_algorithm,
            vocab_size=model_args.tokenizer_vocab_size,
            lowercase=model_args.lowercase,
        )
    # Recorded in the saved tokenizer, so that `pipeline(..., truncation=True)` cuts where training did.
    tokenizer.model_max_length = data_args.max_length

    if tokenizer.pad_token is None:
        raise ValueError(f"the tokenizer of {tokenizer_source} has no padding token: batches cannot be padded.")

    def tokenize(batch):
        # With the tokenizer's own special tokens (a pretrained one's [CLS]/[SEP]), as the pipeline will add them.
        return tokenizer(batch[data_args.text_column], truncation=True, max_length=data_args.max_length)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = splits.map(tokenize, batched=True, remove_columns=[data_args.text_column])
        tokenized = tokenized.rename_column(data_args.label_column, "labels")

    model = build_model(model_args, tokenizer, id2label)
    logger.info("model: %s parameters", f"{model.num_parameters():,}")

    metric = load_metric("accuracy_f1")

    def compute_metrics(eval_prediction):
        predictions = np.argmax(eval_prediction.predictions, axis=-1)
        average = "binary" if len(id2label) == 2 else "macro"
        return metric.compute(predictions=predictions, references=eval_prediction.label_ids, average=average)

    callbacks = []
    if data_args.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=data_args.early_stopping_patience))
    if model_args.freeze_embeddings_epochs > 0:
        callbacks.append(FreezeEmbeddingsCallback(frozen_epochs=model_args.freeze_embeddings_epochs))

    # As in run_glue.py, training needs --do_train (--do_eval alone scores a saved model); evaluation always runs.
    train = training_args.do_train
    if not train and not model_args.model_name_or_path:
        raise ValueError("a new model needs --do_train; pass --model_name_or_path to evaluate a saved one.")
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"] if train else None,
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )

    if train:
        train_and_save(trainer)
    else:
        # Scoring a saved model (e.g. a checkpoint of an interrupted run): its output folder gets the model too.
        trainer.save_model()

    # Early stopping watches `eval_*` metrics during training; the final scores below use their own prefixes.
    trainer.remove_callback(EarlyStoppingCallback)
    card_metrics = []
    source = Path(data_args.train_file).name if data_args.train_file else data_args.dataset_name
    for split in ("validation", "test"):
        if split not in tokenized:
            continue
        metrics = trainer.evaluate(eval_dataset=tokenized[split], metric_key_prefix=split)
        metrics[f"{split}_samples"] = len(tokenized[split])
        trainer.log_metrics(split, metrics)
        trainer.save_metrics(split, metrics)
        description = (
            f"validation ({data_args.validation_split_percentage:g}% of the training split, train_test_split seed "
            f"{data_args.split_seed}, {len(tokenized[split]):,} texts)"
            if split == "validation"
            else f"test ({len(tokenized[split]):,} texts)"
        )
        for metric_type in ("accuracy", "f1"):
            card_metrics.append(
                CardMetric(
                    metric_type=metric_type,
                    name=f"{split} {metric_type}",
                    value=round(metrics[f"{split}_{metric_type}"], 4),
                    dataset_type=source,
                    dataset_name=source,
                    split=description,
                )
            )

    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(training_args.output_dir)
        write_card(training_args, model_args, data_args, trainer.model, card_metrics)
    if training_args.push_to_hub:
        push_output_dir_to_hub(trainer)


def build_model(model_args: ModelArguments, tokenizer, id2label: dict[int, str]) -> GRUForSequenceClassification:
    """A saved classifier, or a new one sized for `tokenizer`, with pretrained embeddings when asked for."""
    if model_args.model_name_or_path:
        model = AutoModelForSequenceClassification.from_pretrained(
            model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
        if len(tokenizer) > model.config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {model.config.vocab_size}."
            )
        return model

    pretrained = None
    vocab_size, embedding_dim = len(tokenizer), model_args.embedding_dim
    if model_args.pretrained_embeddings:
        source_model = AutoModel.from_pretrained(
            model_args.pretrained_embeddings, trust_remote_code=model_args.trust_remote_code
        )
        pretrained = source_model.get_input_embeddings().weight.detach().clone()
        del source_model
        vocab_size, embedding_dim = pretrained.shape
        if len(tokenizer) > vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but {model_args.pretrained_embeddings} embeds only "
                f"{vocab_size}: use that model's tokenizer."
            )
    config = GRUConfig(
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        hidden_size=model_args.hidden_size,
        num_layers=model_args.num_layers,
        dropout=model_args.dropout,
        embedding_dropout=model_args.embedding_dropout,
        bidirectional=model_args.bidirectional,
        cell_type=model_args.cell_type,
        pooling=model_args.pooling,
        pad_token_id=tokenizer.pad_token_id,
        id2label=id2label,
        label2id={label: i for i, label in id2label.items()},
    )
    model = GRUForSequenceClassification(config)
    if pretrained is not None:
        # Trainable here: FreezeEmbeddingsCallback freezes it for the first epochs once the optimizer holds it.
        model.load_pretrained_embeddings(pretrained, freeze=False)
    return model


def write_card(training_args, model_args, data_args, model, card_metrics):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    direction = "bidirectional " if config.bidirectional else ""
    description = (
        f"A {direction}{config.cell_type.upper()} sentiment classifier ({config.num_layers} "
        f"layer{'s' if config.num_layers > 1 else ''} of "
        f"{config.hidden_size} units, {config.embedding_dim}-dimensional embeddings, `{config.pooling}` pooling, "
        f"{model.num_parameters():,} parameters) in the spirit of the chapter \"NLP with RNNs and Attention\", trained "
        f"on {Path(data_args.train_file).name if data_args.train_file else data_args.dataset_name}. "
        f"Labels: {', '.join(config.id2label[i] for i in sorted(config.id2label))}."
    )
    usage = f"""
from transformers import pipeline

classifier = pipeline("text-classification", model="{repo}", trust_remote_code=True, truncation=True)
print(classifier(["What an awesome movie!", "A boring, badly acted waste of time."]))
"""
    embeddings = (
        f"embeddings initialised from `{model_args.pretrained_embeddings}`"
        + (f" and frozen for {model_args.freeze_embeddings_epochs:g} epochs" if model_args.freeze_embeddings_epochs else "")
        + ", "
        if model_args.pretrained_embeddings
        else ""
    )
    if training_args.do_train:
        training = (
            f"`scripts/train_sentiment.py` of rnnformers: {embeddings}texts truncated to {data_args.max_length} "
            f"tokens, learning rate {training_args.learning_rate}, batch size "
            f"{training_args.per_device_train_batch_size} per device, up to {training_args.num_train_epochs:g} "
            f"epochs, best checkpoint by validation {training_args.metric_for_best_model or 'loss'}."
        )
    else:
        training = (
            f"Trained as recorded in `{model_args.model_name_or_path}` (its `trainer_state.json`); the scores above "
            f"were measured by `scripts/train_sentiment.py --do_eval` with texts truncated to {data_args.max_length} "
            "tokens."
        )
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="text-classification",
            tags=["sentiment-analysis", config.cell_type, "text-classification"],
            datasets=[data_args.dataset_name] if not data_args.train_file and data_args.dataset_name else [],
            metrics=card_metrics,
            language=["en"],
        ),
    )


if __name__ == "__main__":
    main()
