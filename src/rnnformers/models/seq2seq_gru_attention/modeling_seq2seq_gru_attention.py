"""The chapter's English→Spanish GRU encoder–decoder with attention, as a Hugging Face sequence-to-sequence model.

Shaped like BART: [`Seq2SeqGRUAttentionModel`] holds an encoder (the shared embedding and a GRU stack, optionally
bidirectional, over the real source tokens) and a decoder mirroring it (a GRU stack started from the encoder's final
states, reading the target shifted right behind `<s>`, then Luong dot or general, or Bahdanau's additive attention
over the encoder outputs); [`Seq2SeqGRUAttention`] adds the output layer over `[attention vector; decoder output]`, as
in the chapter. Unlike the chapter, source padding is masked: its attention weights are exactly 0.

The decoder's recurrent state is the generation cache, a transformers `Cache` ([`RecurrentStateCache`]):
`generate()` runs the encoder once, then feeds one new token and the previous state per step, and beam search
reorders the state with the beams.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, LinearAttentionLayer
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_outputs import CausalLMOutputWithPast, ModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput

from .configuration_seq2seq_gru_attention import Seq2SeqGRUAttentionConfig, Seq2SeqGRUAttentionEnsembleConfig


LayerState = tuple[torch.Tensor, ...]
"""One recurrent layer's state: `(h,)` for a GRU, `(h, c)` for an LSTM, each [batch, hidden_size]."""


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.RecurrentStateLayer
class RecurrentStateLayer(LinearAttentionLayer):
    """The state of one recurrent layer in a [`RecurrentStateCache`]: `number_of_states` tensors [batch, hidden_size]
    (1 for a GRU: h; 2 for an LSTM: h and c), read with `get_recurrent_state` and written with
    `update_recurrent_state`, as transformers' linear-attention (Mamba-style) cache layers."""

    # generate() must not build 4D attention masks or auto-compile for this cache.
    is_compileable = False
    # A recurrent state cannot be rolled back to an earlier position (transformers 5.25's linear-attention layers
    # claim they can, through a history this layer does not keep): nothing may crop it.
    is_croppable = False

    def update_recurrent_state(self, recurrent_states: torch.Tensor, state_idx: int = 0, **kwargs) -> torch.Tensor:
        # Assign, never copy in place: the previous tensor may still be needed by autograd when the state is carried
        # across training steps (truncated backpropagation through time, until `detach_()`).
        self.recurrent_states[state_idx] = recurrent_states
        self.is_recurrent_states_initialized[state_idx] = True
        self.has_previous_state[state_idx] = True
        self.device, self.dtype = recurrent_states.device, recurrent_states.dtype
        return recurrent_states

    def _map_states(self, fn) -> None:
        for i in range(self.number_of_states):
            if self.is_recurrent_states_initialized[i]:
                self.recurrent_states[i] = fn(self.recurrent_states[i])

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._map_states(lambda s: s.index_select(0, beam_idx.to(s.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map_states(lambda s: s.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._map_states(lambda s: s[indices])


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.RecurrentStateCache
class RecurrentStateCache(Cache):
    """The state of a stack of recurrent layers as a transformers `Cache`: one [`RecurrentStateLayer`] per layer.

    `generate()` carries it from step to step, reorders it for beam search (`reorder_cache`) and returns it
    (`return_dict_in_generate=True`), so a generation can be continued from it. The model updates the cache it is given
    in place and returns it. `get_seq_length()` is the number of positions (padding included) the state has read.

    Plain tensors, in PyTorch's `nn.GRU` / `nn.LSTM` layout `[num_layers, batch, hidden_size]`:
    `RecurrentStateCache.from_tensors((h,))` (GRU) or `from_tensors((h, c))` (LSTM), and `cache.to_tensors()`.
    For truncated backpropagation through time, `cache.detach_()` cuts the graph and keeps the values.

    Example:

    ```python
    >>> cache = None
    >>> for input_ids, labels in consecutive_windows:  # row i of a window continues row i of the previous one
    ...     out = model(input_ids=input_ids, labels=labels, cache=cache, use_cache=True)
    ...     out.loss.backward()
    ...     cache = out.cache.detach_()  # `out.past_key_values` on transformers < 5.25
    ```
    """

    def __init__(
        self, num_layers: int, number_of_states: int = 1, seen_tokens: int = 0, model_type: str | None = None
    ):
        super().__init__(layers=[RecurrentStateLayer(number_of_states=number_of_states) for _ in range(num_layers)])
        self.number_of_states = number_of_states
        self.seen_tokens = seen_tokens
        # The `model_type` of the model that made it (None for one built from tensors): another family's state of the
        # same shape is refused rather than read.
        self.model_type = model_type

    @classmethod
    def from_tensors(cls, states: Sequence[torch.Tensor], seen_tokens: int = 0) -> "RecurrentStateCache":
        """`(h,)` or `(h, c)`, each [num_layers, batch, hidden_size] (what `nn.GRU` / `nn.LSTM` return) → a cache."""
        if isinstance(states, torch.Tensor) or not states or any(s.dim() != 3 for s in states):
            raise ValueError("`states` must be a tuple `(h,)` or `(h, c)` of [num_layers, batch, hidden] tensors.")
        cache = cls(num_layers=states[0].shape[0], number_of_states=len(states), seen_tokens=seen_tokens)
        for state_idx, state in enumerate(states):
            for layer_idx in range(state.shape[0]):
                cache.update_recurrent_state(state[layer_idx], layer_idx, state_idx)
        return cache

    def to_tensors(self) -> tuple[torch.Tensor, ...]:
        """The state as `(h,)` or `(h, c)`, each [num_layers, batch, hidden_size] (what `nn.GRU` / `nn.LSTM` take)."""
        return tuple(
            torch.stack([layer.recurrent_states[i] for layer in self.layers]) for i in range(self.number_of_states)
        )

    def layer_states(self) -> list[LayerState] | None:
        """Each layer's state, or None before the first update."""
        if not all(all(layer.has_previous_state.values()) for layer in self.layers):
            return None
        return [tuple(layer.recurrent_states[i] for i in range(self.number_of_states)) for layer in self.layers]

    def update_layer_states(self, states: Sequence[LayerState], num_new_tokens: int) -> None:
        """Stores each layer's new state after `num_new_tokens` more positions."""
        for layer_idx, layer_state in enumerate(states):
            for state_idx, state in enumerate(layer_state):
                self.update_recurrent_state(state, layer_idx, state_idx)
        self.seen_tokens += num_new_tokens

    def detach_(self) -> "RecurrentStateCache":
        """Detaches every state tensor from the autograd graph, in place (truncated BPTT); returns the cache."""
        for layer in self.layers:
            layer._map_states(torch.Tensor.detach)
        return self

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    @property
    def is_compileable(self) -> bool:
        return False

    @property
    def is_croppable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_layers={len(self.layers)}, seen_tokens={self.seen_tokens})"


# Copied from rnnformers.models.char_rnn.modeling_char_rnn._flatten_recurrent_state_cache
def _flatten_recurrent_state_cache(cache: RecurrentStateCache):
    states = cache.layer_states() or []
    context = (len(cache.layers), cache.number_of_states, cache.seen_tokens, cache.model_type)
    return [s for layer in states for s in layer], context


# Copied from rnnformers.models.char_rnn.modeling_char_rnn._unflatten_recurrent_state_cache
def _unflatten_recurrent_state_cache(values, context) -> RecurrentStateCache:
    num_layers, number_of_states, seen_tokens, model_type = context
    cache = RecurrentStateCache(num_layers, number_of_states, seen_tokens, model_type)
    if values:
        states = [tuple(values[i : i + number_of_states]) for i in range(0, len(values), number_of_states)]
        for layer_idx, layer_state in enumerate(states):
            for state_idx, state in enumerate(layer_state):
                cache.update_recurrent_state(state, layer_idx, state_idx)
    return cache


# `torch.export` returns the cache as its tensors (a pytree node), as transformers does for its own caches.
try:
    torch.utils._pytree.register_pytree_node(
        RecurrentStateCache,
        _flatten_recurrent_state_cache,
        _unflatten_recurrent_state_cache,
        serialized_type_name=f"{RecurrentStateCache.__module__}.{RecurrentStateCache.__name__}",
    )
except ValueError:  # already registered (the module was imported twice)
    pass


LayerKernel = Callable[[torch.Tensor, LayerState], tuple[torch.Tensor, LayerState]]
"""One layer and direction of a recurrent stack: (inputs [batch, time, input_size], initial state) → (outputs [batch,
time, hidden_size], final state), as `torch.gru` / `torch.lstm` compute them with every step valid."""


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.float_layer_kernel
def float_layer_kernel(cell_type: str, weights: list[torch.Tensor], training: bool) -> LayerKernel:
    """The kernel of one layer and direction from its float weights `[weight_ih, weight_hh, bias_ih, bias_hh]`
    (`nn.GRU` / `nn.LSTM`'s layout): `torch.gru` / `torch.lstm`, and `torch.lstm_cell` for a single LSTM step."""

    def kernel(inputs, state):  # unannotated: `tuple[...]` evaluated at each definition breaks a torch.compile graph
        if cell_type == "gru":
            outputs, h_n = torch.gru(inputs, state[0].unsqueeze(0), weights, True, 1, 0.0, training, False, True)
            return outputs, (h_n[0],)
        if inputs.shape[1] == 1 and not torch.is_autocast_enabled(inputs.device.type):
            # One step (a generated token, a padded batch stepped through time): `torch.lstm` hands an unpacked LSTM
            # to oneDNN, which reorders the weights on every call (about 15x the cell's own cost at 512 units).
            h, c = torch.lstm_cell(inputs[:, 0], state, *weights)
            return h.unsqueeze(1), (h, c)
        hx = (state[0].unsqueeze(0), state[1].unsqueeze(0))
        outputs, h_n, c_n = torch.lstm(inputs, hx, weights, True, 1, 0.0, training, False, True)
        return outputs, (h_n[0], c_n[0])

    return kernel


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.run_recurrent_layer
def run_recurrent_layer(
    cell_type: str,
    kernel: LayerKernel,
    inputs: torch.Tensor,
    state: LayerState,
    step_mask: torch.Tensor | None,
    need_final_state: bool = True,
) -> tuple[torch.Tensor, LayerState | None]:
    """Runs one batch-first GRU/LSTM layer (one direction) over rows whose valid steps come first.

    Args:
        cell_type: `"gru"` or `"lstm"`.
        kernel: the layer's [`LayerKernel`] ([`float_layer_kernel`] of its weights, or an int8 one).
        inputs: [batch, time, input_size], each row's valid steps first (what follows them is ignored).
        state: initial `(h,)` or `(h, c)`, each [batch, hidden_size].
        step_mask: [batch, time] bool, True on each row's valid steps, or None if every step is valid.
        need_final_state: False skips the final state (None), which saves an LSTM with padding a step-by-step run.

    Returns:
        outputs [batch, time, hidden_size] (meaningless after a row's valid steps) and the state after each row's
        last valid step (the initial state for a row without one).
    """
    if cell_type == "gru":
        outputs, final = kernel(inputs, state)
        if step_mask is None:
            return outputs, final
        # A GRU's state is its output: read it at each row's last valid step.
        lengths = step_mask.sum(dim=1)
        last = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
        final = torch.where((lengths > 0).unsqueeze(1), outputs.gather(1, last).squeeze(1), state[0])
        return outputs, (final,)
    if step_mask is None or not need_final_state:
        outputs, final = kernel(inputs, state)
        return outputs, (final if step_mask is None else None)
    # An LSTM's cell state is not in its outputs: step through time, keeping the state on invalid steps.
    h, c = state
    step_outputs = []
    for t in range(inputs.shape[1]):
        output, (h_t, c_t) = kernel(inputs[:, t : t + 1], (h, c))
        valid = step_mask[:, t : t + 1]
        h, c = torch.where(valid, h_t, h), torch.where(valid, c_t, c)
        step_outputs.append(output)
    return torch.cat(step_outputs, dim=1), (h, c)


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.RecurrentStack
class RecurrentStack(nn.Module):
    """A batch-first stack of GRU/LSTM layers, uni- or bidirectional, that reads only the valid steps of each row.

    Same parameters, names and initial values as `nn.GRU` / `nn.LSTM(batch_first=True)` (`weight_ih_l{k}`,
    `weight_hh_l{k}_reverse`, ...), so their weights load unchanged. Padding may be on either side: each row's valid
    steps are moved to the front (a stable sort), so padding only ever follows them; the backward direction reads them
    reversed in place. A padded row therefore gives exactly what it gives alone, and the state passes unchanged through
    padding. No host synchronisation and no data-dependent branch: `torch.export` and `torch.compile(fullgraph=True)`
    trace it.

    With `separate_directions=True` (bidirectional only), each direction's layer k reads only the same direction's
    layer k - 1, as ELMo's biLM does: no forward output has seen a later token, nor a backward output an earlier one,
    so the stack is also two language models (one per direction).

    `weight_dropout` is DropConnect on the hidden-to-hidden weights while training (AWD-LSTM's WeightDrop): one mask
    per forward pass, shared by every time step, the regulariser that suits recurrent connections.
    """

    def __init__(self, cell_type: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False, separate_directions: bool = False, weight_dropout: float = 0.0):
        super().__init__()
        self.cell_type = cell_type
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.separate_directions = separate_directions and bidirectional
        self.number_of_states = 2 if cell_type == "lstm" else 1
        self.dropout = dropout
        self.weight_dropout = weight_dropout
        gate_size = (4 if cell_type == "lstm" else 3) * hidden_size
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * self.inputs_per_layer
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, hidden_size),
                          "bias_ih": (gate_size,), "bias_hh": (gate_size,)}
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{layer}{suffix}", nn.Parameter(torch.empty(shape)))
        # One int8 kernel per layer and direction (index `layer * num_directions + direction`) once
        # `rnnformers.quantization.quantize_dynamic_int8` has quantized the model; None: the float parameters run.
        self.int8_kernels: list[LayerKernel] | None = None
        self.reset_parameters()

    def reset_parameters(self):
        """`nn.GRU` / `nn.LSTM`'s own initialisation: U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def layer_weights(self, layer: int, direction: int) -> list[torch.Tensor]:
        """`[weight_ih, weight_hh, bias_ih, bias_hh]` of one layer and direction (0: forward, 1: backward)."""
        suffix = "_reverse" if direction else ""
        return [getattr(self, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def layer_kernel(self, layer: int, direction: int) -> LayerKernel:
        """What runs one layer and direction: the int8 kernel `rnnformers.quantization` put in `int8_kernels`, or the
        float weights (with DropConnect on the hidden-to-hidden ones while training)."""
        if self.int8_kernels is not None:
            return self.int8_kernels[layer * self.num_directions + direction]
        weights = self.layer_weights(layer, direction)
        if self.weight_dropout > 0 and self.training:
            weight_ih, weight_hh, *biases = weights
            weights = [weight_ih, nn.functional.dropout(weight_hh, self.weight_dropout), *biases]
        return float_layer_kernel(self.cell_type, weights, self.training)

    @property
    def inputs_per_layer(self) -> int:
        """How many directions' outputs a layer above the first reads."""
        return 1 if self.separate_directions else self.num_directions

    def extra_repr(self) -> str:
        return (f"{self.cell_type}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.num_directions == 2}, dropout={self.dropout}"
                + (", separate_directions=True" if self.separate_directions else ""))

    def forward(
        self,
        inputs: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        initial_state: Sequence[LayerState] | None = None,
        return_final_state: bool = True,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], list[LayerState] | None]:
        """
        Args:
            inputs: [batch, time, input_size].
            attention_mask: [batch, time], 1 for real tokens and 0 for padding (either side), or None.
            initial_state: one `(h,)` / `(h, c)` per layer and direction (index `layer * num_directions +
                direction`), each [batch, hidden_size]; None for zeros.
            return_final_state: False returns None as `final_state` (an LSTM with padding then runs fused).

        Returns:
            `outputs` [batch, time, num_directions * hidden_size]: the top layer's outputs at their tokens' positions,
            0 at padding; `layer_outputs`: the same for every layer, bottom first; `final_state`: one `(h,)` / `(h, c)`
            per layer and direction, each [batch, hidden_size], after each row's last real token (for the backward
            direction: after its first).
        """
        batch_size, seq_len, _ = inputs.shape
        step_mask = order = None
        if attention_mask is not None:
            mask = attention_mask.bool()
            # Sorting on "is padding, then position" moves each row's valid steps to the front, in their order. (The
            # keys are unique, so any sort is stable here: ONNX, which has no stable sort, exports it.)
            steps = torch.arange(seq_len, device=inputs.device).unsqueeze(0)
            order = torch.argsort((~mask).long() * seq_len + steps, dim=1)
            inputs = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
            lengths = mask.sum(dim=1, keepdim=True)
            step_mask = steps < lengths
        if self.num_directions == 2:
            if step_mask is None:
                reverse = torch.arange(seq_len - 1, -1, -1, device=inputs.device).expand(batch_size, -1)
            else:
                # Step t reads valid step (length - 1 - t): the valid steps reversed in place, padding left after them.
                # The permutation is its own inverse, so it also puts the backward outputs back in reading order.
                reverse = torch.where(step_mask, lengths - 1 - steps, steps)
        if initial_state is None:
            zeros = inputs.new_zeros(batch_size, self.hidden_size)
            initial_state = [(zeros,) * self.number_of_states] * (self.num_layers * self.num_directions)

        hidden, layer_outputs, final_state, direction_outputs = inputs, [], [], []
        for layer in range(self.num_layers):
            # What each direction reads: the layer below (both directions concatenated), or its own direction's.
            sources = direction_outputs if layer > 0 and self.separate_directions else [hidden]
            if layer > 0 and self.dropout > 0:
                sources = [nn.functional.dropout(source, self.dropout, self.training) for source in sources]
            direction_outputs = []
            for direction in range(self.num_directions):
                kernel = self.layer_kernel(layer, direction)
                state = tuple(s.to(hidden.dtype) for s in initial_state[layer * self.num_directions + direction])
                source = sources[direction] if len(sources) > 1 else sources[0]
                layer_input = source if direction == 0 else _permute_steps(source, reverse)
                outputs, final = run_recurrent_layer(
                    self.cell_type, kernel, layer_input, state, step_mask, return_final_state
                )
                direction_outputs.append(outputs if direction == 0 else _permute_steps(outputs, reverse))
                final_state.append(final)
            hidden = torch.cat(direction_outputs, dim=-1) if self.num_directions == 2 else direction_outputs[0]
            layer_outputs.append(hidden)

        if order is not None:
            # Back to the tokens' positions; the steps after each row's valid ones land on its padding, as zeros.
            index = order.unsqueeze(-1)
            layer_outputs = [
                torch.zeros_like(h).scatter(1, index.expand_as(h), h.masked_fill(~step_mask.unsqueeze(-1), 0))
                for h in layer_outputs
            ]
        return layer_outputs[-1], tuple(layer_outputs), (final_state if return_final_state else None)


