#!/usr/bin/env python
"""Train (and evaluate) a recurrent sequence tagger — the seed's LSTM POS tagger or Bi-LSTM CRF — with the Trainer.

In the style of transformers' `run_ner.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option works (checkpoints, `--resume_from_checkpoint`, `--use_cpu --bf16`,
`--push_to_hub`), and the script runs unchanged under `accelerate launch` / `torchrun` (e.g. 2 CPU processes).

    python scripts/train_tagger.py --do_train --do_eval \
        --train_file ../shared/data/ud-english-ewt/en_ewt-ud-train.conllu \
        --validation_file ../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu \
        --config_overrides "use_crf=true" --output_dir outputs/tagger-ewt-crf \
        --num_train_epochs 10 --learning_rate 2e-3 --eval_strategy epoch --save_strategy epoch \
        --load_best_model_at_end --metric_for_best_model accuracy

Data: CoNLL-U files (`--train_file`, `--validation_file`, `--test_file`), one label per *word* taken from
`--label_column` (`upos` by default; `xpos`, `deprel`, or `misc:<Key>` e.g. BIO entity tags kept in MISC as `NER=B-PER`).
Multiword-token lines and empty nodes are skipped, as UD defines them (see `rnnformers.training.token_classification`).
Words are tokenised with `is_split_into_words=True`; a word's first token carries its label, its other tokens -100.

The lifecycle is the one of transformers' example scripts: `--do_train` trains a new model (or continues
`--model_name_or_path`), `--do_eval` scores the validation file, `--do_predict` the test file (and writes each
sentence's predicted tags to `predictions.tsv`). A new model's architecture is
`RNNTaggerConfig`'s defaults changed by `--config_overrides "hidden_size=128,use_crf=true"`; its tokenizer is a
WordPiece trained on the training words (`--tokenizer_vocab_size`) or `--tokenizer_name`.
Scores: accuracy over words, and for BIO tags seqeval's entity precision / recall / F1 too; they go into the model card
of the output folder, which loads with `pipeline("token-classification", model=output_dir, trust_remote_code=True)`.
"""

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

from datasets import DatasetDict
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    set_seed,
)

