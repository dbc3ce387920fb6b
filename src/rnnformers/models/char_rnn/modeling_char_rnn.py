"""The chapter's Shakespeare char-RNN as a Hugging Face causal language model.

An embedding, a stack of GRU (or LSTM) layers and a linear layer over the vocabulary. The recurrent state is the
generation cache, a transformers `Cache` ([`RecurrentStateCache`]): `generate()` feeds one new token and the previous
state at each step, so a token costs O(1) whatever the length of the text, and beam search reorders the state with the
beams.

The recurrent layers keep `nn.GRU` / `nn.LSTM`'s parameters and names (`weight_ih_l0`, ...) but run layer by layer
through `torch.gru` / `torch.lstm`: one output per layer (`output_hidden_states`), and no `nn.RNNBase` module, which
`torch.compile` cannot trace.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math
import re
from collections.abc import Callable, Sequence

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, LinearAttentionLayer
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast, ModelOutput

from .configuration_char_rnn import CharRNNConfig


LayerState = tuple[torch.Tensor, ...]
"""One recurrent layer's state: `(h,)` for a GRU, `(h, c)` for an LSTM, each [batch, hidden_size]."""


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


def _flatten_recurrent_state_cache(cache: RecurrentStateCache):
    states = cache.layer_states() or []
    context = (len(cache.layers), cache.number_of_states, cache.seen_tokens, cache.model_type)
    return [s for layer in states for s in layer], context


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


def _permute_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[batch, time, features] → the same rows with step t taken from step index[b, t]."""
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def generation_cache_name() -> str:
    """The name transformers gives the generation cache: the `forward` / `prepare_inputs_for_generation` argument
    `generate()` passes it as, the key it keeps it under and the field of the outputs it reads it back from.

    transformers 5.25 renamed it from `past_key_values` to `cache`. Read from the installed release's own output class,
    not from its version number, so that a folder saved today generates correctly on the releases that follow.
    """
    return "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


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


def is_tracing() -> bool:
    """True under `torch.compile` / `torch.export`, where data-dependent checks (a device→host sync) are skipped."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


# Folders keep the layout saved before the base model existed (no base-model prefix): transformers renames it on load
# (`from_pretrained`) and back on save, so older versions of this code load new folders.
SAVED_LAYOUT = [(r"^embed_tokens\.", "char_rnn.embed_tokens."), (r"^rnn\.", "char_rnn.rnn.")]
register_checkpoint_conversion_mapping(
    "char_rnn", [WeightRenaming(saved, current) for saved, current in SAVED_LAYOUT], overwrite=True
)


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


