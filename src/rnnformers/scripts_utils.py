"""What the training scripts share: argument parsing and logging set-up, as in transformers' example scripts."""

import logging
import os
import sys

import datasets
import transformers
from transformers import HfArgumentParser


def parse_args_and_set_up_logging(dataclass_types: tuple, logger: logging.Logger) -> tuple:
    """Parses the command line into `dataclass_types` (the last one a `TrainingArguments`) with `HfArgumentParser`.

    A single `.json` argument is read as a file of all the arguments. Logging then goes to stdout at the level of this
    process (`--log_level` on the main process, `--log_level_replica` on the others), for the script's `logger`,
    transformers and datasets alike.
    """
    parser = HfArgumentParser(dataclass_types)
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        parsed = parser.parse_json_file(json_file=os.path.abspath(sys.argv[1]))
    else:
        parsed = parser.parse_args_into_dataclasses()

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = parsed[-1].get_process_log_level()
    logger.setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    return tuple(parsed)


def train_and_save(trainer) -> dict:
    """Trains (resuming from `--resume_from_checkpoint` if given), saves the model, then the train metrics and state.

    With `--load_best_model_at_end` the saved model is the best one. Returns the train metrics.
    """
    train_result = trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
    trainer.save_model()
    metrics = train_result.metrics
    metrics["train_samples"] = len(trainer.train_dataset)
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    return metrics
