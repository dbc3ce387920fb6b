"""Word vectors trained with gensim (rnnformers.training.word_vectors, scripts/train_word_vectors.py) and their use
as initial embeddings: Penn-Treebank words, pickle-free save/load for word2vec and fastText, whole words added to a
WordPiece vocabulary, rows copied by token string, the held-out part of a labelled file never read, bad input."""

import json

import numpy as np
import pytest
import torch
from datasets import Dataset
from gensim.models import KeyedVectors

from rnnformers.tokenization import train_subword_tokenizer, train_word_piece_tokenizer_for_words
from rnnformers.training.word_vectors import (
    add_words_to_word_piece,
    initialize_embeddings,
    load_word_vectors,
    save_word_vectors,
    split_words,
    train_word_vectors,
    write_corpus,
)

from conftest import load_script


@pytest.mark.parametrize(
    "text, words",
    [
        ("I don't think it's over.", ["I", "do", "n't", "think", "it", "'s", "over", "."]),
        ("We CAN'T, won't and they're sure", ["We", "CA", "N'T", ",", "wo", "n't", "and", "they", "'re", "sure"]),
        ("Great<br /><br />the U.S. e-mail...", ["Great", "the", "U.S.", "e-mail", "..."]),
        ("", []),
    ],
)
def test_split_words_cuts_text_as_ud_english_does(text, words):
    assert split_words(text) == words


def toy_texts(n=400, seed=0):
    rng = np.random.default_rng(seed)
    animals, verbs = ["dog", "cat", "horse", "bird"], ["sees", "likes", "finds"]
    return [f"the {rng.choice(animals)} {rng.choice(verbs)} the {rng.choice(animals)} ." for _ in range(n)]


@pytest.mark.parametrize("algorithm", ["word2vec", "fasttext"])
def test_vectors_round_trip_without_pickle(algorithm, tmp_path):
    corpus = tmp_path / "corpus.txt"
    assert write_corpus(toy_texts() + ["", ["a", "list", "of", "words"]], corpus) == (401, 2404)
    model = train_word_vectors(corpus, algorithm, vector_size=8, min_count=1, epochs=2, workers=1)
    path = save_word_vectors(model, tmp_path / "vectors", {"sources": ["toy"]})
    assert path.suffix == ".bin"
    loaded = load_word_vectors(tmp_path / "vectors")
    assert loaded.index_to_key[:2] == ["the", "."]  # by frequency, as the vocabulary extension expects
    np.testing.assert_allclose(loaded["horse"], model.wv["horse"], rtol=1e-6)
    info = json.loads((tmp_path / "vectors" / "word_vectors_config.json").read_text())
    assert info["algorithm"] == algorithm and info["vector_size"] == 8 and info["sources"] == ["toy"]
    if algorithm == "fasttext":  # character n-grams: a vector for a word never seen
        assert loaded["horses"].shape == (8,)


def test_write_corpus_refuses_a_corpus_without_words(tmp_path):
    with pytest.raises(ValueError, match="no word"):
        write_corpus(["", "   ", []], tmp_path / "corpus.txt")


def test_load_word_vectors_names_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(ValueError, match="--word_vectors .* not a folder written by scripts/train_word_vectors.py"):
        load_word_vectors(tmp_path)


def test_added_words_become_whole_tokens_and_keep_the_old_ids():
    tokenizer = train_word_piece_tokenizer_for_words("the dog sees the cat . horse s".split() * 20, vocab_size=40)
    before = tokenizer.get_vocab()
    assert len(tokenizer.tokenize("horses")) > 1
    added = add_words_to_word_piece(tokenizer, ["horses", "the", "two words", "##ing", "zebra"])
    assert added == 2 and len(tokenizer) == len(before) + 2
    assert tokenizer.tokenize("the horses") == ["the", "horses"]
    assert {token: tokenizer.get_vocab()[token] for token in before} == before
    encoded = tokenizer(["zebra", "sees"], is_split_into_words=True)
    assert encoded.word_ids() == [0, 1]


def test_added_words_need_a_word_piece_tokenizer():
    tokenizer = train_subword_tokenizer(["some text to train on"] * 5, algorithm="bpe", vocab_size=300)
    with pytest.raises(ValueError, match="WordPiece"):
        add_words_to_word_piece(tokenizer, ["word"])


