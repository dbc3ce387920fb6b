"""The lifecycle every training script shares, as in transformers' example scripts (run_clm.py, run_glue.py,
run_translation.py).

A script's `main()` reads Data / Tokenizer / Model / Trainer / Train / Evaluate / Save, and means the same by the same
flag everywhere:

- `--do_train` trains: a new model whose architecture is the config class's defaults plus `--config_overrides
  "key=value,..."`, or the saved `--model_name_or_path`; the trained model is saved in `--output_dir`.
- `--do_eval` scores the validation part at the end; `--do_predict` scores the test part. transformers turns
  `--do_eval` on by itself whenever `--eval_strategy` is not `no`: evaluating during training also gives the final
  validation scores.
- Without `--do_train`, `--model_name_or_path` is the model scored. Scored into its own folder, only the
  `*_results.json` files are written there (its card and tokenizer stay as they are); into another folder, the model,
  its tokenizer and a card that states no training hyperparameters are saved there.
- `--max_train_samples` keeps a random sample (seed `--seed`) of the training rows, `--max_eval_samples` the first
  validation rows, `--max_predict_samples` the first test rows (first rows, so that figures stay comparable).
- An `--output_dir` that holds a model or checkpoints is refused unless `--overwrite_output_dir` or
  `--resume_from_checkpoint` says what to do with it.
- `--push_to_hub` uploads, once at the end, only what a model repository needs (see `rnnformers.training.hub`); the
  Trainer itself never pushes, and `--hub_token` never reaches `training_args.bin`.
"""

import logging
import os
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import transformers
from huggingface_hub.errors import HFValidationError
from transformers import HfArgumentParser
from transformers.trainer_utils import get_last_checkpoint


logger = logging.getLogger(__name__)

# Only looked for, never loaded: a folder holding any of these (a pickled `pytorch_model.bin` from an older save
# included) holds a model that a new run must not overwrite. Loading goes through `from_pretrained` (safetensors), and
# `--push_to_hub` uploads safetensors weights only (training/hub.py).
MODEL_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass
class BaseModelArguments:
    """The model arguments every training script has; a script's `ModelArguments` adds its own."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A saved model (folder or Hub id) to continue training or to score; else a new model."},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Architecture of a new model, over the config class's defaults: e.g. "
            '"hidden_size=256,num_layers=1,cell_type=lstm". Not with --model_name_or_path.'
        },
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "A saved tokenizer (folder or Hub id) to use instead of building one."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code from a Hub model to run."})

    def __post_init__(self):
        if self.config_overrides and self.model_name_or_path:
            raise ValueError(
                "--config_overrides sets the architecture of a new model; it cannot change the saved "
                f"--model_name_or_path {self.model_name_or_path!r}."
            )


@dataclass
class BaseDataArguments:
    """The sample limits every training script has, with one meaning; a script's `DataArguments` adds its own."""

    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on a random sample of this many training rows (seed --seed)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on the first this many validation rows (--do_eval, --eval_strategy)."}
    )
    max_predict_samples: int | None = field(
        default=None, metadata={"help": "Score only the first this many test rows (--do_predict)."}
    )

    def __post_init__(self):
        for name in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be at least 1, got {value}.")


@dataclass
class _OutputDirArguments:
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Train into an --output_dir that already holds a model or checkpoints, replacing them."},
    )


@dataclass
class TrainingArguments(transformers.TrainingArguments, _OutputDirArguments):
    """transformers' `TrainingArguments` with `--overwrite_output_dir` (which transformers 5 dropped)."""


@dataclass
class Seq2SeqTrainingArguments(transformers.Seq2SeqTrainingArguments, _OutputDirArguments):
    """transformers' `Seq2SeqTrainingArguments` with `--overwrite_output_dir` (which transformers 5 dropped)."""


