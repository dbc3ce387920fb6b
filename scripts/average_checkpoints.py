#!/usr/bin/env python
"""Average the weights of several checkpoints of one training run into one saved model.

    python scripts/average_checkpoints.py outputs/nmt/checkpoint-12000 outputs/nmt/checkpoint-14000 \\
        outputs/nmt/checkpoint-16000 --output_dir outputs/nmt-avg
    python scripts/average_checkpoints.py --last 3 outputs/nmt --output_dir outputs/nmt-avg   # the 3 latest in a run

The averaged folder is a complete model (the last checkpoint's configuration, tokenizer and code, the mean weights,
a short card naming the checkpoints). Score it with the training script that made the run: `train_translation.py
--model_name_or_path outputs/nmt-avg --output_dir outputs/nmt-avg --do_eval --do_predict` writes the scores
(`*_results.json`) beside it; another `--output_dir` gets the model with a card holding the scores.
"""

import argparse
import logging
import re
from pathlib import Path

from rnnformers.training.checkpoints import average_checkpoints


def latest_checkpoints(run_dir: Path, count: int) -> list[Path]:
    """The `count` checkpoint-N folders of `run_dir` with the highest N, oldest first."""
    steps = {}
    for path in run_dir.glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            steps[int(match.group(1))] = path
    if len(steps) < count:
        raise ValueError(f"{run_dir} holds {len(steps)} checkpoint-N folder(s), fewer than --last {count}.")
    return [steps[step] for step in sorted(steps)[-count:]]


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoint folders, or one run folder with --last")
    parser.add_argument("--last", type=int, default=None, help="average the N latest checkpoint-* of one run folder")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite_output_dir", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    if args.last is not None and args.last < 2:
        parser.error(f"--last must be at least 2 (a mean of one checkpoint is that checkpoint), got {args.last}.")
    if args.last is not None and len(args.checkpoints) != 1:
        parser.error("--last takes one run folder, the one holding the checkpoint-N folders.")
    try:
        folders = args.checkpoints
        if args.last is not None:
            folders = latest_checkpoints(Path(args.checkpoints[0]), args.last)
        output = average_checkpoints(folders, args.output_dir, overwrite=args.overwrite_output_dir)
    except ValueError as error:
        parser.error(str(error))
    print(f"averaged {len(folders)} checkpoints ({', '.join(str(folder) for folder in folders)}) into {output}")


if __name__ == "__main__":
    main()