def keyed_vectors(table: dict) -> KeyedVectors:
    vectors = KeyedVectors(vector_size=len(next(iter(table.values()))))
    vectors.add_vectors(list(table), np.asarray(list(table.values()), dtype=np.float32))
    return vectors


def test_initialize_embeddings_copies_rows_by_token_string_at_the_embedding_scale():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(6, 4, padding_idx=0)
    torch.nn.init.normal_(embedding.weight, std=0.1)
    untouched = embedding.weight.detach().clone()
    vectors = keyed_vectors({"<pad>": [9, 9, 9, 9], "dog": [1, 2, 3, 4], "ing": [4, 3, 2, 1], "cat": [2, 2, 2, 2]})
    rows = initialize_embeddings(embedding, ["<pad>", "<unk>", "dog", "##ing", "horse", "cat"], vectors, skip_ids=[0])
    assert rows == 3
    weight = embedding.weight.detach()
    torch.testing.assert_close(weight[[0, 1, 4]], untouched[[0, 1, 4]])  # padding, and tokens without a vector
    # Directions kept, one common scale chosen so that the copied rows have the random rows' spread.
    cosine = torch.nn.functional.cosine_similarity(weight[2], torch.tensor([1.0, 2, 3, 4]), dim=0)
    assert cosine.item() == pytest.approx(1.0)
    torch.testing.assert_close(weight[2] / torch.tensor([1.0, 2, 3, 4]), weight[5] / torch.tensor([2.0, 2, 2, 2]))
    assert weight[[2, 3, 5]].std().item() == pytest.approx(untouched.std().item(), rel=1e-5)


def test_initialize_embeddings_names_a_size_mismatch():
    with pytest.raises(ValueError, match="4 dimensions but the model's embedding_dim is 8: set embedding_dim=4"):
        initialize_embeddings(torch.nn.Embedding(3, 8), ["a", "b", "c"], keyed_vectors({"a": [1, 2, 3, 4]}))


def test_script_reads_only_the_training_part_of_a_labelled_file(tmp_path):
    texts = [f"{text} review{index}" for index, text in enumerate(toy_texts(100))]  # unique texts
    # The validation reviews (20%, seed 42) carry a word of their own: it must not get a vector.
    table = Dataset.from_dict({"text": texts, "label": [0, 1] * 50})
    split = table.train_test_split(train_size=0.8, seed=42)
    marked = {text: text + " heldoutword" for text in split["test"]["text"]}
    table = table.map(lambda row: {"text": marked.get(row["text"], row["text"])})
    assert sum("heldoutword" in text for text in table["text"]) >= 20
    table.to_parquet(tmp_path / "labelled.parquet")
    (tmp_path / "extra.txt").write_text("the zebra likes the dog .\n" * 10)
    vectors = load_script("train_word_vectors.py").main([
        "--output_dir", str(tmp_path / "out"), "--train_file", str(tmp_path / "labelled.parquet"),
        "--extra_train_files", str(tmp_path / "extra.txt"), "--vector_size", "8", "--min_count", "1",
        "--epochs", "1", "--workers", "1",
    ])
    assert "zebra" in vectors.key_to_index and "heldoutword" not in vectors.key_to_index
    info = json.loads((tmp_path / "out" / "word_vectors_config.json").read_text())
    assert info["texts"] == 80 + 10 and info["sources"] == [str(tmp_path / "labelled.parquet"),
                                                            str(tmp_path / "extra.txt")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algorithm", "glove"], "--algorithm must be one of word2vec, fasttext"),
        ([], "no text: give --train_file, --dataset_name or --extra_train_files"),
        (["--extra_train_files", "x.txt", "--vector_size", "0"], "--vector_size must be at least 1"),
    ],
)
def test_script_names_bad_arguments(args, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        load_script("train_word_vectors.py").main(["--output_dir", str(tmp_path), *args])


def test_script_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="--extra_train_files .*missing.txt.* does not exist"):
        load_script("train_word_vectors.py").main(["--output_dir", str(tmp_path), "--extra_train_files", str(tmp_path / "missing.txt")])
