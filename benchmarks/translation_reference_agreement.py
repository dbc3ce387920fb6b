"""How much single-reference BLEU a second human translation gets, against what the model gets on the same sources.

Many English sentences of `spa-eng.tsv` have several Spanish translations. On the held-out sources that have at least
two, this scores the second translation against the first (a human translator "scored" exactly as the model is), and
the model's beam-search output against the first and against the second. It tells how far single-reference BLEU on
this data can be from 100 for a translation that is right, and so what a BLEU bar asks.

    OMP_NUM_THREADS=1 python benchmarks/translation_reference_agreement.py --model outputs/nmt-en-es --part test
"""

import argparse

import sacrebleu
from transformers import pipeline

from rnnformers import RnnTranslationPipeline
from rnnformers.training.data import BUNDLED_SPA_ENG, load_pairs, split_by_source


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a folder of scripts/train_translation.py (or a Hub id)")
    parser.add_argument("--train_file", default=BUNDLED_SPA_ENG, help="the pairs (TSV) the model's split came from")
    parser.add_argument("--part", choices=("validation", "test"), default="test")
    parser.add_argument("--validation_split_percentage", type=float, default=2.0)
    parser.add_argument("--test_split_percentage", type=float, default=3.0)
    parser.add_argument("--split_seed", type=int, default=42)
    parser.add_argument("--num_beams", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()

    splits = split_by_source(load_pairs(args.train_file), args.validation_split_percentage / 100,
                             args.test_split_percentage / 100, args.split_seed)
    part = splits[args.part]
    rows = [row for row in part if len(row["references"]) >= 2]
    if not rows:
        raise ValueError(f"no source of the {args.part} part has two translations in {args.train_file}.")
    first = [row["references"][0] for row in rows]
    second = [row["references"][1] for row in rows]

    # The installed pipeline class, not the saved folder's copy (which would need trust_remote_code=True).
    translator = pipeline("rnn-translation", model=args.model, pipeline_class=RnnTranslationPipeline)
    outputs = translator([row["source"] for row in rows], num_beams=args.num_beams, batch_size=args.batch_size)
    hypotheses = [output[0]["translation_text"] for output in outputs]

    print(f"{args.part} part: {len(part):,} sources, {len(rows):,} of them with two or more translations; on those:")
    for name, candidates, references in (
        ("2nd human translation vs the 1st", second, first),
        (f"model (beam {args.num_beams}) vs the 1st translation", hypotheses, first),
        (f"model (beam {args.num_beams}) vs the 2nd translation", hypotheses, second),
    ):
        bleu = sacrebleu.corpus_bleu(candidates, [references]).score
        chrf = sacrebleu.corpus_chrf(candidates, [references]).score
        print(f"  {name:42s} BLEU {bleu:6.2f}   chrF {chrf:6.2f}")


if __name__ == "__main__":
    main()
