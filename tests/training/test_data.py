"""Data loading and splits shared by the scripts (rnnformers.training.data), and their errors for bad input."""

import math

import pytest
from datasets import Dataset

from rnnformers.tokenization import build_char_tokenizer, train_subword_tokenizer
from rnnformers.training.data import check_labels, load_pairs, load_sentiment_splits, load_text, load_text_column


def write(tmp_path, name, rows):
    path = tmp_path / name
    Dataset.from_dict(rows).to_parquet(path) if name.endswith(".parquet") else path.write_text(rows)
    return path


def test_sentiment_split_drops_empty_texts_before_splitting(tmp_path):
    texts = [f"review number {i}" for i in range(50)]
    with_empty = texts[:10] + ["", "   "] + texts[10:]
    clean = load_sentiment_splits(str(write(tmp_path, "clean.parquet", {"text": texts, "label": [0, 1] * 25})))
    labels = [i % 2 for i in range(50)]
    dirty = load_sentiment_splits(str(write(tmp_path, "dirty.parquet",
                                            {"text": with_empty, "label": labels[:10] + [0, 1] + labels[10:]})))
    # The empty rows change nothing: the same texts land in the same parts.
    assert dirty["validation"]["text"] == clean["validation"]["text"] and len(clean["validation"]) == 10
    assert dirty["train"]["text"] == clean["train"]["text"]
    assert list(load_sentiment_splits(str(tmp_path / "clean.parquet"), validation_split_percentage=0)) == ["train"]


def test_bad_labels_are_named_with_their_split(tmp_path):
    splits = load_sentiment_splits(str(write(tmp_path, "l.parquet", {"text": ["a", "b", "c"], "label": ["x", "y", "x"]})),
                                   validation_split_percentage=0)
    with pytest.raises(ValueError, match=r"l.parquet \(train\): the labels of column 'label' must be integer class "
                                         r"ids, got string"):
        check_labels(splits, "label", 2, "l.parquet")
    nan = load_sentiment_splits(str(write(tmp_path, "n.parquet", {"text": ["a", "b"], "label": [1.0, math.nan]})),
                                validation_split_percentage=0)
    with pytest.raises(ValueError, match="got float64 values"):
        check_labels(nan, "label", 2, "n.parquet")
    out_of_range = load_sentiment_splits(str(write(tmp_path, "o.parquet", {"text": ["a", "b"], "label": [0, 2]})),
                                         validation_split_percentage=0)
    with pytest.raises(ValueError, match=r"labels \[2\] are not class ids of the 2 classes"):
        check_labels(out_of_range, "label", 2, "o.parquet")
    check_labels(out_of_range, "label", 3, "o.parquet")


def test_empty_or_missing_files_and_texts_give_clear_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="--train_file '.*empty.txt' is empty"):
        load_sentiment_splits(str(tmp_path / "empty.txt"), label_column=None)
    with pytest.raises(ValueError, match="--train_file '.*empty.txt' is empty"):
        load_text(str(tmp_path / "empty.txt"))
    with pytest.raises(ValueError, match="--train_file '.*nope.tsv' does not exist"):
        load_pairs(str(tmp_path / "nope.tsv"))
    blank = write(tmp_path, "blank.parquet", {"text": ["", "  "], "label": [0, 1]})
    with pytest.raises(ValueError, match="holds no non-empty text in column 'text'"):
        load_sentiment_splits(str(blank))
    with pytest.raises(ValueError, match="no text to train the tokenizer on"):
        train_subword_tokenizer([])
    with pytest.raises(ValueError, match="no text to train the tokenizer on"):
        train_subword_tokenizer(["", "   "], algorithm="wordpiece")
    with pytest.raises(ValueError, match="no characters"):
        build_char_tokenizer("")


def test_a_conllu_file_gives_one_text_per_sentence_of_its_words(tmp_path):
    # Multiword-token lines (1-2) and empty nodes (3.1) are not words: the text is the syntactic words, as a tagger
    # reads them.
    path = tmp_path / "two.conllu"
    path.write_text(
        "# sent_id = a\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_\n"
        "2\tn't\tnot\tPART\t_\t_\t1\tadvmod\t_\t_\n3\tgo\tgo\tVERB\t_\t_\t1\txcomp\t_\t_\n"
        "3.1\tgo\tgo\tVERB\t_\t_\t_\t_\t_\t_\n\n"
        # No UPOS (a corpus needs no annotation), and "_" as a word, as EWT has it.
        "# sent_id = b\n1\tYes\tyes\t_\t_\t_\t0\troot\t_\t_\n2\t_\t_\tSYM\t_\t_\t1\tdep\t_\t_\n\n",
        encoding="utf-8",
    )
    assert load_text_column(str(path), "text", "--extra_train_files")["text"] == ["do n't go", "Yes _"]
    with pytest.raises(ValueError, match="--extra_train_files .*does not exist"):
        load_text_column(str(tmp_path / "missing.conllu"), "text", "--extra_train_files")
    (tmp_path / "notes.docx").write_text("x")
    with pytest.raises(ValueError, match=r"--extra_train_files must be one of .*\.conllu"):
        load_text_column(str(tmp_path / "notes.docx"), "text", "--extra_train_files")
