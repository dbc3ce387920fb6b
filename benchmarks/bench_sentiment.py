#!/usr/bin/env python
"""GRU sentiment classifier speed, each a ratio of timings taken side by side (interleaved) in one run on IMDb reviews.

    OMP_NUM_THREADS=1 python benchmarks/bench_sentiment.py                      # a fresh model of the quality run's size
    OMP_NUM_THREADS=1 python benchmarks/bench_sentiment.py --model outputs/gru-imdb

1. training, reviews/s of one optimizer step per batch, the same weights, batches and AdamW in a hand-written loop:
   - rnnformers' masked stack (`GRUForSequenceClassification` with the attention mask: exact, padding never read);
   - the same model on the padded tensors (no mask: the padding is read as tokens, as in the chapter's first model);
   - PyTorch packed sequences (`nn.GRU(bidirectional=True)` on `pack_padded_sequence`, the chapter's fix, with the
     same weights copied in: exact too, and checked to give the same logits as the masked stack).
2. the `Trainer` against that hand-written loop: same model, batches (`DataCollatorWithPadding`, sequential order)
   and optimizer; reviews/s.
3. inference on `--inference_reviews` reviews: `pipeline("text-classification")` against a hand-written batched loop
   (tokenise with padding and truncation, forward, softmax, argmax) at the same batch size; the labels are checked
   to be identical.

Timings are medians over `--repeats` interleaved rounds; an untrained model is as fast as a trained one.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from datasets import load_dataset
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    pipeline,
)

import rnnformers  # noqa: F401  (registers the model classes)
from rnnformers import GRUConfig, GRUForSequenceClassification
from rnnformers.tokenization import train_subword_tokenizer


IMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.parquet"


class PackedSequenceClassifier(nn.Module):
    """The chapter's packed-sequence model with `nn.GRU(bidirectional=...)`, holding a copy of `model`'s weights."""

    def __init__(self, model: GRUForSequenceClassification):
        super().__init__()
        config = model.config
        self.config = config
        self.embed_tokens = nn.Embedding.from_pretrained(model.get_input_embeddings().weight.detach().clone(),
                                                         freeze=False)
        self.rnn = nn.GRU(config.embedding_dim, config.hidden_size, num_layers=config.num_layers,
                          bidirectional=config.bidirectional, batch_first=True,
                          dropout=config.dropout if config.num_layers > 1 else 0.0)
        with torch.no_grad():
            for layer, directions in enumerate(model.base_model.rnn.layers):
                for direction, rnn in enumerate(directions):
                    suffix = f"_l{layer}" + ("_reverse" if direction else "")
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        getattr(self.rnn, name + suffix).copy_(getattr(rnn, name + "_l0"))
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(model.classifier.in_features, config.num_labels)
        self.classifier.load_state_dict(model.classifier.state_dict())

    def forward(self, input_ids, attention_mask, labels=None):
        lengths = attention_mask.sum(dim=1)
        packed = pack_padded_sequence(self.embed_tokens(input_ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        packed_outputs, h_n = self.rnn(packed)
        outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=input_ids.shape[1])
        mask = attention_mask.bool().unsqueeze(-1)  # right padding: valid steps come first
        pooled = {
            "last": lambda: h_n[-(2 if self.config.bidirectional else 1):].transpose(0, 1).flatten(1),
            "mean": lambda: (outputs * mask).sum(1) / mask.sum(1),
            "max": lambda: outputs.masked_fill(~mask, torch.finfo(outputs.dtype).min).amax(1),
        }
        parts = ["mean", "max"] if self.config.pooling == "mean_max" else [self.config.pooling]
        logits = self.classifier(self.dropout(torch.cat([pooled[p]() for p in parts], dim=-1)))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits


def hand_written_training(model, chunks, collator, use_mask=True):
    """A function running one AdamW step per chunk of examples, padded by `collator` on the fly as a DataLoader does
    (the optimizer persists across calls)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def run():
        model.train()
        for chunk in chunks:
            batch = collator(chunk)
            inputs = dict(batch) if use_mask else {k: v for k, v in batch.items() if k != "attention_mask"}
            output = model(**inputs)
            loss = output[0] if isinstance(output, tuple) else output.loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a saved classifier and tokenizer; default: a fresh model")
    parser.add_argument("--vocab_size", type=int, default=20_000, help="tokenizer of the fresh model")
    parser.add_argument("--hidden_size", type=int, default=128)
    parser.add_argument("--num_layers", type=int, default=1)
    parser.add_argument("--max_length", type=int, default=400)
    parser.add_argument("--train_reviews", type=int, default=256, help="reviews per training measurement")
    parser.add_argument("--inference_reviews", type=int, default=1000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "trainer", "inference"])
    args = parser.parse_args()
    torch.manual_seed(0)

    reviews = load_dataset("parquet", data_files={"train": str(IMDB)}, split="train").shuffle(seed=0)
    if args.model:
        model = AutoModelForSequenceClassification.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    else:
        tokenizer = train_subword_tokenizer(reviews.select(range(5000))["text"], vocab_size=args.vocab_size,
                                            lowercase=True)
        model = GRUForSequenceClassification(GRUConfig(
            vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_layers=args.num_layers,
            bidirectional=True, pooling="mean_max", embedding_dropout=0.25, dropout=0.3,
            id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
        ))
    tokenizer.model_max_length = args.max_length
    collator = DataCollatorWithPadding(tokenizer)
    train = reviews.select(range(args.train_reviews)).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length), batched=True,
        remove_columns=["text", "rating", "file"] if "rating" in reviews.column_names else ["text"],
    ).rename_column("label", "labels")
    chunks = [[train[i] for i in range(start, min(start + args.batch_size, len(train)))]
              for start in range(0, len(train), args.batch_size)]
    batches = [collator(chunk) for chunk in chunks]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    padded = sum(b["attention_mask"].numel() for b in batches)
    print(f"model: {model.num_parameters():,} parameters, {model.config.num_layers} x "
          f"{'bi' if model.config.bidirectional else ''}{model.config.cell_type.upper()} {model.config.hidden_size}, "
          f"{model.config.pooling} pooling; {torch.get_num_threads()} thread(s); batch {args.batch_size}; "
          f"{args.train_reviews} training reviews = {tokens:,} tokens in {padded:,} padded slots; "
          f"medians of {args.repeats} interleaved rounds")

    packed_model = PackedSequenceClassifier(model)
    model.eval()
    packed_model.eval()
    with torch.no_grad():
        check = batches[0]
        torch.testing.assert_close(packed_model(check["input_ids"], check["attention_mask"])[1],
                                   model(input_ids=check["input_ids"], attention_mask=check["attention_mask"]).logits,
                                   atol=1e-5, rtol=1e-4)

    methods = {}
    if "training" not in args.skip:
        # Independent copies, so each method's optimizer updates its own weights.
        methods["train: masked stack (rnnformers)"] = hand_written_training(
            GRUForSequenceClassification(model.config), chunks, collator)
        methods["train: padded tensors, no mask"] = hand_written_training(
            GRUForSequenceClassification(model.config), chunks, collator, use_mask=False)
        methods["train: PyTorch packed sequences"] = hand_written_training(packed_model, chunks, collator)
    if "trainer" not in args.skip:
        methods["train: hand-written loop"] = hand_written_training(
            GRUForSequenceClassification(model.config), chunks, collator)
        output_dir = tempfile.mkdtemp()
        trainer = Trainer(
            model=GRUForSequenceClassification(model.config),
            args=TrainingArguments(output_dir=output_dir, max_steps=len(batches), learning_rate=1e-3,
                                   per_device_train_batch_size=args.batch_size, train_sampling_strategy="sequential",
                                   save_strategy="no", report_to="none", disable_tqdm=True, logging_strategy="no",
                                   lr_scheduler_type="constant", dataloader_pin_memory=False),
            train_dataset=train,
            data_collator=collator,
        )
        methods["train: Trainer"] = trainer.train
    predictions = {}
    if "inference" not in args.skip:
        texts = list(reviews.select(range(args.train_reviews, args.train_reviews + args.inference_reviews))["text"])
        classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, batch_size=args.batch_size,
                              truncation=True)

        def hand_batched():
            labels = []
            with torch.no_grad():
                for start in range(0, len(texts), args.batch_size):
                    batch = tokenizer(texts[start:start + args.batch_size], padding=True, truncation=True,
                                      return_tensors="pt")
                    probabilities = model(**batch).logits.softmax(-1)
                    labels += [model.config.id2label[i] for i in probabilities.argmax(-1).tolist()]
            predictions["hand"] = labels

        def with_pipeline():
            predictions["pipeline"] = [p["label"] for p in classifier(texts)]

        methods["infer: pipeline()"] = with_pipeline
        methods["infer: hand-written batched loop"] = hand_batched

    timings = {name: [] for name in methods}
    for _ in range(args.repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    if predictions:
        assert predictions["pipeline"] == predictions["hand"], "pipeline and hand-written labels differ"

    rates = {}
    print(f"{'method':40s} {'reviews/s':>10s}")
    for name, seconds in timings.items():
        count = args.inference_reviews if name.startswith("infer") else args.train_reviews
        rates[name] = count / statistics.median(seconds)
        print(f"{name:40s} {rates[name]:10.1f}")
    print("ratios (measured side by side above):")
    for a, b in [
        ("train: masked stack (rnnformers)", "train: padded tensors, no mask"),
        ("train: masked stack (rnnformers)", "train: PyTorch packed sequences"),
        ("train: Trainer", "train: hand-written loop"),
        ("infer: pipeline()", "infer: hand-written batched loop"),
    ]:
        if a in rates and b in rates:
            print(f"  {a} / {b}: {rates[a] / rates[b]:.2f}x")


if __name__ == "__main__":
    main()
