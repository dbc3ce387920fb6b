#!/usr/bin/env python
"""Train a character-level RNN language model (the chapter's Shakespeare char-RNN) with the Trainer API.

In the style of transformers' `run_clm.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option (checkpoints, `--resume_from_checkpoint`, `--push_to_hub`, logging...)
works, and the script runs unchanged under `accelerate launch`.

    python scripts/train_char_rnn.py --output_dir outputs/char-rnn --num_train_epochs 1
    accelerate launch --cpu --num_processes 2 scripts/train_char_rnn.py --output_dir outputs/char-rnn --max_steps 100

Data: the bundled Tiny Shakespeare by default, `--train_file` for a local text file, or `--dataset_name` for a Hub
dataset (its text column is joined into one text). The text is cut into contiguous train / validation / test parts
(90% / 5% / 5% as in the chapter) and each part into windows of `window_length + 1` characters every `stride`
characters. The output folder holds the model (safetensors + code), `tokenizer.json` and a model card with the
measured perplexity.
"""

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from datasets import load_dataset
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
    default_data_collator,
    set_seed,
)

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.data import BUNDLED_SHAKESPEARE, char_windows, split_text
from rnnformers.modelcard import CardInfo, CardMetric, push_output_dir_to_hub, write_model_card
from rnnformers.scripts_utils import parse_args_and_set_up_logging, train_and_save
from rnnformers.tokenization import build_char_tokenizer


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved char-RNN (folder or Hub id) to continue training; else a new model."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A saved tokenizer to use instead of building one from the training text."}
    )
    lowercase: bool = field(
        default=False, metadata={"help": "Lower-case the text, as the chapter does (39 characters instead of 65)."}
    )
    embedding_dim: int = field(default=10, metadata={"help": "Size of the character embeddings."})
    hidden_size: int = field(default=128, metadata={"help": "Units per recurrent layer."})
    num_layers: int = field(default=2, metadata={"help": "Number of recurrent layers."})
    dropout: float = field(default=0.1, metadata={"help": "Dropout between recurrent layers."})
    cell_type: str = field(default="gru", metadata={"help": "'gru' or 'lstm'."})
    tie_word_embeddings: bool = field(
        default=False, metadata={"help": "Share input and output embeddings (needs embedding_dim == hidden_size)."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from a Hub model to run."})


@dataclass
class DataArguments:
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
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only this many training windows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Keep only this many validation/test windows."})
    eval_only: bool = field(
        default=False, metadata={"help": "Only evaluate --model_name_or_path on the validation and test parts."}
    )
    sample_prompt: str = field(default="To be or not to b", metadata={"help": "Prompt of the sample in the model card."})


def load_text(data_args: DataArguments) -> str:
    """The whole corpus as one string, loaded through `datasets`."""
    if data_args.dataset_name is not None:
        raw = load_dataset(data_args.dataset_name, data_args.dataset_config_name)
        parts = []
        for split in raw.values():
            if data_args.text_column not in split.column_names:
                raise ValueError(
                    f"--text_column {data_args.text_column!r} is not a column of {data_args.dataset_name} "
                    f"(columns: {split.column_names})."
                )
            parts.extend(split[data_args.text_column])
        return "\n".join(parts)
    train_file = data_args.train_file or BUNDLED_SHAKESPEARE
    if not Path(train_file).is_file():
        raise ValueError(f"--train_file {train_file!r} does not exist.")
    raw = load_dataset("text", data_files={"train": train_file}, sample_by="document")
    return "".join(raw["train"]["text"])


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    if data_args.eval_only and not model_args.model_name_or_path:
        raise ValueError("--eval_only needs --model_name_or_path: there is no trained model to evaluate.")
    set_seed(training_args.seed)

    # Data: one text → contiguous train / validation / test parts → windows.
    with training_args.main_process_first(desc="loading the text"):
        text = load_text(data_args)
    parts = split_text(text, data_args.validation_split_percentage / 100, data_args.test_split_percentage / 100)

    if model_args.tokenizer_name or model_args.model_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.tokenizer_name or model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
    else:
        tokenizer = build_char_tokenizer(parts["train"], lowercase=model_args.lowercase)

    eval_window_length = data_args.eval_window_length or data_args.window_length
    eval_stride = data_args.eval_stride or eval_window_length
    windows = {}
    with training_args.main_process_first(desc="building windows"):
        for name, part in parts.items():
            ids = tokenizer(part, add_special_tokens=False)["input_ids"]
            if name == "train":
                dataset = char_windows(ids, data_args.window_length, data_args.stride)
            else:
                dataset = char_windows(ids, eval_window_length, eval_stride)
            limit = data_args.max_train_samples if name == "train" else data_args.max_eval_samples
            if limit is not None and limit < len(dataset):
                # Random training windows; the first evaluation windows, so that figures stay comparable.
                if name == "train":
                    dataset = dataset.shuffle(seed=training_args.seed)
                dataset = dataset.select(range(limit))
            windows[name] = dataset
    logger.info("windows: %s", {name: len(dataset) for name, dataset in windows.items()})

    # Model.
    if model_args.model_name_or_path:
        model = AutoModelForCausalLM.from_pretrained(
            model_args.model_name_or_path, trust_remote_code=model_args.trust_remote_code
        )
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {model.config.vocab_size}."
            )
    else:
        config = CharRNNConfig(
            vocab_size=len(tokenizer),
            embedding_dim=model_args.embedding_dim,
            hidden_size=model_args.hidden_size,
            num_layers=model_args.num_layers,
            dropout=model_args.dropout,
            cell_type=model_args.cell_type,
            tie_word_embeddings=model_args.tie_word_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            unk_token_id=tokenizer.unk_token_id,
        )
        model = CharRNNForCausalLM(config)
    logger.info("model: %s parameters", f"{model.num_parameters():,}")

    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=None if data_args.eval_only else windows["train"],
        eval_dataset=windows.get("validation"),
        processing_class=tokenizer,
        data_collator=default_data_collator,
    )

    if not data_args.eval_only:
        train_and_save(trainer)

    # Evaluation: loss in nats per character and perplexity, on the validation and test parts.
    card_metrics = []
    for split in ("validation", "test"):
        if split not in windows:
            continue
        metrics = trainer.evaluate(eval_dataset=windows[split], metric_key_prefix=split)
        metrics[f"{split}_perplexity"] = math.exp(min(metrics[f"{split}_loss"], 50.0))
        trainer.log_metrics(split, metrics)
        trainer.save_metrics(split, metrics)
        share = data_args.validation_split_percentage if split == "validation" else data_args.test_split_percentage
        dataset_label = dataset_display_name(data_args)
        for metric_type in ("perplexity", "loss"):
            card_metrics.append(
                CardMetric(
                    metric_type=metric_type,
                    name=f"{split} {'perplexity' if metric_type == 'perplexity' else 'loss (nats/char)'}",
                    value=round(metrics[f"{split}_{metric_type}"], 4),
                    dataset_type=data_args.dataset_name or ("tiny_shakespeare" if not data_args.train_file else "text"),
                    dataset_name=dataset_label,
                    split=f"{split} (a contiguous {share:g}% of the text, windows of {eval_window_length})",
                )
            )

    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(training_args.output_dir)
        sample = generate_sample(trainer.model, tokenizer, data_args.sample_prompt)
        print(f"\n--- sample (temperature 0.6) ---\n{sample}\n---")
        write_card(training_args, model_args, data_args, trainer.model, card_metrics, sample)
    if training_args.push_to_hub:
        push_output_dir_to_hub(trainer)


