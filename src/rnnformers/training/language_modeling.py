"""Stateful (truncated-BPTT) training and streaming evaluation of the char-RNN, the way char-rnn and the Keras
edition's stateful RNN train: the state a window ends with is the state the next window of the same text starts with.

Training goes through the Trainer, unchanged:

- `stream_windows()` cuts the training text into `batch_size × num_processes` contiguous streams and orders their
  windows so that a sequential sampler gives batch row `i` of process `p` the consecutive windows of stream
  `p × batch_size + i` (accelerate hands out every `num_processes`-th batch to each process).
- `stream_window_collator` makes each window of `window_length + 1` tokens a batch that reads the first
  `window_length` tokens and predicts the `window_length` next ones (`shift_labels`): the state after a window is then
  the state before the next one, whose first token is the last token of this one.
- `StatefulTrainingCallback` carries the state: a forward pre-hook on the model passes the state of the previous
  window as `cache` (in training mode only), a forward hook keeps the state the window ends with, detached
  (truncated backpropagation through time). The state is reset at the start of each epoch and saved with each
  checkpoint (one file per process), so `--resume_from_checkpoint` continues exactly.

    train_dataset = stream_windows(ids, window_length=100, batch_size=128, num_processes=args.world_size)
    trainer = Trainer(model, args, train_dataset=train_dataset, data_collator=stream_window_collator,
                      callbacks=[StatefulTrainingCallback()], ...)
    # with args.train_sampling_strategy = "sequential"

`streaming_loss()` scores a held-out text with the state carried from its first character to its last: every
character is predicted once, with all of its past, where windowed evaluation restarts from a zero state every window.

All knowledge of how the model represents its recurrent state lives in the `*_state*` functions below.
"""

import logging
import math
import os

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F
from datasets import Dataset
from safetensors.torch import load_file, save_file
from torch.utils.data import SequentialSampler
from transformers import TrainerCallback, default_data_collator

from rnnformers.models.char_rnn.modeling_char_rnn import RecurrentStateCache, generation_cache_name


logger = logging.getLogger(__name__)

STATE_FILE = "recurrent_state-{process_index}.safetensors"
"""Name of the file, in each checkpoint folder, of the state a process carries at that step."""


# --- the model's recurrent state -----------------------------------------------------------------------------------
# The `cache` of `CharRNNForCausalLM`: a `RecurrentStateCache`, which the model updates in place and returns (in the
# output field `generation_cache_name()` names: `cache`, or `past_key_values` on transformers < 5.25).


def state_of(outputs) -> RecurrentStateCache | None:
    """The recurrent state a forward pass returned."""
    return getattr(outputs, generation_cache_name())


def detach_state(cache: RecurrentStateCache) -> RecurrentStateCache:
    """The state cut from the graph of the window that produced it (truncated backpropagation through time)."""
    return cache.detach_()


def state_to_tensors(cache: RecurrentStateCache) -> dict[str, torch.Tensor]:
    """The state as named tensors, to save with safetensors: `(h,)` or `(h, c)`, each [num_layers, batch, hidden]."""
    tensors = {f"state_{i}": tensor.contiguous() for i, tensor in enumerate(cache.to_tensors())}
    tensors["seen_tokens"] = torch.tensor(cache.get_seq_length())
    return tensors


def state_from_tensors(tensors: dict[str, torch.Tensor], device: torch.device) -> RecurrentStateCache:
    """Inverse of `state_to_tensors`."""
    states = tuple(tensors[f"state_{i}"].to(device) for i in range(len(tensors) - 1))
    return RecurrentStateCache.from_tensors(states, seen_tokens=int(tensors["seen_tokens"]))


# --- training ------------------------------------------------------------------------------------------------------


