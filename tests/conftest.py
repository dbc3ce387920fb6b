"""Shared test helpers: paths to the bundled data, and loading a saved folder as a Hub repository without rnnformers."""

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHAKESPEARE = SHARED_DATA / "tinyshakespeare" / "input.txt"


def load_script(name: str):
    """A script of scripts/ (`name`: its file name) imported as a module, to call its `main(argv)` and other functions
    in this process (no interpreter start-up)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / "scripts" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_hub_snapshot(folder: Path, hf_home: Path, repo_id: str) -> Path:
    """Lays out `folder` as the cached snapshot of Hub model `repo_id` under `hf_home`, as a download would.

    Loading `repo_id` with `HF_HOME=hf_home` and `HF_HUB_OFFLINE=1` then goes through the real Hub-loading code
    (cache lookup, remote code resolution) without a network.
    """
    commit = "0" * 40
    repo_dir = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    snapshot = repo_dir / "snapshots" / commit
    shutil.copytree(folder, snapshot, dirs_exist_ok=True)
    return snapshot


def run_python_without_rnnformers(code: str, hf_home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter where `import rnnformers` fails, offline, with `HF_HOME=hf_home`."""
    blocker = "import sys\nsys.modules['rnnformers'] = None  # any import of rnnformers now raises ImportError\n"
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", blocker + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=hf_home,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    if not SHAKESPEARE.exists():
        pytest.fail(f"bundled corpus missing: {SHAKESPEARE} (the project expects ../shared/data beside it)")
    return SHAKESPEARE.read_text(encoding="utf-8")


def pytest_report_header(config):
    """The releases under test: `make test` runs the suite on the newest transformers served and on the oldest one
    supported, and a failure's log must say which."""
    import torch
    import transformers

    return f"rnnformers tested on: transformers {transformers.__version__}, torch {torch.__version__}"
