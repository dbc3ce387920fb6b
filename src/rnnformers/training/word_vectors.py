"""Word vectors trained here with gensim (word2vec or fastText), and their use as a model's initial embeddings.

The chapter's cheapest form of transfer ("Reusing Pretrained Embeddings"): vectors learned on unlabelled text of the
domain (the 50,000 unlabelled IMDb reviews, a treebank's training words) initialise the embedding matrix of a model
that is then trained on a small labelled set. Here:

- `split_words` cuts raw text into Penn-Treebank-style words (`don't` → `do n't`, punctuation apart, HTML tags
  dropped), the tokenisation of UD English and most taggers, so that vector words match treebank words;
- `write_corpus` writes the corpus one sentence (text) per line, and `train_word_vectors` trains on that file
  (gensim's `corpus_file` mode, which uses every worker thread);
- `save_word_vectors` / `load_word_vectors` keep them in formats read without pickle: word2vec's binary format, or
  Facebook's fastText binary (which keeps the character n-grams, so any string gets a vector);
- `add_words_to_word_piece` puts frequent vector words into a WordPiece vocabulary as whole tokens, and
  `initialize_embeddings` copies the vectors into an `nn.Embedding` row by row (by token string).
"""

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from tokenizers import models
from tqdm.auto import tqdm


ALGORITHMS = ("word2vec", "fasttext")
VECTORS_CONFIG = "word_vectors_config.json"
# Not pickles: word2vec's binary format (a text header, then float32 rows) and Facebook fastText's binary format, both
# parsed field by field by gensim (`KeyedVectors.load_word2vec_format`, `load_facebook_vectors`); no code runs on load.
VECTORS_FILES = {"word2vec": "vectors.bin", "fasttext": "vectors.fasttext.bin"}

_HTML_TAG = re.compile(r"<[^>]{0,40}>")
# Penn-Treebank-style words, as UD English tokenises: abbreviations (`U.S.`) and ellipses (`...`) whole, clitics split
# off (`do n't`, `it 's`, `we 're`), words joined by hyphens or inner dots kept whole (`e-mail`), any other punctuation
# mark a word of its own.
_PTB_WORD = re.compile(
    r"(?:[A-Z]\.){2,}|\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|m|d)\b|\w+(?:[-.]\w+)*|\.\.\.+|[^\w\s]",
    re.IGNORECASE,
)


def split_words(text: str) -> list[str]:
    """Penn-Treebank-style words of a raw text (HTML tags such as IMDb's `<br />` dropped), case kept."""
    return _PTB_WORD.findall(_HTML_TAG.sub(" ", text))


def write_corpus(texts: Iterable, path: str | Path, tokenize=split_words) -> tuple[int, int]:
    """Writes one line of space-separated words per text (texts may also be lists of words, as CoNLL-U sentences).
    Empty texts are skipped. Returns (lines, words); raises a ValueError when no text holds a word."""
    lines = words = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for text in tqdm(texts, desc="writing the corpus", unit=" texts", mininterval=5):
            tokens = [token for token in (text if isinstance(text, list) else tokenize(text or "")) if token.strip()]
            # gensim splits lines on whitespace: a word holding a space would become two.
            tokens = ["".join(token.split()) for token in tokens]
            if tokens:
                handle.write(" ".join(tokens) + "\n")
                lines += 1
                words += len(tokens)
    if words == 0:
        raise ValueError("the corpus holds no word to train word vectors on: the texts are missing or all empty.")
    return lines, words


