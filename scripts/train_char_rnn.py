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

Data: the bundled Tiny Shakespeare by default, `--train_file` for a local text file, or `--dataset_name` for a Hub
dataset (its text column is joined into one text). The text is cut into contiguous train / validation / test parts
(90% / 5% / 5% as in the chapter) and each part into windows of `window_length + 1` characters every `stride`
characters. `--do_eval` / `--do_predict` report the loss (nats per character) and perplexity on the validation / test
windows. The output folder holds the model (safetensors + code), `tokenizer.json` and a model card with the figures.
The flags every training script shares are described in `rnnformers.training.lifecycle`.
"""

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoModelForCausalLM, Trainer, default_data_collator, set_seed

from rnnformers import CharRNNForCausalLM
from rnnformers.tokenization import build_char_tokenizer
from rnnformers.training.data import BUNDLED_SHAKESPEARE, char_windows, load_text, split_text
from rnnformers.training.hub import HubUpload, push_at_end
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
        default=None, metadata={"help": f"A local text file (default: the bundled {BUNDLED_SHAKESPEARE})."}
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the text in a Hub dataset."})
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
    sample_prompt: str = field(default="To be or not to b", metadata={"help": "Prompt of the sample in the model card."})

    def __post_init__(self):
        super().__post_init__()
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
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: one text → contiguous train / validation / test parts.
    with training_args.main_process_first(desc="loading the text"):
        text = load_text(data_args.train_file, data_args.dataset_name, data_args.dataset_config_name,
                         data_args.text_column)
    parts = split_text(text, data_args.validation_split_percentage / 100, data_args.test_split_percentage / 100)

    # Tokenizer: a saved one, or every character of the training part.
    tokenizer = load_saved_tokenizer(model_args, training_args)
    if tokenizer is None:
        tokenizer = build_char_tokenizer(parts["train"], lowercase=model_args.lowercase)
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path)

    # Each part → windows of `window_length + 1` token ids.
    windows = {}
    with training_args.main_process_first(desc="building windows"):
        for name, part in parts.items():
            ids = tokenizer(part, add_special_tokens=False)["input_ids"]
            if name == "train":
                windows[name] = char_windows(ids, data_args.window_length, data_args.stride)
            else:
                windows[name] = char_windows(ids, data_args.eval_window_length, data_args.eval_stride)
    windows = take_samples(windows, data_args, training_args.seed)
    logger.info("windows: %s", {name: len(dataset) for name, dataset in windows.items()})
    scored_parts = parts_to_score(training_args, windows)  # checked now, not after training

    # Model.
    model = load_or_build_model(
        model_args, CharRNNForCausalLM, AutoModelForCausalLM, tokenizer,
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
    )

    # Trainer.
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=windows["train"] if training_args.do_train else None,
        eval_dataset=windows.get("validation"),
        processing_class=tokenizer,
        data_collator=default_data_collator,
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer)

    # Evaluate: loss in nats per character and perplexity, on the validation (--do_eval) and test (--do_predict) parts.
    card_metrics = []
    for split, dataset in scored_parts:
        metrics = evaluate_and_save(  # perplexity = e^loss (capped: a diverged run must not overflow)
            trainer, dataset, split,
            derived_metrics=lambda measured: {f"{split}_perplexity": math.exp(min(measured[f"{split}_loss"], 50.0))},
        )
        card_metrics += card_metrics_of(split, metrics, data_args)

    # Save: tokenizer, card (with a sample), upload.
    def write_card():
        sample = generate_sample(trainer.model, tokenizer, data_args.sample_prompt)
        print(f"\n--- sample (temperature 0.6) ---\n{sample}\n---")
        write_char_rnn_card(training_args, model_args, data_args, trainer.model, card_metrics, sample)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def dataset_display_name(data_args: DataArguments) -> str:
    if data_args.dataset_name:
        return data_args.dataset_name
    return Path(data_args.train_file).name if data_args.train_file else "Tiny Shakespeare (karpathy/char-rnn)"


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments) -> list[CardMetric]:
    share = data_args.validation_split_percentage if split == "validation" else data_args.test_split_percentage
    return [
        CardMetric(
            metric_type=metric_type,
            name=f"{split} {'perplexity' if metric_type == 'perplexity' else 'loss (nats/char)'}",
            value=round(metrics[f"{split}_{metric_type}"], 4),
            dataset_type=data_args.dataset_name or ("tiny_shakespeare" if not data_args.train_file else "text"),
            dataset_name=dataset_display_name(data_args),
            split=f"{split} (a contiguous {share:g}% of the text, windows of {data_args.eval_window_length})",
        )
        for metric_type in ("perplexity", "loss")
    ]


def generate_sample(model, tokenizer, prompt: str, max_new_tokens: int = 200) -> str:
    model.eval()
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    set_seed(42)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.6)
    return tokenizer.decode(output[0], skip_special_tokens=True)


def write_char_rnn_card(training_args, model_args, data_args, model, card_metrics, sample):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    description = (
        f"A character-level {config.cell_type.upper()} language model ({config.num_layers} layers of "
        f"{config.hidden_size} units, {config.embedding_dim}-dimensional character embeddings, "
        f"{model.num_parameters():,} parameters), the char-RNN of the chapter \"NLP with RNNs and Attention\", "
        f"{'trained' if training_args.do_train else 'scored'} on {dataset_display_name(data_args)}."
        f"\n\nSample (prompt {data_args.sample_prompt!r}, temperature 0.6):\n\n```\n{sample}\n```"
    )
    usage = f"""
from transformers import pipeline

generator = pipeline("text-generation", model="{repo}", trust_remote_code=True)
print(generator("To be or not to b", max_new_tokens=200, do_sample=True, temperature=0.6)[0]["generated_text"])
"""
    if training_args.do_train:
        training = (
            f"`scripts/train_char_rnn.py` of rnnformers: windows of {data_args.window_length} characters every "
            f"{data_args.stride}, learning rate {training_args.learning_rate}, batch size "
            f"{training_args.per_device_train_batch_size} per device, "
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