# Copied from rnnformers.models.char_rnn.modeling_char_rnn._permute_steps
def _permute_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[batch, time, features] → the same rows with step t taken from step index[b, t]."""
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.generation_cache_name
def generation_cache_name() -> str:
    """The name transformers gives the generation cache: the `forward` / `prepare_inputs_for_generation` argument
    `generate()` passes it as, the key it keeps it under and the field of the outputs it reads it back from.

    transformers 5.25 renamed it from `past_key_values` to `cache`. Read from the installed release's own output class,
    not from its version number, so that a folder saved today generates correctly on the releases that follow.
    """
    return "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.take_cache_argument
def take_cache_argument(cache: Cache | None, past_key_values: Cache | None, kwargs: dict) -> Cache | None:
    """The recurrent state a `forward` was given, as `cache` (transformers >= 5.25's name) or `past_key_values` (the
    name before it, still accepted): both at once, or a `Cache` under any other keyword, is refused, so that no release
    can hand the model its state under a name it would silently ignore."""
    if cache is not None and past_key_values is not None:
        raise ValueError("Pass the recurrent state as `cache` or as `past_key_values` (its older name), not both.")
    for name, value in kwargs.items():
        if isinstance(value, Cache):
            raise ValueError(
                f"Got a `{type(value).__name__}` as `{name}`, which this model does not read: pass the recurrent state "
                "as `cache`."
            )
    return cache if cache is not None else past_key_values


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.check_cache_family
def check_cache_family(cache, model_type: str) -> None:
    """A cache given to a model must be a [`RecurrentStateCache`] made by a model of its own `model_type` (or built
    from tensors): another family's state of the same shape would be read as if it were this model's."""
    if not isinstance(cache, Cache) or not hasattr(cache, "layer_states"):
        raise ValueError(
            "`cache` must be the `RecurrentStateCache` returned by a previous call (build one from tensors with "
            f"`RecurrentStateCache.from_tensors`), got {type(cache).__name__}."
        )
    made_by = getattr(cache, "model_type", None)
    if made_by is not None and made_by != model_type:
        raise ValueError(f"`cache` holds the state of a `{made_by}` model, not of this `{model_type}` model.")


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.RecurrentGenerationMixin
class RecurrentGenerationMixin(GenerationMixin):
    """What `generate()` needs from a model whose cache is a [`RecurrentStateCache`], on every transformers release
    from 5.23 on: the state travels under the release's own cache name ([`generation_cache_name`]), and a step that
    should continue a state but is given none (or one that has read another number of positions) raises instead of
    silently starting again from zeros."""

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The cache is the recurrent state, not a key/value cache: the model builds its own on the first step.
        return False

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        next_sequence_length: int | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        is_first_iteration: bool | None = False,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> dict:
        """What `GenerationMixin.prepare_inputs_for_generation` does for a recurrent model, without its per-step cost
        (4D masks, position ids, device moves): the positions the state has not read yet, the cache, and every other
        keyword argument (`output_hidden_states`, `encoder_outputs`, ...) forwarded to `forward` unchanged.

        The positions to feed are what the sequence holds beyond what the state has read: `input_ids` (the decoder's
        ids for an encoder–decoder) hold the whole sequence, as `generate()` passes it; for a decoder-only model given
        only the new ids, `attention_mask` spans the whole sequence. A sequence no longer than what the state has read,
        or a step `generate()` means to continue (`next_sequence_length`) from a state that is missing or has read
        another number of positions, raises a `ValueError`: a recurrent model must never restart silently."""
        cache = take_cache_argument(cache, past_key_values, {})
        seen = cache.get_seq_length() if cache is not None else 0
        use_embeds = not self.config.is_encoder_decoder and inputs_embeds is not None and is_first_iteration
        given = inputs_embeds if use_embeds else input_ids
        # The whole sequence's length: the decoder-only mask covers it even when only the new ids are given.
        if not self.config.is_encoder_decoder and attention_mask is not None and not use_embeds:
            total = attention_mask.shape[1]
        else:
            total = given.shape[1]
        if next_sequence_length is not None and total - next_sequence_length != seen:
            have = "no cache" if cache is None else f"a cache that has read {seen}"
            raise ValueError(
                f"generate() asked to continue after {total - next_sequence_length} positions with "
                f"{next_sequence_length} new one(s), but the model was given {have}: the recurrent state did not come "
                f"back under `{generation_cache_name()}` (a transformers release that passes it otherwise?). Refusing "
                "to restart from a zero state."
            )
        if cache is not None and seen > 0:
            new = total - seen
            if new < 1:
                raise ValueError(
                    f"The cache has read {seen} positions but the sequence has {total}: nothing new to continue from. "
                    "Pass the whole sequence so far (e.g. the `sequences` generate() returned with this cache), with "
                    "at least one position the cache has not read."
                )
            if new > given.shape[1]:
                raise ValueError(
                    f"The cache has read {seen} of the {total} positions `attention_mask` spans, so {new} new ids are "
                    f"needed, but only {given.shape[1]} were given."
                )
            next_sequence_length = new
        new_inputs = given[:, -next_sequence_length:] if next_sequence_length else given

        model_inputs = {key: value for key, value in kwargs.items() if key not in ("labels", "position_ids")}
        if self.config.is_encoder_decoder:
            # `input_ids` are the decoder's tokens; `attention_mask` stays the source's.
            model_inputs["decoder_input_ids"] = new_inputs
            model_inputs["attention_mask"] = attention_mask
        else:
            if use_embeds:
                model_inputs.update(input_ids=None, inputs_embeds=new_inputs)
            else:
                model_inputs["input_ids"] = new_inputs
            if attention_mask is not None:
                # The state summarises the positions before these: the mask covers the new positions only.
                model_inputs["attention_mask"] = attention_mask[:, -new_inputs.shape[1] :]
        model_inputs["cache"] = cache
        return model_inputs

    def generate(self, inputs: torch.Tensor | None = None, generation_config=None, **kwargs):
        """`GenerationMixin.generate`, with the recurrent state accepted as `cache` or `past_key_values` on every
        release, and clear errors for `num_beams` < 1 (transformers divides by it first), for assisted decoding (a
        recurrent state cannot be rolled back) and for a cache whose rows are not the inputs' rows (a cache returned
        by beam search)."""
        config = generation_config or self.generation_config
        num_beams = kwargs.get("num_beams", config.num_beams)
        # None: not set, generate() then uses 1.
        if num_beams is not None and (isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1):
            raise ValueError(f"`num_beams` must be an integer of at least 1, got {num_beams!r}.")
        assisted = [
            name
            for name in ("assistant_model", "prompt_lookup_num_tokens", "assistant_early_exit")
            if kwargs.get(name, getattr(config, name, None)) is not None
        ]
        if assisted:
            raise ValueError(
                f"Assisted decoding (`{assisted[0]}`) is not supported: this model is stateful, and a recurrent state "
                "cannot be rolled back to the position before rejected draft tokens."
            )
        cache = take_cache_argument(kwargs.pop("cache", None), kwargs.pop("past_key_values", None), {})
        if cache is not None:
            # Duck-typed: each family's modeling file has its own copy of `RecurrentStateCache`.
            if hasattr(cache, "layer_states"):
                self._check_cache_rows(cache, inputs, kwargs)
            kwargs[generation_cache_name()] = cache
        outputs = super().generate(inputs, generation_config=generation_config, **kwargs)
        returned = getattr(outputs, generation_cache_name(), None) if isinstance(outputs, ModelOutput) else None
        if (num_beams or 1) > 1 and hasattr(returned, "layer_states"):
            # Its rows are the last running beams, not the returned sequences (the best finished hypotheses).
            returned.rows_are_beams = True
        return outputs

    def _check_cache_rows(self, cache: RecurrentStateCache, inputs: torch.Tensor | None, kwargs: dict) -> None:
        """The state's row i must be row i of the inputs (before generate() expands them for beams / sequences):
        otherwise the inputs, once expanded, may match the cache's size and silently continue from other rows."""
        problem = None
        if getattr(cache, "rows_are_beams", False):
            problem = "it was returned by beam search: its rows are the last running beams, not the returned sequences"
        states = cache.layer_states()
        if inputs is None:
            inputs = kwargs.get(self.main_input_name)
        if inputs is None:
            inputs = kwargs.get("inputs_embeds")
        if problem is None and states is not None and inputs is not None and states[0][0].shape[0] != inputs.shape[0]:
            problem = (
                f"it holds {states[0][0].shape[0]} rows but the inputs have {inputs.shape[0]} (a cache returned by "
                "beam search or with `num_return_sequences` > 1 holds one row per beam / sequence)"
            )
        if problem is not None:
            raise ValueError(
                f"The cache cannot be continued: {problem}. Continue from the cache of a greedy or sampled "
                "generation (one row per returned sequence), or pass no cache."
            )


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.is_tracing
def is_tracing() -> bool:
    """True under `torch.compile` / `torch.export`, where data-dependent checks (a device→host sync) are skipped."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


@dataclass
class Seq2SeqGRUAttentionEncoderOutput(ModelOutput):
    """What the encoder hands to the decoder. Every tensor is batch-first, so `generate()` can repeat it for beams.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `[batch, source_len, hidden_size]`):
            Top-layer encoder output at each source position (directions summed if bidirectional); 0 at padding.
        final_state (`torch.FloatTensor` of shape `[batch, num_layers, hidden_size]`):
            Each layer's state after the last real source token: the decoder's initial state.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            `num_layers + 1` tensors (the embeddings, then each layer's outputs, directions summed) when
            `output_hidden_states=True`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    final_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class Seq2SeqGRUAttentionDecoderOutput(ModelOutput):
    """What the decoder returns.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `[batch, target_len, 2 * hidden_size]`):
            `[attention vector; decoder output]` at each target position: what the output layer reads.
        final_state (`list[tuple[torch.FloatTensor]]`):
            Each decoder layer's state `(h,)`, h [batch, hidden_size], after the last target position.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            `num_layers + 1` tensors: the target embeddings, then each decoder layer's outputs.
        attentions (`torch.FloatTensor` of shape `[batch, target_len, source_len]`, *optional*):
            The attention weights over the source.
    """

    last_hidden_state: torch.FloatTensor | None = None
    final_state: list[LayerState] | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: torch.FloatTensor | None = None


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Teacher forcing: the decoder reads `<s> y1 … y(n-1)` to predict `y1 … yn`; an ignored label (`-100`) reads as
    padding.

    Args:
        labels: [batch, target_len] target ids, `-100` where the loss ignores a position.

    Returns:
        decoder_input_ids: [batch, target_len].
    """
    decoder_input_ids = labels.new_full(labels.shape, pad_token_id)
    decoder_input_ids[:, 1:] = labels[:, :-1]
    decoder_input_ids[:, 0] = decoder_start_token_id
    return decoder_input_ids.masked_fill(decoder_input_ids == -100, pad_token_id)


class Seq2SeqGRUAttentionLayer(nn.Module):
    """Scores every encoder output against every decoder output, masks the source padding and averages.

    `"dot"`: `h_t·h_s`; `"general"`: `h_t·W h_s`, computed as `(Wᵀh_t)·h_s` so that the encoder outputs need no
    projection at each decoding step; `"concat"`: `v·tanh(W_q h_t + W_k h_s)` (Bahdanau's additive score).
    """

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__()
        self.attention_type = config.attention_type
        hidden_size = config.hidden_size
        if self.attention_type == "general":
            self.query_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        elif self.attention_type == "concat":
            self.query_proj = nn.Linear(hidden_size, hidden_size, bias=False)
            self.key_proj = nn.Linear(hidden_size, hidden_size)
            self.score_proj = nn.Linear(hidden_size, 1, bias=False)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            query: [batch, target_len, hidden_size] decoder outputs.
            keys: [batch, source_len, hidden_size] encoder outputs (also the values).
            key_mask: [batch, source_len] bool, True for real source tokens, or None (every position is real).

        Returns:
            context [batch, target_len, hidden_size] (the attention vectors) and weights
            [batch, target_len, source_len], each row summing to 1 and exactly 0 on source padding.
        """
        if self.attention_type == "dot":
            scores = query @ keys.transpose(1, 2)
        elif self.attention_type == "general":
            scores = self.query_proj(query) @ keys.transpose(1, 2)
        else:
            # [batch, target_len, 1, hidden] + [batch, 1, source_len, hidden] → one energy per (t, s) pair.
            energies = torch.tanh(self.query_proj(query).unsqueeze(2) + self.key_proj(keys).unsqueeze(1))
            scores = self.score_proj(energies).squeeze(-1)
        if key_mask is not None:
            # -inf before the softmax makes the padding weights exactly 0, not just small.
            scores = scores.masked_fill(~key_mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ keys, weights


class Seq2SeqGRUAttentionEncoder(nn.Module):
    """Embedding → (bi)directional GRU stack over the real source tokens. What `get_encoder()` returns.

    Holds the embedding that source and target share (the model's `get_input_embeddings()`).
    """

    main_input_name = "input_ids"

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(
            "gru",
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional_encoder,
        )

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds` (the source).")
        tokens = input_ids if input_ids is not None else inputs_embeds
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        if tokens.dim() != (2 if input_ids is not None else 3):
            raise ValueError(f"`{name}` must be batched: got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(f"`{name}` is empty (shape {tuple(tokens.shape)}): every source needs at least one token.")
        if inputs_embeds is not None and inputs_embeds.shape[-1] != self.config.embedding_dim:
            raise ValueError(
                f"`inputs_embeds` must be [batch, source_len, embedding_dim={self.config.embedding_dim}], got shape "
                f"{tuple(inputs_embeds.shape)}."
            )
        if input_ids is not None and input_ids.dtype.is_floating_point:
            raise ValueError(f"`input_ids` must hold integer token ids, got dtype {input_ids.dtype}.")
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
            raise ValueError(
                f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has {tuple(tokens.shape[:2])}."
            )
        if is_tracing():
            return
        # Data-dependent checks: a device→host sync, on the eager path only (once per source in generate()).
        if input_ids is not None:
            low, high = torch.aminmax(input_ids)
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {self.config.vocab_size}) (the model's `vocab_size`), got values "
                    f"from {int(low)} to {int(high)}."
                )
        if attention_mask is not None:
            check_no_empty_rows(attention_mask, "attention_mask")

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> Seq2SeqGRUAttentionEncoderOutput | tuple:
        """
        Args:
            input_ids: [batch, source_len] source ids (usually `<s> … </s>`).
            attention_mask: [batch, source_len], 1 for real tokens and 0 for padding (either side).
            inputs_embeds: [batch, source_len, embedding_dim], instead of `input_ids`.
            output_hidden_states: also return the embeddings and each layer's outputs.

        Returns:
            [`Seq2SeqGRUAttentionEncoderOutput`] (or a tuple if `return_dict=False`).
        """
        self._validate_inputs(input_ids, inputs_embeds, attention_mask)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)

        outputs, layer_outputs, final_state = self.rnn(self.dropout(inputs_embeds), attention_mask)
        if self.config.bidirectional_encoder:
            # Sum the directions so that the decoder state and dot-product attention keep `hidden_size` units.
            layer_outputs = tuple(h.view(*h.shape[:2], 2, self.config.hidden_size).sum(dim=2) for h in layer_outputs)
            final = [forward[0] + backward[0] for forward, backward in zip(final_state[0::2], final_state[1::2])]
        else:
            final = [state[0] for state in final_state]
        outputs = layer_outputs[-1]
        final_state = torch.stack(final, dim=1)  # batch-first, so that generate() can repeat it for beams

        hidden_states = (inputs_embeds, *layer_outputs) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (outputs, final_state, hidden_states) if v is not None)
        return Seq2SeqGRUAttentionEncoderOutput(
            last_hidden_state=outputs, final_state=final_state, hidden_states=hidden_states
        )


class Seq2SeqGRUAttentionDecoder(nn.Module):
    """GRU stack over the target tokens, started from the encoder's final states, then attention over the encoder
    outputs: returns `[attention vector; decoder output]` per target position. The encoder's mirror; it reads its
    tokens through the encoder's (shared) embedding, given as `inputs_embeds`."""

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__()
        self.config = config
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = RecurrentStack(
            "gru",
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.attention = Seq2SeqGRUAttentionLayer(config)

    def forward(
        self,
        inputs_embeds: torch.FloatTensor,
        encoder_hidden_states: torch.FloatTensor,
        encoder_attention_mask: torch.Tensor | None,
        initial_state: list[LayerState],
        output_hidden_states: bool = False,
    ) -> Seq2SeqGRUAttentionDecoderOutput:
        """
        Args:
            inputs_embeds: [batch, target_len, embedding_dim] target embeddings.
            encoder_hidden_states: [batch, source_len, hidden_size] encoder outputs.
            encoder_attention_mask: [batch, source_len] bool, True for real source tokens, or None.
            initial_state: each layer's `(h,)`, h [batch, hidden_size]: the encoder's final states or the cache.
            output_hidden_states: also return the embeddings and each layer's outputs.
        """
        outputs, layer_outputs, final_state = self.rnn(self.dropout(inputs_embeds), None, initial_state)
        context, weights = self.attention(outputs, encoder_hidden_states, encoder_attention_mask)
        return Seq2SeqGRUAttentionDecoderOutput(
            last_hidden_state=torch.cat([context, outputs], dim=-1),
            final_state=final_state,
            hidden_states=(inputs_embeds, *layer_outputs) if output_hidden_states else None,
            attentions=weights,
        )


def check_no_empty_rows(attention_mask: torch.Tensor, name: str) -> None:
    """A source row with no real token has nothing to attend to (its attention would be NaN): refuse it."""
    empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
    if empty_rows:
        raise ValueError(f"rows {empty_rows} of `{name}` are all padding: every source needs a real token.")


# Folders keep the layout saved before the base model existed (no base-model prefix, the decoder's GRU and the
# attention at the top level): transformers renames it on load (`from_pretrained`) and back on save, so older versions
# of this code load new folders.
SAVED_LAYOUT = [
    (r"^encoder\.", "model.encoder."),
    (r"^decoder\.weight_", "model.decoder.rnn.weight_"),
    (r"^decoder\.bias_", "model.decoder.rnn.bias_"),
    (r"^attention\.", "model.decoder.attention."),
]
register_checkpoint_conversion_mapping(
    "seq2seq_gru_attention", [WeightRenaming(saved, current) for saved, current in SAVED_LAYOUT], overwrite=True
)


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.load_saved_layout
def load_saved_layout(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """`load_state_dict` pre-hook: the Trainer reloads checkpoints (resume, best model) with `load_state_dict`, not
    `from_pretrained`, so the saved layout is renamed here too."""
    if prefix:  # only for the model `load_state_dict` was called on
        return
    base_prefix = f"{module.base_model_prefix}."
    for key in list(state_dict):
        name = key
        for saved, current in SAVED_LAYOUT:
            name, renamed = re.subn(saved, current, name, count=1)
            if renamed:
                break
        if module.base_model is module:
            name = name.removeprefix(base_prefix)
        if name != key:
            state_dict[name] = state_dict.pop(key)


class Seq2SeqGRUAttentionPreTrainedModel(PreTrainedModel):
    config_class = Seq2SeqGRUAttentionConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = []
    # The recurrent state cannot be rolled back to an earlier position: no assisted decoding / prompt lookup. generate()
    # refuses them itself on every release; transformers < 5.25 also read this flag (5.25 dropped it).
    _is_stateful = True

    def __init__(self, config: Seq2SeqGRUAttentionConfig, *inputs, **kwargs):
        # Values set on the config after it was built (or given to `from_pretrained(..., attention_type=...)`) are
        # checked as the constructor checks them.
        config.check_values()
        super().__init__(config, *inputs, **kwargs)
        self.register_load_state_dict_pre_hook(load_saved_layout)

    # Copied from rnnformers.models.char_rnn.modeling_char_rnn.CharRNNPreTrainedModel.save_pretrained
    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`; a head's folder also names its base model in `auto_map`, so that
        `AutoModel.from_pretrained(repo, trust_remote_code=True)` loads the backbone where rnnformers is absent."""
        if self._auto_class is not None and self.base_model is not self:
            base_class = type(self.base_model)
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map["AutoModel"] = f"{base_class.__module__.rsplit('.', 1)[-1]}.{base_class.__name__}"
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    # Copied from rnnformers.models.gru.modeling_gru.GRUPreTrainedModel._init_pytorch_defaults with _init_pytorch_defaults->_init_weights
    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults, which the chapter's model trains with; the padding embedding stays at zero.
        if isinstance(module, RecurrentStack):
            module.reset_parameters()
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=1.0)
            # The row is a view without the "already loaded" flag of its weight: check the weight's flag, as
            # transformers does, so that a loaded (e.g. pretrained, non-zero) padding embedding is kept.
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])


class Seq2SeqGRUAttentionModel(Seq2SeqGRUAttentionPreTrainedModel):
    """The encoder–decoder without its output layer: encoder → decoder with attention. What `AutoModel` loads.

    `last_hidden_state` [batch, target_len, 2 * hidden_size] is `[attention vector; decoder output]` at each target
    position; `cache` (`past_key_values` on transformers < 5.25) the decoder's [`RecurrentStateCache`].
    """

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__(config)
        self.encoder = Seq2SeqGRUAttentionEncoder(config)
        self.decoder = Seq2SeqGRUAttentionDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.encoder.embed_tokens = value

    def get_encoder(self, modality: str | None = None) -> Seq2SeqGRUAttentionEncoder:
        return self.encoder

    def get_decoder(self) -> Seq2SeqGRUAttentionDecoder:
        return self.decoder

    def _validate_decoder_inputs(self, decoder_input_ids, decoder_inputs_embeds, cache, batch_size):
        if (decoder_input_ids is None) == (decoder_inputs_embeds is None):
            raise ValueError("Pass exactly one of `decoder_input_ids` or `decoder_inputs_embeds` (or `labels`).")
        tokens = decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds
        name = "decoder_input_ids" if decoder_input_ids is not None else "decoder_inputs_embeds"
        if tokens.dim() != (2 if decoder_input_ids is not None else 3) or tokens.shape[1] == 0:
            raise ValueError(f"`{name}` must be batched with at least one step, got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] != batch_size:
            raise ValueError(f"`{name}` has {tokens.shape[0]} rows but the source has {batch_size}.")
        if decoder_inputs_embeds is not None and decoder_inputs_embeds.shape[-1] != self.config.embedding_dim:
            raise ValueError(
                f"`decoder_inputs_embeds` must be [batch, target_len, embedding_dim={self.config.embedding_dim}], "
                f"got shape {tuple(decoder_inputs_embeds.shape)}."
            )
        if decoder_input_ids is not None and decoder_input_ids.dtype.is_floating_point:
            raise ValueError(f"`decoder_input_ids` must hold integer token ids, got dtype {decoder_input_ids.dtype}.")
        if cache is not None:
            check_cache_family(cache, self.config.model_type)
            states = cache.layer_states()
            expected = (batch_size, self.config.hidden_size)
            if states is not None and (
                len(states) != self.config.num_layers
                or any(len(layer) != 1 or tuple(layer[0].shape) != expected for layer in states)
            ):
                raise ValueError(
                    f"`cache` must hold {self.config.num_layers} layers of one decoder state shaped "
                    f"{expected} (batch, hidden_size)."
                )
        # One device→host sync, on the eager path only. Ids that continue a state (each step of generate() after the
        # first) are the model's own samples: checking them would sync at every generated token.
        continuing = cache is not None and cache.get_seq_length() > 0
        if is_tracing() or decoder_input_ids is None or continuing:
            return
        low, high = torch.aminmax(decoder_input_ids)
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(
                f"`decoder_input_ids` must be in [0, {self.config.vocab_size}), got values from {int(low)} to "
                f"{int(high)}."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Seq2SeqGRUAttentionEncoderOutput | tuple | None = None,
        cache: RecurrentStateCache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        past_key_values: RecurrentStateCache | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutput | tuple:
        r"""
        Args: as [`Seq2SeqGRUAttention.forward`], without `labels`: `decoder_input_ids` (or `decoder_inputs_embeds`)
        are required.

        Returns:
            [`Seq2SeqModelOutput`] with `last_hidden_state` `[batch, target_len, 2 * hidden_size]`.
        """
        cache = take_cache_argument(cache, past_key_values, kwargs)
        if use_cache is None:
            # No state is kept while training unless a cache is carried on (truncated BPTT): the Trainer then never
            # sees one among the outputs.
            use_cache = self.config.use_cache and (not self.training or cache is not None)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )

        # 1. Encode (generate() runs the encoder once and passes its outputs at every step).
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        else:
            if not isinstance(encoder_outputs, Seq2SeqGRUAttentionEncoderOutput):
                encoder_outputs = Seq2SeqGRUAttentionEncoderOutput(*encoder_outputs)
            if attention_mask is not None and cache is None and not is_tracing():
                # Checked once per source: the encoder checked it if it ran, else here, before the first step.
                check_no_empty_rows(attention_mask, "attention_mask")
        source = encoder_outputs.last_hidden_state
        batch_size = source.shape[0]

        # 2. Decode, from the encoder's final states or from the cached state.
        self._validate_decoder_inputs(decoder_input_ids, decoder_inputs_embeds, cache, batch_size)
        if decoder_inputs_embeds is None:
            decoder_inputs_embeds = self.get_input_embeddings()(decoder_input_ids)
        initial_state = cache.layer_states() if cache is not None else None
        if initial_state is None:
            final_state = encoder_outputs.final_state.to(decoder_inputs_embeds.dtype)
            initial_state = [(final_state[:, layer],) for layer in range(self.config.num_layers)]
        decoder_outputs = self.decoder(
            decoder_inputs_embeds,
            source,
            attention_mask.bool() if attention_mask is not None else None,
            initial_state,
            output_hidden_states=output_hidden_states,
        )

        if use_cache:
            if cache is None:
                cache = RecurrentStateCache(self.config.num_layers, 1, model_type=self.config.model_type)
            cache.update_layer_states(decoder_outputs.final_state, decoder_inputs_embeds.shape[1])
        else:
            cache = None
        cross_attentions = (decoder_outputs.attentions.unsqueeze(1),) if output_attentions else None
        if not return_dict:
            return tuple(
                v
                for v in (
                    decoder_outputs.last_hidden_state,
                    cache,
                    decoder_outputs.hidden_states,
                    cross_attentions,
                    source,
                    encoder_outputs.hidden_states,
                )
                if v is not None
            )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            decoder_hidden_states=decoder_outputs.hidden_states,
            cross_attentions=cross_attentions,
            encoder_last_hidden_state=source,
            encoder_hidden_states=encoder_outputs.hidden_states,
            **{generation_cache_name(): cache},
        )


class Seq2SeqGRUAttention(Seq2SeqGRUAttentionPreTrainedModel, RecurrentGenerationMixin):
    """GRU encoder–decoder with attention for translation (the chapter's `NmtModel` with attention):
    [`Seq2SeqGRUAttentionModel`] → dropout → linear layer over the vocabulary (through a projection to
    `embedding_dim` when the output layer is tied to the embedding).

    The cache is the decoder's [`RecurrentStateCache`]; with it, `decoder_input_ids` holds only the new tokens.
    The encoder outputs never change while decoding, so `generate()` keeps them in `encoder_outputs`.
    """

    _tied_weights_keys = {"lm_head.weight": "model.encoder.embed_tokens.weight"}

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__(config)
        self.model = Seq2SeqGRUAttentionModel(config)
        self.dropout = nn.Dropout(config.dropout)
        combined_size = 2 * config.hidden_size  # [attention vector; decoder output]
        if config.tie_word_embeddings:
            # The tied output layer reads embedding-sized vectors.
            self.output_projection = nn.Linear(combined_size, config.embedding_dim, bias=False)
            self.lm_head = nn.Linear(config.embedding_dim, config.vocab_size)
        else:
            self.output_projection = None
            self.lm_head = nn.Linear(combined_size, config.vocab_size)
        self.post_init()

    def get_encoder(self, modality: str | None = None) -> Seq2SeqGRUAttentionEncoder:
        return self.model.encoder

    def get_decoder(self) -> Seq2SeqGRUAttentionDecoder:
        return self.model.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head = value

    def _validate_labels(self, labels):
        if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"`labels` must be a tensor of integer token ids, got {kind}.")
        if labels.dim() != 2:
            raise ValueError(f"`labels` must be [batch, target_len] token ids, got shape {tuple(labels.shape)}.")
        if is_tracing():
            return
        bad = (labels != -100) & ((labels < 0) | (labels >= self.config.vocab_size))
        if bad.any():
            raise ValueError(
                f"`labels` must be token ids in [0, {self.config.vocab_size}) (`vocab_size`) or -100 (ignored), got "
                f"{labels[bad].unique().tolist()}."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Seq2SeqGRUAttentionEncoderOutput | tuple | None = None,
        cache: RecurrentStateCache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        past_key_values: RecurrentStateCache | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, source_len]`): source ids, `<s> … </s>`.
            attention_mask (`torch.Tensor` of shape `[batch, source_len]`, *optional*): 1 for real source tokens, 0
                for padding (either side). Padding is skipped by the encoder and gets attention weight 0, so a padded
                row translates exactly as it does alone.
            decoder_input_ids (`torch.LongTensor` of shape `[batch, target_len]`, *optional*): decoder inputs; made
                from `labels` by shifting them right behind `decoder_start_token_id` if not given. With
                a cache, only the new tokens.
            decoder_attention_mask (*optional*): accepted for API compatibility and not used: the decoder reads
                left to right and target padding is on the right, so padding never changes a real position's output.
            encoder_outputs ([`Seq2SeqGRUAttentionEncoderOutput`], *optional*): the encoder's outputs for the source,
                to skip running it again (what `generate()` does).
            cache ([`RecurrentStateCache`], *optional*): the decoder state after the target tokens seen so far (one
                `(h,)` per layer). Updated in place and returned. `past_key_values` is its older name (transformers
                < 5.25), still accepted.
            inputs_embeds / decoder_inputs_embeds (*optional*): embeddings instead of `input_ids` /
                `decoder_input_ids`.
            labels (`torch.LongTensor` of shape `[batch, target_len]`, *optional*): target ids ending with `</s>`;
                `-100` positions are ignored by the cross-entropy loss.
            use_cache (`bool`, *optional*): return the decoder state (as `cache`; `past_key_values` on transformers
                < 5.25).
            output_attentions (`bool`, *optional*): return the attention weights as `cross_attentions`, one tensor
                `[batch, 1, target_len, source_len]` (one layer, one head).
            output_hidden_states (`bool`, *optional*): return the embeddings and each layer's outputs of the encoder
                and the decoder (`num_layers + 1` tensors each).

        Returns:
            [`Seq2SeqLMOutput`] with `logits` `[batch, target_len, vocab_size]` and `loss` if `labels` was given.
        """
        cache = take_cache_argument(cache, past_key_values, kwargs)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if labels is not None:
            self._validate_labels(labels)
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                if self.config.decoder_start_token_id is None or self.config.pad_token_id is None:
                    raise ValueError(
                        "Making decoder inputs from `labels` needs `config.decoder_start_token_id` and "
                        "`config.pad_token_id`."
                    )
                decoder_input_ids = shift_tokens_right(
                    labels, self.config.pad_token_id, self.config.decoder_start_token_id
                )
        elif decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError("Pass `labels` or `decoder_input_ids` (or `decoder_inputs_embeds`).")
        if labels is not None:
            tokens = decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds
            if tuple(labels.shape) != tuple(tokens.shape[:2]):
                raise ValueError(f"`labels` has shape {tuple(labels.shape)} but the decoder inputs have "
                                 f"{tuple(tokens.shape[:2])}.")

        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            encoder_outputs=encoder_outputs,
            cache=cache,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        cache = getattr(outputs, generation_cache_name())
        combined = self.dropout(outputs.last_hidden_state)
        if self.output_projection is not None:
            combined = self.output_projection(combined)
        logits = self.lm_head(combined)

        loss = None
        if labels is not None:
            loss = self._loss(logits, labels, kwargs.get("num_items_in_batch"))

        if not return_dict:
            output = tuple(
                v
                for v in (
                    logits,
                    cache,
                    outputs.decoder_hidden_states,
                    outputs.cross_attentions,
                    outputs.encoder_last_hidden_state,
                    outputs.encoder_hidden_states,
                )
                if v is not None
            )
            return ((loss,) + output) if loss is not None else output
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            decoder_hidden_states=outputs.decoder_hidden_states,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            **{generation_cache_name(): cache},
        )

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        """Token-level cross-entropy, `-100` ignored. With `num_items_in_batch` (the Trainer passes it under gradient
        accumulation) the sum is divided by the token count of the whole accumulated batch, not of this micro-batch."""
        labels = labels.to(logits.device)
        flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1)
        if num_items_in_batch is None:
            return nn.functional.cross_entropy(flat_logits, flat_labels, ignore_index=-100)
        total = nn.functional.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
        if isinstance(num_items_in_batch, torch.Tensor):
            num_items_in_batch = num_items_in_batch.to(total.device)
        return total / num_items_in_batch

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """What `DataCollatorForSeq2Seq(model=...)` calls, so that batches carry `decoder_input_ids` (the Trainer's
        label smoothing pops `labels` before the forward pass)."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


class Seq2SeqGRUAttentionEnsembleEncoder(nn.Module):
    """Every member's encoder over the same source, their outputs in one [`Seq2SeqGRUAttentionEncoderOutput`] (what
    `generate()` keeps and repeats for beams): `last_hidden_state` [batch, source_len, Σ hidden_size] (the members'
    outputs side by side), `final_state` [batch, 1, Σ num_layers × hidden_size] (their states flattened side by side:
    the members' sizes may differ)."""

    main_input_name = "input_ids"

    def __init__(self, members: Sequence["Seq2SeqGRUAttention"]):
        super().__init__()
        self._members = tuple(members)  # a tuple: the ensemble owns the members' weights, not its encoder

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, return_dict=None, **kwargs):
        if inputs_embeds is not None:
            raise ValueError("an ensemble reads `input_ids`: its members have embeddings of their own.")
        outputs = [member.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
                   for member in self._members]
        return Seq2SeqGRUAttentionEncoderOutput(
            last_hidden_state=torch.cat([output.last_hidden_state for output in outputs], dim=-1),
            final_state=torch.cat([output.final_state.flatten(1) for output in outputs], dim=1).unsqueeze(1),
        )


class Seq2SeqGRUAttentionEnsemble(PreTrainedModel, RecurrentGenerationMixin):
    """Several [`Seq2SeqGRUAttention`] translators trained apart on one tokenizer, translating together: at each
    target position the ensemble's distribution is the mean of the members' next-token distributions, and
    `generate()` (greedy, beam search, sampling) searches it, every member reading the hypotheses chosen together.
    Ensembles of independently trained models are a standard way to a better translation (Sutskever et al., 2014;
    Luong et al., 2015; OpenNMT's and fairseq's `translate` with several models) at the cost of decoding each member.

    `logits` are the log of the mean probabilities, `[batch, target_len, vocab_size]` (so `softmax(logits)` is the
    ensemble's distribution), `loss` their cross-entropy with `labels`. The cache is one
    [`RecurrentStateCache`] holding every member's decoder layers, member after member. Only for decoding and
    scoring: each member is trained on its own ([`Seq2SeqGRUAttention`]).
    """

    config_class = Seq2SeqGRUAttentionEnsembleConfig
    base_model_prefix = "ensemble"
    main_input_name = "input_ids"
    _no_split_modules = []
    _is_stateful = True

    def __init__(self, config: Seq2SeqGRUAttentionEnsembleConfig):
        config.check_values()
        super().__init__(config)
        self.members = nn.ModuleList(Seq2SeqGRUAttention(member) for member in config.member_configs())
        self.encoder = Seq2SeqGRUAttentionEnsembleEncoder(self.members)
        self.post_init()

    @classmethod
    def from_members(cls, members: Sequence["Seq2SeqGRUAttention"]) -> "Seq2SeqGRUAttentionEnsemble":
        """An ensemble of trained models (copies of their weights, in their dtype), with the first member's generation
        config (its `max_length`, `num_beams`, ...)."""
        if not all(isinstance(member, Seq2SeqGRUAttention) for member in members):
            kinds = sorted({type(member).__name__ for member in members})
            raise ValueError(f"an ensemble's members must be Seq2SeqGRUAttention models, got {kinds}.")
        config = cls.config_class(members=[member.config.to_diff_dict() for member in members])
        ensemble = cls(config).eval()
        for own, given in zip(ensemble.members, members):
            own.to(given.dtype).load_state_dict(given.state_dict())
        ensemble.generation_config = copy.deepcopy(members[0].generation_config)
        return ensemble

    def post_init(self):
        super().post_init()
        # transformers gathers the tied weights (a member's output layer is its embedding) of direct children only; the
        # members sit one level down, in the `ModuleList`. Without this, a saved ensemble reloads with random output
        # layers.
        for index, member in enumerate(self.members):
            self.all_tied_weights_keys.update({f"members.{index}.{target}": f"members.{index}.{source}"
                                               for target, source in member.all_tied_weights_keys.items()})

    def get_encoder(self, modality: str | None = None) -> Seq2SeqGRUAttentionEnsembleEncoder:
        return self.encoder

    def _init_weights(self, module):
        # Nothing of the ensemble's own: every weight belongs to a member, and transformers hands each member (a
        # `PreTrainedModel`) to the member's own `_init_weights`.
        pass

    def _split_encoder_outputs(self, encoder_outputs) -> list[Seq2SeqGRUAttentionEncoderOutput]:
        """The ensemble encoder's outputs → each member's."""
        configs = [member.config for member in self.members]
        outputs = encoder_outputs.last_hidden_state.split([config.hidden_size for config in configs], dim=-1)
        states = encoder_outputs.final_state.flatten(1).split(
            [config.num_layers * config.hidden_size for config in configs], dim=1
        )
        return [
            Seq2SeqGRUAttentionEncoderOutput(last_hidden_state=output,
                                             final_state=state.view(state.shape[0], config.num_layers, -1))
            for output, state, config in zip(outputs, states, configs)
        ]

    def _member_caches(self, cache: RecurrentStateCache | None) -> list[RecurrentStateCache | None]:
        """The ensemble's cache → one cache per member (its decoder layers), or `None`s before the first step."""
        if cache is not None:
            check_cache_family(cache, self.config.model_type)
        states = cache.layer_states() if cache is not None else None
        if states is None:
            return [None] * len(self.members)
        layer_counts = [member.config.num_layers for member in self.members]
        if len(states) != sum(layer_counts):
            raise ValueError(
                f"`cache` must hold the {sum(layer_counts)} decoder layers of the members "
                f"({' + '.join(map(str, layer_counts))}), got {len(states)}."
            )
        caches, start = [], 0
        for count in layer_counts:
            member_cache = RecurrentStateCache(count, 1)
            member_cache.update_layer_states(states[start : start + count], cache.get_seq_length())
            caches.append(member_cache)
            start += count
        return caches

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Seq2SeqGRUAttentionEncoderOutput | tuple | None = None,
        cache: RecurrentStateCache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        past_key_values: RecurrentStateCache | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput | tuple:
        r"""
        Args: as [`Seq2SeqGRUAttention.forward`] (`input_ids` / `attention_mask` [batch, source_len],
            `decoder_input_ids` or `labels` [batch, target_len], `encoder_outputs` of the ensemble's encoder,
            `cache` of a previous call). Embeddings instead of ids, attention weights and hidden states
            are the members' own: ask a member for them.

        Returns:
            [`Seq2SeqLMOutput`] with `logits` `[batch, target_len, vocab_size]` (log mean probabilities) and `loss`
            (their cross-entropy with `labels`, `-100` ignored) if `labels` was given.
        """
        cache = take_cache_argument(cache, past_key_values, kwargs)
        for name, value in (("inputs_embeds", kwargs.get("inputs_embeds")),
                            ("decoder_inputs_embeds", kwargs.get("decoder_inputs_embeds")),
                            ("output_attentions", output_attentions), ("output_hidden_states", output_hidden_states)):
            if value is not None and value is not False:
                raise ValueError(f"`{name}` is not supported by an ensemble: each member has its own; ask a member "
                                 "(`ensemble.members[i]`).")
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if labels is not None:
            self.members[0]._validate_labels(labels)  # the members share the vocabulary
            if decoder_input_ids is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                       self.config.decoder_start_token_id)
        if decoder_input_ids is None:
            raise ValueError("Pass `labels` or `decoder_input_ids`.")
        if labels is not None and tuple(labels.shape) != tuple(decoder_input_ids.shape):
            raise ValueError(f"`labels` has shape {tuple(labels.shape)} but the decoder inputs have "
                             f"{tuple(decoder_input_ids.shape)}.")
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        elif not isinstance(encoder_outputs, Seq2SeqGRUAttentionEncoderOutput):
            encoder_outputs = Seq2SeqGRUAttentionEncoderOutput(*encoder_outputs)

        log_probs, new_states = [], []
        for member, member_encoder_outputs, member_cache in zip(
            self.members, self._split_encoder_outputs(encoder_outputs), self._member_caches(cache)
        ):
            outputs = member(
                attention_mask=attention_mask,
                decoder_input_ids=decoder_input_ids,
                encoder_outputs=member_encoder_outputs,
                cache=member_cache,
                use_cache=use_cache,
            )
            log_probs.append(outputs.logits.float().log_softmax(dim=-1))
            if use_cache:
                new_states += getattr(outputs, generation_cache_name()).layer_states()
        # log(mean_m p_m), computed stably: the mean of the members' probabilities, as fairseq's and OpenNMT's
        # ensembles average them.
        logits = torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))

        if use_cache:
            if cache is None:
                cache = RecurrentStateCache(len(new_states), 1, model_type=self.config.model_type)
            cache.update_layer_states(new_states, decoder_input_ids.shape[1])
        else:
            cache = None
        loss = None
        if labels is not None:
            loss = nn.functional.nll_loss(logits.reshape(-1, logits.shape[-1]), labels.to(logits.device).reshape(-1),
                                          ignore_index=-100)
        if not return_dict:
            output = tuple(v for v in (logits, cache, encoder_outputs.last_hidden_state) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            **{generation_cache_name(): cache},
        )


__all__ = [
    "RecurrentStateCache",
    "Seq2SeqGRUAttention",
    "Seq2SeqGRUAttentionDecoder",
    "Seq2SeqGRUAttentionEncoder",
    "Seq2SeqGRUAttentionEncoderOutput",
    "Seq2SeqGRUAttentionEnsemble",
    "Seq2SeqGRUAttentionEnsembleEncoder",
    "Seq2SeqGRUAttentionModel",
    "Seq2SeqGRUAttentionPreTrainedModel",
]
