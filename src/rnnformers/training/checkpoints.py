"""Checkpoint averaging: one model whose weights are the mean of several checkpoints of one training run.

Averaging the last few checkpoints of a run (Vaswani et al., 2017; OpenNMT's `average_models.py`, Marian's
`--average`) smooths the noise of the last updates and usually scores a little better than any one of them. The
checkpoints must be of one model (same configuration, same tokenizer); the averaged folder is a complete saved model:
the last checkpoint's configuration, tokenizer, code and generation config, with the mean weights.
"""

import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelCardData
from safetensors.torch import load_file, save_file

from .hub import hub_files


logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
# Fields of config.json that may differ between checkpoints of one model (the Trainer sets `use_cache` to its
# argument's value on the model it trains, so a checkpoint and a model saved before training disagree on it).
VOLATILE_CONFIG_FIELDS = {"_name_or_path", "transformers_version", "dtype", "torch_dtype", "use_cache"}
# Counters, not values: taken from the last checkpoint (BatchNorm's count of the batches its statistics have seen).
COUNTER_SUFFIXES = ("num_batches_tracked",)


def _model_config(folder: Path) -> dict:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{folder} holds no config.json: not a saved model or checkpoint.")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return {key: value for key, value in config.items() if key not in VOLATILE_CONFIG_FIELDS}


def _model_files(folder: Path) -> list[str]:
    """What makes up the model in `folder`: the files a model repository holds (config, generation config, tokenizer
    files, model code; `hub.hub_files`) without the weights, which are averaged, and without a card or scores, which
    describe another model than the mean. A checkpoint's training state (optimizer, scheduler, RNG states, ...) and
    a run's predictions are not in that list."""
    return [name for name in hub_files(folder)
            if not name.endswith((".safetensors", ".safetensors.index.json", "_results.json")) and name != "README.md"]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_folders_to_combine(folders: list[str | Path], output_dir: str | Path, overwrite: bool, action: str,
                             role: str, script: str) -> tuple[list[Path], Path]:
    """The checks every combination of saved folders into a new one makes (checkpoint averaging, ensembles): at least
    two distinct folders, an `output_dir` apart from each, not overwritten unless asked. Returns them as `Path`s."""
    folders = [Path(folder) for folder in folders]
    output_dir = Path(output_dir)
    if len(folders) < 2:
        raise ValueError(f"{action} needs at least two models, got {len(folders)}.")
    resolved = [folder.resolve() for folder in folders]
    if len(set(resolved)) < len(folders):
        raise ValueError(f"the same folder is given twice: it would count double in the {action}.")
    target = output_dir.resolve()
    for folder, path in zip(folders, resolved):
        if _inside(path, target) or _inside(target, path):
            raise ValueError(f"`output_dir` {output_dir} is, holds or lies inside the {role} {folder}: write the "
                             "result to a folder of its own.")
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(f"`output_dir` {output_dir} exists and is not empty (overwrite it: `overwrite=True`, "
                         f"`--overwrite_output_dir` in {script}).")
    return folders, output_dir


@contextmanager
def staged_folder(output_dir: Path):
    """An empty folder beside `output_dir` to write into; when the block ends without an error it replaces
    `output_dir`, else it is removed. So an interruption leaves the old folder or the new one, never half of one."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        yield staging
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def check_same_tokenizer(folders: list[Path], reference: Path) -> None:
    """Every folder's `tokenizer.json` must be the reference's, byte for byte (or all must lack one): the combined
    model reads one tokenizer's ids."""
    reference_tokenizer = reference / "tokenizer.json"
    for folder in folders:
        tokenizer = folder / "tokenizer.json"
        if tokenizer.is_file() != reference_tokenizer.is_file() or (
            tokenizer.is_file() and tokenizer.read_bytes() != reference_tokenizer.read_bytes()
        ):
            raise ValueError(f"{folder}/tokenizer.json is not the tokenizer of {reference}: the ids would not match.")