from rnnformers import RNNTaggerConfig, RNNTaggerForTokenClassification
from rnnformers.modelcard import CardInfo, CardMetric, push_output_dir_to_hub, write_model_card
from rnnformers.scripts_utils import parse_args_and_set_up_logging
from rnnformers.tokenization import train_word_piece_tokenizer_for_words
from rnnformers.training.token_classification import (
    check_labels,
    is_bio_scheme,
    label_list,
    read_conllu,
    token_classification_metrics,
    tokenize_and_align_labels,
    word_level_sequences,
)


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved tagger (folder or Hub id) to evaluate or continue training."}
    )
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "A new model's RNNTaggerConfig changes from its defaults, e.g. 'hidden_size=128,use_crf=true'."},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "A pretrained tokenizer instead of training one."})
    tokenizer_vocab_size: int = field(default=8000, metadata={"help": "Vocabulary size of the trained WordPiece."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from a Hub model to run."})

    def __post_init__(self):
        if self.model_name_or_path and self.config_overrides:
            raise ValueError("--config_overrides builds a new model: it cannot change --model_name_or_path's model.")


@dataclass
class DataTrainingArguments:
    train_file: str | None = field(default=None, metadata={"help": "CoNLL-U training file."})
    validation_file: str | None = field(default=None, metadata={"help": "CoNLL-U validation file (--do_eval)."})
    test_file: str | None = field(default=None, metadata={"help": "CoNLL-U test file (--do_predict)."})
    label_column: str = field(
        default="upos", metadata={"help": "CoNLL-U field of the labels: upos, xpos, deprel or misc:<Key>."}
    )
    label_all_tokens: bool = field(
        default=False, metadata={"help": "Label every token of a word with its label, not only the first."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training sentences."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many validation sentences."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Keep only this many test sentences."})


def check_flags(model_args: ModelArguments, data_args: DataTrainingArguments, training_args: TrainingArguments):
    for flag, file_flag, value in (
        ("do_train", "train_file", data_args.train_file),
        ("do_eval", "validation_file", data_args.validation_file),
        ("do_predict", "test_file", data_args.test_file),
    ):
        if getattr(training_args, flag) and value is None:
            raise ValueError(f"--{flag} needs --{file_flag}.")
    if not (training_args.do_train or training_args.do_eval or training_args.do_predict):
        raise ValueError("nothing to do: pass --do_train, --do_eval and/or --do_predict.")
    if not training_args.do_train and not model_args.model_name_or_path:
        raise ValueError("--do_eval / --do_predict without --do_train need a trained --model_name_or_path.")
    if training_args.eval_strategy != "no" and data_args.validation_file is None:
        raise ValueError(f"--eval_strategy {training_args.eval_strategy} needs --validation_file.")


def parse_config_overrides(overrides: str | None) -> dict:
    """'hidden_size=128,use_crf=true' → {'hidden_size': 128, 'use_crf': True}, typed like RNNTaggerConfig's fields."""
    if not overrides:
        return {}
    defaults = RNNTaggerConfig()
    parsed = {}
    for item in overrides.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not hasattr(defaults, key):
            raise ValueError(f"--config_overrides: {item!r} is not `field=value` with a field of RNNTaggerConfig.")
        kind = type(getattr(defaults, key))
        if kind is bool:
            if value.lower() not in ("true", "false"):
                raise ValueError(f"--config_overrides: {key} must be true or false, got {value!r}.")
            parsed[key] = value.lower() == "true"
        elif kind in (int, float, str):
            parsed[key] = kind(value)
        else:
            parsed[key] = value
    return parsed


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataTrainingArguments, TrainingArguments), logger
    )
    check_flags(model_args, data_args, training_args)
    set_seed(training_args.seed)

    # Data
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_predict_samples}
    with training_args.main_process_first(desc="reading CoNLL-U"):
        raw = DatasetDict({split: read_conllu(path, data_args.label_column) for split, path in files.items() if path})
    # A new model's tag set is the whole training file's, even when fewer sentences are kept.
    labels = label_list(raw["train"]) if "train" in raw else None
    for split, limit in limits.items():
        if split in raw and limit is not None and limit < len(raw[split]):
            raw[split] = raw[split].select(range(limit))
    logger.info("sentences: %s", {split: len(data) for split, data in raw.items()})

    # Tokenizer and model
    if model_args.model_name_or_path:
        model = AutoModelForTokenClassification.from_pretrained(
            model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.tokenizer_name or model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
    else:
        if model_args.tokenizer_name:
            tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name)
        else:
            words = (word for sentence in raw["train"]["tokens"] for word in sentence)
            tokenizer = train_word_piece_tokenizer_for_words(words, vocab_size=model_args.tokenizer_vocab_size)
        config = RNNTaggerConfig(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            unk_token_id=tokenizer.unk_token_id,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            **parse_config_overrides(model_args.config_overrides),
        )
        model = RNNTaggerForTokenClassification(config)
    label2id = model.config.label2id
    for split, path in files.items():
        if split in raw:
            check_labels(raw[split], label2id, path)
    entity_scores = is_bio_scheme(label2id)
    logger.info("model: %s parameters, %d labels", f"{model.num_parameters():,}", len(label2id))

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = raw.map(
            tokenize_and_align_labels,
            batched=True,
            fn_kwargs={"tokenizer": tokenizer, "label2id": label2id, "label_all_tokens": data_args.label_all_tokens},
            remove_columns=["sent_id", "tokens", "tags"],
        )

    # Trainer
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=tokenized.get("train") if training_args.do_train else None,
        eval_dataset=tokenized.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=token_classification_metrics(model.config.id2label, entity_scores),
    )

    # Train
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        metrics = train_result.metrics
        metrics["train_samples"] = len(tokenized["train"])
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()

    # Evaluate (validation) and predict (test: scores, and each word's predicted tag in predictions.tsv)
    card_metrics = []
    for split, flag in (("validation", training_args.do_eval), ("test", training_args.do_predict)):
        if not flag:
            continue
        if split == "validation":
            metrics = trainer.evaluate(eval_dataset=tokenized[split], metric_key_prefix=split)
        else:
            prediction = trainer.predict(tokenized[split], metric_key_prefix=split)
            metrics = prediction.metrics
            if trainer.is_world_process_zero():
                write_predictions(Path(training_args.output_dir) / "predictions.tsv", raw[split], prediction,
                                  model.config.id2label)
        metrics[f"{split}_samples"] = len(tokenized[split])
        trainer.log_metrics(split, metrics)
        trainer.save_metrics(split, metrics)
        name = Path(files[split]).name
        for metric in ("accuracy", "entity_f1") if entity_scores else ("accuracy",):
            card_metrics.append(
                CardMetric(
                    metric_type="f1" if metric == "entity_f1" else "accuracy",
                    name=f"{split} {data_args.label_column} {metric.replace('_', ' ')}",
                    value=round(metrics[f"{split}_{metric}"], 4),
                    dataset_type=name,
                    dataset_name=name,
                    split=f"{split} ({len(tokenized[split]):,} sentences, gold words)",
                )
            )

    # Save
    if training_args.do_train:
        trainer.save_model()
    if trainer.is_world_process_zero():
        if not training_args.do_train:
            trainer.save_model()
        tokenizer.save_pretrained(training_args.output_dir)
        write_card(training_args, data_args, trainer.model, card_metrics)
    if training_args.push_to_hub:
        push_output_dir_to_hub(trainer)