def parse_args_and_set_up_logging(dataclass_types: tuple, logger: logging.Logger) -> tuple:
    """Parses the command line into `dataclass_types` with `HfArgumentParser` and checks the flags across them.

    The first type is the script's model arguments (a `BaseModelArguments`), the last its `TrainingArguments`. A
    single `.json` argument is read as a file of all the arguments. Logging then goes to stdout at the level of this
    process (`--log_level` on the main process, `--log_level_replica` on the others), for the script's `logger`,
    transformers and datasets alike.
    """
    parser = HfArgumentParser(dataclass_types)
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        parsed = parser.parse_json_file(json_file=os.path.abspath(sys.argv[1]))
    else:
        parsed = parser.parse_args_into_dataclasses()

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = parsed[-1].get_process_log_level()
    logger.setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    check_run(parsed[0], parsed[-1])
    return tuple(parsed)


def check_run(model_args: BaseModelArguments, training_args: TrainingArguments) -> None:
    """The flag conflicts between the model arguments and the training arguments (those within one dataclass are
    checked in its `__post_init__`), and the output folder."""
    if not (training_args.do_train or training_args.do_eval or training_args.do_predict):
        raise ValueError("nothing to do: pass --do_train, --do_eval and/or --do_predict.")
    if not training_args.do_train and not model_args.model_name_or_path:
        raise ValueError("--do_eval / --do_predict without --do_train score a saved model: pass --model_name_or_path.")
    if training_args.resume_from_checkpoint and not training_args.do_train:
        raise ValueError("--resume_from_checkpoint continues training: it needs --do_train.")
    check_output_dir(training_args, model_args.model_name_or_path)


def scores_own_folder(training_args, model_name_or_path: str | None) -> bool:
    """Whether this run only scores the saved model of `--output_dir` itself (so it must not rewrite that folder)."""
    return (
        not training_args.do_train
        and model_name_or_path is not None
        and Path(model_name_or_path).resolve() == Path(training_args.output_dir).resolve()
    )


def check_output_dir(training_args, model_name_or_path: str | None = None) -> None:
    """Refuses an `--output_dir` holding a finished model or checkpoints, as transformers' examples do.

    Training there would overwrite the model and, with `--save_total_limit`, delete its checkpoints. Allowed with
    `--overwrite_output_dir`, with `--resume_from_checkpoint` of a checkpoint of that folder (continuing that run; a
    checkpoint from elsewhere does not make this folder's model and checkpoints disposable), and when a run only
    scores the model saved in that very folder.
    """
    output_dir = Path(training_args.output_dir)
    if not output_dir.is_dir() or training_args.overwrite_output_dir:
        return
    resume = training_args.resume_from_checkpoint
    if resume and Path(resume).resolve().parent == output_dir.resolve():
        return
    if scores_own_folder(training_args, model_name_or_path):
        return
    last_checkpoint = get_last_checkpoint(str(output_dir))
    holds_model = any((output_dir / name).is_file() for name in MODEL_FILES)
    if last_checkpoint is None and not holds_model:
        return
    held = " and ".join(
        what
        for what, present in (("a saved model", holds_model), (f"checkpoints (last: {last_checkpoint})", last_checkpoint))
        if present
    )
    resume = last_checkpoint or str(output_dir / "checkpoint-<step>")
    raise ValueError(
        f"--output_dir {output_dir} already holds {held}, which this run would overwrite. Pass "
        f"--overwrite_output_dir to replace them, or --resume_from_checkpoint {resume} to continue that run."
    )


def _looks_like_a_path(name_or_path: str) -> bool:
    # A Hub id is "name" or "owner/name"; anything else ("outputs/run/x", "./x", "/x", "~/x") can only be a folder.
    return name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1


def load_pretrained(auto_class, name_or_path: str, argument: str, **kwargs):
    """`auto_class.from_pretrained(name_or_path)`, with an error naming `argument` when nothing is there to load."""
    if not Path(name_or_path).exists():
        if _looks_like_a_path(name_or_path):
            raise ValueError(f"{argument} {name_or_path!r}: no such folder.")
        try:
            return auto_class.from_pretrained(name_or_path, **kwargs)
        except (OSError, HFValidationError) as error:
            raise ValueError(
                f"{argument} {name_or_path!r} is not a folder, and no Hub model of that name could be loaded: {error}"
            ) from error
    return auto_class.from_pretrained(name_or_path, **kwargs)


