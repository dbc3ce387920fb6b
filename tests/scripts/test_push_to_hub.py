"""`--push_to_hub` uploads one commit holding only what a model repository needs: never `training_args.bin` (a
pickled `TrainingArguments`, which would hold `--hub_token`), checkpoints or stray files of the output folder.

The script runs in a subprocess whose huggingface_hub `HfApi.create_repo` / `HfApi.create_commit` (what every upload
of huggingface_hub and of the Trainer goes through) record their calls instead of reaching the network."""

import json
import os
import subprocess
import sys

from conftest import ROOT


TOKEN = "hf_secretTOKENthatmustneverleave"

RECORDING_LAUNCHER = """
import json, runpy, sys
import huggingface_hub
from huggingface_hub import CommitInfo, RepoUrl

record_path, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
calls = []

def save():
    with open(record_path, "w") as file:
        json.dump(calls, file)

def create_repo(self, repo_id, **kwargs):
    calls.append({"call": "create_repo", "repo_id": repo_id, "token": kwargs.get("token") or self.token})
    save()
    return RepoUrl(f"https://huggingface.co/someone/{repo_id.split('/')[-1]}")

def create_commit(self, repo_id, operations, commit_message, **kwargs):
    files = {}
    for operation in operations:
        source = operation.path_or_fileobj
        content = open(source, "rb").read() if isinstance(source, str) else source
        files[operation.path_in_repo] = content.decode("latin-1")
    calls.append({"call": "create_commit", "repo_id": repo_id, "message": commit_message, "files": files,
                  "revision": kwargs.get("revision")})
    save()
    return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/0", commit_message=commit_message,
                      commit_description="", oid="0" * 40)

def create_branch(self, repo_id, branch, **kwargs):
    calls.append({"call": "create_branch", "repo_id": repo_id, "branch": branch, "exist_ok": kwargs.get("exist_ok")})
    save()

huggingface_hub.HfApi.create_repo = create_repo
huggingface_hub.HfApi.create_branch = create_branch
huggingface_hub.HfApi.create_commit = create_commit
runpy.run_path(script, run_name="__main__")
"""


def test_push_to_hub_uploads_one_commit_of_model_files_and_never_the_token(tmp_path, shakespeare_text):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(shakespeare_text[:6_000], encoding="utf-8")
    output_dir = tmp_path / "tiny-char-rnn"
    output_dir.mkdir()
    (output_dir / "my_notes.txt").write_text("not for the Hub")  # stray files: a folder with no model is accepted
    (output_dir / "x.py").write_text("print('a scratch script, not the model code')\n")
    record = tmp_path / "calls.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "0"}
    result = subprocess.run(
        [sys.executable, "-c", RECORDING_LAUNCHER, str(record), str(ROOT / "scripts" / "train_char_rnn.py"),
         "--do_train", "--do_eval", "--train_file", str(corpus), "--output_dir", str(output_dir),
         "--config_overrides", "hidden_size=8", "--window_length", "20", "--stride", "20", "--max_steps", "4",
         "--save_steps", "2", "--report_to", "none", "--disable_tqdm", "true", "--push_to_hub",
         "--hub_model_id", "tiny-char-rnn", "--hub_token", TOKEN, "--hub_strategy", "every_save",
         "--hub_revision", "experiment-1"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    calls = json.loads(record.read_text())
    commits = [call for call in calls if call["call"] == "create_commit"]
    assert len(commits) == 1, [(c["call"], c.get("message")) for c in calls]  # no "Model save" / checkpoint pushes
    (commit,) = commits
    assert commit["repo_id"] == "someone/tiny-char-rnn" and commit["message"] == "End of training"
    # --hub_revision names a branch that may not exist yet: it is created (exist_ok) before the commit goes to it.
    branches = [call for call in calls if call["call"] == "create_branch"]
    assert branches == [{"call": "create_branch", "repo_id": "someone/tiny-char-rnn", "branch": "experiment-1",
                         "exist_ok": True}]
    assert calls.index(branches[0]) < calls.index(commit) and commit["revision"] == "experiment-1"
    assert sorted(commit["files"]) == [
        "README.md", "all_results.json", "config.json", "configuration_char_rnn.py", "generation_config.json",
        "model.safetensors", "modeling_char_rnn.py", "tokenizer.json", "tokenizer_config.json",
        "train_results.json", "validation_results.json",
    ]
    # Our card, not the Trainer's generic one; the token in no uploaded file, and not even in training_args.bin.
    assert "pipeline_tag: text-generation" in commit["files"]["README.md"]
    assert "Training" in commit["files"]["README.md"] and "window" in commit["files"]["README.md"]
    assert not any(TOKEN in content for content in commit["files"].values())
    assert (output_dir / "checkpoint-4").is_dir() and (output_dir / "training_args.bin").is_file()
    for pickled in output_dir.rglob("training_args.bin"):
        assert TOKEN.encode() not in pickled.read_bytes(), pickled
    assert all(call["token"] == TOKEN for call in calls if call["call"] == "create_repo")
