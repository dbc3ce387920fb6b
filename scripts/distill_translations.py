#!/usr/bin/env python
"""Sequence-level knowledge distillation, step 1 (Kim & Rush 2016): a teacher's translations of the training part's
sources, written as `source TAB translation` lines.

    python scripts/distill_translations.py --teacher outputs/nmt-en-es-ensemble \
        --output_file outputs/distilled/train.tsv --num_beams 5 --dtype bfloat16 --batch_size 64

The training part is the one `train_translation.py` trains on (the same file, split percentages and `--split_seed`):
sources of the validation and test parts are never translated. Each distinct source is translated once, in batches of
similar length (longest first), through the "rnn-translation" pipeline, with a progress bar. The file is written as
it goes (flushed after every batch); run the same command again after an interruption and it translates only what is
not in the file yet. A file holding a source that is not in this training part (another split, another data file) is
refused.
"""

import csv
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm
from transformers import HfArgumentParser

import rnnformers  # noqa: F401  (registers the task and the model classes)
from rnnformers.quantization import check_inference_dtype
from rnnformers.training.data import BUNDLED_SPA_ENG, load_pairs, split_by_source
from rnnformers.training.translation import load_translator


logger = logging.getLogger(__name__)


@dataclass
class DistillationArguments:
    teacher: str = field(metadata={"help": "The teacher: a saved translator or ensemble folder, or a Hub id."})
    output_file: str = field(metadata={"help": "The TSV of `source TAB translation` lines (appended to if it exists)."})
    train_file: str | None = field(default=None, metadata={"help": f"Pairs TSV (default: {BUNDLED_SPA_ENG})."})
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset of pairs instead."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration."})
    dataset_split: str = field(default="train", metadata={"help": "The split holding the pairs."})
    source_column: str = field(default="en", metadata={"help": "Column of the source text."})
    target_column: str = field(default="es", metadata={"help": "Column of the target text."})
    validation_split_percentage: float = field(default=2.0, metadata={"help": "As train_translation.py's."})
    test_split_percentage: float = field(default=3.0, metadata={"help": "As train_translation.py's."})
    split_seed: int = field(default=42, metadata={"help": "As train_translation.py's."})
    num_beams: int = field(default=5, metadata={"help": "The teacher's beam width."})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Default: the teacher's generation config."})
    batch_size: int = field(default=64, metadata={"help": "Sources per batch."})
    dtype: str = field(default="bfloat16", metadata={"help": "float32, bfloat16 or int8 (see translate.py)."})
    max_sources: int | None = field(default=None, metadata={"help": "Translate only the first N training sources."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Run the teacher folder's own code."})

    def __post_init__(self):
        check_inference_dtype(self.dtype)
        for name in ("num_beams", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}.")


def training_sources(args: DistillationArguments) -> list[str]:
    """The distinct sources of train_translation.py's training part, in their first order."""
    pairs = load_pairs(args.train_file, args.dataset_name, args.dataset_config_name, args.dataset_split,
                       args.source_column, args.target_column)
    train = split_by_source(pairs, args.validation_split_percentage / 100, args.test_split_percentage / 100,
                            args.split_seed)["train"]
    sources = list(dict.fromkeys(train["source"]))
    return sources[: args.max_sources] if args.max_sources is not None else sources


def read_done(path: Path, sources: set[str]) -> dict[str, str]:
    """The translations already in `path`; a source there that is not a training source is refused."""
    done = {}
    if not path.is_file():
        return done
    with path.open(encoding="utf-8", newline="") as file:
        for number, row in enumerate(csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if len(row) != 2:
                raise ValueError(f"--output_file {path}: line {number} is not `source TAB translation`.")
            if row[0] not in sources:
                raise ValueError(
                    f"--output_file {path}: line {number} holds a source that is not in this training part "
                    f"({row[0]!r}): it was made from another data file or split. Give another --output_file."
                )
            done[row[0]] = row[1]
    return done


def one_line(text: str) -> str:
    """A translation as one TSV field: tabs and line breaks become spaces."""
    return " ".join(text.split())


def distill(args: DistillationArguments) -> dict:
    sources = training_sources(args)
    output = Path(args.output_file)
    done = read_done(output, set(sources))
    todo = [source for source in sources if source not in done]
    logger.info("%d training sources: %d already translated, %d to go", len(sources), len(done), len(todo))

    translator = load_translator(args.teacher, args.dtype, args.trust_remote_code, argument="--teacher")
    lengths = [len(ids) for ids in translator.tokenizer(todo)["input_ids"]] if todo else []
    order = sorted(range(len(todo)), key=lambda i: -lengths[i])  # longest first: a batch pads to similar lengths
    generate_kwargs = {"num_beams": args.num_beams}
    if args.max_new_tokens is not None:
        generate_kwargs["max_new_tokens"] = args.max_new_tokens

    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with output.open("a", encoding="utf-8", newline="") as file, tqdm(total=len(todo), desc="translating",
                                                                      unit="sentence") as progress:
        for first in range(0, len(order), args.batch_size):
            batch = [todo[i] for i in order[first : first + args.batch_size]]
            results = translator(batch, batch_size=len(batch), **generate_kwargs)
            for source, result in zip(batch, results):
                file.write(f"{source}\t{one_line(result[0]['translation_text'])}\n")
            # On disk before the next batch: an interruption loses at most the batch being translated.
            file.flush()
            os.fsync(file.fileno())
            progress.update(len(batch))
    seconds = time.perf_counter() - start
    summary = {"sources": len(sources), "translated_now": len(todo), "already_done": len(done),
               "seconds": round(seconds, 1), "sentences_per_second": round(len(todo) / seconds, 2) if todo else None,
               "output_file": str(output)}
    logger.info("%s", summary)
    return summary


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    (args,) = HfArgumentParser(DistillationArguments).parse_args_into_dataclasses(args=argv)
    return distill(args)


if __name__ == "__main__":
    main(sys.argv[1:])
