#!/usr/bin/env python
"""Train a character-level RNN language model (the chapter's Shakespeare char-RNN) with the Trainer API.

In the style of transformers' `run_clm.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`, logging...)
works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_char_rnn.py --output_dir outputs/char-rnn --do_train --do_eval --do_predict \
        --num_train_epochs 1 --config_overrides "hidden_size=256,cell_type=lstm"
    accelerate launch --cpu --num_processes 2 scripts/train_char_rnn.py --output_dir outputs/char-rnn --do_train \
        --max_steps 100
    python scripts/train_char_rnn.py --model_name_or_path outputs/char-rnn --output_dir outputs/char-rnn --do_eval

Data: the bundled Tiny Shakespeare by default, `--train_file` for a local file (a .txt file read as it is; a parquet /
csv / json file's `--text_column`, or a CoNLL-U file's sentences, one text per line), or `--dataset_name` for a Hub
dataset (its text column is joined into one text). The text is cut into contiguous train / validation / test parts
(90% / 5% / 5% as in the chapter), `--extra_train_files` join the training part, and each part is cut into windows of
`window_length + 1` characters every `stride` characters. A model with `reads_backward=true` (`--config_overrides
reads_backward=true` for a new one) reads every part reversed, last character first: the backward language model of
Flair's and ELMo's pairs. `--do_eval` / `--do_predict` report the loss (nats per character) and perplexity on the
validation / test windows, each read from a zero state (`<split>_loss`, also named
`<split>_loss_windowed_<eval_window_length>`), and, unless `--no_streaming_evaluation`, on the whole part read once
with the state carried from its first character to its last (`<split>_loss_streaming`). The output folder holds the
model (safetensors + code), `tokenizer.json` and a model card with the figures. The flags every training script shares
are described in `rnnformers.training.lifecycle`.

`--stateful --train_sampling_strategy sequential` trains the way char-rnn does (truncated backpropagation through
time): the training text is cut into `per_device_train_batch_size × processes` contiguous streams, each batch row reads
the next window of its stream starting from the state the previous window ended with, and the state is reset at each
epoch's start and saved with each checkpoint (see `rnnformers.training.language_modeling`).
"""

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Trainer, default_data_collator, set_seed

from rnnformers import CharRNNForCausalLM
from rnnformers.tokenization import build_char_tokenizer
from rnnformers.training.data import BUNDLED_SHAKESPEARE, char_windows, encode_characters, load_text, split_text
from rnnformers.training.hub import HubUpload, push_at_end
from rnnformers.training.language_modeling import (
    StatefulTrainingCallback,
    stream_window_collator,
    stream_windows,
    streaming_loss,
)
from rnnformers.training.lifecycle import (
    BaseDataArguments,
    BaseModelArguments,
    TrainingArguments,
    check_tokenizer_matches,
    evaluate_and_save,
    load_or_build_model,
    load_saved_tokenizer,
    parse_args_and_set_up_logging,
    parts_to_score,
    save_tokenizer_and_card,
    take_samples,
    train_and_save,
)
from rnnformers.training.modelcard import CardInfo, CardMetric, not_trained_text, write_model_card


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments(BaseModelArguments):
    # None when not given: refused with a saved tokenizer, which is used as it is. Bare `--lowercase` means true.
    lowercase: bool | None = field(
        default=None,
        metadata={"help": "Lower-case the text, as the chapter does (39 characters instead of 65).", "nargs": "?",
                  "const": True},
    )

    def __post_init__(self):
        super().__post_init__()
        loading = [f"--{name}" for name in ("tokenizer_name", "model_name_or_path") if getattr(self, name)]
        if self.lowercase is not None and loading:
            raise ValueError(f"--lowercase: it shapes a tokenizer this run builds, but {' / '.join(loading)} gives a "
                             "saved one, used as it is: drop it.")