def train_word_vectors(corpus_file: str | Path, algorithm: str = "word2vec", vector_size: int = 128, window: int = 5,
                       min_count: int = 3, epochs: int = 5, skip_gram: bool = True, workers: int = 2,
                       seed: int = 42):
    """Trains word2vec or fastText (gensim) on a corpus written by `write_corpus`; returns the gensim model."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"`algorithm` must be one of {ALGORITHMS}, got {algorithm!r}.")
    from gensim.models import FastText, Word2Vec

    model_class = Word2Vec if algorithm == "word2vec" else FastText
    return model_class(
        corpus_file=str(corpus_file), vector_size=vector_size, window=window, min_count=min_count, epochs=epochs,
        sg=int(skip_gram), workers=workers, seed=seed,
    )


def save_word_vectors(model, output_dir: str | Path, info: dict) -> Path:
    """Saves the vectors of `model` (a gensim `Word2Vec` / `FastText`, or word2vec `KeyedVectors`) without pickle
    (word2vec binary, or fastText's own binary with its n-grams) and a json of how they were made (`info`, plus
    algorithm, size and vocabulary size)."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    algorithm = "fasttext" if isinstance(model, FastText) else "word2vec"
    vectors = getattr(model, "wv", model)
    path = output_dir / VECTORS_FILES[algorithm]
    if algorithm == "fasttext":
        save_facebook_model(model, str(path))
    else:
        vectors.save_word2vec_format(str(path), binary=True)
    config = {"algorithm": algorithm, "vector_size": vectors.vector_size, "vocabulary_size": len(vectors), **info}
    (output_dir / VECTORS_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def describe_word_vectors(path: str | Path) -> str:
    """One line for a model card: how the vectors in folder `path` were trained (from its `word_vectors_config.json`;
    sources by file name only, so that no local path reaches a card)."""
    info = json.loads((Path(path) / VECTORS_CONFIG).read_text(encoding="utf-8"))
    sources = ", ".join(Path(source).name for source in info.get("sources", []))
    description = f"{info['algorithm']}, {info['vector_size']} dimensions, {info.get('words', 0):,} words of {sources}"
    if "lexicon" in info:
        description += (f"; {info['lexicon']['dimensions']} of the dimensions are lexicon features from "
                        f"{info['lexicon']['source']}, which also gave {info['lexicon']['words_added']:,} words")
    return description


def load_word_vectors(path: str | Path):
    """The `KeyedVectors` saved by `save_word_vectors` in folder `path` (words sorted by corpus frequency)."""
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    folder = Path(path)
    config_file = folder / VECTORS_CONFIG
    if not config_file.is_file():
        raise ValueError(f"--word_vectors {str(path)!r} is not a folder written by scripts/train_word_vectors.py "
                         f"(no {VECTORS_CONFIG}).")
    algorithm = json.loads(config_file.read_text(encoding="utf-8")).get("algorithm")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{config_file}: unknown algorithm {algorithm!r}.")
    vectors_file = folder / VECTORS_FILES[algorithm]
    if algorithm == "fasttext":
        return load_facebook_vectors(str(vectors_file))
    return KeyedVectors.load_word2vec_format(str(vectors_file), binary=True)


def add_words_to_word_piece(tokenizer, words: Iterable[str]) -> int:
    """Adds `words` to a WordPiece tokenizer's vocabulary as whole tokens (new ids after the existing ones), so that
    a word known from the vectors' corpus is one token with its own vector instead of pieces. Words holding
    whitespace, starting with the continuation prefix, or already in the vocabulary are left out. Returns how many
    were added. The tokenizer is changed in place; ids of existing tokens do not change."""
    backend = tokenizer.backend_tokenizer
    model = backend.model
    if not isinstance(model, models.WordPiece):
        raise ValueError(f"add_words_to_word_piece needs a WordPiece tokenizer, got {type(model).__name__}.")
    vocab = backend.get_vocab(with_added_tokens=False)
    prefix = model.continuing_subword_prefix
    added = 0
    for word in words:
        if word in vocab or not word or word.startswith(prefix) or any(c.isspace() for c in word):
            continue
        vocab[word] = len(vocab)
        added += 1
    backend.model = models.WordPiece(
        vocab, unk_token=model.unk_token, continuing_subword_prefix=prefix,
        max_input_chars_per_word=model.max_input_chars_per_word,
    )
    return added


def initialize_embeddings(embedding: torch.nn.Embedding, tokens: list[str], vectors,
                          continuation_prefix: str = "##", skip_ids: Iterable[int] = ()) -> int:
    """Copies `vectors[token]` into the row of each token that has a vector, rescaled so that the copied rows have the
    standard deviation of the embedding's current (random) rows: the model's initialisation was chosen for its
    training (see the config's `initializer_range`), and the vectors keep their directions. A continuation piece
    (`##ing`) takes the vector of its string (`ing`) when the vectors have one (fastText: any string). Rows in
    `skip_ids` (padding) are left alone. Returns the number of rows set.

    Raises:
        ValueError: the vectors' size differs from the embedding's.
    """
    if vectors.vector_size != embedding.embedding_dim:
        raise ValueError(
            f"--word_vectors have {vectors.vector_size} dimensions but the model's embedding_dim is "
            f"{embedding.embedding_dim}: set embedding_dim={vectors.vector_size} (--config_overrides)."
        )
    skip = set(skip_ids)
    rows, found = [], []
    for index, token in enumerate(tokens):
        word = token[len(continuation_prefix):] if token.startswith(continuation_prefix) else token
        if index in skip or not word:
            continue
        try:  # word2vec: only its words; fastText: any string with a known character n-gram
            found.append(np.asarray(vectors[word], dtype=np.float32))
        except KeyError:
            continue
        rows.append(index)
    if not rows:
        return 0
    weights = embedding.weight.data
    pretrained = torch.from_numpy(np.stack(found))
    scale = weights.float().std() / pretrained.std().clamp_min(1e-8)
    weights[torch.tensor(rows)] = (pretrained * scale).to(weights.dtype)
    return len(rows)


def corpus_texts(paths: Iterable[str], text_column: str = "text") -> Iterator:
    """The texts of each file: a CoNLL-U file gives its sentences as word lists; parquet / csv / json / txt files
    (through `datasets`) their `text_column` (a .txt file: one text per line)."""
    from rnnformers.training.data import load_text_column
    from rnnformers.training.token_classification import read_conllu

    for path in paths:
        if str(path).endswith(".conllu"):
            yield from read_conllu(path, label_column=None)["tokens"]  # the words only: a corpus needs no annotation
        else:
            yield from load_text_column(path, text_column, "--extra_train_files")[text_column]


__all__ = [
    "split_words", "write_corpus", "train_word_vectors", "save_word_vectors", "load_word_vectors",
    "add_words_to_word_piece", "initialize_embeddings", "corpus_texts",
]
