"""Lexicon features of words: what a large corpus says about a word that a small treebank cannot.

A tagger trained on 200,000 words meets, in new text, words it has never seen (8% of UD English EWT's dev words), and
word vectors trained on the project's own unlabelled text (20 M words of movie reviews) know only half of them. spaCy's
English lookup tables (the `spacy-lookups-data` package on PyPI, MIT; the tables spaCy 2's English models shipped)
hold, for 1,000,001 cased words of a large English corpus, a log-probability and a Brown cluster (a 1,000-leaf binary tree of words that occur in similar contexts, as
taggers used them before word vectors: Owoputi et al., 2013). From them each word gets `LEXICON_FEATURES` numbers:

- the log-probabilities of the word as written, lower-cased, Title-cased and UPPER-cased (how common the word is, and
  whether it is usually a name: `Kirkuk` is only ever capitalised, `Sources` is the capitalised `sources`);
- the shares of those three casings among the word's occurrences;
- whether the word is in the lexicon, whether it has a cluster;
- its cluster's path in the tree: the first 16 branches (±1), and a fixed random code of each path prefix of
  `CLUSTER_PREFIXES` branches (words that share a prefix share its code, so coarse and fine classes are both readable).

`add_lexicon_features` appends them to word vectors (word2vec's `KeyedVectors`), which then serve as a tagger's frozen
embeddings (`train_word_vectors.py --lexicon_features`, `train_tagger.py --word_vectors ... --freeze_word_vectors`).
"""

import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


LEXICON_PACKAGE = "spacy_lookups_data"
# The English tables of that package, by name; a folder given instead must hold the same three files.
LEXICON_FILES = {"clusters": "en_lexeme_cluster.json.gz", "log_probs": "en_lexeme_prob.json.gz",
                 "settings": "en_lexeme_settings.json.gz"}
CLUSTER_PATH_BITS = 16
CLUSTER_PREFIXES = (2, 4, 6, 8, 10, 12, 16)
PREFIX_CODE_SIZE = 8
LEXICON_FEATURES = 4 + 3 + 2 + CLUSTER_PATH_BITS + len(CLUSTER_PREFIXES) * PREFIX_CODE_SIZE
# What `add_lexicon_features` adds to each vector's size: a has-a-vector flag and the lexicon features.
ADDED_DIMENSIONS = 1 + LEXICON_FEATURES


def lexicon_folder() -> Path:
    """The data folder of the installed `spacy-lookups-data` package."""
    import importlib.resources

    try:
        return Path(str(importlib.resources.files(LEXICON_PACKAGE) / "data"))
    except ModuleNotFoundError:
        raise ValueError("--lexicon_features needs spaCy's lookup tables: pip install spacy-lookups-data "
                         "(or pass --lexicon_dir, a folder holding " + ", ".join(LEXICON_FILES.values()) + ").")


@dataclass
class Lexicon:
    """spaCy's English lexicon: a Brown cluster (0: none) and a natural-log probability per cased word."""

    clusters: dict[str, int]
    log_probs: dict[str, float]
    oov_log_prob: float

    @classmethod
    def load(cls, folder: str | Path | None = None) -> "Lexicon":
        """Reads the three tables from `folder` (default: the installed `spacy-lookups-data`)."""
        folder = Path(folder) if folder is not None else lexicon_folder()
        tables = {}
        for name, file_name in LEXICON_FILES.items():
            path = folder / file_name
            if not path.is_file():
                raise ValueError(f"--lexicon_dir {str(folder)!r} has no {file_name} (spaCy's English lookup tables).")
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                tables[name] = json.load(handle)
        return cls(tables["clusters"], tables["log_probs"], float(tables["settings"]["oov_prob"]))

    def most_probable(self, count: int) -> list[str]:
        """The `count` most probable words (ties by spelling), whitespace-free ones only."""
        words = sorted((word for word in self.log_probs if word and not any(c.isspace() for c in word)),
                       key=lambda word: (-self.log_probs[word], word))
        return words[:count]

    def features(self, word: str) -> np.ndarray:
        """The `LEXICON_FEATURES` raw numbers of `word` (see the module's docstring), float32."""
        casings = [word, word.lower(), word[:1].upper() + word[1:].lower(), word.upper()]
        log_probs = np.array([self.log_probs.get(form, self.oov_log_prob) for form in casings])
        # 0 for a word the lexicon does not hold, up to ~3.5 for the most frequent ones.
        features = list((log_probs - self.oov_log_prob) / 5.0)
        cased = np.exp(log_probs[1:] - log_probs[1:].max())
        known = any(form in self.log_probs for form in casings[1:])
        features += list(cased / cased.sum() - 1 / 3) if known else [0.0] * 3
        cluster = self.clusters.get(word, 0)
        features += [1.0 if word in self.log_probs else -1.0, 1.0 if cluster else -1.0]
        # spaCy stores a path reversed as an integer: its first branch is bit 0, so a prefix is a low-bit mask.
        features += [(((cluster >> bit) & 1) * 2.0 - 1.0) if cluster else 0.0 for bit in range(CLUSTER_PATH_BITS)]
        for length in CLUSTER_PREFIXES:
            features += list(prefix_code(length, cluster & ((1 << length) - 1)) if cluster else [0.0] * PREFIX_CODE_SIZE)
        return np.asarray(features, dtype=np.float32)


def prefix_code(length: int, prefix: int) -> np.ndarray:
    """A fixed random code of a cluster path prefix: the same numbers on every machine and run (seeded by a CRC)."""
    rng = np.random.default_rng(zlib.crc32(f"{length}:{prefix}".encode()))
    return rng.standard_normal(PREFIX_CODE_SIZE)


def add_lexicon_features(vectors, lexicon: Lexicon, lexicon_words: int = 200_000):
    """New `KeyedVectors`: each word of `vectors`, then each of the lexicon's `lexicon_words` most probable words that
    `vectors` lacks, with `[has a vector (±1), its vector (0s without), its lexicon features]`. Every lexicon column is
    standardised over these words and scaled to the vectors' standard deviation, so that no column dominates the
    embedding's rescaling (`initialize_embeddings`). Words keep their order: the vectors' (by corpus frequency) first.
    """
    from gensim.models import KeyedVectors

    words = list(vectors.index_to_key)
    known = set(words)
    words += [word for word in lexicon.most_probable(lexicon_words) if word not in known]
    scale = float(vectors.vectors.std())
    distributional = np.zeros((len(words), vectors.vector_size), dtype=np.float32)
    distributional[: len(vectors)] = vectors.vectors
    has_vector = np.where(np.arange(len(words)) < len(vectors), scale, -scale).astype(np.float32)[:, None]
    features = np.stack([lexicon.features(word) for word in words])
    features = (features - features.mean(0)) / (features.std(0) + 1e-6) * scale
    table = np.concatenate([has_vector, distributional, features], axis=1)
    result = KeyedVectors(table.shape[1])
    result.add_vectors(words, table)
    return result


__all__ = ["ADDED_DIMENSIONS", "Lexicon", "LEXICON_FEATURES", "add_lexicon_features", "lexicon_folder"]
