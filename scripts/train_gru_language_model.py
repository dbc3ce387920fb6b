#!/usr/bin/env python
"""Pretrain a sentiment classifier's backbone as a language model (the ULMFiT / ELMo route) with the Trainer API.

In the style of transformers' `run_clm.py`: arguments are dataclasses parsed by `HfArgumentParser` together with
`TrainingArguments`, so every Trainer option works (checkpoints, `--resume_from_checkpoint`, `--use_cpu --bf16`), and
the script runs unchanged under `accelerate launch` (e.g. two CPU processes).

    python scripts/train_gru_language_model.py --do_train --do_eval --output_dir outputs/gru-lm-imdb \
        --train_file ../shared/data/imdb/train.parquet --extra_train_files ../shared/data/imdb/unsup.parquet \
        --config_overrides "bidirectional=true,separate_directions=true,num_layers=2,hidden_size=512" \
        --block_size 128 --num_train_epochs 1 --learning_rate 2e-3 --use_cpu --bf16
    python scripts/train_sentiment.py --pretrained_backbone outputs/gru-lm-imdb --do_train --do_eval ...

The model is a [`GRUForCausalLM`]: the classifier's [`GRUModel`] under a language-modelling head; bidirectional, it
is a forward and a backward LM whose layers keep the directions apart (`separate_directions=true`, as ELMo's biLM).
Data (`rnnformers.training.data.load_language_model_texts`): the labelled set's *training part* only — the texts
`train_sentiment.py` trains on, never its validation part — plus unlabelled texts (`--extra_train_files`, or the Hub
dataset's "unsupervised" split); `--held_out_percentage` of the unlabelled texts is kept out for the validation
perplexity (`validation_perplexity` = exp of the loss averaged over both directions; each direction's figure is logged
too). The texts are tokenised by a byte-level BPE (lower-cased by default; `--tokenizer_algorithm wordpiece
--lowercase false` for a tagger's backbone) trained on the training texts (`<s>` and `</s>` around each text, as the
classifier will see them), concatenated and cut into blocks of `--block_size` tokens (run_clm's
`group_texts`). The output folder holds the model, the tokenizer and a card; a classifier then starts from it with
`train_sentiment.py --pretrained_backbone <folder>` or `GRUForSequenceClassification.from_pretrained(<folder>,
num_labels=2)`, a tagger with `train_tagger.py --pretrained_backbone <folder>` (`GRUForTokenClassification`); CoNLL-U
files among `--extra_train_files` give their sentences' words joined by spaces. The flags every training script shares are described in `rnnformers.training.lifecycle`.
"""

import logging
import math
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Trainer, default_data_collator, set_seed

from rnnformers import GRUForCausalLM
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.data import load_language_model_texts
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
    tokenizer_algorithm: str = field(
        default="bpe",
        metadata={"help": "Tokenizer trained on the texts: bpe (byte-level) or wordpiece (split on spaces and "
                          "punctuation first, so that a tagger's words, given split, tokenise as in running text).",
                  "choices": ["bpe", "wordpiece"]},
    )
    tokenizer_vocab_size: int = field(default=20_000, metadata={"help": "Vocabulary size of the trained tokenizer."})
    lowercase: bool = field(default=True, metadata={"help": "Lower-case the text in the trained tokenizer (a "
                                                            "tagger's language model keeps case: --lowercase false)."})


