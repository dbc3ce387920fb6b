#!/usr/bin/env python
"""Score a saved text classifier on a parquet/csv/json file with `text` and `label` columns.

    python scripts/evaluate_sentiment.py --model outputs/gru-imdb --file ../shared/data/imdb/train.parquet \
        --validation_split_percentage 20          # only the validation part train_sentiment.py held out
    python scripts/evaluate_sentiment.py --model outputs/gru-imdb --file reviews.csv --json
    python scripts/evaluate_sentiment.py --model outputs/gru-imdb --file reviews.csv --dtype bfloat16   # AMX / AVX-512 BF16
    python scripts/evaluate_sentiment.py --model outputs/gru-imdb --file reviews.csv --dtype int8       # int8 kernels

The model runs through `pipeline("text-classification")` (batches of texts of similar length, truncated to the
tokenizer's saved max length) and its label names are mapped back to class ids with the model's `label2id`; the
offline `accuracy_f1` metric module of rnnformers (an `evaluate` module) scores them. Prints accuracy, F1 and texts/s
(one JSON object with `--json`).
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoConfig, HfArgumentParser, pipeline

import rnnformers  # noqa: F401  (registers the rnnformers models with the Auto classes)
from rnnformers.metrics import load_metric
from rnnformers.quantization import check_inference_dtype, for_inference, loading_dtype
from rnnformers.training.data import check_labels, load_sentiment_splits
from rnnformers.training.lifecycle import load_pretrained


@dataclass
class EvaluationArguments:
    model: str = field(metadata={"help": "A saved classifier folder or Hub id."})
    file: str = field(metadata={"help": "A .parquet, .csv, .json or .jsonl file with text and label columns."})
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    label_column: str = field(default="label", metadata={"help": "Column holding the class ids."})
    validation_split_percentage: float | None = field(
        default=None,
        metadata={"help": "Score only the part train_sentiment.py held out for validation (e.g. 20), not the file."},
    )
    split_seed: int = field(default=42, metadata={"help": "Seed of that split (train_sentiment.py's default)."})
    max_samples: int | None = field(default=None, metadata={"help": "Score only the first N texts."})
    max_length: int | None = field(
        default=None, metadata={"help": "Truncate texts to this many tokens (default: the tokenizer's max length)."}
    )
    batch_size: int = field(default=64, metadata={"help": "Texts per forward pass."})
    device: str | None = field(default=None, metadata={"help": "'cpu', 'cuda', ... (default: the best available)."})
    dtype: str = field(
        default="float32",
        metadata={"help": "The weights' dtype: float32, bfloat16 (the matrix products in bfloat16: several times "
                          "faster on CPUs with AMX / AVX-512 BF16, as training with --bf16) or int8 (the recurrent and "
                          "linear layers quantized: rnnformers.quantization, CPU only)."},
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow a Hub model's code to run."})
    json: bool = field(default=False, metadata={"help": "Print the result as one JSON object."})


def evaluate_classifier(args: EvaluationArguments) -> dict:
    check_inference_dtype(args.dtype)
    # The same non-empty texts and the same split as train_sentiment.py's.
    splits = load_sentiment_splits(
        args.file, text_column=args.text_column, label_column=args.label_column,
        validation_split_percentage=args.validation_split_percentage or 0, split_seed=args.split_seed,
    )
    data = splits["validation" if args.validation_split_percentage else "train"]
    if args.max_samples is not None:
        data = data.select(range(min(args.max_samples, len(data))))

    # A clear error for a model that is not there, before the pipeline's own.
    load_pretrained(AutoConfig, args.model, "--model", trust_remote_code=args.trust_remote_code)
    classifier = pipeline(
        "text-classification",
        model=args.model,
        device=args.device,
        batch_size=args.batch_size,
        trust_remote_code=args.trust_remote_code,
        dtype=loading_dtype(args.dtype),
        truncation=True,
        **({"max_length": args.max_length} if args.max_length else {}),
    )
    classifier = for_inference(classifier, args.dtype)
    label2id = classifier.model.config.label2id
    # Labels the model does not know would be scored as plain errors: refuse them, naming the file.
    check_labels({"file": data}, args.label_column, len(label2id), Path(args.file).name)
    start = time.perf_counter()
    # Texts of similar length share a batch, longest first: far less padding than in the file's order, and the same
    # predictions, since the model masks padding exactly. The pipeline batches, pads and truncates them.
    texts = list(data[args.text_column])  # read from Arrow once, not once per sort key and once per batch
    order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
    predictions = [None] * len(texts)
    for index, prediction in zip(order, classifier([texts[index] for index in order])):
        predictions[index] = label2id[prediction["label"]]
    seconds = time.perf_counter() - start
    metric = load_metric("accuracy_f1")
    results = metric.compute(predictions=predictions, references=list(data[args.label_column]),
                             average="binary" if len(label2id) == 2 else "macro")
    return {
        "model": args.model,
        "file": args.file,
        "split": (
            f"validation ({args.validation_split_percentage:g}% held out, seed {args.split_seed})"
            if args.validation_split_percentage
            else "whole file"
        ),
        "samples": len(data),
        # the weights' dtype as loaded, or int8
        "dtype": "int8" if args.dtype == "int8" else str(classifier.model.dtype).removeprefix("torch."),
        "accuracy": results["accuracy"],
        "f1": results["f1"],
        "samples_per_second": len(data) / seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses(args=argv)
    result = evaluate_classifier(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']} on {result['file']} ({result['split']}, {result['samples']:,} texts): "
              f"accuracy {result['accuracy']:.4f}, F1 {result['f1']:.4f}, "
              f"{result['samples_per_second']:.1f} texts/s ({result['dtype']})")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
