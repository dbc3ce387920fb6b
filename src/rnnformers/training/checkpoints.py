"""Checkpoint averaging: one model whose weights are the mean of several checkpoints of one training run.

Averaging the last few checkpoints of a run (Vaswani et al., 2017; OpenNMT's `average_models.py`, Marian's
`--average`) smooths the noise of the last updates and usually scores a little better than any one of them. The
checkpoints must be of one model (same configuration, same tokenizer); the averaged folder is a complete saved model:
the last checkpoint's configuration, tokenizer, code and generation config, with the mean weights.
"""

import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
# What a Trainer checkpoint holds besides the model: the state of the run, not of the averaged model.
TRAINING_STATE_FILES = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "training_args.bin"}
# What a finished run's folder holds besides the model: scores and predictions of another model than the mean.
RUN_OUTPUT_FILES = {"README.md", "generated_predictions.txt", "predictions.txt"}
# Fields of config.json that may differ between checkpoints of one model (the Trainer sets `use_cache` to its
# argument's value on the model it trains, so a checkpoint and a model saved before training disagree on it).
VOLATILE_CONFIG_FIELDS = {"_name_or_path", "transformers_version", "dtype", "torch_dtype", "use_cache"}


def _model_config(folder: Path) -> dict:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{folder} holds no config.json: not a saved model or checkpoint.")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return {key: value for key, value in config.items() if key not in VOLATILE_CONFIG_FIELDS}


def average_checkpoints(folders: list[str | Path], output_dir: str | Path, overwrite: bool = False) -> Path:
    """Writes to `output_dir` a saved model whose floating-point weights are the mean of those of `folders` (saved
    models or Trainer checkpoints of one model, each with `config.json` and `model.safetensors`). Integer buffers
    (e.g. a tagger's character table) must be equal and are kept. Everything else (configuration, tokenizer, model
    code, generation config) is copied from the last folder; a checkpoint's training state and a run's scores,
    predictions and card are not (they describe another model).

    Raises `ValueError`, naming the folder or the weight, for fewer than two folders, a missing file, another model
    configuration, another tokenizer, or weights of other names, shapes or dtypes."""
    folders = [Path(folder) for folder in folders]
    output_dir = Path(output_dir)
    if len(folders) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(folders)}.")
    if len(set(folder.resolve() for folder in folders)) < len(folders):
        raise ValueError("the same checkpoint is given twice: each would count double in the mean.")
    if output_dir.resolve() in {folder.resolve() for folder in folders}:
        raise ValueError(f"`output_dir` {output_dir} is one of the averaged checkpoints: write the mean elsewhere.")
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise ValueError(f"`output_dir` {output_dir} exists and is not empty (pass overwrite=True to replace it).")

    reference = folders[-1]
    reference_config = _model_config(reference)
    reference_tokenizer = reference / "tokenizer.json"
    for folder in folders:
        if _model_config(folder) != reference_config:
            raise ValueError(f"{folder}/config.json is not the configuration of {reference}: not one model.")
        if not (folder / WEIGHTS_NAME).is_file():
            raise ValueError(f"{folder} holds no {WEIGHTS_NAME} (only safetensors checkpoints are averaged).")
        tokenizer = folder / "tokenizer.json"
        if tokenizer.is_file() != reference_tokenizer.is_file() or (
            tokenizer.is_file() and tokenizer.read_bytes() != reference_tokenizer.read_bytes()
        ):
            raise ValueError(f"{folder}/tokenizer.json is not the tokenizer of {reference}: the ids would not match.")

    total, kept = None, None
    for folder in folders:
        weights = load_file(folder / WEIGHTS_NAME)
        if total is None:
            kept = {name: tensor for name, tensor in weights.items() if not tensor.is_floating_point()}
            total = {name: tensor.double() for name, tensor in weights.items() if tensor.is_floating_point()}
            dtypes = {name: tensor.dtype for name, tensor in weights.items()}
            shapes = {name: tensor.shape for name, tensor in weights.items()}
            continue
        if weights.keys() != dtypes.keys():
            different = sorted(weights.keys() ^ dtypes.keys())
            raise ValueError(f"{folder}/{WEIGHTS_NAME} has other weights than {folders[0]}: {different[:5]}.")
        for name, tensor in weights.items():
            if tensor.shape != shapes[name] or tensor.dtype != dtypes[name]:
                raise ValueError(
                    f"{folder}/{WEIGHTS_NAME}: `{name}` is {tuple(tensor.shape)} {tensor.dtype}, "
                    f"{tuple(shapes[name])} {dtypes[name]} in {folders[0]}."
                )
            if name in kept:
                if not torch.equal(tensor, kept[name]):
                    raise ValueError(f"{folder}/{WEIGHTS_NAME}: the integer buffer `{name}` differs from {folders[0]}.")
            else:
                total[name] += tensor.double()
    mean = {name: (tensor / len(folders)).to(dtypes[name]) for name, tensor in total.items()}

    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    for path in reference.iterdir():
        if (
            path.is_file()
            and path.name not in TRAINING_STATE_FILES | RUN_OUTPUT_FILES | {WEIGHTS_NAME}
            and not path.name.endswith("_results.json")
        ):
            shutil.copy2(path, output_dir / path.name)
    save_file({**mean, **kept}, output_dir / WEIGHTS_NAME, metadata={"format": "pt"})
    (output_dir / "averaged_checkpoints.json").write_text(
        json.dumps({"checkpoints": [str(folder) for folder in folders]}, indent=2) + "\n", encoding="utf-8"
    )
    logger.info("averaged %d checkpoints into %s", len(folders), output_dir)
    return output_dir
