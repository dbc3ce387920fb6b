"""`--push_to_hub` for the training scripts: one commit at the end, holding only what a model repository needs.

The Trainer's own pushing would upload the whole output folder: `training_args.bin` (a pickled `TrainingArguments`
holding `--hub_token`), checkpoints with their optimizer states, and whatever else lies there, and `save_model()`
first pushes a "Model save" commit with the Trainer's generic card. So the scripts take the push out of the Trainer's
hands (`HubUpload.take_from`) and upload the listed files of the output folder themselves, after our card is written.
"""

import fnmatch
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi
from transformers.dynamic_module_utils import get_relative_import_files


logger = logging.getLogger(__name__)

# What a model repository needs: weights, config, tokenizer files, the card and the results JSON; plus the code files
# the config names (`code_files`), not every `*.py` lying in the folder.
HUB_FILE_PATTERNS = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "README.md",
    "*_results.json",
)


def code_files(output_dir: str | Path) -> set[str]:
    """The `.py` files of `output_dir` that remote code loads: the modules named in the `auto_map` of config.json and
    tokenizer_config.json and in config.json's `custom_pipelines` ("impl": "module.Class"), with the files they import
    relatively (a modeling file imports its configuration)."""
    output_dir = Path(output_dir)
    class_references = []
    for name in ("config.json", "tokenizer_config.json"):
        if (output_dir / name).is_file():
            saved = json.loads((output_dir / name).read_text(encoding="utf-8"))
            for reference in (saved.get("auto_map") or {}).values():
                class_references.extend(reference if isinstance(reference, list) else [reference])
            class_references.extend(info.get("impl") for info in (saved.get("custom_pipelines") or {}).values())
    modules = set()
    for reference in class_references:
        # "module.Class"; "owner/repo--module.Class" is code of another repository; tokenizers list [slow, fast].
        if isinstance(reference, str) and "--" not in reference and "." in reference:
            module_file = output_dir / (reference.rsplit(".", 1)[0] + ".py")
            if module_file.is_file():
                modules.add(module_file)
                modules.update(Path(path) for path in get_relative_import_files(module_file))
    return {module.name for module in modules if module.parent == output_dir and module.is_file()}


def hub_files(output_dir: str | Path) -> list[str]:
    """The files of `output_dir` (top level only: no checkpoint) that a model repository needs, sorted."""
    return sorted(
        {
            path.name
            for path in Path(output_dir).iterdir()
            if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in HUB_FILE_PATTERNS)
        }
        | code_files(output_dir)
    )


@dataclass
class HubUpload:
    """Where `--push_to_hub` uploads: `--hub_model_id` (default: the output folder's name), `--hub_token`,
    `--hub_revision`, `--hub_private_repo`."""

    repo_name: str
    token: str | None
    revision: str | None
    private: bool | None

    @classmethod
    def take_from(cls, training_args) -> "HubUpload | None":
        """Turns the Trainer's pushing off and takes the token out of `training_args`, which the Trainer pickles into
        `training_args.bin` in every checkpoint and output folder. Returns what the final upload needs (None without
        `--push_to_hub`)."""
        upload = None
        if training_args.push_to_hub:
            upload = cls(
                repo_name=training_args.hub_model_id or Path(training_args.output_dir).absolute().name,
                token=training_args.hub_token,
                revision=training_args.hub_revision,
                private=training_args.hub_private_repo,
            )
        training_args.push_to_hub = False
        training_args.hub_token = None
        return upload

    def push(self, output_dir: str | Path, commit_message: str = "End of training"):
        """Creates the repository if needed and uploads `hub_files(output_dir)` in one commit."""
        api = HfApi(token=self.token)
        repo_id = api.create_repo(self.repo_name, private=self.private, exist_ok=True).repo_id
        if self.revision is not None:  # --hub_revision may name a branch that does not exist yet (as transformers does)
            api.create_branch(repo_id, branch=self.revision, exist_ok=True)
        names = hub_files(output_dir)
        logger.info("uploading %s to %s", ", ".join(names), repo_id)
        return api.create_commit(
            repo_id=repo_id,
            operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=Path(output_dir) / name) for name in names],
            commit_message=commit_message,
            revision=self.revision,
        )


def push_at_end(trainer, hub_upload: HubUpload | None):
    """Uploads the output folder on the main process when `--push_to_hub` asked for it; call it on every process."""
    if hub_upload is None or not trainer.is_world_process_zero():
        return None
    return hub_upload.push(trainer.args.output_dir)


__all__ = ["HUB_FILE_PATTERNS", "HubUpload", "code_files", "hub_files", "push_at_end"]