@dataclass
class DataArguments(BaseDataArguments):
    dataset_name: str | None = field(default=None, metadata={"help": "A Hub dataset, e.g. 'karpathy/tiny_shakespeare'."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration, if any."})
    train_file: str | None = field(
        default=None,
        metadata={"help": f"A local text file, or a parquet/csv/json (--text_column) or CoNLL-U file of texts "
                          f"(default: the bundled {BUNDLED_SHAKESPEARE})."},
    )
    text_column: str = field(
        default="text", metadata={"help": "Column holding the texts of a Hub dataset or a parquet/csv/json file."}
    )
    extra_train_files: list[str] = field(
        default_factory=list,
        metadata={"help": "Files whose texts (parquet/csv/json by --text_column, .conllu as their words, .txt whole) "
                          "join the training part only, one per line after it: more text to learn from, never scored."},
    )
    window_length: int = field(default=50, metadata={"help": "Characters the model reads per training window."})
    stride: int = field(default=1, metadata={"help": "Characters between the starts of two training windows."})
    eval_window_length: int | None = field(
        default=None,
        metadata={"help": "Characters per validation/test window (default: window_length); longer gives more context."},
    )
    eval_stride: int | None = field(
        default=None, metadata={"help": "Stride of validation/test windows (default: their length, no overlap)."}
    )
    validation_split_percentage: float = field(default=5.0, metadata={"help": "Percent of the text for validation."})
    test_split_percentage: float = field(default=5.0, metadata={"help": "Percent of the text for the test part."})
    stateful: bool = field(
        default=False,
        metadata={
            "help": "Truncated-BPTT training: the training text cut into per_device_train_batch_size × processes "
            "streams, each batch row reading the next window of its stream from the state the previous one ended "
            "with (reset at each epoch). Windows do not overlap (no --stride). Needs --train_sampling_strategy "
            "sequential."
        },
    )
    streaming_evaluation: bool = field(
        default=True,
        metadata={
            "help": "Also score each evaluated part read once from start to end, the state carried (every character "
            "predicted with all its past): <split>_loss_streaming, beside the windowed <split>_loss."
        },
    )
    sample_prompt: str = field(default="To be or not to b", metadata={"help": "Prompt of the sample in the model card."})

    def __post_init__(self):
        super().__post_init__()
        if self.stateful and self.stride != 1:
            raise ValueError(
                f"--stride {self.stride} does not apply with --stateful: a stream's windows follow each other."
            )
        if self.stateful and self.max_train_samples is not None:
            raise ValueError(
                "--max_train_samples takes a random sample of training windows, which would break the streams of "
                "--stateful: give a shorter --train_file instead."
            )
        # Derived once, here: every later use reads the resolved values.
        self.eval_window_length = self.eval_window_length or self.window_length
        self.eval_stride = self.eval_stride or self.eval_window_length
        for name in ("window_length", "stride", "eval_window_length", "eval_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}.")


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    if data_args.stateful and training_args.do_train and training_args.train_sampling_strategy != "sequential":
        raise ValueError(
            "--stateful feeds the consecutive windows of each stream to the same batch row: pass "
            "--train_sampling_strategy sequential (got "
            f"{training_args.train_sampling_strategy!r}, which reorders them)."
        )
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: one text → contiguous train / validation / test parts.
    with training_args.main_process_first(desc="loading the text"):
        text = load_text(data_args.train_file, data_args.dataset_name, data_args.dataset_config_name,
                         data_args.text_column)
    parts = split_text(text, data_args.validation_split_percentage / 100, data_args.test_split_percentage / 100)
    if data_args.extra_train_files:
        with training_args.main_process_first(desc="loading --extra_train_files"):
            extra = [load_text(path, text_column=data_args.text_column, argument="--extra_train_files")
                     for path in data_args.extra_train_files]
        parts["train"] = "\n".join([parts["train"], *extra])

    # Tokenizer: a saved one, or every character of the training part.
    tokenizer = load_saved_tokenizer(model_args, training_args)
    if tokenizer is None:
        tokenizer = build_char_tokenizer(parts["train"], lowercase=model_args.lowercase)
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path)

    # Model; a backward one reads every part reversed.
    model = load_or_build_model(
        model_args, CharRNNForCausalLM, AutoModelForCausalLM, tokenizer,
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
    )
    if model.config.reads_backward:
        parts = {name: part[::-1] for name, part in parts.items()}

    # Each part → windows of `window_length + 1` token ids.
    windows = {}
    with training_args.main_process_first(desc="building windows"):
        for name, part in parts.items():
            ids = encode_characters(tokenizer, part)
            if name == "train" and data_args.stateful:
                windows[name] = stream_windows(ids, data_args.window_length, training_args.per_device_train_batch_size,
                                               training_args.world_size)
            elif name == "train":
                windows[name] = char_windows(ids, data_args.window_length, data_args.stride)
            else:
                windows[name] = char_windows(ids, data_args.eval_window_length, data_args.eval_stride)
    windows = take_samples(windows, data_args, training_args.seed)
    logger.info("windows: %s", {name: len(dataset) for name, dataset in windows.items()})
    scored_parts = parts_to_score(training_args, windows)  # checked now, not after training

    # Trainer.
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=windows["train"] if training_args.do_train else None,
        eval_dataset=windows.get("validation"),
        processing_class=tokenizer,
        # The stateful collator reads a window's first window_length tokens and predicts the next window_length: the
        # same loss for the (stateless) evaluation windows.
        data_collator=stream_window_collator if data_args.stateful else default_data_collator,
        callbacks=[StatefulTrainingCallback()] if data_args.stateful else None,
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer)

    # Evaluate: loss in nats per character and perplexity, on the validation (--do_eval) and test (--do_predict) parts.
    card_metrics = []
    for split, dataset in scored_parts:
        metrics = evaluate_and_save(
            trainer, dataset, split,
            derived_metrics=lambda measured: more_metrics(trainer, tokenizer, parts[split], split, measured, data_args),
        )
        card_metrics += card_metrics_of(split, metrics, data_args)

    # Save: tokenizer, card (with a sample), upload.
    def write_card():
        sample = generate_sample(trainer.model, tokenizer, data_args.sample_prompt, trainer.model.config.reads_backward)
        print(f"\n--- sample (temperature 0.6) ---\n{sample}\n---")
        write_char_rnn_card(training_args, model_args, data_args, trainer.model, card_metrics, sample)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def more_metrics(trainer, tokenizer, text: str, split: str, metrics: dict, data_args: DataArguments) -> dict:
    """Perplexity, the windowed loss under a name that says so, and the streaming loss and perplexity."""
    loss = metrics[f"{split}_loss"]
    more = {
        f"{split}_perplexity": math.exp(min(loss, 50.0)),  # capped: a diverged run must not overflow
        f"{split}_loss_windowed_{data_args.eval_window_length}": loss,
    }
    if data_args.streaming_evaluation:
        ids = encode_characters(tokenizer, text)
        limit = data_args.max_eval_samples if split == "validation" else data_args.max_predict_samples
        if limit is not None:  # the stretch of text the first `limit` windows cover
            ids = ids[: (limit - 1) * data_args.eval_stride + data_args.eval_window_length + 1]
        # In the Trainer's precision (autocast under --bf16), as its windowed evaluation.
        with trainer.accelerator.autocast(), torch.no_grad():
            streaming = streaming_loss(trainer.model, ids)
        more[f"{split}_loss_streaming"] = streaming
        more[f"{split}_perplexity_streaming"] = math.exp(min(streaming, 50.0))
        logger.info(
            "%s loss: %.4f nats/char windowed (windows of %d characters, each from a zero state), %.4f streaming "
            "(the %d characters read once, the state carried)", split, loss, data_args.eval_window_length, streaming,
            len(ids),
        )
    return more


