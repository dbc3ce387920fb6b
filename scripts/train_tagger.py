#!/usr/bin/env python
"""Train a recurrent sequence tagger — the seed's LSTM POS tagger or its Bi-LSTM CRF — with the Trainer API.

In the style of transformers' `run_ner.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option works (checkpoints, `--resume_from_checkpoint`, `--use_cpu --bf16`,
`--push_to_hub`), and the script runs unchanged under `accelerate launch` (e.g. two CPU processes).

    python scripts/train_tagger.py --do_train --do_eval --output_dir outputs/tagger-ewt-crf \
        --train_file ../shared/data/ud-english-ewt/en_ewt-ud-train.conllu \
        --validation_file ../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu \
        --config_overrides "hidden_size=128,token_dropout=0.1,use_crf=true" \
        --num_train_epochs 20 --learning_rate 2e-3 --eval_strategy epoch --save_strategy epoch \
        --load_best_model_at_end --metric_for_best_model accuracy
    python scripts/train_tagger.py --do_eval --model_name_or_path outputs/tagger-ewt-crf \
        --validation_file ../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu --output_dir outputs/tagger-ewt-crf

Data: CoNLL-U files (`--train_file`, `--validation_file`, `--test_file`), one label per *word* from `--label_column`
(`upos` by default; `xpos`, `deprel`, or `misc:<Key>` such as BIO entity tags kept in MISC as `NER=B-PER`).
Multiword-token lines and empty nodes are skipped, as UD defines them (`rnnformers.training.token_classification`).
Words are tokenised with `is_split_into_words=True`; a word's first token carries its label, its other tokens -100
(`--label_all_tokens` labels them all). The tokenizer is a cased WordPiece trained on the training words
(`--tokenizer_vocab_size`), or `--tokenizer_name`. With `--pretrained_backbone <language model folder>` (ELMo's and
ULMFiT's route) the tagger is a `GRUForTokenClassification`: the backbone and tokenizer of a language model of
`scripts/train_gru_language_model.py` (trained cased, with `--tokenizer_algorithm wordpiece`, so that words split
beforehand tokenise as in running text) under a new linear head. With `--char_language_models FORWARD BACKWARD` (two
char-RNNs of `scripts/train_char_rnn.py`, the second with `reads_backward=true`) each token also gets Flair's contextual
string features: their states at its last and first character, frozen, beside its embedding. Scores: accuracy over
words, and for BIO tags seqeval's entity precision / recall / F1; `--do_predict` also writes each test word's predicted
tag to `predictions.tsv`. The output folder (model + code, tokenizer, card with the scores) loads with
`pipeline("token-classification", model=..., trust_remote_code=True)`. The flags every training script shares are
described in `rnnformers.training.lifecycle`.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetDict
from transformers import (
    AutoModelForCausalLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    set_seed,
)

from rnnformers import GRUConfig, RNNTaggerForTokenClassification
from rnnformers.models.rnn_tagger.configuration_rnn_tagger import CHAR_LM_FIELDS
from rnnformers.tokenization import train_word_piece_tokenizer_for_words
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
    save_tokenizer_and_card,
    take_samples,
    train_and_save,
)
from rnnformers.training.modelcard import CardInfo, CardMetric, not_trained_text, write_model_card
from rnnformers.training.token_classification import (
    check_labels,
    is_bio_scheme,
    label_list,
    read_conllu,
    token_classification_metrics,
    token_texts,
    tokenize_and_align_labels,
    word_level_sequences,
)
from rnnformers.training.word_vectors import (
    add_words_to_word_piece,
    describe_word_vectors,
    initialize_embeddings,
    load_word_vectors,
)


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(BaseModelArguments):
    tokenizer_vocab_size: int = field(
        default=8000, metadata={"help": "Vocabulary size of the WordPiece trained on the training words."}
    )
    word_vectors: str | None = field(
        default=None,
        metadata={"help": "A folder of scripts/train_word_vectors.py (new models): its --max_vector_words most frequent "
                          "words join the WordPiece vocabulary as whole tokens, and every token with a vector starts "
                          "from it."},
    )
    max_vector_words: int = field(default=50_000, metadata={"help": "Vector words added to the vocabulary."})
    pretrained_backbone: str | None = field(
        default=None,
        metadata={"help": "A language model of scripts/train_gru_language_model.py (folder or Hub id): the tagger is a "
                          "GRUForTokenClassification whose backbone and tokenizer start from it, its head is new (ELMo's "
                          "and ULMFiT's route). --config_overrides may set the head's fields (dropout, "
                          "embedding_dropout)."},
    )
    char_language_models: list[str] = field(
        default_factory=list,
        metadata={"help": "Two character language models of scripts/train_char_rnn.py (folders or Hub ids), forward "
                          "then backward (reads_backward=true), of one character vocabulary: Flair's contextual string "
                          "embeddings, frozen features of each token beside its embedding (new models)."},
    )
    freeze_word_vectors: bool = field(
        default=False,
        metadata={"help": "Keep the embeddings at their --word_vectors values all training: the words never seen in "
                          "training then stay in the same space as the ones that were (fine-tuning moves only the "
                          "latter). The character features and the recurrent layers still learn."},
    )


@dataclass
class DataArguments(BaseDataArguments):
    train_file: str | None = field(default=None, metadata={"help": "CoNLL-U training file (--do_train)."})
    validation_file: str | None = field(default=None, metadata={"help": "CoNLL-U validation file (--do_eval)."})
    test_file: str | None = field(default=None, metadata={"help": "CoNLL-U test file (--do_predict)."})
    label_column: str = field(
        default="upos", metadata={"help": "CoNLL-U field of the labels: upos, xpos, deprel or misc:<Key>."}
    )
    label_all_tokens: bool = field(
        default=False, metadata={"help": "Give every token of a word the word's label, not only its first."}
    )


def check_files(data_args: DataArguments, training_args: TrainingArguments):
    """Each requested step has its file (flags of two dataclasses, so checked here rather than in a __post_init__)."""
    for wanted, flag, file_flag, path in (
        (training_args.do_train, "--do_train", "--train_file", data_args.train_file),
        (training_args.do_eval, "--do_eval", "--validation_file", data_args.validation_file),
        (training_args.do_predict, "--do_predict", "--test_file", data_args.test_file),
    ):
        if wanted and path is None:
            raise ValueError(f"{flag} needs {file_flag}.")


def check_model_sources(model_args: ModelArguments):
    if model_args.pretrained_backbone and (model_args.model_name_or_path or model_args.word_vectors):
        other = "--model_name_or_path" if model_args.model_name_or_path else "--word_vectors"
        raise ValueError(f"--pretrained_backbone and {other}: a run starts from one of them.")
    if model_args.word_vectors and (model_args.model_name_or_path or model_args.tokenizer_name):
        raise ValueError("--word_vectors builds a new model's vocabulary and embeddings; it cannot be combined with "
                         "--model_name_or_path or --tokenizer_name.")
    if model_args.char_language_models:
        if len(model_args.char_language_models) != 2:
            raise ValueError(f"--char_language_models takes two folders, forward then backward, got "
                             f"{model_args.char_language_models}.")
        if model_args.model_name_or_path or model_args.pretrained_backbone:
            other = "--model_name_or_path" if model_args.model_name_or_path else "--pretrained_backbone"
            raise ValueError(f"--char_language_models builds a new tagger's features; {other} loads a model.")
    if model_args.freeze_word_vectors and not model_args.word_vectors:
        raise ValueError("--freeze_word_vectors needs --word_vectors.")
    if model_args.max_vector_words < 0:
        raise ValueError(f"--max_vector_words must be >= 0, got {model_args.max_vector_words}.")


def check_label_smoothing(config, training_args):
    """The Trainer's label smoother replaces the model's loss by a smoothed cross-entropy of its `logits`; a CRF
    tagger's loss is the sentences' negative log-likelihood and its `logits` are Viterbi max-marginals, so smoothing
    them would train something else than the CRF, silently."""
    if training_args.label_smoothing_factor and getattr(config, "use_crf", False):
        raise ValueError(f"--label_smoothing_factor {training_args.label_smoothing_factor:g} with a CRF tagger "
                         "(use_crf=true): the CRF's loss is its own negative log-likelihood, which the Trainer's "
                         "label smoother would replace; leave --label_smoothing_factor at 0.")


def check_splits_words_as_text(tokenizer):
    """Words come split (`is_split_into_words=True`): a byte-level BPE without `add_prefix_space` would then encode
    every word as if it began the text (without the leading space it carries inside a sentence), ids its model never
    read there. WordPiece tokenizers split on spaces first, so a split word tokenises as in running text."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return  # a Python tokenizer: its own `is_split_into_words` handling applies
    pre_tokenizer = json.loads(backend.to_str()).get("pre_tokenizer") or {}
    parts = pre_tokenizer.get("pretokenizers", [pre_tokenizer])
    if any(part.get("type") == "ByteLevel" and not part.get("add_prefix_space") for part in parts):
        raise ValueError(
            f"the tokenizer {tokenizer.name_or_path!r} is a byte-level BPE without add_prefix_space: words split "
            "beforehand would tokenise unlike running text. Train the language model with --tokenizer_algorithm "
            "wordpiece (scripts/train_gru_language_model.py), or give a WordPiece --tokenizer_name."
        )