def average_checkpoints(folders: list[str | Path], output_dir: str | Path, overwrite: bool = False) -> Path:
    """Writes to `output_dir` a saved model whose floating-point weights are the mean of those of `folders` (saved
    models or Trainer checkpoints of one model, each with `config.json` and `model.safetensors`). Integer buffers
    (e.g. a tagger's character table) must be equal and are kept; counters (BatchNorm's `num_batches_tracked`) come
    from the last folder. BatchNorm running statistics are averaged like the weights (an approximation: each was
    gathered under its own checkpoint's weights). The configuration, tokenizer, model code and generation config are
    copied from the last folder, with a short card naming the checkpoints; a checkpoint's training state and a run's
    scores, predictions and card are not copied (they describe another model).

    Raises `ValueError`, naming the folder or the weight, for fewer than two folders, an `output_dir` that is or
    holds one of them, a missing file, another model configuration, another tokenizer, or weights of other names,
    shapes or dtypes."""
    folders, output_dir = check_folders_to_combine(folders, output_dir, overwrite, "averaging", "averaged checkpoint",
                                                   "scripts/average_checkpoints.py")
    reference = folders[-1]
    reference_config = _model_config(reference)
    for folder in folders:
        if _model_config(folder) != reference_config:
            raise ValueError(f"{folder}/config.json is not the configuration of {reference}: not one model.")
        if not (folder / WEIGHTS_NAME).is_file():
            raise ValueError(f"{folder} holds no {WEIGHTS_NAME} (only safetensors checkpoints are averaged).")
    check_same_tokenizer(folders, reference)

    total, kept, dtypes, shapes = {}, {}, {}, {}
    for index, folder in enumerate(folders):
        weights = load_file(folder / WEIGHTS_NAME)
        if index == 0:
            dtypes = {name: tensor.dtype for name, tensor in weights.items()}
            shapes = {name: tensor.shape for name, tensor in weights.items()}
        elif weights.keys() != dtypes.keys():
            different = sorted(weights.keys() ^ dtypes.keys())
            raise ValueError(f"{folder}/{WEIGHTS_NAME} has other weights than {folders[0]}: {different[:5]}.")
        for name, tensor in weights.items():
            if tensor.shape != shapes[name] or tensor.dtype != dtypes[name]:
                raise ValueError(
                    f"{folder}/{WEIGHTS_NAME}: `{name}` is {tuple(tensor.shape)} {tensor.dtype}, "
                    f"{tuple(shapes[name])} {dtypes[name]} in {folders[0]}."
                )
            if tensor.is_floating_point():
                total[name] = total[name] + tensor.double() if name in total else tensor.double()
            elif name.endswith(COUNTER_SUFFIXES):
                kept[name] = tensor  # the last folder's
            elif index == 0:
                kept[name] = tensor
            elif not torch.equal(tensor, kept[name]):
                raise ValueError(f"{folder}/{WEIGHTS_NAME}: the integer buffer `{name}` differs from {folders[0]}'s.")
    mean = {name: (tensor / len(folders)).to(dtypes[name]) for name, tensor in total.items()}

    with staged_folder(output_dir) as staging:
        for name in _model_files(reference):
            shutil.copy2(reference / name, staging / name)
        save_file({**mean, **kept}, staging / WEIGHTS_NAME, metadata={"format": "pt"})
        names = [str(folder) for folder in folders]
        (staging / "averaged_checkpoints.json").write_text(json.dumps({"checkpoints": names}, indent=2) + "\n",
                                                           encoding="utf-8")
        card_data = ModelCardData(library_name="transformers",
                                  tags=["rnnformers", "custom_code", "checkpoint-averaging"])
        ModelCard(
            f"---\n{card_data.to_yaml()}\n---\n\n# {output_dir.name}\n\nThe mean of the weights of {len(folders)} "
            "checkpoints of one training run (`scripts/average_checkpoints.py`):\n\n"
            + "".join(f"- `{name}`\n" for name in names)
            + "\nNot scored yet: score it with the training script that made the run (`--model_name_or_path` this "
            "folder, `--do_eval` / `--do_predict`); a new `--output_dir` gets a card with the scores.\n"
        ).save(staging / "README.md")
    logger.info("averaged %d checkpoints into %s", len(folders), output_dir)
    return output_dir
