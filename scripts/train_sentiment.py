#!/usr/bin/env python
"""Train a GRU sentiment classifier (the chapter's IMDb model) with the Trainer API.

In the style of transformers' `run_glue.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`, logging...)
works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_sentiment.py --train_file ../shared/data/imdb/train.parquet --output_dir outputs/gru-imdb \
        --do_train --do_eval --config_overrides "bidirectional=true,pooling=mean_max" --num_train_epochs 4 \
        --eval_strategy epoch --save_strategy epoch --load_best_model_at_end --metric_for_best_model accuracy \
        --early_stopping_patience 1

Data: `--dataset_name stanfordnlp/imdb` by default, or `--train_file` for a local parquet/csv/json file with `text`
and `label` columns. Empty texts are dropped, then its training split is cut 80/20 into train and validation with
`train_test_split(train_size=0.8, seed=42)`, as in the chapter (`rnnformers.training.data.load_sentiment_splits`, which
`train_tokenizer.py` and `evaluate_sentiment.py` share); `--do_predict` scores the dataset's `test` split. Every label
is checked to be a class id before training. The tokenizer is a byte-level BPE (or WordPiece) trained on the 80%
training part, or any pretrained tokenizer (`--tokenizer_name`); with `--pretrained_embeddings` the embedding is copied
from a pretrained model's input embeddings and can be kept frozen for the first epochs (`--freeze_embeddings_epochs`).
The output folder holds the model (safetensors + code), the tokenizer and a model card with the measured accuracy;
`pipeline("text-classification", model=output_dir)` then returns `NEGATIVE`/`POSITIVE` with scores. The flags every
training script shares are described in `rnnformers.training.lifecycle`.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    set_seed,
)

from rnnformers import FreezeEmbeddingsCallback, GRUConfig, GRUForSequenceClassification
from rnnformers.metrics import load_metric
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.callbacks import GradualUnfreezingCallback, discriminative_optimizer
from rnnformers.training.data import check_labels, load_sentiment_splits
from rnnformers.training.hub import HubUpload, push_at_end
from rnnformers.training.lifecycle import (
    BaseDataArguments,
    BaseModelArguments,
    TrainingArguments,
    check_tokenizer_matches,
    evaluate_and_save,
    load_head_on_backbone,
    load_or_build_model,
    load_pretrained,
    load_saved_tokenizer,
    parse_args_and_set_up_logging,
    parts_to_score,
    save_tokenizer_and_card,
    take_samples,
    train_and_save,
)
from rnnformers.training.modelcard import CardInfo, CardMetric, not_trained_text, write_model_card
from rnnformers.training.word_vectors import describe_word_vectors, initialize_embeddings, load_word_vectors


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(BaseModelArguments):
    # The tokenizer this run trains when it loads none (None: the defaults below).
    tokenizer_algorithm: str | None = field(
        default=None, metadata={"help": "Tokenizer to train: 'bpe' (default) or 'wordpiece'."}
    )
    tokenizer_vocab_size: int | None = field(
        default=None, metadata={"help": "Vocabulary size of the trained tokenizer (default 20000)."}
    )
    lowercase: bool | None = field(
        # nargs/const: a bare `--lowercase` means true, as for a bool flag (`--lowercase false` turns it off).
        default=None,
        metadata={"help": "Lower-case the text in the trained tokenizer (default true).", "nargs": "?", "const": True},
    )
    pretrained_embeddings: str | None = field(
        default=None,
        metadata={
            "help": "A pretrained model (folder or Hub id) whose input embeddings initialise ours; its tokenizer is "
            "used unless --tokenizer_name says otherwise, and the embedding size is taken from it."
        },
    )
    freeze_embeddings_epochs: float = field(
        default=0, metadata={"help": "Keep the embeddings frozen for this many epochs, then fine-tune them."}
    )
    word_vectors: str | None = field(
        default=None,
        metadata={"help": "A folder of scripts/train_word_vectors.py trained on --tokenizer_name's tokens: the "
                          "embedding rows of tokens with a vector start from it (embedding_dim = the vectors' size)."},
    )
    pretrained_backbone: str | None = field(
        default=None,
        metadata={
            "help": "A language model of scripts/train_gru_language_model.py (folder or Hub id): the classifier's "
            "backbone and tokenizer start from it, its head is new (the ULMFiT route). --config_overrides may then "
            "set the head's fields (pooling, dropout, classifier_batch_norm, classifier_hidden_size) but not the "
            "backbone's shape."
        },
    )
    gradual_unfreezing_epochs: float = field(
        default=0,
        metadata={"help": "ULMFiT's gradual unfreezing: the head trains alone this many epochs, then each recurrent "
                          "layer joins from the top, the embeddings last (0: everything trains from the start)."},
    )
    layer_learning_rate_decay: float = field(
        default=1.0,
        metadata={"help": "ULMFiT's discriminative learning rates: each layer group below the head learns this many "
                          "times slower than the one above (2.6 in ULMFiT; 1: one rate)."},
    )

    def __post_init__(self):
        super().__post_init__()
        starts = [f"--{name}" for name in ("model_name_or_path", "pretrained_embeddings", "pretrained_backbone",
                                           "word_vectors") if getattr(self, name)]
        if len(starts) > 1:
            raise ValueError(f"{' and '.join(starts)}: a run starts from one of them.")
        if self.word_vectors and not self.tokenizer_name:
            raise ValueError("--word_vectors needs --tokenizer_name: the tokenizer whose tokens the vectors were "
                             "trained on (train_word_vectors.py --tokenizer_name).")
        if self.gradual_unfreezing_epochs < 0 or self.layer_learning_rate_decay < 1:
            raise ValueError("--gradual_unfreezing_epochs must be >= 0 and --layer_learning_rate_decay >= 1, got "
                             f"{self.gradual_unfreezing_epochs} and {self.layer_learning_rate_decay}.")
        if self.gradual_unfreezing_epochs and self.freeze_embeddings_epochs:
            raise ValueError("--gradual_unfreezing_epochs already unfreezes the embeddings last: drop "
                             "--freeze_embeddings_epochs.")
        building = [f"--{name}" for name in ("tokenizer_algorithm", "tokenizer_vocab_size", "lowercase")
                    if getattr(self, name) is not None]
        loading = [f"--{name}" for name in ("tokenizer_name", "model_name_or_path", "pretrained_embeddings",
                                            "pretrained_backbone")
                   if getattr(self, name)]
        if building and loading:
            raise ValueError(f"{', '.join(building)}: these shape a tokenizer this run builds, but "
                             f"{' / '.join(loading)} gives a saved one, used as it is: drop them.")


@dataclass
class DataArguments(BaseDataArguments):
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
    max_length: int | None = field(
        default=None,
        metadata={
            "help": "Truncate each text to this many tokens (default: the loaded tokenizer's model_max_length, else "
            "400). A saved model is scored and continued at the length it was trained at: another value is refused."
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without improvement (needs --load_best_model_at_end)."},
    )

    def __post_init__(self):
        super().__post_init__()
        self.id2label = dict(enumerate(name.strip() for name in self.class_names.split(",")))
        if len(self.id2label) < 2 or "" in self.id2label.values():
            raise ValueError(f"--class_names must name at least two classes, got {self.class_names!r}.")
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"--max_length must be at least 1, got {self.max_length}.")


def truncation_length(requested: int | None, tokenizer, model_args, training_args) -> int:
    """`--max_length`, else the tokenizer's `model_max_length` (a saved model's tokenizer records the length it was
    trained at), else 400. A saved model (`--model_name_or_path`, `--resume_from_checkpoint`) scored or continued at
    another length would give other figures than the ones it was trained and scored at: refused."""
    saved = tokenizer.model_max_length
    saved = saved if isinstance(saved, int) and saved < 1_000_000 else None  # no limit: a huge sentinel value
    if requested is None:
        return saved or 400
    model_folder = model_args.model_name_or_path or training_args.resume_from_checkpoint
    if model_folder and saved is not None and requested != saved:
        raise ValueError(
            f"--max_length {requested} differs from the length the saved model {model_folder} was trained at "
            f"(its tokenizer's model_max_length: {saved}); its texts would be truncated otherwise. Leave --max_length "
            "out to use the saved length."
        )
    return requested


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    if data_args.early_stopping_patience is not None and not training_args.load_best_model_at_end:
        raise ValueError("--early_stopping_patience needs --load_best_model_at_end and an --eval_strategy.")
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: non-empty texts, split 80/20 as the tokenizer and evaluation scripts split them.
    with training_args.main_process_first(desc="loading the data"):
        splits = load_sentiment_splits(
            data_args.train_file, data_args.dataset_name, data_args.dataset_config_name, data_args.text_column,
            data_args.label_column, data_args.validation_split_percentage, data_args.split_seed,
        )
    source = Path(data_args.train_file).name if data_args.train_file else data_args.dataset_name
    sampled = DatasetDict(take_samples(splits, data_args, training_args.seed))
    logger.info("texts: %s", {name: len(split) for name, split in sampled.items()})

    # Tokenizer: a pretrained one, the saved model's, or one trained on the training part only (no validation text).
    tokenizer = load_saved_tokenizer(model_args, training_args, pretrained_embeddings=model_args.pretrained_embeddings,
                                     pretrained_backbone=model_args.pretrained_backbone)
    if tokenizer is None:
        tokenizer = train_subword_tokenizer(
            sampled["train"][data_args.text_column], algorithm=model_args.tokenizer_algorithm or "bpe",
            vocab_size=model_args.tokenizer_vocab_size or 20_000,
            lowercase=model_args.lowercase if model_args.lowercase is not None else True,
        )
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path,
                            pretrained_backbone=model_args.pretrained_backbone)
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no padding token: batches cannot be padded.")
    data_args.max_length = truncation_length(data_args.max_length, tokenizer, model_args, training_args)
    # Recorded in the saved tokenizer, so that `pipeline(..., truncation=True)` cuts where training did.
    tokenizer.model_max_length = data_args.max_length

    def tokenize(batch):
        # With the tokenizer's own special tokens (a pretrained one's [CLS]/[SEP]), as the pipeline will add them.
        return tokenizer(batch[data_args.text_column], truncation=True, max_length=data_args.max_length)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = sampled.map(tokenize, batched=True, remove_columns=[data_args.text_column])
        tokenized = tokenized.rename_column(data_args.label_column, "labels")
    scored_parts = parts_to_score(training_args, tokenized)  # checked now, not after training

    # Model: the saved classifier, or a new one (with pretrained embeddings when asked for).
    model = build_model(model_args, data_args, tokenizer)
    # Every label of every split, before any training: a bad one in the validation part must not wait for the end.
    check_labels(splits, data_args.label_column, model.config.num_labels, source)

    # Trainer.
    callbacks = []
    if data_args.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=data_args.early_stopping_patience))
    if model_args.freeze_embeddings_epochs > 0:
        callbacks.append(FreezeEmbeddingsCallback(frozen_epochs=model_args.freeze_embeddings_epochs))
    if model_args.gradual_unfreezing_epochs > 0:
        callbacks.append(GradualUnfreezingCallback(epochs_per_group=model_args.gradual_unfreezing_epochs))
    optimizer = None
    if model_args.layer_learning_rate_decay > 1:
        optimizer = discriminative_optimizer(model, training_args, model_args.layer_learning_rate_decay)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"] if training_args.do_train else None,
        eval_dataset=tokenized.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=ClassificationScorer(model.config.num_labels),
        callbacks=callbacks,
        optimizers=(optimizer, None),  # None: the Trainer's own AdamW; the schedule is always the Trainer's
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer)
        # Early stopping watches `eval_*` metrics during training; the final scores below use their own prefixes.
        trainer.remove_callback(EarlyStoppingCallback)

    # Evaluate: accuracy and F1 on the validation part (--do_eval) and the dataset's test split (--do_predict).
    card_metrics = []
    for split, dataset in scored_parts:
        metrics = evaluate_and_save(trainer, dataset, split)
        card_metrics += card_metrics_of(split, metrics, data_args, source)

    # Save: tokenizer, card, upload.
    def write_card():
        write_sentiment_card(training_args, model_args, data_args, trainer.model, card_metrics, source)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def build_model(model_args: ModelArguments, data_args: DataArguments, tokenizer) -> GRUForSequenceClassification:
    """The saved `--model_name_or_path`, a classifier on `--pretrained_backbone`, or a new classifier sized for
    `tokenizer`, whose embedding is copied from `--pretrained_embeddings` when given (its vocabulary and embedding
    sizes then come from that model)."""
    if model_args.pretrained_backbone:
        return load_head_on_backbone(
            AutoModelForSequenceClassification, GRUConfig, model_args, tokenizer, num_labels=len(data_args.id2label),
            id2label=data_args.id2label, label2id={label: i for i, label in data_args.id2label.items()},
        )
    vectors = load_word_vectors(model_args.word_vectors) if model_args.word_vectors else None
    pretrained = None
    if model_args.pretrained_embeddings:
        source_model = load_pretrained(AutoModel, model_args.pretrained_embeddings, "--pretrained_embeddings",
                                       trust_remote_code=model_args.trust_remote_code)
        pretrained = source_model.get_input_embeddings().weight.detach().clone()
    sizes = {"vocab_size": len(tokenizer)}
    if vectors is not None:
        sizes["embedding_dim"] = vectors.vector_size
    if pretrained is not None:
        sizes = {"vocab_size": pretrained.shape[0], "embedding_dim": pretrained.shape[1]}
    model = load_or_build_model(
        model_args, GRUForSequenceClassification, AutoModelForSequenceClassification, tokenizer, **sizes,
        pad_token_id=tokenizer.pad_token_id, id2label=data_args.id2label,
        label2id={label: i for i, label in data_args.id2label.items()},
    )
    if pretrained is not None:
        # Trainable here: FreezeEmbeddingsCallback freezes it for the first epochs once the optimizer holds it.
        model.load_pretrained_embeddings(pretrained, freeze=False)
    if vectors is not None:
        tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        rows = initialize_embeddings(model.get_input_embeddings(), tokens, vectors, skip_ids=[tokenizer.pad_token_id])
        if rows == 0:
            raise ValueError(f"no token of --tokenizer_name {model_args.tokenizer_name} has a vector in --word_vectors "
                             f"{model_args.word_vectors}: train the vectors with that tokenizer.")
        logger.info("embeddings: %d of %d tokens start from --word_vectors", rows, len(tokens))
    return model


class ClassificationScorer:
    """`compute_metrics`: accuracy and F1 (binary for two classes, else macro) of the arg-max predictions."""

    def __init__(self, num_labels: int):
        self.average = "binary" if num_labels == 2 else "macro"
        self.metric = load_metric("accuracy_f1")

    def __call__(self, prediction) -> dict:
        predictions = np.argmax(prediction.predictions, axis=-1)
        return self.metric.compute(predictions=predictions, references=prediction.label_ids, average=self.average)


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments, source: str) -> list[CardMetric]:
    description = (
        f"validation ({data_args.validation_split_percentage:g}% of the training split, train_test_split seed "
        f"{data_args.split_seed}, {metrics[f'{split}_samples']:,} texts)"
        if split == "validation"
        else f"test ({metrics[f'{split}_samples']:,} texts)"
    )
    return [
        CardMetric(metric_type=metric_type, name=f"{split} {metric_type}",
                   value=round(metrics[f"{split}_{metric_type}"], 4), dataset_type=source, dataset_name=source,
                   split=description)
        for metric_type in ("accuracy", "f1")
    ]


def write_sentiment_card(training_args, model_args, data_args, model, card_metrics, source):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    direction = "bidirectional " if config.bidirectional else ""
    description = (
        f"A {direction}{config.cell_type.upper()} sentiment classifier ({config.num_layers} "
        f"layer{'s' if config.num_layers > 1 else ''} of "
        f"{config.hidden_size} units, {config.embedding_dim}-dimensional embeddings, `{config.pooling}` pooling, "
        # getattr: a folder's own (remote) configuration code may predate these fields.
        + ("batch-normalised pooled features, " if getattr(config, "classifier_batch_norm", False) else "")
        + (f"a hidden layer of {config.classifier_hidden_size} units, "
           if getattr(config, "classifier_hidden_size", None) else "")
        + f"{model.num_parameters():,} parameters) in the spirit of the chapter \"NLP with RNNs and Attention\", "
        f"{'trained' if training_args.do_train else 'scored'} on {source}. "
        f"Labels: {', '.join(config.id2label[i] for i in sorted(config.id2label))}."
    )
    usage = f"""