def load_saved_tokenizer(model_args: BaseModelArguments, training_args=None, **other_sources: str | None):
    """The tokenizer of `--tokenizer_name`, else of the first of `other_sources` given (e.g.
    `pretrained_embeddings=...`), else of `--model_name_or_path`, else the one saved in `--resume_from_checkpoint`
    (pass `training_args`); None when the run names none (the script builds one).

    A resumed run thus reads its ids as the interrupted run did, even where building the tokenizer again would not
    give the same ids (the `tokenizers` trainers break ties in hash order).
    """
    checkpoint = training_args.resume_from_checkpoint if training_args is not None else None
    if not (isinstance(checkpoint, str) and Path(checkpoint, "tokenizer_config.json").is_file()):
        checkpoint = None
    sources = [("tokenizer_name", model_args.tokenizer_name), *other_sources.items(),
               ("model_name_or_path", model_args.model_name_or_path), ("resume_from_checkpoint", checkpoint)]
    for flag, name in sources:
        if name:
            return load_pretrained(transformers.AutoTokenizer, name, f"--{flag}",
                                   trust_remote_code=model_args.trust_remote_code)
    return None


def parse_config_overrides(config_class, overrides: str | None) -> dict:
    """`--config_overrides "hidden_size=256,cell_type=lstm,bidirectional=true"` as keyword arguments of `config_class`.

    Each value takes the type of the field's default (`true`/`false` for booleans), so the config's own validation
    sees what it expects. Unknown fields, fields given twice, and the ones set from the tokenizer, are refused.
    """
    if not overrides:
        return {}
    defaults = config_class()
    values = {}
    for item in overrides.split(","):
        key, separator, text = (part.strip() for part in item.partition("="))
        if not separator or not key:
            raise ValueError(f"--config_overrides: {item!r} is not of the form key=value.")
        if key not in type(defaults).__annotations__ and not hasattr(defaults, key):
            raise ValueError(f"--config_overrides: {config_class.__name__} has no field {key!r}.")
        if key == "vocab_size" or key.endswith("_token_id"):
            raise ValueError(f"--config_overrides: {key!r} is set from the tokenizer.")
        if key in values:
            raise ValueError(f"--config_overrides: {key!r} is given twice; which one was meant?")
        values[key] = _parse_value(key, text, getattr(defaults, key, None),
                                   type(defaults).__annotations__.get(key))
    return values


def _parse_value(key: str, text: str, default, annotation=None):
    if default is None and text.lower() != "none":
        # An optional field (e.g. `lstm_forget_bias: float | None = None`): its declared type, not its default's.
        declared = [kind for kind in typing.get_args(annotation) if kind in (bool, int, float)]
        if declared:
            default = declared[0]()
    try:
        if isinstance(default, bool) or text.lower() in ("true", "false"):
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else type(default).__name__
        raise ValueError(f"--config_overrides: {key}={text!r} is not a {kind}.") from None
    return None if text.lower() == "none" else text


def load_or_build_model(model_args: BaseModelArguments, model_class, auto_class, tokenizer, **config_kwargs):
    """The saved `--model_name_or_path`, or a new `model_class` from its config class's defaults, `--config_overrides`
    and `config_kwargs` (what the tokenizer decides: vocabulary size, special token ids). Checks that the tokenizer's
    ids fit the model's embedding."""
    if model_args.model_name_or_path:
        model = load_pretrained(
            auto_class, model_args.model_name_or_path, "--model_name_or_path", trust_remote_code=model_args.trust_remote_code
        )
    else:
        config_class = model_class.config_class
        overrides = parse_config_overrides(config_class, model_args.config_overrides)
        derived = sorted(overrides.keys() & config_kwargs.keys())
        if derived:
            raise ValueError(f"--config_overrides cannot set {derived}: this run derives them from its data.")
        config = config_class(**config_kwargs, **overrides)
        model = model_class(config)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {model.config.vocab_size}."
        )
    logger.info("model: %s parameters", f"{model.num_parameters():,}")
    return model