def load_char_language_models(model_args: ModelArguments):
    """The two character language models of --char_language_models (forward, backward) and their common tokenizer."""
    models, tokenizers = [], []
    for path in model_args.char_language_models:
        models.append(load_pretrained(AutoModelForCausalLM, path, "--char_language_models",
                                      trust_remote_code=model_args.trust_remote_code))
        tokenizers.append(AutoTokenizer.from_pretrained(path))
    forward, backward = model_args.char_language_models
    if tokenizers[0].get_vocab() != tokenizers[1].get_vocab():
        raise ValueError(f"--char_language_models: {forward!r} and {backward!r} have different character "
                         "vocabularies; train both on the same text (one with reads_backward=true).")
    if tokenizers[0].pad_token_id != 0:
        raise ValueError(f"--char_language_models: {forward!r}'s tokenizer pads with id {tokenizers[0].pad_token_id}, "
                         "not 0 (scripts/train_char_rnn.py's character tokenizers do).")
    for path, model, backward_wanted in zip(model_args.char_language_models, models, (False, True)):
        if bool(getattr(model.config, "reads_backward", False)) != backward_wanted:
            raise ValueError(f"--char_language_models {path!r}: the {'second' if backward_wanted else 'first'} model "
                             f"must {'' if backward_wanted else 'not '}read backwards (reads_backward="
                             f"{getattr(model.config, 'reads_backward', False)}).")
    return models, tokenizers[0]


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    check_files(data_args, training_args)
    check_model_sources(model_args)
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: CoNLL-U sentences (words and their labels) per split.
    files = {"train": data_args.train_file, "validation": data_args.validation_file, "test": data_args.test_file}
    wanted = {"train": training_args.do_train, "validation": training_args.do_eval, "test": training_args.do_predict}
    with training_args.main_process_first(desc="reading CoNLL-U"):
        raw = {split: read_conllu(path, data_args.label_column) for split, path in files.items() if wanted[split]}
    # A new model's tag set is the whole training file's, even when fewer sentences are kept.
    labels = label_list(raw["train"]) if "train" in raw else None
    raw = DatasetDict(take_samples(raw, data_args, training_args.seed))
    logger.info("sentences: %s", {split: len(data) for split, data in raw.items()})

    # Tokenizer: a saved one, or a WordPiece trained on the training words (+ the vectors' frequent words, whole).
    vectors = load_word_vectors(model_args.word_vectors) if model_args.word_vectors else None
    tokenizer = load_saved_tokenizer(model_args, training_args, pretrained_backbone=model_args.pretrained_backbone)
    if tokenizer is None:
        words = (word for sentence in raw["train"]["tokens"] for word in sentence)
        tokenizer = train_word_piece_tokenizer_for_words(words, vocab_size=model_args.tokenizer_vocab_size)
        if vectors is not None:
            added = add_words_to_word_piece(tokenizer, vectors.index_to_key[: model_args.max_vector_words])
            logger.info("vocabulary: %d WordPiece tokens + %d whole words of --word_vectors", len(tokenizer) - added,
                        added)
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path,
                            pretrained_backbone=model_args.pretrained_backbone)
    check_splits_words_as_text(tokenizer)

    # Model: the labels are the training file's (new model) or the saved model's, which every file must stay within.
    label_kwargs = {} if model_args.model_name_or_path else {
        "id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}
    }
    if model_args.pretrained_backbone:
        model = load_head_on_backbone(AutoModelForTokenClassification, GRUConfig, model_args, tokenizer,
                                      num_labels=len(labels), **label_kwargs)
    else:
        char_lm_kwargs = {}
        if model_args.char_language_models:
            char_lms, char_tokenizer = load_char_language_models(model_args)
            lm_config = char_lms[0].config
            char_lm_kwargs = {f"char_lm_{field}": getattr(lm_config, field) for field in CHAR_LM_FIELDS}
        model = load_or_build_model(
            model_args, RNNTaggerForTokenClassification, AutoModelForTokenClassification, tokenizer,
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
            **char_lm_kwargs, **label_kwargs,
        )
        if model_args.char_language_models:
            texts = token_texts(tokenizer) + [""] * (model.config.vocab_size - len(tokenizer))
            char_ids = char_tokenizer(texts, add_special_tokens=False)["input_ids"]
            model.base_model.set_char_language_models(char_lms[0].base_model, char_lms[1].base_model, char_ids)
            logger.info("contextual character features: 2 x %d from %s", lm_config.hidden_size,
                        " and ".join(model_args.char_language_models))
    if getattr(model.config, "char_lm_hidden_size", 0) and not (model_args.char_language_models
                                                              or model_args.model_name_or_path):
        raise ValueError("--config_overrides sets char_lm_hidden_size, but the character language models it reads come "
                         "from --char_language_models FORWARD BACKWARD: give them.")
    check_label_smoothing(model.config, training_args)
    token_strings = tokenizer.convert_ids_to_tokens(list(range(model.config.vocab_size)))
    if getattr(model.config, "char_features", 0) and not model_args.model_name_or_path:
        # The character features read each token's string; a saved model keeps them in its weights.
        model.base_model.set_token_strings(token_strings)
    if vectors is not None:
        rows = initialize_embeddings(model.get_input_embeddings(), token_strings, vectors,
                                     skip_ids=[tokenizer.pad_token_id])
        logger.info("embeddings: %d of %d tokens start from --word_vectors", rows, len(token_strings))
        if model_args.freeze_word_vectors:
            model.get_input_embeddings().weight.requires_grad_(False)  # before the Trainer builds its optimizer
    for split, dataset in raw.items():
        check_labels(dataset, model.config.label2id, files[split])
    entity_scores = is_bio_scheme(model.config.label2id)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = raw.map(
            tokenize_and_align_labels,
            batched=True,
            fn_kwargs={"tokenizer": tokenizer, "label2id": model.config.label2id,
                       "label_all_tokens": data_args.label_all_tokens},
            remove_columns=["sent_id", "tokens", "tags"],
        )

    # Trainer.
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"] if training_args.do_train else None,
        eval_dataset=tokenized.get("validation"),
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=token_classification_metrics(model.config.id2label, entity_scores),
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer)

    # Evaluate: word accuracy (and entity scores) on validation (--do_eval) and test (--do_predict, + predictions).
    card_metrics = []
    if training_args.do_eval:
        metrics = evaluate_and_save(trainer, tokenized["validation"], "validation")
        card_metrics += card_metrics_of("validation", metrics, data_args, entity_scores)
    if training_args.do_predict:
        prediction = trainer.predict(tokenized["test"], metric_key_prefix="test")
        metrics = {**prediction.metrics, "test_samples": len(tokenized["test"])}
        trainer.log_metrics("test", metrics)
        trainer.save_metrics("test", metrics)
        if trainer.is_world_process_zero():
            write_predictions(Path(training_args.output_dir) / "predictions.tsv", raw["test"], prediction,
                              model.config.id2label)
        card_metrics += card_metrics_of("test", metrics, data_args, entity_scores)

    # Save: tokenizer, card, upload.
    def write_card():
        write_tagger_card(training_args, model_args, data_args, trainer.model, card_metrics)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments, entity_scores: bool) -> list[CardMetric]:
    path = Path(data_args.validation_file if split == "validation" else data_args.test_file)
    return [
        CardMetric(
            metric_type="f1" if metric == "entity_f1" else "accuracy",
            name=f"{split} {data_args.label_column} {metric.replace('_', ' ')}",
            value=round(metrics[f"{split}_{metric}"], 4),
            dataset_type=path.name,
            dataset_name=path.name,
            split=f"{split} ({metrics[f'{split}_samples']:,} sentences, gold words)",
        )
        for metric in (("accuracy", "entity_f1") if entity_scores else ("accuracy",))
    ]


