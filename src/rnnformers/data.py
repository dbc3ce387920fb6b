"""Data preparation shared by the char-RNN training script, its tests and its benchmarks."""

import numpy as np
import pyarrow as pa
from datasets import Dataset


BUNDLED_SHAKESPEARE = "../shared/data/tinyshakespeare/input.txt"


def split_text(text: str, validation_fraction: float = 0.05, test_fraction: float = 0.05) -> dict[str, str]:
    """Cuts one long text into contiguous train / validation / test parts (the chapter: 90% / 5% / 5%).

    Contiguous parts, not shuffled windows, so no validation character was seen in a training window.
    """
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"`{name}` must be in [0, 1), got {value}.")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("`validation_fraction` + `test_fraction` must leave some text for training.")
    train_end = round(len(text) * (1 - validation_fraction - test_fraction))
    validation_end = round(len(text) * (1 - test_fraction))
    parts = {"train": text[:train_end], "validation": text[train_end:validation_end], "test": text[validation_end:]}
    return {name: part for name, part in parts.items() if part}


def char_windows(token_ids: list[int] | np.ndarray, window_length: int, stride: int) -> Dataset:
    """Every `stride`-th window of `window_length + 1` tokens, as a `Dataset` with `input_ids` and `labels`.

    A row holds `window_length + 1` tokens because the model shifts `labels` inside: it reads the first
    `window_length` tokens and predicts the `window_length` next ones, the chapter's (window, target) pair.
    """
    if window_length < 1:
        raise ValueError(f"`window_length` must be at least 1, got {window_length}.")
    if stride < 1:
        raise ValueError(f"`stride` must be at least 1, got {stride}.")
    ids = np.asarray(token_ids, dtype=np.int32)
    if len(ids) < window_length + 1:
        raise ValueError(f"the text has {len(ids)} tokens, fewer than one window of {window_length + 1}.")
    windows = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(ids, window_length + 1)[::stride])
    # Straight to an Arrow fixed-size-list column (seconds for the million windows of the chapter's stride of 1,
    # where `Dataset.from_dict` would go through Python lists); `labels` shares the buffer of `input_ids`.
    column = pa.FixedSizeListArray.from_arrays(pa.array(windows.ravel()), window_length + 1)
    return Dataset(pa.table({"input_ids": column, "labels": column}))


__all__ = ["BUNDLED_SHAKESPEARE", "char_windows", "split_text"]