# The fields that give a pretrained backbone's weights their shapes: a head on it keeps the backbone's values.
BACKBONE_FIELDS = ("vocab_size", "embedding_dim", "hidden_size", "num_layers", "cell_type", "bidirectional",
                   "separate_directions")
# Fields that only choose initial values, which the backbone's weights replace.
INITIALISATION_FIELDS = ("lstm_forget_bias",)


def load_head_on_backbone(auto_class, config_class, model_args, tokenizer, **head_kwargs):
    """A new head (`auto_class`, e.g. `AutoModelForSequenceClassification`) on the backbone of `--pretrained_backbone`
    (a `config_class` language model of scripts/train_gru_language_model.py), the ULMFiT / ELMo route:
    `from_pretrained(backbone, **head_kwargs)` loads the backbone's weights and initialises the head.
    `--config_overrides` may set the head's fields (dropout, pooling, classifier_batch_norm, ...), never the backbone's
    shape (`BACKBONE_FIELDS`), the head's labels or initial values the backbone's weights replace."""
    backbone = model_args.pretrained_backbone
    config = load_pretrained(transformers.AutoConfig, backbone, "--pretrained_backbone",
                             trust_remote_code=model_args.trust_remote_code)
    if not isinstance(config, config_class):
        raise ValueError(f"--pretrained_backbone {backbone!r} is a {config.model_type!r} model, not a "
                         f"{config_class.model_type!r} language model of scripts/train_gru_language_model.py.")
    overrides = parse_config_overrides(config_class, model_args.config_overrides)
    for name, value in overrides.items():
        if name in BACKBONE_FIELDS and value != getattr(config, name):
            raise ValueError(
                f"--config_overrides {name}={value} differs from the pretrained backbone's {name}="
                f"{getattr(config, name)!r}: its weights have the backbone's shape. Set only the head's fields "
                "(dropout, embedding_dropout; pooling, classifier_batch_norm, classifier_hidden_size for a classifier)."
            )
    set_by_run = sorted(overrides.keys() & (set(head_kwargs) | set(INITIALISATION_FIELDS)))
    if set_by_run:
        raise ValueError(f"--config_overrides cannot set {set_by_run} on a pretrained backbone: the labels come from "
                         "the data, and initial values are replaced by the backbone's weights.")
    model = load_pretrained(auto_class, backbone, "--pretrained_backbone",
                            trust_remote_code=model_args.trust_remote_code, **head_kwargs, **overrides)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but the backbone's vocab_size is "
                         f"{model.config.vocab_size}.")
    logger.info("model: %s parameters, the backbone of %s", f"{model.num_parameters():,}", backbone)
    return model


def check_tokenizer_matches(tokenizer, training_args, model_name_or_path: str | None,
                            **pretrained_sources: str | None) -> None:
    """A continued (`--model_name_or_path`) or resumed (`--resume_from_checkpoint`) run must tokenise as the run that
    made the model did: the same ids for the same tokens. Compares with the tokenizer saved in that folder. Each of
    `pretrained_sources` (e.g. `pretrained_backbone=...`, a folder or a Hub id whose weights the new model starts
    from) must match too: its embeddings were trained on its tokenizer's ids."""
    folders = [
        (flag, folder)
        for flag, folder in (
            ("--resume_from_checkpoint", training_args.resume_from_checkpoint),
            ("--model_name_or_path", model_name_or_path),
        )
        if isinstance(folder, str) and Path(folder, "tokenizer.json").is_file()
    ]
    folders += [(f"--{name}", source) for name, source in pretrained_sources.items() if source]
    for flag, folder in folders:
        if folder == tokenizer.name_or_path:
            continue  # the tokenizer was loaded from this folder (`load_saved_tokenizer`): nothing to compare
        saved = load_pretrained(transformers.AutoTokenizer, folder, flag)
        if saved.get_vocab() != tokenizer.get_vocab():
            raise ValueError(
                f"this run's tokenizer ({len(tokenizer)} tokens) differs from the one saved with {flag} {folder} "
                f"({len(saved)} tokens): the model's ids would mean other tokens. Leave --tokenizer_name out to use "
                f"that folder's (or pass --tokenizer_name {folder}), or build the tokenizer with the arguments of "
                "that run."
            )


