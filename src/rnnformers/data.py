"""Moved to `rnnformers.training.data`; kept so that existing imports (benchmarks/bench_char_rnn.py) still work."""

from .training.data import BUNDLED_SHAKESPEARE, char_windows, split_text


__all__ = ["BUNDLED_SHAKESPEARE", "char_windows", "split_text"]