def write_predictions(path: Path, sentences, prediction, id2label: dict[int, str]):
    """One block per sentence: `# sent_id = ...`, then `word<TAB>predicted<TAB>gold` per word (CoNLL-like)."""
    predicted, _ = word_level_sequences(prediction.predictions.argmax(-1), prediction.label_ids, id2label)
    with path.open("w", encoding="utf-8") as handle:
        for sentence, tags in zip(sentences, predicted):
            handle.write(f"# sent_id = {sentence['sent_id']}\n")
            for word, tag, gold in zip(sentence["tokens"], tags, sentence["tags"]):
                handle.write(f"{word}\t{tag}\t{gold}\n")
            handle.write("\n")


def write_card(training_args, data_args, model, card_metrics):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    kind = "Bi-LSTM-CRF" if config.use_crf else "BiLSTM"
    if config.cell_type == "gru":
        kind = kind.replace("LSTM", "GRU")
    if not config.bidirectional:
        kind = kind.replace("Bi-", "").replace("Bi", "")
    description = (
        f"A {kind} sequence tagger ({config.num_layers} recurrent layers of {config.hidden_size} units per direction, "
        f"{config.embedding_dim}-dimensional WordPiece embeddings, {model.num_parameters():,} parameters) for "
        f"`{data_args.label_column}` labels, in the spirit of the PyTorch NLP tutorial's \"Sequence Models and LSTM "
        f"Networks\" and \"Bi-LSTM CRF\". Labels: {', '.join(config.id2label[i] for i in sorted(config.id2label))}."
        + (
            " With its CRF, the returned `logits` are the Viterbi max-marginals: the pipeline's per-token argmax is "
            "the Viterbi path, and a score is a confidence relative to the best other path."
            if config.use_crf
            else ""
        )
    )
    usage = f"""
from transformers import pipeline

tagger = pipeline("token-classification", model="{repo}", trust_remote_code=True, aggregation_strategy="first")
print(tagger("The old man the boats ."))
# Pre-split words (as in CoNLL-U): one entry per word
print(tagger(["I", "did", "n't", "know", "."], is_split_into_words=True))
"""
    if training_args.do_train:
        data = Path(data_args.train_file).name
        training = (
            f"`scripts/train_tagger.py` of rnnformers on {data} from scratch (no pretrained embeddings): learning "
            f"rate {training_args.learning_rate}, batch size {training_args.per_device_train_batch_size} per device, "
            f"{training_args.num_train_epochs:g} epochs"
            + (f", best checkpoint by validation {training_args.metric_for_best_model}"
               if training_args.load_best_model_at_end else "")
            + "."
        )
    else:
        training = "Trained as recorded in the model's `trainer_state.json`; scores by `scripts/train_tagger.py`."
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="token-classification",
            tags=["pos-tagging" if data_args.label_column in ("upos", "xpos") else "token-classification",
                  config.cell_type, "crf" if config.use_crf else "bilstm", "universal-dependencies"],
            metrics=card_metrics,
            language=["en"],
        ),
    )


if __name__ == "__main__":
    main()
