#!/usr/bin/env python
"""Language-model training step: the loss through transformers' `ForCausalLMLoss` against `GRUForCausalLM`'s own
(`causal_lm_loss`, a block-wise float32 cross-entropy), side by side in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_lm_loss.py                # the IMDb LM's size, bf16, 3 rounds
    OMP_NUM_THREADS=2 python benchmarks/bench_lm_loss.py --precision fp32

Each step is what the Trainer runs: the forward pass of a bidirectional `GRUForCausalLM` under CPU autocast (bf16)
or in fp32, the loss of both directions, and the backward pass (no optimizer step: it is the same for both). The two
losses see the same scores; transformers' upcasts all of them to a float32 copy first. Both losses' values are checked
to agree. The defaults are the IMDb language model of BENCHMARKS.md: 1 bidirectional LSTM layer of 256, embeddings
256, 8,000 tokens, 64 blocks of 256 tokens. The two losses alternate step by step; the figures are medians.
"""

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn
from transformers.loss.loss_utils import ForCausalLMLoss

from rnnformers import GRUConfig, GRUForCausalLM
from rnnformers.models.gru.modeling_gru import causal_lm_loss


def transformers_loss(output, labels, vocab_size):
    forward = ForCausalLMLoss(output.logits, labels, vocab_size)
    previous = nn.functional.pad(labels, (1, 0), value=-100)[..., :-1].contiguous()
    backward = ForCausalLMLoss(output.backward_logits, None, vocab_size, shift_labels=previous)
    return (forward + backward) / 2


def own_loss(output, labels, vocab_size):
    following = nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]
    previous = nn.functional.pad(labels, (1, 0), value=-100)[..., :-1]
    return (causal_lm_loss(output.logits, following) + causal_lm_loss(output.backward_logits, previous)) / 2


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--hidden_size", type=int, default=256)
    parser.add_argument("--embedding_dim", type=int, default=256)
    parser.add_argument("--cell_type", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--block_size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="Timed steps per loss (after one untimed each).")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = GRUConfig(vocab_size=args.vocab_size, embedding_dim=args.embedding_dim, hidden_size=args.hidden_size,
                       num_layers=1, cell_type=args.cell_type, bidirectional=True, dropout=0.1)
    model = GRUForCausalLM(config).train()
    ids = torch.randint(4, args.vocab_size, (args.batch_size, args.block_size))
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if args.precision == "bf16" else contextlib.nullcontext())
    losses = {"transformers' ForCausalLMLoss": transformers_loss, "causal_lm_loss (block-wise)": own_loss}
    seconds = {name: [] for name in losses}
    values = {}
    for step in range(args.repeats + 1):
        for name, loss_function in losses.items():
            torch.manual_seed(step)  # the same dropout masks for both
            start = time.perf_counter()
            with autocast:
                output = model(input_ids=ids)
                loss = loss_function(output, ids, args.vocab_size)
            loss.backward()
            elapsed = time.perf_counter() - start
            model.zero_grad(set_to_none=True)
            values[name] = loss.item()
            if step:  # the first step of each is a warm-up
                seconds[name].append(elapsed)
    first, second = values.values()
    assert abs(first - second) < 1e-3 * abs(first), values

    tokens = args.batch_size * args.block_size
    print(f"GRUForCausalLM training step (forward, loss of both directions, backward): 1 × bi{args.cell_type.upper()} "
          f"{args.hidden_size}, embeddings {args.embedding_dim}, vocabulary {args.vocab_size:,}, {args.batch_size} × "
          f"{args.block_size} tokens, {args.precision}, {torch.get_num_threads()} thread(s); median of {args.repeats}")
    median = {name: statistics.median(times) for name, times in seconds.items()}
    for name, value in median.items():
        print(f"  {name:32s} {value:6.2f} s/step  {tokens / value:8,.0f} tokens/s  (loss {values[name]:.4f})")
    old, new = median.values()
    print(f"  speed-up of the step: {old / new:.2f}×")


if __name__ == "__main__":
    main()