from transformers import pipeline

classifier = pipeline("text-classification", model="{repo}", trust_remote_code=True, truncation=True)
print(classifier(["What an awesome movie!", "A boring, badly acted waste of time."]))
"""
    if training_args.do_train:
        embeddings = ""
        if model_args.pretrained_backbone:
            embeddings = (f"backbone (embeddings and recurrent layers) pretrained as a language model, "
                          f"`{model_args.pretrained_backbone}`"
                          + (f", gradual unfreezing every {model_args.gradual_unfreezing_epochs:g} epochs"
                             if model_args.gradual_unfreezing_epochs else "")
                          + (f", learning rate divided by {model_args.layer_learning_rate_decay:g} per layer down"
                             if model_args.layer_learning_rate_decay > 1 else "") + ", ")
        elif model_args.word_vectors or model_args.pretrained_embeddings:
            frozen = model_args.freeze_embeddings_epochs
            embeddings = ("embeddings initialised from "
                          + (f"word vectors trained here with `scripts/train_word_vectors.py` "
                             f"({describe_word_vectors(model_args.word_vectors)})" if model_args.word_vectors
                             else f"`{model_args.pretrained_embeddings}`")
                          + (f" and frozen for {frozen:g} epoch{'s' if frozen != 1 else ''}" if frozen else "") + ", ")
        training = (
            f"`scripts/train_sentiment.py` of rnnformers: {embeddings}texts truncated to {data_args.max_length} "
            f"tokens, learning rate {training_args.learning_rate}, batch size "
            f"{training_args.per_device_train_batch_size} per device, up to {training_args.num_train_epochs:g} "
            f"epochs" + (f", best checkpoint by validation {training_args.metric_for_best_model or 'loss'}."
                         if training_args.load_best_model_at_end else ".")
        )
    else:
        training = not_trained_text("scripts/train_sentiment.py", model_args.model_name_or_path)
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
