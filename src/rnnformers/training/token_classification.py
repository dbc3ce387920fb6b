"""Token classification support: CoNLL-U files as `datasets`, label maps, sub-word label alignment and the metrics.

CoNLL-U (Universal Dependencies) is read with the `conllu` package. As UD defines the format, a sentence's *words* are
its lines with an integer id: a multiword-token line (`1-2  Elena's`) names the surface token that words 1 and 2 came
from and carries no annotation, and an empty node (`8.1`) is an extra node of the enhanced graph, not a word of the
sentence; both are skipped, so `tokens` and the tags are the syntactic words, as UD's own evaluation counts them.
"""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import conllu
import numpy as np
from datasets import Dataset


BIO_PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")


def _word_label(word: dict, label_column: str):
    if label_column.startswith("misc:"):
        return (word.get("misc") or {}).get(label_column.split(":", 1)[1])
    return word.get(label_column)


def read_conllu(path: str | Path, label_column: str | None = "upos") -> Dataset:
    """Reads a CoNLL-U file into a `Dataset` with columns `sent_id`, `tokens` (the words) and `tags` (their labels).

    Args:
        path: the `.conllu` file.
        label_column: the CoNLL-U field holding each word's label: `upos`, `xpos`, `deprel`, ..., or `misc:<Key>`
            for a `Key=value` of the MISC column (e.g. `misc:NER` for BIO entity tags kept there). None: the words
            only (a corpus; `tags` are then empty lists).

    Raises:
        ValueError: the file is missing or holds no sentence, a sentence has no word (an empty sentence), or a word
            has no value in `label_column`; the message names the file and the sentence.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"CoNLL-U file not found: {path}")
    if label_column not in (None, "form", "lemma", "upos", "xpos", "deprel") and not label_column.startswith("misc:"):
        raise ValueError(
            f"`label_column` must be one of form, lemma, upos, xpos, deprel or misc:<Key>, got {label_column!r}."
        )
    rows = {"sent_id": [], "tokens": [], "tags": []}
    with path.open(encoding="utf-8") as handle:
        for index, sentence in enumerate(conllu.parse_incr(handle)):
            sent_id = sentence.metadata.get("sent_id", f"#{index + 1}")
            # Integer ids are the words; tuples are multiword-token ranges (1, '-', 2) and empty nodes (8, '.', 1).
            words = [word for word in sentence if isinstance(word["id"], int)]
            if not words:
                raise ValueError(f"{path}: sentence {sent_id} has no words (an empty sentence).")
            tags = [_word_label(word, label_column) for word in words] if label_column is not None else []
            missing = [word["form"] for word, tag in zip(words, tags) if tag in (None, "_")]
            if missing:
                raise ValueError(
                    f"{path}: sentence {sent_id}: words {missing[:5]} have no {label_column!r} value."
                )
            rows["sent_id"].append(sent_id)
            rows["tokens"].append([word["form"] for word in words])
            rows["tags"].append([str(tag) for tag in tags])
    if not rows["tokens"]:
        raise ValueError(f"{path} holds no sentence.")
    return Dataset.from_dict(rows)


def label_list(*datasets: Dataset) -> list[str]:
    """The sorted set of tags of the `tags` column of `datasets` (the training data's tag set, typically)."""
    return sorted({tag for dataset in datasets for tags in dataset["tags"] for tag in tags})


def is_bio_scheme(labels: Iterable[str]) -> bool:
    """Whether the labels are entity tags in a BIO-like scheme (`O`, `B-PER`, `I-PER`, ...), which seqeval scores."""
    labels = list(labels)
    return any(label != "O" for label in labels) and all(
        label == "O" or label.startswith(BIO_PREFIXES) for label in labels
    )


def check_labels(dataset: Dataset, label2id: dict[str, int], source: str):
    """Raises a ValueError naming `source` if `dataset` has a tag outside `label2id` (e.g. the model's tag set)."""
    unknown = sorted({tag for tags in dataset["tags"] for tag in tags} - set(label2id))
    if unknown:
        raise ValueError(
            f"{source} has labels the model does not know: {unknown[:10]} (the model's labels are "
            f"{sorted(label2id)[:20]}): train a new model with this data, or map these labels first."
        )


def tokenize_and_align_labels(examples: dict, tokenizer, label2id: dict[str, int], label_all_tokens: bool = False):
    """`Dataset.map(batched=True)` function: tokenises `tokens` as pre-split words and aligns `tags` to the tokens.

    Each word's first token gets the word's label id; its other tokens get -100 (ignored by the loss and the metrics)
    or, with `label_all_tokens=True`, the word's label too; special tokens get -100. A word the tokenizer turns into
    no token at all would lose its label silently, so it raises a ValueError instead.
    """
    words = [list(sentence) for sentence in examples["tokens"]]
    encoding = tokenizer(words, is_split_into_words=True)
    all_labels = []
    for row, tags in enumerate(examples["tags"]):
        word_ids = encoding.word_ids(row)
        labels, previous = [], None
        for word_id in word_ids:
            if word_id is None:
                labels.append(-100)
            elif word_id != previous:
                labels.append(label2id[tags[word_id]])
            else:
                labels.append(label2id[tags[word_id]] if label_all_tokens else -100)
            previous = word_id
        if len({w for w in word_ids if w is not None}) != len(tags):
            lost = sorted(set(range(len(tags))) - set(word_ids))
            raise ValueError(
                f"the tokenizer makes no token of the words {[words[row][i] for i in lost]!r}: their labels would be "
                "lost."
            )
        all_labels.append(labels)
    encoding["labels"] = all_labels
    return encoding


def token_texts(tokenizer) -> list[str]:
    """Each token id's text as it appears in a sentence of pre-split words: a space and the token for a word's first
    token, the piece without its continuation prefix (WordPiece's `##`) for the others, a lone space for the unknown
    token (a word, unreadable) and nothing for other special tokens. What the tagger's contextual character features
    rebuild a sentence's characters from (`RNNTaggerModel.set_char_language_models`)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    model = json.loads(backend.to_str())["model"] if backend is not None else {}
    if model.get("type") not in ("WordPiece", "WordLevel"):
        # A byte-level BPE writes "Ġword", a SentencePiece "▁word": their tokens are not the text they stand for.
        raise ValueError(
            f"the tokenizer {tokenizer.name_or_path!r} is a {model.get('type') or type(tokenizer).__name__} tokenizer: "
            "contextual string features rebuild a sentence from WordPiece or word-level tokens only (the tagger's own "
            "tokenizer; drop --tokenizer_name)."
        )
    prefix = model.get("continuing_subword_prefix")
    special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
    texts = []
    for token_id, token in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if token_id in special:
            texts.append("")
        elif token_id == tokenizer.unk_token_id:
            texts.append(" ")
        elif prefix and token.startswith(prefix):
            texts.append(token[len(prefix) :])
        else:
            texts.append(" " + token)
    return texts


def word_level_sequences(predictions: np.ndarray, label_ids: np.ndarray, id2label: dict[int, str]):
    """[batch, time] predicted and reference label ids → lists of label names at the labelled (≠ -100) tokens."""
    predicted, reference = [], []
    for prediction_row, label_row in zip(predictions, label_ids):
        keep = label_row != -100
        predicted.append([id2label[int(i)] for i in prediction_row[keep]])
        reference.append([id2label[int(i)] for i in label_row[keep]])
    return predicted, reference


def token_classification_metrics(id2label: dict[int, str], entity_scores: bool):
    """A `compute_metrics` for `Trainer`: accuracy over the labelled tokens (one per word), and with
    `entity_scores=True` seqeval's entity precision / recall / F1 (BIO tags, CoNLL-style evaluation)."""

    def compute_metrics(eval_prediction) -> dict:
        logits, label_ids = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        predictions = np.argmax(logits, axis=-1)
        labelled = label_ids != -100
        metrics = {"accuracy": float((predictions[labelled] == label_ids[labelled]).mean())}
        if entity_scores:
            from seqeval.metrics import f1_score, precision_score, recall_score

            predicted, reference = word_level_sequences(predictions, label_ids, id2label)
            metrics.update(
                entity_precision=float(precision_score(reference, predicted, zero_division=0)),
                entity_recall=float(recall_score(reference, predicted, zero_division=0)),
                entity_f1=float(f1_score(reference, predicted, zero_division=0)),
            )
        return metrics

    return compute_metrics


def pad_to_same_length(sequences: Sequence[Sequence[int]], value: int) -> np.ndarray:
    """Right-pads lists of ids into one [rows, longest] array (e.g. for evaluating outside `Trainer`)."""
    longest = max(len(row) for row in sequences)
    return np.array([list(row) + [value] * (longest - len(row)) for row in sequences])


__all__ = [
    "check_labels",
    "is_bio_scheme",
    "label_list",
    "read_conllu",
    "token_classification_metrics",
    "token_texts",
    "tokenize_and_align_labels",
    "word_level_sequences",
]