def dataset_display_name(data_args: DataArguments) -> str:
    if data_args.dataset_name:
        return data_args.dataset_name
    return Path(data_args.train_file).name if data_args.train_file else "Tiny Shakespeare (karpathy/char-rnn)"


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments) -> list[CardMetric]:
    share = data_args.validation_split_percentage if split == "validation" else data_args.test_split_percentage
    ways = [("", f"windowed: windows of {data_args.eval_window_length}, each from a zero state")]
    if f"{split}_loss_streaming" in metrics:
        ways.append(("_streaming", "streaming: read once, the state carried from its first character to its last"))
    return [
        CardMetric(
            metric_type=metric_type,
            name=f"{split} {'perplexity' if metric_type == 'perplexity' else 'loss (nats/char)'}, {way.split(':')[0]}",
            value=round(metrics[f"{split}_{metric_type}{suffix}"], 4),
            dataset_type=data_args.dataset_name or ("tiny_shakespeare" if not data_args.train_file else "text"),
            dataset_name=dataset_display_name(data_args),
            split=f"{split} (a contiguous {share:g}% of the text, {way})",
        )
        for suffix, way in ways
        for metric_type in ("perplexity", "loss")
    ]


def generate_sample(model, tokenizer, prompt: str, reads_backward: bool = False, max_new_tokens: int = 200) -> str:
    """A sampled continuation of `prompt`; a backward model is prompted with the prompt's end and writes leftwards
    (its output is reversed back to reading order)."""
    model.eval()
    flip = (lambda text: text[::-1]) if reads_backward else (lambda text: text)
    inputs = tokenizer(flip(prompt), return_tensors="pt", add_special_tokens=False).to(model.device)
    set_seed(42)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.6)
    return flip(tokenizer.decode(output[0], skip_special_tokens=True))


