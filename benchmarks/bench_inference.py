"""Fast CPU inference, every family side by side in one run: float32, bfloat16 (weights), int8 (rnnformers.quantization)
and ONNX Runtime (rnnformers.onnx_export: float32, and int8 by ONNX Runtime's dynamic quantization), on trained models
(benchmarks/train_inference_models.sh).

For each family: throughput at batch 1 and at a serving batch (medians of interleaved rounds: every variant once per
round; ONNX Runtime with as many threads as torch), and quality on the validation part the training script held out
(the same split and seed):

- char-RNN: generated characters/s (greedy, a 20-character prompt, 200 new characters); nats/char on windows of the
  validation text.
- classifier: reviews/s (the first validation reviews, cut at 512 tokens); accuracy on the validation reviews.
- translator: sentences/s, greedy at batch 1 and 32, beam 5 at batch 1; BLEU (single reference, sacrebleu) greedy on
  the first validation sources.
- tagger: words/s (sentences of the UD EWT dev file); UPOS accuracy on the dev file (the CRF's Viterbi path).

    OMP_NUM_THREADS=1 python benchmarks/bench_inference.py --models_dir outputs/inference --rounds 3
"""

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sacrebleu
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification
from transformers import AutoModelForTokenClassification, AutoTokenizer

import rnnformers  # noqa: F401  (registers the families)
from transformers.utils import logging as transformers_logging
from rnnformers.onnx_export import OnnxCharRNN, OnnxClassifier, OnnxTranslator, export_char_rnn
from rnnformers.onnx_export import export_classifier, export_translator
from rnnformers.quantization import quantize_dynamic_int8
from rnnformers.training.data import (
    BUNDLED_SHAKESPEARE,
    encode_characters,
    load_pairs,
    load_sentiment_splits,
    load_text,
    split_by_source,
    split_text,
)
from rnnformers.training.token_classification import read_conllu


VARIANTS = ("float32", "bfloat16", "int8", "onnxruntime", "onnxruntime int8")


