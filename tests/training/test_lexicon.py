"""Lexicon features (rnnformers.training.lexicon, train_word_vectors.py --lexicon_features): casing and frequency
from spaCy's log-probabilities, Brown-cluster paths and prefix codes, the words added beside the vectors, the real
tables of the installed package, bad input."""

import gzip
import json

import numpy as np
import pytest
from gensim.models import KeyedVectors

from rnnformers.training.lexicon import (
    ADDED_DIMENSIONS,
    CLUSTER_PATH_BITS,
    LEXICON_FEATURES,
    Lexicon,
    add_lexicon_features,
    prefix_code,
)
from rnnformers.training.word_vectors import describe_word_vectors, load_word_vectors

from conftest import load_script


# spaCy's format: a path "b0 b1 b2 ..." of the cluster tree is stored reversed, as int("... b2 b1 b0", 2).
def cluster(path: str) -> int:
    return int(path[::-1], 2)


TOY_CLUSTERS = {"dog": cluster("0110"), "cat": cluster("0111"), "run": cluster("1011"), "Kirkuk": cluster("0010")}
TOY_LOG_PROBS = {"the": -3.0, "dog": -9.0, "cat": -9.5, "run": -8.0, "Kirkuk": -12.0, "sources": -10.0,
                 "Sources": -12.0, "IPO": -11.0, "ipo": -15.0}


def write_tables(folder, clusters=TOY_CLUSTERS, log_probs=TOY_LOG_PROBS):
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in [("en_lexeme_cluster", clusters), ("en_lexeme_prob", log_probs),
                        ("en_lexeme_settings", {"oov_prob": -20.0})]:
        with gzip.open(folder / f"{name}.json.gz", "wt", encoding="utf-8") as handle:
            json.dump(table, handle)
    return folder


def test_features_tell_casing_frequency_and_cluster_path(tmp_path):
    lexicon = Lexicon.load(write_tables(tmp_path / "lexicon"))
    assert lexicon.oov_log_prob == -20.0
    features = {word: lexicon.features(word) for word in ["Kirkuk", "Sources", "dog", "cat", "run", "zzz"]}
    assert all(f.shape == (LEXICON_FEATURES,) and f.dtype == np.float32 for f in features.values())
    # Log-probabilities above the unknown word's, as written / lower / Title / UPPER, scaled by 1/5.
    np.testing.assert_allclose(features["Sources"][:4], [8 / 5, 10 / 5, 8 / 5, 0])
    np.testing.assert_allclose(features["zzz"][:9], [0, 0, 0, 0, 0, 0, 0, -1, -1])
    # Casing shares (centred): `Kirkuk` is only ever capitalised, `sources` mostly lower-cased.
    shares = {word: features[word][4:7] + 1 / 3 for word in ["Kirkuk", "Sources"]}
    np.testing.assert_allclose(shares["Kirkuk"], [0, 1, 0], atol=1e-3)  # unseen casings: the unknown word's
    assert shares["Sources"][0] > 0.8 and shares["Sources"].sum() == pytest.approx(1)
    # In the lexicon / has a cluster; `Sources` has no cluster of its own.
    assert list(features["dog"][7:9]) == [1, 1] and list(features["Sources"][7:9]) == [1, -1]
    # The path's first branches, ±1, then the prefix codes: dog (0110) and cat (0111) share prefixes up to 3 bits.
    path_bits = slice(9, 9 + CLUSTER_PATH_BITS)
    assert list(features["dog"][path_bits][:4]) == [-1, 1, 1, -1]
    codes = {word: features[word][9 + CLUSTER_PATH_BITS:].reshape(-1, 8) for word in ["dog", "cat", "run"]}
    np.testing.assert_array_equal(codes["dog"][0], codes["cat"][0])  # 2-bit prefix 01
    assert not np.allclose(codes["dog"][1], codes["cat"][1])  # 4-bit prefixes 0110 and 0111
    assert not np.allclose(codes["dog"][0], codes["run"][0])  # 01 and 10
    np.testing.assert_array_equal(codes["dog"][0], prefix_code(2, cluster("01")).astype(np.float32))


