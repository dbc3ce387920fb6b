#!/usr/bin/env python
"""What an ensemble costs at translation time: beam search with one member alone vs with the whole ensemble, on the
same held-out sources, alternated in one process.

    OMP_NUM_THREADS=1 python benchmarks/bench_translation_ensemble.py --ensemble outputs/nmt-en-es-ensemble \
        --sentences 512 --repeats 2

The ensemble is a folder of `scripts/ensemble_translators.py`; "one member" is its first member, taken from the
ensemble itself (same weights, same generation config). The sources are the first `--sentences` of the test part
(split seed 42), sorted by length and translated through the "rnn-translation" pipeline (as `scripts/translate.py`
does) in batches of `--batch_size` with `--num_beams`. `--dtype bfloat16` casts both models' weights. Each setting's best round is kept.
"""

import argparse
import time

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, pipeline

from rnnformers import RnnTranslationPipeline, Seq2SeqGRUAttentionEnsemble
from rnnformers.training.data import load_pairs, split_by_source


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ensemble", required=True, help="a saved Seq2SeqGRUAttentionEnsemble folder")
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--num_beams", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()

    dtype = getattr(torch, args.dtype)
    ensemble = AutoModelForSeq2SeqLM.from_pretrained(args.ensemble, dtype=dtype).eval()
    if not isinstance(ensemble, Seq2SeqGRUAttentionEnsemble):
        parser.error(f"--ensemble {args.ensemble} holds a {type(ensemble).__name__}, not an ensemble.")
    member = ensemble.members[0]
    member.generation_config = ensemble.generation_config
    tokenizer = AutoTokenizer.from_pretrained(args.ensemble)
    test = split_by_source(load_pairs(), 0.02, 0.03, seed=42)["test"]
    sources = sorted(test["source"][: args.sentences], key=len)

    translators = {
        name: pipeline("rnn-translation", model=model, tokenizer=tokenizer, pipeline_class=RnnTranslationPipeline)
        for name, model in (("one member", member), (f"ensemble of {ensemble.config.num_members}", ensemble))
    }
    best = dict.fromkeys(translators, float("inf"))
    for _ in range(args.repeats):
        for name, translator in translators.items():
            start = time.perf_counter()
            translator(sources, batch_size=args.batch_size, num_beams=args.num_beams)
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"{len(sources)} test sources, beam {args.num_beams}, batches of {args.batch_size}, {args.dtype}, "
          f"{torch.get_num_threads()} thread(s), best of {args.repeats}")
    for name, seconds in best.items():
        print(f"  {name:>16}: {len(sources) / seconds:7.1f} sentences/s ({seconds:.1f} s)")
    one, whole = best.values()
    print(f"  ensemble / one member time: {whole / one:.2f}x")


if __name__ == "__main__":
    main()