def median_seconds(functions: dict, rounds: int) -> dict:
    """Each function's median wall-clock over `rounds` interleaved rounds (after one warm-up call each)."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def torch_variants(model) -> dict:
    return {"float32": model, "bfloat16": copy.deepcopy(model).to(torch.bfloat16), "int8": quantize_dynamic_int8(model)}


# ------------------------------------------------------------------------------------------------------------ char-RNN


def bench_char_rnn(folder: Path, args, work: Path) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    models = torch_variants(model)
    runner = OnnxCharRNN(export_char_rnn(model, work / "char-rnn"), num_threads=torch.get_num_threads())
    runner8 = OnnxCharRNN(export_char_rnn(model, work / "char-rnn-int8", quantize=True),
                          num_threads=torch.get_num_threads())
    # the training script's split: 90% / 10% (train_inference_models.sh), contiguous
    validation = split_text(load_text(BUNDLED_SHAKESPEARE), 0.10, 0.0)["validation"]
    ids = torch.as_tensor(encode_characters(tokenizer, validation).astype(np.int64))
    windows = ids[: (len(ids) // 256) * 256].view(-1, 256)[: args.char_windows]

    def loss_of(logits: torch.Tensor) -> float:
        return torch.nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1), windows[:, 1:].flatten()).item()

    quality = {}
    with torch.no_grad():
        for name, m in models.items():
            quality[name] = loss_of(m(input_ids=windows).logits)
    for name, r in (("onnxruntime", runner), ("onnxruntime int8", runner8)):
        quality[name] = loss_of(torch.from_numpy(r.step(windows.numpy(), r.zero_state(len(windows)))[0]))

    prompt = tokenizer("To be or not to be, t", return_tensors="pt", add_special_tokens=False)["input_ids"][:, :20]
    results = {}
    for batch in (1, args.char_batch):
        prompts = prompt.repeat(batch, 1)
        functions = {name: (lambda m=m: m.generate(prompts, max_new_tokens=200, do_sample=False, pad_token_id=0))
                     for name, m in models.items()}
        functions["onnxruntime"] = lambda: runner.generate(prompts.numpy(), max_new_tokens=200)
        functions["onnxruntime int8"] = lambda: runner8.generate(prompts.numpy(), max_new_tokens=200)
        seconds = median_seconds(functions, args.rounds)
        results[f"batch {batch}"] = {name: 200 * batch / s for name, s in seconds.items()}
    return {"unit": "characters/s", "quality": {"metric": "validation nats/char (windows of 256)", **quality},
            "throughput": results}


# ---------------------------------------------------------------------------------------------------------- classifier


def bench_classifier(folder: Path, args, work: Path) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    models = torch_variants(model)
    runner = OnnxClassifier(export_classifier(model, work / "classifier"), num_threads=torch.get_num_threads())
    runner8 = OnnxClassifier(export_classifier(model, work / "classifier-int8", quantize=True),
                             num_threads=torch.get_num_threads())
    validation = load_sentiment_splits(args.imdb_file, validation_split_percentage=20, split_seed=42)["validation"]
    validation = validation.select(range(min(args.reviews, len(validation))))
    texts, labels = list(validation["text"]), np.array(validation["label"])
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # longest first, as evaluate_sentiment.py

    def predictions(logits_of) -> np.ndarray:
        predicted = np.zeros(len(texts), dtype=np.int64)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            batch = tokenizer([texts[i] for i in rows], truncation=True, max_length=512, padding=True,
                              return_tensors="pt")
            predicted[rows] = np.asarray(logits_of(batch["input_ids"], batch["attention_mask"])).argmax(-1)
        return predicted

    def torch_logits(m):
        def logits(ids, mask):
            with torch.no_grad():
                return m(input_ids=ids, attention_mask=mask).logits.float().numpy()
        return logits

    logits_of = {name: torch_logits(m) for name, m in models.items()}
    logits_of["onnxruntime"] = runner.logits
    logits_of["onnxruntime int8"] = runner8.logits
    quality = {name: float((predictions(f) == labels).mean()) for name, f in logits_of.items()}

    results = {}
    for batch in (1, args.serving_batch):
        encoded = tokenizer(texts[:batch], truncation=True, max_length=512, padding=True, return_tensors="pt")
        functions = {name: (lambda f=f: f(encoded["input_ids"], encoded["attention_mask"]))
                     for name, f in logits_of.items()}
        seconds = median_seconds(functions, args.rounds)
        results[f"batch {batch}"] = {name: batch / s for name, s in seconds.items()}
    return {"unit": "reviews/s", "quality": {"metric": f"validation accuracy ({len(texts)} reviews, 20% split seed 42)",
                                             **quality}, "throughput": results}


# ---------------------------------------------------------------------------------------------------------- translator


def bench_translator(folder: Path, args, work: Path) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    models = torch_variants(model)
    runner = OnnxTranslator(export_translator(model, work / "translator"), num_threads=torch.get_num_threads())
    runner8 = OnnxTranslator(export_translator(model, work / "translator-int8", quantize=True),
                             num_threads=torch.get_num_threads())
    validation = split_by_source(load_pairs(), 0.02, 0.03, 42)["validation"]
    validation = validation.select(range(min(args.sentences, len(validation))))
    sources, references = list(validation["source"]), list(validation["target"])

    def torch_translate(m, num_beams=1):
        def translate(ids, mask):
            with torch.no_grad():
                out = m.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=args.max_new_tokens)
            return tokenizer.batch_decode(out, skip_special_tokens=True)
        return translate

    def onnx_translate(num_beams=1, runner=runner):
        def translate(ids, mask):
            rows = runner.generate(ids.numpy(), mask.numpy(), num_beams=num_beams, max_new_tokens=args.max_new_tokens)
            return tokenizer.batch_decode(rows, skip_special_tokens=True)
        return translate

    greedy = {name: torch_translate(m) for name, m in models.items()}
    greedy["onnxruntime"] = onnx_translate()
    greedy["onnxruntime int8"] = onnx_translate(runner=runner8)
    quality = {}
    for name, translate in greedy.items():
        hypotheses = []
        for start in range(0, len(sources), 64):
            batch = tokenizer(sources[start : start + 64], padding=True, return_tensors="pt")
            hypotheses += translate(batch["input_ids"], batch["attention_mask"])
        quality[name] = sacrebleu.corpus_bleu(hypotheses, [references]).score

    results = {}
    for label, batch, functions in (("batch 1, greedy", 1, greedy), (f"batch {args.serving_batch}, greedy",
                                                                       args.serving_batch, greedy)):
        encoded = tokenizer(sources[:batch], padding=True, return_tensors="pt")
        calls = {name: (lambda f=f: f(encoded["input_ids"], encoded["attention_mask"]))
                 for name, f in functions.items()}
        results[label] = {name: batch / s for name, s in median_seconds(calls, args.rounds).items()}
    beam = {name: torch_translate(m, 5) for name, m in models.items()}
    beam["onnxruntime"] = onnx_translate(5)
    beam["onnxruntime int8"] = onnx_translate(5, runner8)
    encoded = tokenizer(sources[:1], return_tensors="pt")
    calls = {name: (lambda f=f: f(encoded["input_ids"], encoded["attention_mask"])) for name, f in beam.items()}
    results["batch 1, beam 5"] = {name: 1 / s for name, s in median_seconds(calls, args.rounds).items()}
    return {"unit": "sentences/s", "quality": {"metric": f"validation BLEU, greedy, single reference ({len(sources)} "
                                                         "sources, split seed 42)", **quality}, "throughput": results}


# -------------------------------------------------------------------------------------------------------------- tagger


def bench_tagger(folder: Path, args, work: Path) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder).eval()
    models = torch_variants(model)
    runner = OnnxClassifier(export_classifier(model, work / "tagger"), model, num_threads=torch.get_num_threads())
    runner8 = OnnxClassifier(export_classifier(model, work / "tagger-int8", quantize=True), model,
                             num_threads=torch.get_num_threads())
    dev = read_conllu(args.dev_file)
    label2id = model.config.label2id
    sentences = [list(words) for words in dev["tokens"]]
    gold = [[label2id[tag] for tag in tags] for tags in dev["tags"]]

    def first_token_positions(encoding, row):
        positions, previous = [], None
        for position, word_id in enumerate(encoding.word_ids(row)):
            if word_id is not None and word_id != previous:
                positions.append(position)
            previous = word_id
        return positions

    def torch_decode(m):
        def decode(ids, mask):
            with torch.no_grad():
                return m.decode(ids, mask) if getattr(m, "crf", None) is not None else [
                    row[r.bool()].argmax(-1).tolist() for row, r in zip(m(input_ids=ids, attention_mask=mask).logits,
                                                                         mask)]
        return decode

    decoders = {name: torch_decode(m) for name, m in models.items()}
    decoders["onnxruntime"] = runner.decode
    decoders["onnxruntime int8"] = runner8.decode

    def tag(decode, rows):
        encoding = tokenizer([sentences[i] for i in rows], is_split_into_words=True, padding=True, return_tensors="pt")
        paths = decode(encoding["input_ids"], encoding["attention_mask"])
        tags = []
        for j, path in enumerate(paths):
            # `decode` gives one label per real token (special tokens included, in order): keep each word's first
            real = [p for p, m in enumerate(encoding["attention_mask"][j].tolist()) if m]
            by_position = dict(zip(real, path))
            tags.append([by_position[p] for p in first_token_positions(encoding, j)])
        return tags

    quality = {}
    for name, decode in decoders.items():
        correct = total = 0
        for start in range(0, len(sentences), 64):
            rows = list(range(start, min(start + 64, len(sentences))))
            for predicted, expected in zip(tag(decode, rows), (gold[i] for i in rows)):
                correct += sum(p == e for p, e in zip(predicted, expected))
                total += len(expected)
        quality[name] = correct / total

    results = {}
    for batch in (1, args.serving_batch):
        rows = list(range(batch))
        words = sum(len(sentences[i]) for i in rows)
        calls = {name: (lambda d=d: tag(d, rows)) for name, d in decoders.items()}
        results[f"batch {batch}"] = {name: words / s for name, s in median_seconds(calls, args.rounds).items()}
    return {"unit": "words/s", "quality": {"metric": f"UPOS accuracy, UD EWT dev ({len(sentences)} sentences)",
                                           **quality}, "throughput": results}


BENCHES = {"char-rnn": bench_char_rnn, "classifier": bench_classifier, "translator": bench_translator,
           "tagger": bench_tagger}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models_dir", default="outputs/inference")
    parser.add_argument("--only", nargs="*", choices=list(BENCHES), default=list(BENCHES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serving_batch", type=int, default=32)
    parser.add_argument("--char_batch", type=int, default=16)
    parser.add_argument("--char_windows", type=int, default=200)
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--max_new_tokens", type=int, default=40)
    parser.add_argument("--imdb_file", default="../shared/data/imdb/train.parquet")
    parser.add_argument("--dev_file", default="../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    transformers_logging.set_verbosity_error()  # generate()'s max_length / max_new_tokens notice, once per call
    results = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as work:
        for name in args.only:
            results[name] = BENCHES[name](Path(args.models_dir) / name, args, Path(work))
            report = results[name]
            print(f"\n## {name} ({report['unit']}); quality: {report['quality']['metric']}")
            print("| | " + " | ".join(VARIANTS) + " |")
            print("|---|" + "---|" * len(VARIANTS))
            print("| quality | " + " | ".join(f"{report['quality'][v]:.4f}" for v in VARIANTS) + " |")
            for label, row in report["throughput"].items():
                base = row["float32"]
                print(f"| {label} | " + " | ".join(f"{row[v]:.1f} ({row[v] / base:.2f}×)" for v in VARIANTS) + " |")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
