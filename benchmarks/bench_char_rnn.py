#!/usr/bin/env python
"""Char-RNN speed benchmarks, each a ratio of two timings taken side by side (interleaved) in one run.

    python benchmarks/bench_char_rnn.py            # all of them, at the chapter's model size
    python benchmarks/bench_char_rnn.py --only generation --repeats 5
    python benchmarks/bench_char_rnn.py --only generation \
        --config_overrides "cell_type=lstm,num_layers=2,hidden_size=512,embedding_dim=64"   # the quality recipe's size

1. generation: `generate()` (the recurrent state as cache: one token per step) against the chapter's `extend_text()`,
   which re-runs the model over the whole growing text for each new character; and against a hand-written loop that
   feeds one token and the returned state; and the time for 2,000 against 250 new characters (linear would be 8).
2. training: characters per second of the Trainer against a hand-written PyTorch loop, same model, data and batches.

Timings are medians over `--repeats` interleaved rounds; the model is untrained (speed does not depend on weights).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments, default_data_collator

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.training.data import char_windows, split_text
from rnnformers.training.language_modeling import state_of
from rnnformers.training.lifecycle import parse_config_overrides
from rnnformers.tokenization import build_char_tokenizer


SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
PROMPT = "To be or not to b"


def time_into(fn, timings: list[float]) -> None:
    """Runs `fn` once and appends its wall-clock time to `timings`."""
    start = time.perf_counter()
    fn()
    timings.append(time.perf_counter() - start)


# --- generation ----------------------------------------------------------------------------------------------------


@torch.no_grad()
def extend_text(model, tokenizer, text: str, n_chars: int, temperature: float = 1.0) -> str:
    """The chapter's `extend_text()`: re-run the model on the whole text for every new character."""
    for _ in range(n_chars):
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        logits = model(ids, use_cache=False).logits[0, -1]
        next_id = torch.multinomial(F.softmax(logits / temperature, dim=-1), num_samples=1).item()
        text += tokenizer.decode([next_id])
    return text


@torch.no_grad()
def stateful_loop(model, input_ids: torch.Tensor, n_chars: int, temperature: float = 1.0) -> torch.Tensor:
    """A hand-written cached loop: feed one token and the state returned by the previous step."""
    out = model(input_ids)
    state, logits = state_of(out), out.logits[:, -1]
    generated = [input_ids]
    for _ in range(n_chars):
        next_id = torch.multinomial(F.softmax(logits / temperature, dim=-1), num_samples=1)
        generated.append(next_id)
        out = model(next_id, cache=state)
        state, logits = state_of(out), out.logits[:, -1]
    return torch.cat(generated, dim=1)


def bench_generation(model, tokenizer, repeats: int) -> list[dict]:
    input_ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]

    def generate(n):
        return model.generate(input_ids, max_new_tokens=n, do_sample=True, temperature=1.0, top_k=None,
                              pad_token_id=tokenizer.pad_token_id)

    times = {key: [] for key in ("generate_600", "extend_text_600", "loop_600", "generate_250", "generate_2000")}
    generate(10)  # warm-up
    for _ in range(repeats):
        time_into(lambda: generate(600), times["generate_600"])
        time_into(lambda: extend_text(model, tokenizer, PROMPT, 600), times["extend_text_600"])
        time_into(lambda: stateful_loop(model, input_ids, 600), times["loop_600"])
        time_into(lambda: generate(250), times["generate_250"])
        time_into(lambda: generate(2000), times["generate_2000"])
    med = {key: statistics.median(values) for key, values in times.items()}
    return [
        {"benchmark": "generate() speed-up over extend_text(), 600 chars", "ratio": med["extend_text_600"] /
         med["generate_600"], "target": ">= 30", "times_s": [med["extend_text_600"], med["generate_600"]]},
        {"benchmark": "generate() time / hand-written stateful loop, 600 chars", "ratio": med["generate_600"] /
         med["loop_600"], "target": "<= 1.15", "times_s": [med["generate_600"], med["loop_600"]]},
        {"benchmark": "generate() time 2000 chars / 250 chars", "ratio": med["generate_2000"] / med["generate_250"],
         "target": "<= 9 (linear: 8)", "times_s": [med["generate_2000"], med["generate_250"]]},
    ]


# --- training ------------------------------------------------------------------------------------------------------


def bench_training(config, dataset, repeats: int, steps: int, batch_size: int, window_length: int) -> list[dict]:
    def new_model():
        torch.manual_seed(0)
        return CharRNNForCausalLM(config)

    def hand_written_loop():
        model = new_model().train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        loader = torch.utils.data.DataLoader(dataset.with_format("torch"), batch_size=batch_size, shuffle=True)
        for step, batch in enumerate(loader):
            if step == steps:
                break
            logits = model(batch["input_ids"].long()).logits
            targets = batch["labels"].long()
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, config.vocab_size), targets[:, 1:].reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()

    def trainer_loop():
        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(output_dir=tmp, max_steps=steps, per_device_train_batch_size=batch_size,
                                     learning_rate=3e-3, report_to="none", save_strategy="no", logging_steps=10_000,
                                     disable_tqdm=True, dataloader_pin_memory=False)
            Trainer(model=new_model(), args=args, train_dataset=dataset, data_collator=default_data_collator).train()

    times = {"trainer": [], "loop": []}
    for _ in range(repeats):
        time_into(trainer_loop, times["trainer"])
        time_into(hand_written_loop, times["loop"])
    chars = steps * batch_size * window_length
    trainer_rate = chars / statistics.median(times["trainer"])
    loop_rate = chars / statistics.median(times["loop"])
    return [{"benchmark": f"training chars/s, Trainer / hand-written loop ({steps} steps of {batch_size}x"
             f"{window_length})", "ratio": trainer_rate / loop_rate, "target": ">= 0.9",
             "chars_per_s": [trainer_rate, loop_rate]}]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["generation", "training"], default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train_steps", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps timings steady).")
    parser.add_argument("--json", action="store_true", help="Print JSON lines instead of a table.")
    parser.add_argument("--config_overrides", default=None,
                        help='Model size over the chapter\'s, as the training script takes it: "hidden_size=512,...".')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    text = SHAKESPEARE.read_text(encoding="utf-8")
    tokenizer = build_char_tokenizer(text)
    config = CharRNNConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,  # the chapter's size
                           **parse_config_overrides(CharRNNConfig, args.config_overrides))
    torch.manual_seed(0)
    model = CharRNNForCausalLM(config).eval()

    rows = []
    if args.only in (None, "generation"):
        rows += bench_generation(model, tokenizer, args.repeats)
    if args.only in (None, "training"):
        train_text = split_text(text)["train"]
        dataset = char_windows(tokenizer(train_text)["input_ids"], 50, 1)
        rows += bench_training(config, dataset, args.repeats, args.train_steps, args.batch_size, 50)

    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['benchmark']}: {row['ratio']:.2f} (target {row['target']})")


if __name__ == "__main__":
    main()
