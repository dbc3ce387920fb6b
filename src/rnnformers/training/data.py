"""Data loading and splits for every task, shared by the scripts, their tests and the benchmarks.

One function per task decides which rows go where, so that the tokenizer, training and evaluation scripts of a task
all see the same split:

- char-RNN: `load_text` → `split_text` (contiguous parts) → `char_windows`;
- sentiment: `load_sentiment_splits` (empty texts dropped first, then `train_test_split(seed)`);
- language-model pretraining of the classifier's backbone: `load_language_model_texts` (the sentiment training part
  and unlabelled texts; held-out unlabelled texts for the perplexity);
- translation: `load_pairs` → `split_by_source` (all translations of a sentence in one part).
"""

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, concatenate_datasets, load_dataset

from rnnformers.training.token_classification import read_conllu


# Bundled corpora, relative to the repository root (the scripts' working directory).
BUNDLED_SHAKESPEARE = "../shared/data/tinyshakespeare/input.txt"
BUNDLED_SPA_ENG = "../shared/data/spa-eng/spa-eng.tsv"

FILE_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text"}
# Files of several texts in named columns (`load_text` reads a .txt file as one text).
TABLE_SUFFIXES = (".parquet", ".csv", ".json", ".jsonl")


def check_data_file(path: str, argument: str, suffixes: tuple[str, ...] | None = tuple(FILE_BUILDERS)) -> Path:
    """`path` as a `Path`, or a `ValueError` naming `argument` if it is missing, empty or not one of `suffixes` (None:
    any)."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{argument} {path!r} does not exist.")
    if suffixes is not None and file.suffix not in suffixes:
        raise ValueError(f"{argument} must be one of {', '.join(suffixes)}, got {file.name!r}.")
    if file.stat().st_size == 0:
        raise ValueError(f"{argument} {path!r} is empty.")
    return file


def load_data_file(path: str, argument: str, suffixes=tuple(FILE_BUILDERS)) -> DatasetDict:
    """A parquet / csv / json / jsonl / txt file loaded through `datasets` as one "train" split."""
    file = check_data_file(path, argument, suffixes)
    return load_dataset(FILE_BUILDERS[file.suffix], data_files={"train": str(file)})


def load_text_column(path: str, text_column: str, argument: str) -> Dataset:
    """The `text_column` of a parquet / csv / json / txt file (a .txt file: one text per line, column "text"), as a
    one-column `Dataset`; a `ValueError` naming `argument` or `--text_column` when the file or the column is missing.
    A CoNLL-U file gives one text per sentence: its words joined by spaces, as a tagger reads them (no annotation
    needed)."""
    check_data_file(path, argument, (*FILE_BUILDERS, ".conllu"))
    if Path(path).suffix == ".conllu":
        # The words only: a corpus needs no annotation.
        sentences = read_conllu(path, label_column=None)["tokens"]
        return Dataset.from_dict({text_column: [" ".join(words) for words in sentences]})
    table = load_data_file(path, argument)["train"]
    if text_column not in table.column_names:
        raise ValueError(f"--text_column {text_column!r} is not a column of {path} (columns: {table.column_names}).")
    return table.select_columns([text_column])


# char-RNN ------------------------------------------------------------------------------------------------------------


def load_text(train_file: str | None = None, dataset_name: str | None = None, dataset_config_name: str | None = None,
              text_column: str = "text", argument: str = "--train_file") -> str:
    """The whole corpus as one string, loaded through `datasets`: a Hub dataset's `text_column` joined with newlines,
    a parquet / csv / json file's `text_column` (a CoNLL-U file's sentences) joined with newlines, or a text file read
    as it is (default: the bundled Tiny Shakespeare). Errors about the file name `argument`."""
    if dataset_name is not None:
        raw = load_dataset(dataset_name, dataset_config_name)
        parts = []
        for split in raw.values():
            if text_column not in split.column_names:
                raise ValueError(
                    f"--text_column {text_column!r} is not a column of {dataset_name} (columns: {split.column_names})."
                )
            parts.extend(split[text_column])
        text = "\n".join(parts)
    elif train_file is not None and Path(train_file).suffix in (*TABLE_SUFFIXES, ".conllu"):
        # A table's `text_column` (a CoNLL-U file: its sentences' words), one text per line.
        text = "\n".join(load_text_column(train_file, text_column, argument)[text_column])
    else:
        file = check_data_file(train_file or BUNDLED_SHAKESPEARE, argument, suffixes=None)
        text = "".join(load_dataset("text", data_files={"train": str(file)}, sample_by="document")["train"]["text"])
    if not text.strip():
        raise ValueError(f"{dataset_name or train_file or BUNDLED_SHAKESPEARE} holds no text.")
    return text


def split_text(text: str, validation_fraction: float = 0.05, test_fraction: float = 0.05) -> dict[str, str]:
    """Cuts one long text into contiguous train / validation / test parts (the chapter: 90% / 5% / 5%).

    Contiguous parts, not shuffled windows, so no validation character was seen in a training window.
    """
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"`{name}` must be in [0, 1), got {value}.")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("`validation_fraction` + `test_fraction` must leave some text for training.")
    train_end = round(len(text) * (1 - validation_fraction - test_fraction))
    validation_end = round(len(text) * (1 - test_fraction))
    parts = {"train": text[:train_end], "validation": text[train_end:validation_end], "test": text[validation_end:]}
    return {name: part for name, part in parts.items() if part}


def encode_characters(tokenizer, text: str, chunk_length: int = 1_000_000) -> np.ndarray:
    """The ids of a long text under a character-level tokenizer (one token per character), as int32.

    Encoded `chunk_length` characters at a time: one call on a text of tens of millions of characters builds an
    `Encoding` (offsets, masks, ...) of many gigabytes. Cutting between characters changes nothing for a tokenizer
    whose tokens are single characters.
    """
    chunks = [text[start : start + chunk_length] for start in range(0, len(text), chunk_length)]
    encoded = [np.asarray(tokenizer(chunk, add_special_tokens=False)["input_ids"], dtype=np.int32) for chunk in chunks]
    return np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.int32)


def char_windows(token_ids: list[int] | np.ndarray, window_length: int, stride: int) -> Dataset:
    """Every `stride`-th window of `window_length + 1` tokens, as a `Dataset` with `input_ids` and `labels`.

    A row holds `window_length + 1` tokens because the model shifts `labels` inside: it reads the first
    `window_length` tokens and predicts the `window_length` next ones, the chapter's (window, target) pair.
    """
    if window_length < 1:
        raise ValueError(f"`window_length` must be at least 1, got {window_length}.")
    if stride < 1:
        raise ValueError(f"`stride` must be at least 1, got {stride}.")
    ids = np.asarray(token_ids, dtype=np.int32)
    if len(ids) < window_length + 1:
        raise ValueError(f"the text has {len(ids)} tokens, fewer than one window of {window_length + 1}.")
    windows = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(ids, window_length + 1)[::stride])
    # Straight to an Arrow fixed-size-list column (seconds for the million windows of the chapter's stride of 1,
    # where `Dataset.from_dict` would go through Python lists); `labels` shares the buffer of `input_ids`.
    column = pa.FixedSizeListArray.from_arrays(pa.array(windows.ravel()), window_length + 1)
    return Dataset(pa.table({"input_ids": column, "labels": column}))


# Sentiment -----------------------------------------------------------------------------------------------------------


def load_sentiment_splits(
    train_file: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    text_column: str = "text",
    label_column: str | None = "label",
    validation_split_percentage: float = 20.0,
    split_seed: int = 42,
) -> DatasetDict:
    """Train / validation (and test, when the dataset has one) splits of labelled texts, through `datasets`.

    Empty texts are dropped first (they have no token to read), then the training split is cut with
    `train_test_split(train_size=1 - validation_split_percentage / 100, seed=split_seed)`, as in the chapter (80/20,
    seed 42).
    `train_tokenizer.py`, `train_sentiment.py` and `evaluate_sentiment.py` all call this, so they agree on which text
    is a validation text. `label_column=None` loads texts alone (a tokenizer needs no labels); a `.txt` file is one
    text per line. `validation_split_percentage=0` keeps every text for training.
    """
    if not 0 <= validation_split_percentage < 100:
        raise ValueError(f"--validation_split_percentage must be in [0, 100), got {validation_split_percentage}.")
    if train_file is not None:
        raw = load_data_file(train_file, "--train_file")
        source = Path(train_file).name
    else:
        raw = load_dataset(dataset_name, dataset_config_name)
        source = dataset_name
    columns = [text_column] + ([label_column] if label_column else [])
    for name, split in raw.items():
        missing = set(columns) - set(split.column_names)
        if missing:
            raise ValueError(f"{source} ({name}) has no column {sorted(missing)}; columns: {split.column_names}.")
    raw = raw.select_columns(columns)
    raw = raw.filter(lambda text: isinstance(text, str) and text.strip() != "", input_columns=text_column)
    if len(raw["train"]) == 0:
        raise ValueError(f"{source} holds no non-empty text in column {text_column!r}.")

    splits = DatasetDict(train=raw["train"])
    if validation_split_percentage > 0:
        split = raw["train"].train_test_split(train_size=1 - validation_split_percentage / 100, seed=split_seed)
        splits = DatasetDict(train=split["train"], validation=split["test"])
    if "test" in raw:
        splits["test"] = raw["test"]
    return splits


def check_labels(splits: DatasetDict, label_column: str, num_labels: int, source: str) -> None:
    """Every label of every split is an integer class id in `[0, num_labels)`; checked before any training, so that a
    bad label in the validation part is not found after hours of training (or, worse, scored)."""
    for name, split in splits.items():
        feature = split.features[label_column]
        dtype = getattr(feature, "dtype", None)
        if not isinstance(feature, ClassLabel) and dtype not in ("int8", "int16", "int32", "int64", "uint8"):
            raise ValueError(
                f"{source} ({name}): the labels of column {label_column!r} must be integer class ids, got {dtype} "
                "values (text, or empty cells read as NaN?)."
            )
        labels = np.asarray(split[label_column])
        if len(labels) and (labels.min() < 0 or labels.max() >= num_labels):
            bad = sorted({int(label) for label in labels if not 0 <= label < num_labels})
            raise ValueError(
                f"{source} ({name}): labels {bad[:10]} are not class ids of the {num_labels} classes "
                f"(0 to {num_labels - 1})."
            )


def load_language_model_texts(
    train_file: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    extra_train_files: list[str] | tuple[str, ...] = (),
    text_column: str = "text",
    validation_split_percentage: float = 20.0,
    held_out_percentage: float = 2.0,
    split_seed: int = 42,
    unlabelled_split: str = "unsupervised",
) -> DatasetDict:
    """Texts for pretraining a classifier's backbone as a language model, and held-out texts for its perplexity.

    - "train": the labelled set's *training part* only, exactly the texts `train_sentiment.py` trains on
      (`load_sentiment_splits` with the same percentage and seed: no validation review is ever read), plus the
      unlabelled texts: `extra_train_files` (parquet / csv / json / txt, column `text_column`) and the dataset's
      `unlabelled_split` when `dataset_name` has one (IMDb's "unsupervised" reviews);
    - "validation": `held_out_percentage` of the unlabelled texts (seed `split_seed`), left out of "train" (of all texts
      when there are no unlabelled ones).
    Empty texts are dropped. One column, `text`.
    """
    if not 0 < held_out_percentage < 100:
        raise ValueError(f"--held_out_percentage must be in (0, 100), got {held_out_percentage}.")
    labelled = unlabelled = None
    if train_file is not None or dataset_name is not None:
        labelled = load_sentiment_splits(train_file, dataset_name, dataset_config_name, text_column, None,
                                         validation_split_percentage, split_seed)["train"]
    parts = []
    if dataset_name is not None and train_file is None:
        raw = load_dataset(dataset_name, dataset_config_name)
        if unlabelled_split in raw:
            parts.append(raw[unlabelled_split].select_columns([text_column]))
    parts += [load_text_column(path, text_column, "--extra_train_files") for path in extra_train_files]
    if parts:
        unlabelled = concatenate_datasets(parts).filter(
            lambda text: isinstance(text, str) and text.strip() != "", input_columns=text_column
        )
    if labelled is None and (unlabelled is None or len(unlabelled) == 0):
        raise ValueError("no text to train a language model on: give --train_file, --dataset_name or "
                         "--extra_train_files with non-empty texts.")
    pool = unlabelled if unlabelled is not None and len(unlabelled) > 1 else labelled
    split = pool.train_test_split(test_size=held_out_percentage / 100, seed=split_seed)
    train = [split["train"]] + ([labelled] if pool is unlabelled and labelled is not None else [])
    texts = DatasetDict(train=concatenate_datasets(train), validation=split["test"])
    return texts.rename_column(text_column, "text") if text_column != "text" else texts


# Translation ---------------------------------------------------------------------------------------------------------


def load_pairs(train_file: str | None = None, dataset_name: str | None = None, dataset_config_name: str | None = None,
               dataset_split: str = "train", source_column: str = "en", target_column: str = "es") -> Dataset:
    """All (source, target) pairs with both sides non-empty, through `datasets`, as columns `source` and `target`:
    a Hub dataset's split, or a TSV of source TAB target lines (default: the bundled English–Spanish pairs)."""
    if dataset_name is not None:
        raw = load_dataset(dataset_name, dataset_config_name, split=dataset_split)
    else:
        file = check_data_file(train_file or BUNDLED_SPA_ENG, "--train_file", suffixes=None)
        # Tatoeba text holds quotes: read the TSV literally, without CSV quoting rules.
        raw = load_dataset("csv", data_files={"train": str(file)}, split="train", delimiter="\t",
                           column_names=[source_column, target_column], quoting=csv.QUOTE_NONE, usecols=[0, 1])
    for column in (source_column, target_column):
        if column not in raw.column_names:
            raise ValueError(f"column {column!r} not in the data (columns: {raw.column_names}).")
    raw = raw.select_columns([source_column, target_column])
    raw = raw.rename_columns({source_column: "source", target_column: "target"})
    return raw.filter(lambda row: all(row[column] and row[column].strip() for column in ("source", "target")))


def split_by_source(pairs: Dataset, validation_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
    """Train pairs, and validation/test *sources* with all their translations as `references`.

    The distinct source sentences are shuffled with `seed` and cut into train / validation / test, so a source and all
    its translations fall in one part. Validation and test rows hold `source`, `target` (the first translation, for
    the loss and the single-reference scores) and `references` (every translation in the data).
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
            rows = parts[name].tolist()
            splits[name] = Dataset.from_dict({
                "source": rows,
                "target": [translations[s][0] for s in rows],
                "references": [translations[s] for s in rows],
            })
    return splits


__all__ = [
    "BUNDLED_SHAKESPEARE",
    "BUNDLED_SPA_ENG",
    "char_windows",
    "check_data_file",
    "check_labels",
    "encode_characters",
    "load_data_file",
    "load_pairs",
    "load_sentiment_splits",
    "load_text",
    "split_by_source",
    "split_text",
]
