#!/usr/bin/env python
"""Char-RNN training speed through the Trainer: bf16 against fp32, and 2 threads against 1, side by side in one run.

    python benchmarks/bench_char_rnn_training.py                 # the quality recipe's size, 3 interleaved rounds
    python benchmarks/bench_char_rnn_training.py --repeats 5 --json results.json

Each measurement trains a freshly initialised model with the Trainer for `--warmup_steps + --steps` optimizer steps
on windows of Tiny Shakespeare and times the `--steps` last ones (set-up and first steps excluded): training
characters per second = steps × batch size × window length / seconds. bf16 is the Trainer's `--bf16 --use_cpu`
(accelerate runs the forward pass under `torch.autocast("cpu", dtype=torch.bfloat16)`, which PyTorch executes on the
CPU's bf16 units where it has them); threads are `torch.set_num_threads`. The four settings are measured in turn in
each round, so that a change of load on the machine hits them alike; the figures are medians over the rounds.
The defaults are the quality recipe: 3 LSTM layers of 512 units, 64-dimensional embeddings, dropout 0.25, windows of
100 characters, batch 128 (stateful or not trains at the same speed: the windows are the same size).
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.training.data import char_windows
from rnnformers.tokenization import build_char_tokenizer


SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


class StepClock(TrainerCallback):
    """Wall-clock time at the end of each optimizer step."""

    def __init__(self):
        self.times = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def training_chars_per_second(config, dataset, precision, threads, args, output_dir) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CharRNNForCausalLM(config)
    clock = StepClock()
    training_args = TrainingArguments(
        output_dir=output_dir, use_cpu=True, bf16=precision == "bf16", max_steps=args.warmup_steps + args.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=2e-3, report_to="none", save_strategy="no",
        logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, seed=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset, data_collator=default_data_collator,
                      callbacks=[clock])
    trainer.train()
    seconds = clock.times[-1] - clock.times[args.warmup_steps - 1]
    return args.steps * args.batch_size * args.window_length / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved rounds (the figures are medians).")
    parser.add_argument("--steps", type=int, default=4, help="Timed optimizer steps per measurement.")
    parser.add_argument("--warmup_steps", type=int, default=1, help="Untimed steps before them.")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="Thread counts to compare.")
    parser.add_argument("--cell_type", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--num_layers", type=int, default=3)
    parser.add_argument("--hidden_size", type=int, default=512)
    parser.add_argument("--embedding_dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--window_length", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--json", type=Path, help="Also write the results to this file.")
    args = parser.parse_args()
    if args.warmup_steps < 1 or args.steps < 1:
        parser.error("--warmup_steps and --steps must be at least 1.")

    text = SHAKESPEARE.read_text(encoding="utf-8")
    tokenizer = build_char_tokenizer(text)
    dataset = char_windows(tokenizer(text, add_special_tokens=False)["input_ids"], args.window_length,
                           args.window_length)
    config = CharRNNConfig(vocab_size=len(tokenizer), embedding_dim=args.embedding_dim, hidden_size=args.hidden_size,
                           num_layers=args.num_layers, dropout=args.dropout, cell_type=args.cell_type)
    settings = [(precision, threads) for threads in args.threads for precision in ("fp32", "bf16")]
    speeds = {setting: [] for setting in settings}
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as output_dir:
        for round_index in range(args.repeats):
            for precision, threads in settings:
                speed = training_chars_per_second(config, dataset, precision, threads, args, output_dir)
                speeds[(precision, threads)].append(speed)
                print(f"round {round_index + 1}: {precision} {threads} thread(s): {speed:,.0f} chars/s", flush=True)
    load_after = os.getloadavg()

    median = {setting: statistics.median(values) for setting, values in speeds.items()}
    print(f"\nTrainer training speed, {args.num_layers} × {args.cell_type.upper()} {args.hidden_size}, embeddings "
          f"{args.embedding_dim}, windows of {args.window_length}, batch {args.batch_size}; median of {args.repeats} "
          f"interleaved rounds of {args.steps} timed steps ({time.perf_counter() - start:.0f} s in all); load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after, {os.cpu_count()} CPUs")
    for (precision, threads), value in median.items():
        print(f"  {precision} {threads} thread(s): {value:>9,.0f} training chars/s")
    ratios = {}
    for threads in args.threads:
        ratios[f"bf16/fp32 at {threads} thread(s)"] = median[("bf16", threads)] / median[("fp32", threads)]
    low, *higher = sorted(args.threads)
    for threads in higher:
        for precision in ("fp32", "bf16"):
            ratios[f"{threads} threads/{low} ({precision})"] = median[(precision, threads)] / median[(precision, low)]
    for name, value in ratios.items():
        print(f"  {name}: {value:.2f}×")
    if args.json:
        args.json.write_text(json.dumps({
            "settings": vars(args) | {"json": str(args.json)},
            "chars_per_second": {f"{p} {t} thread(s)": values for (p, t), values in speeds.items()},
            "medians": {f"{p} {t} thread(s)": value for (p, t), value in median.items()},
            "ratios": ratios,
            "load_average": {"before": load_before, "after": load_after},
        }, indent=2))


if __name__ == "__main__":
    main()
