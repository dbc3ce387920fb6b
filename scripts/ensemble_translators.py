#!/usr/bin/env python
"""Combine translators trained apart (e.g. with different seeds) into one ensemble model that translates with all of
them: at each step, the mean of their next-token distributions.

    python scripts/ensemble_translators.py outputs/nmt-s42 outputs/nmt-s43 outputs/nmt-s44 --output_dir outputs/nmt-ens

The members must share one tokenizer: train them with the same data, split and `--vocab_size` (the BPE tokenizer is
trained deterministically on the training part), or give later runs the first run's tokenizer (`--tokenizer_name`).
The ensemble folder is a complete model (`AutoModelForSeq2SeqLM`, the "rnn-translation" pipeline, remote code).
Score it with `train_translation.py --model_name_or_path outputs/nmt-ens --output_dir outputs/nmt-ens-scored
--do_eval --do_predict --predict_with_generate`, which writes the scores and a card with them.
"""

import argparse
import logging

from rnnformers.training.translation import save_ensemble


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="saved translator folders (at least two)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--overwrite_output_dir", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        output = save_ensemble(args.models, args.output_dir, overwrite=args.overwrite_output_dir)
    except ValueError as error:
        parser.error(str(error))
    print(f"saved an ensemble of {len(args.models)} translators ({', '.join(args.models)}) in {output}")


if __name__ == "__main__":
    main()
