#!/usr/bin/env python
"""Train a byte-level BPE or WordPiece tokenizer on a text column and save it for `AutoTokenizer`.

    python scripts/train_tokenizer.py --train_file ../shared/data/imdb/train.parquet --output_dir outputs/imdb-bpe \
        --algorithm bpe --vocab_size 20000 --lowercase

The folder then holds `tokenizer.json` (special tokens `<pad>` = 0 and `<unk>` = 1) and loads with
`AutoTokenizer.from_pretrained("outputs/imdb-bpe")`, no rnnformers needed; `scripts/train_sentiment.py
--tokenizer_name outputs/imdb-bpe` trains a classifier with it. By default the tokenizer learns from the same 80% of
the non-empty texts that `train_sentiment.py` trains on (`rnnformers.training.data.load_sentiment_splits`), so it
never sees a validation text; `--validation_split_percentage 0` uses every text. A `.txt` file is one text per line.
"""

import logging
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.data import load_sentiment_splits


logger = logging.getLogger(__name__)


@dataclass
class TokenizerArguments:
    output_dir: str = field(metadata={"help": "Folder to save the tokenizer in."})
    dataset_name: str | None = field(default="stanfordnlp/imdb", metadata={"help": "A Hub dataset with a text column."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration, if any."})
    train_file: str | None = field(
        default=None, metadata={"help": "A local parquet/csv/json/txt file (replaces --dataset_name)."}
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    validation_split_percentage: float = field(
        default=20.0, metadata={"help": "Percent of the texts left out, as train_sentiment.py's validation part."}
    )
    split_seed: int = field(default=42, metadata={"help": "Seed of that split (train_sentiment.py's default)."})
    algorithm: str = field(default="bpe", metadata={"help": "'bpe' (byte-level) or 'wordpiece'."})
    vocab_size: int = field(default=20_000, metadata={"help": "Vocabulary size, special tokens included."})
    lowercase: bool = field(default=False, metadata={"help": "Lower-case the text first."})
    min_frequency: int = field(default=2, metadata={"help": "Minimum count of a pair to be merged."})
    model_max_length: int | None = field(
        default=None, metadata={"help": "Recorded in the tokenizer: `truncation=True` cuts texts there."}
    )


def main(argv: list[str] | None = None):
    (args,) = HfArgumentParser(TokenizerArguments).parse_args_into_dataclasses(args=argv)
    logging.basicConfig(format="%(levelname)s - %(message)s", level=logging.INFO, stream=sys.stdout)

    # The training part train_sentiment.py will train on: the same function decides the split for both.
    texts = load_sentiment_splits(
        args.train_file, args.dataset_name, args.dataset_config_name, args.text_column, label_column=None,
        validation_split_percentage=args.validation_split_percentage, split_seed=args.split_seed,
    )["train"]
    tokenizer = train_subword_tokenizer(
        texts[args.text_column],
        algorithm=args.algorithm,
        vocab_size=args.vocab_size,
        lowercase=args.lowercase,
        min_frequency=args.min_frequency,
        model_max_length=args.model_max_length,
    )
    tokenizer.save_pretrained(args.output_dir)
    logger.info("%s tokenizer with %d tokens, trained on %d texts, saved to %s",
                args.algorithm, len(tokenizer), len(texts), args.output_dir)
    return tokenizer


if __name__ == "__main__":
    main()