def write_char_rnn_card(training_args, model_args, data_args, model, card_metrics, sample):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    description = (
        f"A character-level {config.cell_type.upper()} language model ({config.num_layers} layers of "
        f"{config.hidden_size} units, {config.embedding_dim}-dimensional character embeddings, "
        f"{model.num_parameters():,} parameters), the char-RNN of the chapter \"NLP with RNNs and Attention\", "
        f"{'trained' if training_args.do_train else 'scored'} on {dataset_display_name(data_args)}"
        + (f" (+ {', '.join(Path(path).name for path in data_args.extra_train_files)} for training)"
           if data_args.extra_train_files and training_args.do_train else "")
        + (", read backwards (last character first): a backward language model. Give it text reversed."
           if config.reads_backward else ".")
        + f"\n\nSample (prompt {data_args.sample_prompt!r}, temperature 0.6):\n\n```\n{sample}\n```"
    )
    usage = f"""
from transformers import pipeline

generator = pipeline("text-generation", model="{repo}", trust_remote_code=True)
print(generator("To be or not to b", max_new_tokens=200, do_sample=True, temperature=0.6)[0]["generated_text"])
"""
    if config.reads_backward:
        usage = f"""
from transformers import pipeline

# A backward model: give it the end of a text, reversed; it writes what came before, reversed too.
generator = pipeline("text-generation", model="{repo}", trust_remote_code=True)
output = generator("at the station"[::-1], max_new_tokens=200, do_sample=True, temperature=0.6)
print(output[0]["generated_text"][::-1])
"""
    if training_args.do_train and data_args.stateful:
        num_streams = training_args.per_device_train_batch_size * training_args.world_size
        windows = (
            f"stateful (truncated BPTT): {num_streams} contiguous streams of the text, each batch row reading the next "
            f"{data_args.window_length} characters of its stream from the state the previous window ended with (reset "
            "at each epoch)"
        )
    else:
        windows = f"windows of {data_args.window_length} characters every {data_args.stride}"
    if training_args.do_train:
        training = (
            f"`scripts/train_char_rnn.py` of rnnformers: {windows}, learning rate {training_args.learning_rate}, "
            f"batch size {training_args.per_device_train_batch_size} per device, "
            + (f"{training_args.max_steps} steps." if training_args.max_steps > 0 else
               f"{training_args.num_train_epochs:g} epochs.")
        )
    else:
        training = not_trained_text("scripts/train_char_rnn.py", model_args.model_name_or_path)
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="text-generation",
            tags=["char-rnn", config.cell_type, "text-generation"],
            datasets=[data_args.dataset_name] if data_args.dataset_name else [],
            metrics=card_metrics,
            language=["en"],
        ),
    )


if __name__ == "__main__":
    main()
