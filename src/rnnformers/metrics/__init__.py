"""`evaluate` metric modules kept in the package, so that evaluation works offline (no Hub download of scripts)."""

from pathlib import Path

import evaluate


METRICS_DIR = Path(__file__).resolve().parent


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """`evaluate.load` on one of the metric modules of this folder, by path: e.g. `load_metric("accuracy_f1")`."""
    path = METRICS_DIR / f"{name}.py"
    if name.startswith("_") or not path.is_file():
        available = sorted(p.stem for p in METRICS_DIR.glob("*.py") if not p.stem.startswith("_"))
        raise ValueError(f"unknown metric {name!r}; available: {', '.join(available)}.")
    return evaluate.load(str(path), **kwargs)


__all__ = ["METRICS_DIR", "load_metric"]