@dataclass
class DataArguments(BaseDataArguments):
    dataset_name: str | None = field(
        default=None, metadata={"help": "A labelled Hub dataset (e.g. stanfordnlp/imdb); its unsupervised split too."}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The dataset's configuration, if any."})
    train_file: str | None = field(
        default=None, metadata={"help": "A local labelled parquet/csv/json file; only its training part is read."}
    )
    extra_train_files: list[str] = field(
        default_factory=list,
        metadata={"help": "Unlabelled parquet/csv/json/txt files (e.g. IMDb's unsup reviews), or CoNLL-U files (their "
                          "sentences' words joined by spaces)."},
    )
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    validation_split_percentage: float = field(
        default=20.0, metadata={"help": "The classifier's validation part (left out, as train_sentiment.py's)."}
    )
    split_seed: int = field(default=42, metadata={"help": "Seed of both splits (train_sentiment.py's default)."})
    held_out_percentage: float = field(
        default=2.0, metadata={"help": "Percent of the unlabelled texts held out for the validation perplexity."}
    )
    block_size: int = field(default=128, metadata={"help": "Tokens per training block (both directions read it)."})

    def __post_init__(self):
        if self.block_size < 2:
            raise ValueError(f"--block_size must be at least 2 (a token and the one after it), got {self.block_size}.")


def group_texts(examples: dict, block_size: int) -> dict:
    """run_clm.py's `group_texts`: the texts' token ids concatenated and cut into blocks of `block_size` (the
    remainder dropped); the labels are the ids, shifted inside the model."""
    ids = list(chain.from_iterable(examples["input_ids"]))
    total = len(ids) // block_size * block_size
    blocks = [ids[i : i + block_size] for i in range(0, total, block_size)]
    return {"input_ids": blocks, "labels": [list(block) for block in blocks]}


def main():
    model_args, data_args, training_args = parse_args_and_set_up_logging(
        (ModelArguments, DataArguments, TrainingArguments), logger
    )
    hub_upload = HubUpload.take_from(training_args)
    set_seed(training_args.seed)

    # Data: the classifier's training part + unlabelled texts; held-out unlabelled texts for the perplexity.
    with training_args.main_process_first(desc="loading the texts"):
        texts = load_language_model_texts(
            data_args.train_file, data_args.dataset_name, data_args.dataset_config_name, data_args.extra_train_files,
            data_args.text_column, data_args.validation_split_percentage, data_args.held_out_percentage,
            data_args.split_seed,
        )
    texts = take_samples(texts, data_args, training_args.seed)
    logger.info("texts: %s", {name: len(split) for name, split in texts.items()})

    # Tokenizer: a saved one, or a BPE / WordPiece trained on the training texts, with <s> ... </s> around each text.
    tokenizer = load_saved_tokenizer(model_args, training_args)
    if tokenizer is None:
        tokenizer = train_subword_tokenizer(texts["train"]["text"], algorithm=model_args.tokenizer_algorithm,
                                            vocab_size=model_args.tokenizer_vocab_size,
                                            lowercase=model_args.lowercase, add_bos_eos=True)
    check_tokenizer_matches(tokenizer, training_args, model_args.model_name_or_path)

    with training_args.main_process_first(desc="tokenizing"):
        tokenized = {name: split.map(lambda batch: tokenizer(batch["text"]), batched=True, remove_columns=["text"])
                     for name, split in texts.items()}
        blocks = {name: split.map(group_texts, batched=True, remove_columns=split.column_names,
                                  fn_kwargs={"block_size": data_args.block_size})
                  for name, split in tokenized.items()}
    for name, split in blocks.items():
        if len(split) == 0:
            raise ValueError(f"the {name} texts hold fewer than --block_size {data_args.block_size} tokens.")
    logger.info("blocks of %d tokens: %s", data_args.block_size, {name: len(split) for name, split in blocks.items()})
    scored_parts = parts_to_score(training_args, blocks)

    # Model.
    model = load_or_build_model(
        model_args, GRUForCausalLM, AutoModelForCausalLM, tokenizer,
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
    )

    # Trainer.
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=blocks["train"] if training_args.do_train else None,
        eval_dataset=blocks["validation"],
        processing_class=tokenizer,
        data_collator=default_data_collator,
    )

    # Train.
    if training_args.do_train:
        train_and_save(trainer)

    # Evaluate: loss and perplexity on the held-out unlabelled texts, both directions and each.
    card_metrics = []
    for split, dataset in scored_parts:
        metrics = evaluate_and_save(trainer, dataset, split,
                                    derived_metrics=lambda measured: direction_metrics(trainer, dataset, split, measured))
        card_metrics += card_metrics_of(split, metrics, data_args)

    # Save: tokenizer, card, upload.
    def write_card():
        write_language_model_card(training_args, model_args, data_args, trainer.model, card_metrics)

    save_tokenizer_and_card(trainer, tokenizer, model_args.model_name_or_path, write_card)
    push_at_end(trainer, hub_upload)