def take_samples(splits: dict, data_args: BaseDataArguments, seed: int) -> dict:
    """`splits` ("train" / "validation" / "test" datasets) cut to `--max_train_samples` (a random sample, seed
    `seed`), `--max_eval_samples` and `--max_predict_samples` (the first rows)."""
    limits = {
        "train": data_args.max_train_samples,
        "validation": data_args.max_eval_samples,
        "test": data_args.max_predict_samples,
    }
    taken = dict(splits)
    for name, limit in limits.items():
        if name in taken and limit is not None and limit < len(taken[name]):
            dataset = taken[name].shuffle(seed=seed) if name == "train" else taken[name]
            taken[name] = dataset.select(range(limit))
    return taken


def train_and_save(trainer, data_metrics: dict | None = None) -> dict:
    """Trains (resuming from `--resume_from_checkpoint` if given), saves the model, then the train metrics and state.

    With `--load_best_model_at_end` the saved model is the best one. `data_metrics` (e.g. how many training texts were
    cut) join the saved train metrics. Returns the train metrics.
    """
    train_result = trainer.train(resume_from_checkpoint=trainer.args.resume_from_checkpoint)
    trainer.save_model()
    metrics = train_result.metrics
    metrics["train_samples"] = len(trainer.train_dataset)
    metrics.update(data_metrics or {})
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    return metrics


def parts_to_score(training_args, parts: dict) -> list[tuple[str, object]]:
    """The `(split, dataset)` pairs of `parts` this run scores at the end: "validation" with `--do_eval`, "test" with
    `--do_predict`. A part asked for that the data lacks is an error, not a silent skip."""
    wanted = [("validation", "--do_eval", training_args.do_eval), ("test", "--do_predict", training_args.do_predict)]
    for split, flag, asked in wanted:
        if asked and split not in parts:
            raise ValueError(f"{flag} needs a {split} part, and this run's data has none.")
    return [(split, parts[split]) for split, _, asked in wanted if asked]


def evaluate_and_save(trainer, dataset, split: str, derived_metrics=None, **kwargs) -> dict:
    """`trainer.evaluate` on `dataset` with metric names prefixed by `split`, logged and saved as `<split>_results.json`.

    `derived_metrics(metrics)` may return more figures computed from the measured ones (e.g. perplexity from the
    loss). For a `Seq2SeqTrainer`, `kwargs` are generation arguments (`num_beams`, ...).
    """
    metrics = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=split, **kwargs)
    metrics[f"{split}_samples"] = len(dataset)
    if derived_metrics is not None:
        metrics.update(derived_metrics(metrics))
    trainer.log_metrics(split, metrics)
    trainer.save_metrics(split, metrics)
    return metrics


def save_tokenizer_and_card(trainer, tokenizer, model_name_or_path: str | None, write_card) -> None:
    """The end of a run on the main process: saves the tokenizer and calls `write_card()`, unless the run only scored
    the model of `--output_dir` itself (then that folder keeps its card and tokenizer; its results files are new).
    Without `--do_train` the scored model is saved too, so the output folder is a complete model repository."""
    if not trainer.is_world_process_zero():
        return
    if scores_own_folder(trainer.args, model_name_or_path):
        logger.info("scored the model of %s in place: its card and tokenizer are left as they were.", model_name_or_path)
        return
    if not trainer.args.do_train:
        trainer.save_model()
    tokenizer.save_pretrained(trainer.args.output_dir)
    write_card()


__all__ = [
    "BACKBONE_FIELDS",
    "BaseDataArguments",
    "BaseModelArguments",
    "Seq2SeqTrainingArguments",
    "TrainingArguments",
    "check_output_dir",
    "check_run",
    "check_tokenizer_matches",
    "evaluate_and_save",
    "load_head_on_backbone",
    "load_or_build_model",
    "load_pretrained",
    "load_saved_tokenizer",
    "parse_args_and_set_up_logging",
    "parse_config_overrides",
    "parts_to_score",
    "save_tokenizer_and_card",
    "scores_own_folder",
    "take_samples",
    "train_and_save",
]
