#!/usr/bin/env python
"""Save a heatmap of a translation model's attention weights for one sentence pair (rows: target tokens, columns:
source tokens), as in Bahdanau et al. (2014), figure 3.

    python scripts/plot_attention.py outputs/nmt-en-es "I like to play soccer with my friends." \
        --output outputs/attention.png
    python scripts/plot_attention.py outputs/nmt-en-es "I like soccer." --target "Me gusta el fútbol." --output a.png

Without `--target` the model's own beam-search translation is plotted; with it, the weights the model gives while
reading that target (teacher forcing). Padding never appears: each sentence is encoded alone.
"""

import argparse

import matplotlib


matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer  # noqa: E402

import rnnformers  # noqa: E402, F401  (registers the model classes)
from rnnformers.training.lifecycle import load_pretrained  # noqa: E402
from rnnformers.training.translation import attention_matrix  # noqa: E402


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="saved model folder or Hub id")
    parser.add_argument("source", help="the sentence to translate")
    parser.add_argument("--target", default=None, help="a reference translation (default: the model's own)")
    parser.add_argument("--num_beams", type=int, default=5)
    parser.add_argument("--output", default="attention.png", help="PNG file to write")
    parser.add_argument("--trust_remote_code", action="store_true")
    args = parser.parse_args(argv)
    if not args.source.strip():
        parser.error("the source sentence is empty.")

    model = load_pretrained(AutoModelForSeq2SeqLM, args.model, "model", trust_remote_code=args.trust_remote_code).eval()
    tokenizer = load_pretrained(AutoTokenizer, args.model, "model", trust_remote_code=args.trust_remote_code)
    source_tokens, target_tokens, weights = attention_matrix(model, tokenizer, args.source, args.target, args.num_beams)

    fig, ax = plt.subplots(figsize=(0.5 * len(source_tokens) + 2, 0.5 * len(target_tokens) + 1.5))
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(target_tokens)), target_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    ax.set_title(f"{model.config.attention_type} attention")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