class CharRNNPreTrainedModel(PreTrainedModel):
    config_class = CharRNNConfig
    base_model_prefix = "char_rnn"
    main_input_name = "input_ids"
    _no_split_modules = []
    # The recurrent state cannot be rolled back to an earlier position: no assisted decoding / prompt lookup. generate()
    # refuses them itself on every release; transformers < 5.25 also read this flag (5.25 dropped it).
    _is_stateful = True

    def __init__(self, config: CharRNNConfig, *inputs, **kwargs):
        # Values set on the config after it was built (or given to `from_pretrained(..., cell_type=...)`) are checked
        # as the constructor checks them.
        config.check_values()
        super().__init__(config, *inputs, **kwargs)
        self.register_load_state_dict_pre_hook(load_saved_layout)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`; a head's folder also names its base model in `auto_map`, so that
        `AutoModel.from_pretrained(repo, trust_remote_code=True)` loads the backbone where rnnformers is absent."""
        if self._auto_class is not None and self.base_model is not self:
            base_class = type(self.base_model)
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map["AutoModel"] = f"{base_class.__module__.rsplit('.', 1)[-1]}.{base_class.__name__}"
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults, which the chapter's model trains with.
        if isinstance(module, RecurrentStack):
            module.reset_parameters()
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=1.0)


class CharRNNModel(CharRNNPreTrainedModel):
    """The char-RNN without its output layer: embedding → GRU/LSTM stack. What `AutoModel` loads.

    `last_hidden_state` [batch, time, hidden_size] is the top layer's output at each position (0 at padding);
    `cache` (`past_key_values` on transformers < 5.25) is the [`RecurrentStateCache`] after the last real token of
    each row.
    """

    def __init__(self, config: CharRNNConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.rnn = RecurrentStack(
            config.cell_type,
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            weight_dropout=config.weight_dropout,
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embed_tokens = value

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask, initial_state, has_cache, continuing):
        # Sizes are read from the modules (plain attributes), not the config: this runs at every generated token.
        vocab_size, embedding_dim = self.embed_tokens.num_embeddings, self.embed_tokens.embedding_dim
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        tokens = input_ids if input_ids is not None else inputs_embeds
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        if tokens.dim() != (2 if input_ids is not None else 3):
            raise ValueError(f"`{name}` must be batched: got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(f"`{name}` is empty (shape {tuple(tokens.shape)}): give at least one token per row.")
        if inputs_embeds is not None and inputs_embeds.shape[-1] != embedding_dim:
            raise ValueError(
                f"`inputs_embeds` must be [batch, time, embedding_dim={embedding_dim}], got shape "
                f"{tuple(inputs_embeds.shape)}."
            )
        if input_ids is not None and input_ids.dtype.is_floating_point:
            raise ValueError(f"`input_ids` must hold integer token ids, got dtype {input_ids.dtype}.")
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
            raise ValueError(
                f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has {tuple(tokens.shape[:2])}."
            )
        if initial_state is not None:
            num_layers, number_of_states = self.rnn.num_layers, self.rnn.number_of_states
            expected = (tokens.shape[0], self.rnn.hidden_size)
            if (
                len(initial_state) != num_layers
                or any(len(layer) != number_of_states for layer in initial_state)
                or any(tuple(s.shape) != expected for layer in initial_state for s in layer)
            ):
                raise ValueError(
                    f"`cache` must hold {num_layers} layers of {number_of_states} state tensor(s) shaped "
                    f"{expected} (batch, hidden_size)."
                )
        if is_tracing():
            return
        # Data-dependent checks: one device→host sync, on the eager path only. Ids that continue a state (each step of
        # generate() after the prompt) are the model's own samples: checking them would sync at every generated token.
        if input_ids is not None and not continuing:
            low, high = torch.aminmax(input_ids)
            if low < 0 or high >= vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {vocab_size}) (the model's `vocab_size`), got values from {int(low)} "
                    f"to {int(high)}."
                )
        if attention_mask is not None and not has_cache:
            empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
            if empty_rows:
                raise ValueError(
                    f"rows {empty_rows} of `attention_mask` are all padding: every row needs at least one real token."
                )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: RecurrentStateCache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        past_key_values: RecurrentStateCache | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (either side). Padded steps leave the state unchanged, so a padded row gives what it gives alone.
            cache ([`RecurrentStateCache`], *optional*): the state after the tokens seen so far; `input_ids` then
                holds only the new tokens. Updated in place and returned. `past_key_values` is its older name.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            use_cache (`bool`, *optional*): return the state (as `cache`; `past_key_values` on transformers < 5.25).
            output_hidden_states (`bool`, *optional*): return `num_layers + 1` tensors: the embeddings, then each
                layer's outputs.
        """
        cache = take_cache_argument(cache, past_key_values, kwargs)
        if use_cache is None:
            # No state is kept while training unless a cache is carried on (truncated BPTT): the Trainer then never
            # sees one among the outputs.
            use_cache = self.config.use_cache and (not self.training or cache is not None)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        initial_state = None
        if cache is not None:
            check_cache_family(cache, self.config.model_type)
            initial_state = cache.layer_states()
        continuing = cache is not None and cache.get_seq_length() > 0
        self._validate_inputs(input_ids, inputs_embeds, attention_mask, initial_state, cache is not None, continuing)

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        outputs, layer_outputs, final_state = self.rnn(inputs_embeds, attention_mask, initial_state)

        if use_cache:
            if cache is None:
                cache = RecurrentStateCache(
                    self.rnn.num_layers, self.rnn.number_of_states, model_type=self.config.model_type
                )
            cache.update_layer_states(final_state, inputs_embeds.shape[1])
        else:
            cache = None
        hidden_states = (inputs_embeds, *layer_outputs) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (outputs, cache, hidden_states) if v is not None)
        return BaseModelOutputWithPast(
            last_hidden_state=outputs, hidden_states=hidden_states, **{generation_cache_name(): cache}
        )


class CharRNNForCausalLM(CharRNNPreTrainedModel, RecurrentGenerationMixin):
    """Character-level recurrent language model: [`CharRNNModel`] → linear layer over the vocabulary.

    The cache is a [`RecurrentStateCache`]: one `(h,)` (GRU) or `(h, c)` (LSTM) per layer.
    """

    _tied_weights_keys = {"lm_head.weight": "char_rnn.embed_tokens.weight"}

    def __init__(self, config: CharRNNConfig):
        super().__init__(config)
        self.char_rnn = CharRNNModel(config)
        self.output_dropout = nn.Dropout(config.output_dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.char_rnn.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.char_rnn.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: RecurrentStateCache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        past_key_values: RecurrentStateCache | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding.
                Padded steps leave the state unchanged, so a padded row gives the logits it gives alone.
            cache ([`RecurrentStateCache`], *optional*): the recurrent state after the tokens seen so far;
                `input_ids` then holds only the new tokens. Updated in place and returned. `past_key_values` is its
                older name (transformers < 5.25), still accepted.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            labels (`torch.LongTensor` of shape `[batch, time]`, *optional*): usually `input_ids`; shifted inside the
                model so that step t predicts token t+1. `-100` is ignored.
            use_cache (`bool`, *optional*): return the recurrent state.
            output_hidden_states (`bool`, *optional*): return the embeddings and each layer's outputs.

        Returns:
            [`CausalLMOutputWithPast`] with `logits` `[batch, time, vocab_size]`, `loss` if `labels` was given and the
            state as `cache` (`past_key_values` on transformers < 5.25) if `use_cache`.
        """
        cache = take_cache_argument(cache, past_key_values, kwargs)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        tokens = input_ids if input_ids is not None else inputs_embeds
        if labels is not None:
            self._validate_labels(labels, tokens)
        outputs = self.char_rnn(
            input_ids=input_ids,
            attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        cache = getattr(outputs, generation_cache_name())
        logits = self.lm_head(self.output_dropout(outputs.last_hidden_state))

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)

        if not return_dict:
            output = tuple(v for v in (logits, cache, outputs.hidden_states) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return CausalLMOutputWithPast(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, **{generation_cache_name(): cache}
        )

    def _validate_labels(self, labels, tokens):
        if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"`labels` must be a tensor of integer token ids, got {kind}.")
        if tokens is not None and tuple(labels.shape) != tuple(tokens.shape[:2]):
            raise ValueError(f"`labels` has shape {tuple(labels.shape)} but the input has {tuple(tokens.shape[:2])}.")
        if is_tracing():
            return
        bad = (labels != -100) & ((labels < 0) | (labels >= self.config.vocab_size))
        if bad.any():
            raise ValueError(
                f"`labels` must be token ids in [0, {self.config.vocab_size}) (`vocab_size`) or -100 (ignored), got "
                f"{labels[bad].unique().tolist()}."
            )


__all__ = [
    "CharRNNForCausalLM",
    "CharRNNModel",
    "CharRNNPreTrainedModel",
    "RecurrentStack",
    "RecurrentStateCache",
    "RecurrentStateLayer",
]