def write_predictions(path: Path, sentences, prediction, id2label: dict[int, str]):
    """One block per sentence: `# sent_id = ...`, then `word<TAB>predicted<TAB>gold` per word."""
    predicted, _ = word_level_sequences(prediction.predictions.argmax(-1), prediction.label_ids, id2label)
    with path.open("w", encoding="utf-8") as handle:
        for sentence, tags in zip(sentences, predicted):
            handle.write(f"# sent_id = {sentence['sent_id']}\n")
            for word, tag, gold in zip(sentence["tokens"], tags, sentence["tags"]):
                handle.write(f"{word}\t{tag}\t{gold}\n")
            handle.write("\n")


def write_tagger_card(training_args, model_args, data_args, model, card_metrics):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    use_crf, char_features = getattr(config, "use_crf", False), getattr(config, "char_features", 0)
    kind = ("Bi" if config.bidirectional else "") + config.cell_type.upper() + ("-CRF" if use_crf else "")
    description = (
        f"A {kind} sequence tagger ({config.num_layers} recurrent layer{'s' if config.num_layers > 1 else ''} of "
        f"{config.hidden_size} units per direction, {config.embedding_dim}-dimensional token embeddings"
        + (f" and {char_features} character features per token" if char_features else "")
        + (f", and Flair's contextual string features: the outputs of a forward and a backward character language "
           f"model of {config.char_lm_hidden_size} units (frozen) at each token's last and first character"
           if getattr(config, "char_lm_hidden_size", 0) else "")
        + f", {model.num_parameters():,} parameters) "
        f"for `{data_args.label_column}` labels, after the PyTorch NLP tutorial's \"Sequence Models and LSTM "
        f"Networks\" and \"Bi-LSTM CRF\". Labels: {', '.join(config.id2label[i] for i in sorted(config.id2label))}."
        + (
            f"\n\nIts backbone was pretrained as a forward and a backward language model (`{model_args.pretrained_backbone}`"
            ", ELMo's biLM, fine-tuned here with a new linear head: ULMFiT's route)."
            if model_args.pretrained_backbone
            else ""
        )
        + (
            "\n\nWith its CRF, the model's `logits` are the Viterbi max-marginals (the score of the best label "
            "sequence through each label, minus the best sequence's score): the pipeline's per-token argmax is the "
            "Viterbi path, and a score is a confidence relative to the best other path, not a marginal probability."
            if use_crf
            else ""
        )
        + "\n\nThe pipeline merges adjacent words with the same tag into one group (transformers' `group_entities`); "
        "for one tag per word, " + ("call `model.decode(...)` or " if hasattr(model, "decode") else "")
        + "use `aggregation_strategy=\"none\"` and keep each word's first token."
    )
    usage = f"""
from transformers import pipeline

tagger = pipeline("token-classification", model="{repo}", trust_remote_code=True, aggregation_strategy="first")
print(tagger("I did n't see the old man at the station ."))
# Words already split, as in CoNLL-U:
print(tagger(["I", "did", "n't", "see", "him", "."], is_split_into_words=True))
"""
    if training_args.do_train:
        training = (
            f"`scripts/train_tagger.py` of rnnformers on {Path(data_args.train_file).name}, "
            + (f"embeddings initialised from word vectors trained with `scripts/train_word_vectors.py` "
               f"({describe_word_vectors(model_args.word_vectors)})"
               + (" and kept frozen" if model_args.freeze_word_vectors else "") + ": " if model_args.word_vectors
               else f"from the pretrained backbone `{model_args.pretrained_backbone}`: " if model_args.pretrained_backbone
               else "from scratch (no pretrained embeddings): ")
            + (f"contextual features from the character language models "
               f"{' and '.join(f'`{path}`' for path in model_args.char_language_models)} (kept frozen), "
               if model_args.char_language_models else "")
            + f"learning rate {training_args.learning_rate}, batch size "
            f"{training_args.per_device_train_batch_size} per device, "
            + (f"{training_args.max_steps} steps" if training_args.max_steps > 0
               else f"{training_args.num_train_epochs:g} epochs")
            + (f", best checkpoint by validation {training_args.metric_for_best_model}"
               if training_args.load_best_model_at_end else "")
            + "."
        )
    else:
        training = not_trained_text("scripts/train_tagger.py", model_args.model_name_or_path)
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="token-classification",
            tags=["pos-tagging" if data_args.label_column in ("upos", "xpos") else "token-classification",
                  config.cell_type, *([f"bi{config.cell_type}"] if config.bidirectional else []),
                  *(["crf"] if use_crf else []), "universal-dependencies"],
            metrics=card_metrics,
            language=["en"],
        ),
    )


if __name__ == "__main__":
    main()