def direction_metrics(trainer, dataset, split: str, metrics: dict) -> dict:
    """Perplexity (exp of the loss averaged over the directions), and each direction's loss and perplexity."""
    more = {f"{split}_perplexity": math.exp(min(metrics[f"{split}_loss"], 50.0))}
    model = trainer.model
    if not model.config.bidirectional:
        return more
    # Both directions' losses summed over the blocks, then over the processes.
    totals = torch.zeros(3, device=trainer.args.device)
    model.eval()
    with trainer.accelerator.autocast(), torch.no_grad():
        for batch in trainer.get_eval_dataloader(dataset):
            output = model(**batch)
            size = len(batch["input_ids"])
            totals += torch.stack([output.forward_loss.float() * size, output.backward_loss.float() * size,
                                   torch.tensor(float(size), device=totals.device)])
    forward_total, backward_total, count = trainer.accelerator.reduce(totals, reduction="sum").tolist()
    for direction, total in (("forward", forward_total), ("backward", backward_total)):
        loss = total / count
        more[f"{split}_{direction}_loss"] = loss
        more[f"{split}_{direction}_perplexity"] = math.exp(min(loss, 50.0))
    return more


def card_metrics_of(split: str, metrics: dict, data_args: DataArguments) -> list[CardMetric]:
    source = ", ".join(Path(path).name for path in data_args.extra_train_files) or data_args.dataset_name or "texts"
    description = (f"{data_args.held_out_percentage:g}% of the unlabelled texts held out (seed {data_args.split_seed}), "
                   f"{metrics[f'{split}_samples']:,} blocks of {data_args.block_size} tokens")
    names = [("perplexity", "perplexity (geometric mean of the directions)"), ("forward_perplexity",
             "forward LM perplexity"), ("backward_perplexity", "backward LM perplexity")]
    return [
        CardMetric(metric_type="perplexity", name=f"{split} {name}", value=round(metrics[f"{split}_{key}"], 2),
                   dataset_type=source, dataset_name=source, split=description)
        for key, name in names
        if f"{split}_{key}" in metrics
    ]


def write_language_model_card(training_args, model_args, data_args, model, card_metrics):
    config = model.config
    name = Path(training_args.output_dir).name
    repo = training_args.hub_model_id or f"your-name/{name}"
    kind = "a forward and a backward" if config.bidirectional else "a forward"
    description = (
        f"{kind.capitalize()} {config.cell_type.upper()} language model on one backbone ({config.num_layers} "
        f"layer{'s' if config.num_layers > 1 else ''} of {config.hidden_size} units per direction, "
        f"{config.embedding_dim}-dimensional embeddings, {model.num_parameters():,} parameters): the pretrained "
        "backbone of a rnnformers sentiment classifier (the chapter's \"Reusing Pretrained Embeddings and Language "
        "Models\", the ULMFiT / ELMo route). Fine-tune it with `GRUForSequenceClassification.from_pretrained(repo, "
        "num_labels=2)` or `scripts/train_sentiment.py --pretrained_backbone`."
    )
    usage = f"""
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{repo}")
classifier = AutoModelForSequenceClassification.from_pretrained("{repo}", num_labels=2, trust_remote_code=True)
# classifier.gru holds the pretrained backbone; classifier.classifier is new: fine-tune it on labelled texts.
"""
    if training_args.do_train:
        sources = [data_args.train_file or data_args.dataset_name, *data_args.extra_train_files]
        training = (
            "`scripts/train_gru_language_model.py` of rnnformers on "
            + ", ".join(Path(source).name for source in sources if source)
            + f" (of a labelled file, only the {100 - data_args.validation_split_percentage:g}% training part a "
            f"classifier trains on), blocks of {data_args.block_size} tokens, learning rate "
            f"{training_args.learning_rate}, batch size {training_args.per_device_train_batch_size} per device, "
            + (f"{training_args.max_steps} steps." if training_args.max_steps > 0
               else f"{training_args.num_train_epochs:g} epochs.")
        )
    else:
        training = not_trained_text("scripts/train_gru_language_model.py", model_args.model_name_or_path)
    write_model_card(
        training_args.output_dir,
        CardInfo(
            model_name=name,
            description=description,
            usage=usage,
            training=training,
            task_type="text-generation",
            tags=["language-model", config.cell_type, "ulmfit", "elmo"],
            datasets=[data_args.dataset_name] if data_args.dataset_name else [],
            metrics=card_metrics,
            language=["en"],
        ),
    )


if __name__ == "__main__":
    main()
