#!/usr/bin/env python
"""Translate sentences with a saved translation model, greedy or with beam search, through the "rnn-translation"
pipeline.

    python scripts/translate.py outputs/nmt-en-es "I like soccer." "Where is the station?" --num_beams 5
    echo "I like soccer." | python scripts/translate.py outputs/nmt-en-es      # one sentence per input line

    python scripts/translate.py outputs/nmt-en-es "I like soccer." --num_beams 5 --dtype bfloat16  # AMX / AVX-512 BF16
    python scripts/translate.py outputs/nmt-en-es "I like soccer." --num_beams 5 --dtype int8  # int8 kernels

Prints one translation per line. `--num_beams 1` (the default) is greedy decoding. The model may be a local folder or
a Hub id; `--trust_remote_code` runs the code saved with the model instead of the installed rnnformers.
"""

import argparse
import sys

import rnnformers  # noqa: F401  (registers the task and the model classes)
from rnnformers.quantization import INFERENCE_DTYPES
from rnnformers.training.translation import load_translator


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="saved model folder or Hub id")
    parser.add_argument("texts", nargs="*", help="sentences to translate (default: one per line of stdin)")
    parser.add_argument("--num_beams", type=int, default=1, help="beam width; 1 is greedy decoding")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the model's generation config")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--dtype", choices=INFERENCE_DTYPES, default="float32",
                        help="the weights' dtype: bfloat16 runs the matrix products in bfloat16 (fast on CPUs with "
                             "AMX or AVX-512 BF16); int8 quantizes the recurrent and linear layers (CPU)")
    parser.add_argument("--trust_remote_code", action="store_true")
    args = parser.parse_args(argv)
    if args.num_beams < 1:
        parser.error(f"--num_beams must be at least 1, got {args.num_beams}.")

    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        parser.error("nothing to translate: give sentences as arguments or on stdin.")
    translator = load_translator(args.model, dtype=args.dtype, trust_remote_code=args.trust_remote_code)
    generate_kwargs = {"num_beams": args.num_beams}
    if args.max_new_tokens is not None:
        generate_kwargs["max_new_tokens"] = args.max_new_tokens
    for result in translator(texts, batch_size=args.batch_size, **generate_kwargs):
        print(result[0]["translation_text"])


if __name__ == "__main__":
    main()