def stream_windows(token_ids, window_length: int, batch_size: int, num_processes: int = 1) -> Dataset:
    """The windows of `batch_size × num_processes` contiguous streams of the text, in the order the batches take them.

    The text is cut into `num_streams = batch_size × num_processes` streams of equal length, each into consecutive
    windows of `window_length + 1` tokens that overlap by one token (the model shifts `labels` inside: a window
    predicts its last `window_length` tokens, and the next window starts with the token this one ended on). The rows
    are ordered step by step, process by process, stream by stream: row `(k × num_processes + p) × batch_size + i`
    is window `k` of stream `p × batch_size + i`. With a sequential sampler, batch `k × num_processes + p` is then
    process `p`'s `k`-th batch (accelerate gives each process every `num_processes`-th batch), and its row `i` always
    continues the text of the previous batch's row `i`. The tokens left over at the end (fewer than
    `num_streams × window_length`) are not used.

    Returns:
        a `Dataset` with `input_ids` and `labels` (the same tokens), `num_streams × windows_per_stream` rows.
    """
    for name, value in (("window_length", window_length), ("batch_size", batch_size), ("num_processes", num_processes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    ids = np.asarray(token_ids, dtype=np.int32)
    num_streams = batch_size * num_processes
    windows_per_stream = (len(ids) - 1) // (num_streams * window_length)
    if windows_per_stream < 1:
        raise ValueError(
            f"--stateful needs at least --per_device_train_batch_size × processes × --window_length + 1 = "
            f"{batch_size} × {num_processes} × {window_length} + 1 = {num_streams * window_length + 1} training "
            f"tokens (one window per stream), but the training text has {len(ids)}: lower the batch size or the "
            "window length, or give a longer text."
        )
    stream_length = windows_per_stream * window_length
    # starts[k, s]: first token of window k of stream s; streams s = p × batch_size + i are already in row order.
    starts = np.arange(windows_per_stream)[:, None] * window_length + np.arange(num_streams)[None, :] * stream_length
    windows = ids[starts.reshape(-1, 1) + np.arange(window_length + 1)]
    column = pa.FixedSizeListArray.from_arrays(pa.array(windows.ravel()), window_length + 1)
    return Dataset(pa.table({"input_ids": column, "labels": column}))


def stream_window_collator(features: list[dict]) -> dict[str, torch.Tensor]:
    """Collates windows of `window_length + 1` tokens into the `window_length` tokens the model reads and the
    `window_length` tokens they predict.

    The model would otherwise read all `window_length + 1` tokens (the last one predicts nothing: its target is in the
    next window) and carry a state that has seen the next window's first token before that window reads it again.
    `shift_labels` tells the loss the targets as they are (transformers' causal-LM loss then does not shift `labels`,
    which only need to be present), so every token of the stream is read once and predicted once. The loss of a
    window is the same as with `default_data_collator`.

    Returns:
        `input_ids`, `labels` (the same tokens) and `shift_labels`, each [batch, window_length].
    """
    batch = default_data_collator(features)
    tokens = batch["labels"] if "labels" in batch else batch["input_ids"]
    return {
        "input_ids": batch["input_ids"][:, :-1].contiguous(),
        "labels": tokens[:, :-1].contiguous(),
        "shift_labels": tokens[:, 1:].contiguous(),
    }


def _innermost_sampler(dataloader):
    """The index sampler under the batch samplers that the Trainer and accelerate wrap it in."""
    sampler = dataloader.batch_sampler
    while hasattr(sampler, "batch_sampler"):  # accelerate's BatchSamplerShard around the DataLoader's BatchSampler
        sampler = sampler.batch_sampler
    return getattr(sampler, "sampler", sampler)


class StatefulTrainingCallback(TrainerCallback):
    """Carries the recurrent state of each batch row from one training window to the next (truncated BPTT).

    Use with a training set from `stream_windows()` built for the run's per-device batch size and number of
    processes, `stream_window_collator` and `train_sampling_strategy="sequential"`. While the model is in training
    mode, its forward gets the state the previous window ended with as `cache` (none at the start of an
    epoch) and the state it returns is kept, detached; evaluation and generation (eval mode) are left alone.
    Consecutive micro-batches of a gradient-accumulation step are consecutive windows. Each checkpoint gets the state
    of each process, which a run resumed in the middle of an epoch starts from (found in `args.resume_from_checkpoint`
    or in `<output_dir>/checkpoint-<step>`).
    """

    def __init__(self):
        self.state = None
        self._hook_handles = []

    # Hooks on the unwrapped model: they see every forward, whatever wraps it (DDP, autocast).
    def _pass_state(self, module, args, kwargs):
        if not module.training:
            return None
        if kwargs.get("cache") is not None or kwargs.get("past_key_values") is not None:
            raise ValueError("stateful training passes the recurrent state (`cache`) itself: the batch must not hold it.")
        if "shift_labels" not in kwargs:
            raise ValueError(
                "stateful training needs the batches of `stream_window_collator` (the windows overlap by one token, "
                "which must be read once): pass it as the Trainer's `data_collator`."
            )
        return args, {**kwargs, "cache": self.state, "use_cache": True}

    def _keep_state(self, module, args, kwargs, output):
        if module.training:
            self.state = detach_state(state_of(output))

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        if args.train_sampling_strategy != "sequential" or not isinstance(
            _innermost_sampler(train_dataloader), SequentialSampler
        ):
            raise ValueError(
                "--stateful feeds the consecutive windows of each stream to the same batch row, so the training "
                "windows must be taken in their order: pass --train_sampling_strategy sequential (got "
                f"{args.train_sampling_strategy!r}, which reorders them)."
            )
        self._check_stream_layout(train_dataloader.dataset, args.per_device_train_batch_size * args.world_size)
        self.state = None
        self._hook_handles = [
            model.register_forward_pre_hook(self._pass_state, with_kwargs=True),
            model.register_forward_hook(self._keep_state, with_kwargs=True),
        ]

    def on_epoch_begin(self, args, state, control, train_dataloader=None, **kwargs):
        update_steps_per_epoch = max(math.ceil(len(train_dataloader) / args.gradient_accumulation_steps), 1)
        if state.global_step % update_steps_per_epoch == 0 or args.ignore_data_skip:
            self.state = None  # the streams start again from their first window
        else:
            self.state = self._load(args, state)  # resumed in the middle of an epoch

    def on_save(self, args, state, control, **kwargs):
        if self.state is None:
            return
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, STATE_FILE.format(process_index=args.process_index))
        save_file(state_to_tensors(self.state), path)

    def on_train_end(self, args, state, control, **kwargs):
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles = []

    @staticmethod
    def _check_stream_layout(dataset, num_streams: int):
        """The windows must come from `stream_windows()` for this batch size and number of processes: the second
        window of each stream (row `num_streams + s`) starts with the token its first one (row `s`) ends on."""
        layout_error = ValueError(
            f"the stateful training windows are not laid out for --per_device_train_batch_size × processes = "
            f"{num_streams} streams: build them with `stream_windows()` for this batch size and number of processes."
        )
        if len(dataset) % num_streams:
            raise layout_error
        if len(dataset) >= 2 * num_streams:
            first_two = np.asarray(dataset[: 2 * num_streams]["input_ids"])
            if not np.array_equal(first_two[:num_streams, -1], first_two[num_streams:, 0]):
                raise layout_error

    @staticmethod
    def _load(args, state):
        name = STATE_FILE.format(process_index=args.process_index)
        candidates = [os.path.join(args.output_dir, f"checkpoint-{state.global_step}")]
        if isinstance(args.resume_from_checkpoint, str):
            candidates.insert(0, args.resume_from_checkpoint)
        for folder in candidates:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                logger.info("stateful training: resuming with the state saved in %s", path)
                return state_from_tensors(load_file(path), args.device)
        raise ValueError(
            f"resuming stateful training at step {state.global_step}, in the middle of an epoch, needs the state "
            f"each process carried then ({name}), found in none of {candidates}: resume from a checkpoint written by "
            "a --stateful run."
        )


# --- evaluation ----------------------------------------------------------------------------------------------------


@torch.no_grad()
def streaming_loss(model, token_ids, chunk_length: int = 1024) -> float:
    """Mean negative log-likelihood (nats per token) of a text read once from start to end, the state carried.

    Token `t + 1` is predicted from all the tokens `0..t` before it: the text is fed in chunks of `chunk_length`
    tokens (memory only; the result does not depend on it), each starting from the state the previous one ended
    with. Windowed evaluation, by contrast, restarts from a zero state in every window. Runs in the current autocast
    context, if any (wrap it in `trainer.accelerator.autocast()` to match the Trainer's `--bf16` evaluation).

    Args:
        model: a causal LM whose forward takes and returns its recurrent state as `cache`.
        token_ids: the held-out text's token ids, at least 2.
        chunk_length: tokens per forward call.
    """
    if chunk_length < 1:
        raise ValueError(f"`chunk_length` must be at least 1, got {chunk_length}.")
    ids = torch.as_tensor(np.asarray(token_ids, dtype=np.int64), device=model.device).unsqueeze(0)
    if ids.shape[1] < 2:
        raise ValueError(f"streaming evaluation needs a text of at least 2 tokens, got {ids.shape[1]}.")
    was_training = model.training
    model.eval()
    total, past = 0.0, None
    for start in range(0, ids.shape[1] - 1, chunk_length):
        inputs = ids[:, start : start + chunk_length]
        targets = ids[:, start + 1 : start + chunk_length + 1]
        inputs = inputs[:, : targets.shape[1]]  # the last token of the text has nothing to predict
        outputs = model(input_ids=inputs, cache=past, use_cache=True)
        past = state_of(outputs)
        total += F.cross_entropy(outputs.logits[0].float(), targets[0], reduction="sum").item()
    model.train(was_training)
    return total / (ids.shape[1] - 1)


__all__ = ["StatefulTrainingCallback", "stream_window_collator", "stream_windows", "streaming_loss"]