def dataset_display_name(data_args: DataArguments) -> str:
    if data_args.dataset_name:
        return data_args.dataset_name
    return Path(data_args.train_file).name if data_args.train_file else "Tiny Shakespeare (karpathy/char-rnn)"


def generate_sample(model, tokenizer, prompt: str, max_new_tokens: int = 200) -> str:
    model.eval()
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    set_seed(42)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.6)
    return tokenizer.decode(output[0], skip_special_tokens=True)


def write_card(training_args, model_args, data_args, model, card_metrics, sample):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    description = (
        f"A character-level {config.cell_type.upper()} language model ({config.num_layers} layers of "
        f"{config.hidden_size} units, {config.embedding_dim}-dimensional character embeddings, "
        f"{model.num_parameters():,} parameters), the char-RNN of the chapter \"NLP with RNNs and Attention\", "
        f"trained on {dataset_display_name(data_args)}."
        f"\n\nSample (prompt {data_args.sample_prompt!r}, temperature 0.6):\n\n```\n{sample}\n```"
    )
    usage = f"""
from transformers import pipeline

generator = pipeline("text-generation", model="{repo}", trust_remote_code=True)
print(generator("To be or not to b", max_new_tokens=200, do_sample=True, temperature=0.6)[0]["generated_text"])
"""
    training = (
        f"`scripts/train_char_rnn.py` of rnnformers: windows of {data_args.window_length} characters every "
        f"{data_args.stride}, learning rate {training_args.learning_rate}, batch size "
        f"{training_args.per_device_train_batch_size} per device, "
        + (f"{training_args.max_steps} steps." if training_args.max_steps > 0 else
           f"{training_args.num_train_epochs:g} epochs.")
    )
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
