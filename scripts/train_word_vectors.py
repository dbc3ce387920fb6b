#!/usr/bin/env python
"""Train word vectors (gensim word2vec or fastText) on unlabelled text of the domain, for a model's embeddings.

    python scripts/train_word_vectors.py --output_dir outputs/vectors-imdb-ewt \
        --train_file ../shared/data/imdb/train.parquet \
        --extra_train_files ../shared/data/imdb/unsup.parquet ../shared/data/ud-english-ewt/en_ewt-ud-train.conllu \
        --algorithm word2vec --vector_size 128

`--train_file` / `--dataset_name` is a labelled set of which only the part `train_sentiment.py` trains on is read (the
same `load_sentiment_splits`, so no validation review leaks into the vectors); `--extra_train_files` are read whole
(parquet / csv / json / txt by `--text_column`, CoNLL-U files as their words). Raw text is cut into Penn-Treebank-style
words (UD English's tokenisation), or into a saved tokenizer's tokens with `--tokenizer_name` (vectors for the tokens a
classifier reads). The folder holds the vectors in a format read without pickle (word2vec binary, or fastText's own
binary with its character n-grams) and `word_vectors_config.json`; `train_tagger.py --word_vectors <folder>` and
`rnnformers.training.word_vectors.load_word_vectors` read it.

`--lexicon_features` appends to each word2vec vector what spaCy's English lexicon (the `spacy-lookups-data` package:
log-probabilities and Brown clusters of 1,000,001 cased words of a large English corpus) says of the word, and adds the
lexicon's `--lexicon_words` most probable words that have no vector (see `rnnformers.training.lexicon`): the vectors
of UD English EWT's best tagger (README).
"""

import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from transformers import AutoTokenizer, HfArgumentParser

from rnnformers.training.data import load_sentiment_splits
from rnnformers.training.lexicon import ADDED_DIMENSIONS, Lexicon, add_lexicon_features
from rnnformers.training.word_vectors import (
    ALGORITHMS,
    corpus_texts,
    save_word_vectors,
    split_words,
    train_word_vectors,
    write_corpus,
)


logger = logging.getLogger(__name__)


@dataclass
class WordVectorArguments:
    output_dir: str = field(metadata={"help": "Folder to save the vectors in."})
    dataset_name: str | None = field(
        default=None, metadata={"help": "A Hub dataset with a text column; only its training part is read."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration, if any."})
    train_file: str | None = field(
        default=None, metadata={"help": "A local labelled parquet/csv/json/txt file; only its training part is read."}
    )
    extra_train_files: list[str] = field(
        default_factory=list, metadata={"help": "Files read whole: parquet/csv/json/txt (--text_column) or .conllu."}
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    validation_split_percentage: float = field(
        default=20.0, metadata={"help": "Percent of --train_file left out, as train_sentiment.py's validation part."}
    )
    split_seed: int = field(default=42, metadata={"help": "Seed of that split (train_sentiment.py's default)."})
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Cut texts into this tokenizer's tokens instead of Penn-Treebank words."}
    )
    algorithm: str = field(default="word2vec", metadata={"help": f"One of {', '.join(ALGORITHMS)}."})
    vector_size: int = field(default=128, metadata={"help": "Dimensions per vector (the model's embedding_dim)."})
    window: int = field(default=5, metadata={"help": "Context words on each side."})
    min_count: int = field(default=3, metadata={"help": "Words rarer than this get no vector."})
    epochs: int = field(default=5, metadata={"help": "Passes over the corpus."})
    cbow: bool = field(default=False, metadata={"help": "CBOW instead of skip-gram (faster, weaker on rare words)."})
    workers: int = field(default=2, metadata={"help": "Training threads."})
    seed: int = field(default=42, metadata={"help": "Seed of gensim's initialisation."})
    lexicon_features: bool = field(
        default=False,
        metadata={"help": f"Append {ADDED_DIMENSIONS} lexicon features to each vector (word2vec only): spaCy's "
                          "English log-probabilities and Brown clusters (pip install spacy-lookups-data)."},
    )
    lexicon_words: int = field(
        default=200_000, metadata={"help": "With --lexicon_features: the lexicon's most probable words to add."}
    )
    lexicon_dir: str | None = field(
        default=None, metadata={"help": "A folder of spaCy's en_lexeme_*.json.gz tables instead of the package's."}
    )

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"--algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}.")
        if self.train_file is None and self.dataset_name is None and not self.extra_train_files:
            raise ValueError("no text: give --train_file, --dataset_name or --extra_train_files.")
        for name in ("vector_size", "window", "min_count", "epochs", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}.")
        if self.lexicon_features and self.algorithm != "word2vec":
            raise ValueError("--lexicon_features needs --algorithm word2vec (fastText's file keeps n-gram vectors "
                             "that lexicon features cannot be appended to).")
        if self.lexicon_words < 0:
            raise ValueError(f"--lexicon_words must be at least 0, got {self.lexicon_words}.")


def main(argv: list[str] | None = None):
    (args,) = HfArgumentParser(WordVectorArguments).parse_args_into_dataclasses(args=argv)
    logging.basicConfig(format="%(levelname)s - %(message)s", level=logging.INFO, stream=sys.stdout)

    # Texts: the labelled set's training part (never its validation part) and the extra files, whole.
    texts = []
    if args.train_file is not None or args.dataset_name is not None:
        labelled = load_sentiment_splits(
            args.train_file, args.dataset_name, args.dataset_config_name, args.text_column, label_column=None,
            validation_split_percentage=args.validation_split_percentage, split_seed=args.split_seed,
        )["train"]
        texts.append(labelled[args.text_column])
    texts.append(corpus_texts(args.extra_train_files, args.text_column))
    # Read first: a missing package or table fails before the training, not after it.
    lexicon = Lexicon.load(args.lexicon_dir) if args.lexicon_features else None
    tokenize = split_words
    if args.tokenizer_name is not None:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name)
        tokenize = tokenizer.tokenize

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus.txt"
        lines, words = write_corpus(chain.from_iterable(texts), corpus, tokenize)
        logger.info("corpus: %d texts, %d words", lines, words)
        start = time.perf_counter()
        model = train_word_vectors(
            corpus, args.algorithm, args.vector_size, args.window, args.min_count, args.epochs,
            skip_gram=not args.cbow, workers=args.workers, seed=args.seed,
        )
        seconds = time.perf_counter() - start
    info = {
        "texts": lines, "words": words, "window": args.window, "min_count": args.min_count, "epochs": args.epochs,
        "skip_gram": not args.cbow, "tokenization": args.tokenizer_name or "penn-treebank words (split_words)",
        "sources": ([args.train_file or args.dataset_name] if texts[:-1] else []) + list(args.extra_train_files),
        "training_seconds": round(seconds, 1),
    }
    vectors = model.wv
    if lexicon is not None:
        vectors = add_lexicon_features(vectors, lexicon, args.lexicon_words)
        info["lexicon"] = {"source": "spacy-lookups-data (en_lexeme_prob, en_lexeme_cluster)",
                           "dimensions": ADDED_DIMENSIONS, "words_added": len(vectors) - len(model.wv)}
        logger.info("lexicon features: %d dimensions added to each vector, %d lexicon words added",
                    ADDED_DIMENSIONS, len(vectors) - len(model.wv))
    path = save_word_vectors(vectors, args.output_dir, info)
    logger.info("%s: %d vectors of %d dimensions in %.0f s, saved to %s",
                args.algorithm, len(vectors), vectors.vector_size, seconds, path)
    return vectors


if __name__ == "__main__":
    main()