def test_added_words_and_columns(tmp_path):
    lexicon = Lexicon.load(write_tables(tmp_path / "lexicon"))
    assert lexicon.most_probable(3) == ["the", "run", "dog"]
    vectors = KeyedVectors(4)
    vectors.add_vectors(["dog", "movie"], np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32))
    result = add_lexicon_features(vectors, lexicon, lexicon_words=3)
    assert result.index_to_key == ["dog", "movie", "the", "run"]  # the vectors' words first, then the lexicon's
    assert result.vector_size == 4 + ADDED_DIMENSIONS
    scale = vectors.vectors.std()
    np.testing.assert_allclose(result.vectors[:, 0], [scale, scale, -scale, -scale], rtol=1e-6)
    np.testing.assert_array_equal(result.vectors[:2, 1:5], vectors.vectors)
    np.testing.assert_array_equal(result.vectors[2:, 1:5], 0)
    lexicon_columns = result.vectors[:, 5:]
    varying = lexicon_columns.std(0) > 0
    np.testing.assert_allclose(lexicon_columns[:, varying].std(0), scale, rtol=1e-3)
    np.testing.assert_allclose(lexicon_columns.mean(0), 0, atol=1e-5)


def test_the_installed_package_tables():
    lexicon = Lexicon.load()
    assert len(lexicon.log_probs) > 900_000
    the, name, zzz = (lexicon.features(word) for word in ["the", "Kirkuk", "qzxqzxqzx"])
    assert the[0] > name[0] > zzz[0] == 0
    assert name[5] > name[4]  # capitalised more often than not


def test_a_missing_package_is_named(monkeypatch):
    monkeypatch.setattr("rnnformers.training.lexicon.LEXICON_PACKAGE", "no_such_lookups_package")
    with pytest.raises(ValueError, match="pip install spacy-lookups-data .*--lexicon_dir"):
        Lexicon.load()


def test_script_appends_lexicon_features(tmp_path):
    (tmp_path / "corpus.txt").write_text("the dog likes the cat .\nthe cat likes the movie .\n" * 20)
    output = tmp_path / "vectors"
    vectors = load_script("train_word_vectors.py").main([
        "--output_dir", str(output), "--extra_train_files", str(tmp_path / "corpus.txt"), "--vector_size", "8",
        "--min_count", "1", "--epochs", "1", "--workers", "1", "--lexicon_features", "--lexicon_words", "6",
        "--lexicon_dir", str(write_tables(tmp_path / "lexicon")),
    ])
    assert vectors.vector_size == 8 + ADDED_DIMENSIONS
    assert set(vectors.index_to_key) == {"the", "dog", "likes", "cat", ".", "movie", "run", "sources", "IPO"}
    loaded = load_word_vectors(output)
    np.testing.assert_array_equal(loaded.vectors, vectors.vectors)
    info = json.loads((output / "word_vectors_config.json").read_text())
    assert info["vector_size"] == 8 + ADDED_DIMENSIONS and info["lexicon"]["words_added"] == 3
    assert "lexicon features from spacy-lookups-data" in describe_word_vectors(output)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algorithm", "fasttext"], "--lexicon_features needs --algorithm word2vec"),
        (["--lexicon_words", "-1"], "--lexicon_words must be at least 0"),
        (["--lexicon_dir", "{tmp}"], "--lexicon_dir .* has no en_lexeme_cluster.json.gz"),
    ],
)
def test_script_names_bad_lexicon_arguments(args, message, tmp_path):
    (tmp_path / "corpus.txt").write_text("the dog .\n")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(ValueError, match=message):
        load_script("train_word_vectors.py").main([
            "--output_dir", str(tmp_path / "out"), "--extra_train_files", str(tmp_path / "corpus.txt"),
            "--lexicon_features", *args,
        ])
