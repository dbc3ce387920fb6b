"""The chapter's IMDb sentiment-analysis GRU as a Hugging Face model family: a text classifier, a tagger, a biLM.

[`GRUModel`] (an embedding and a stack of GRU or LSTM layers read in one or both directions over the valid steps only)
under [`GRUForSequenceClassification`] (a pooling of the outputs into one vector per text and a linear head),
[`GRUForTokenClassification`] (a linear head on every token's outputs) and [`GRUForCausalLM`] (a forward and a
backward language model on the same backbone, to pretrain it on unlabelled text). Padding never reaches a valid step
of the recurrent layers, so a review gets the same logits alone or padded on either side inside a batch. The
recurrent layers run through `torch.gru` / `torch.lstm` with `nn.GRU`'s parameter names, without device→host
synchronisation: `torch.export` and `torch.compile(fullgraph=True)` trace the model.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_outputs import ModelOutput, SequenceClassifierOutput, TokenClassifierOutput

from .configuration_gru import GRUConfig


LayerState = tuple[torch.Tensor, ...]
"""One recurrent layer's state: `(h,)` for a GRU, `(h, c)` for an LSTM, each [batch, hidden_size]."""


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


class MaskedRecurrentStack(RecurrentStack):
    """[`RecurrentStack`] (same contract and computation: outputs at the tokens' positions, one final state per layer
    and direction, an optional initial state) in this family's parameter layout: each (layer, direction) is its own
    one-layer [`RecurrentStack`] (`layers.{layer}.{direction}.weight_ih_l0`, ...).

    Each row's valid steps are moved to the front, so padding (on either side) only follows them, and the backward
    direction reads them reversed in place: one plain batched `torch.gru` per layer and direction. (On CPU, PyTorch's
    packed-sequence RNN backward slices the packed input at every step and materialises a full-size gradient each
    time, which makes it quadratic in the text length: 5x slower than this on IMDb reviews cut at 400 tokens, in
    benchmarks/bench_sentiment.py.)
    """

    def __init__(self, cell_type: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 bidirectional: bool, separate_directions: bool = False, weight_dropout: float = 0.0):
        # Only RecurrentStack's `forward` is reused (it reads the weights through `layer_weights`). Its `__init__` is
        # skipped: it would register `weight_ih_l{k}`... on this module, while this family's saved folders hold one
        # one-layer stack per (layer, direction) under `layers` (`layers.{layer}.{direction}.weight_ih_l0`).
        nn.Module.__init__(self)
        self.cell_type = cell_type
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.separate_directions = separate_directions and bidirectional
        self.number_of_states = 2 if cell_type == "lstm" else 1
        # Between layers only, as in `nn.GRU(dropout=...)`.
        self.dropout = dropout
        self.weight_dropout = weight_dropout
        self.int8_kernels = None
        self.layers = nn.ModuleList(
            nn.ModuleList(
                RecurrentStack(cell_type, input_size if layer == 0 else hidden_size * self.inputs_per_layer, hidden_size)
                for _ in range(self.num_directions)
            )
            for layer in range(num_layers)
        )

    def reset_parameters(self):
        # A no-op: each one-layer stack in `layers` draws its own parameters (`_init_weights` resets every
        # RecurrentStack). RecurrentStack's version would draw them all once more (`self.parameters()` includes
        # `layers`): wasted work, and other initial weights for the same seed.
        pass

    def layer_weights(self, layer: int, direction: int) -> list[torch.Tensor]:
        return self.layers[layer][direction].layer_weights(0, 0)


@dataclass
class GRUModelOutput(ModelOutput):
    """What [`GRUModel`] returns.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `[batch, time, D * hidden_size]`):
            The top layer's outputs at each position (forward and backward directions concatenated); 0 at padding.
        last_state (`torch.FloatTensor` of shape `[batch, D * hidden_size]`):
            The top layer's final state of each direction, concatenated (forward after the last token, backward after
            the first), as `nn.GRU`'s `h_n[-D:]`: the chapter's summary of a text.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            `num_layers + 1` tensors: the embeddings, then each layer's outputs, when `output_hidden_states=True`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    last_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


# Copied from rnnformers.models.char_rnn.modeling_char_rnn.is_tracing
def is_tracing() -> bool:
    """True under `torch.compile` / `torch.export`, where data-dependent checks (a device→host sync) are skipped."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


# Folders keep the layout saved before the base model existed (no base-model prefix): transformers renames it on load
# (`from_pretrained`) and back on save, so older versions of this code load new folders.
SAVED_LAYOUT = [(r"^embed_tokens\.", "gru.embed_tokens."), (r"^rnn\.", "gru.rnn.")]
register_checkpoint_conversion_mapping(
    "gru", [WeightRenaming(saved, current) for saved, current in SAVED_LAYOUT], overwrite=True
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


class GRUPreTrainedModel(PreTrainedModel):
    config_class = GRUConfig
    base_model_prefix = "gru"
    main_input_name = "input_ids"
    _no_split_modules = []

    def __init__(self, config: GRUConfig, *inputs, **kwargs):
        # Values set on the config after it was built (or given to `from_pretrained(..., pooling=...)`) are checked
        # as the constructor checks them.
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

    @torch.no_grad()
    def _init_weights(self, module):
        self._init_pytorch_defaults(module)
        if isinstance(module, nn.BatchNorm1d):
            # The classifier's optional batch norms: transformers' own norm initialisation (weight 1, bias 0, running
            # statistics reset), which PyTorch's defaults match.
            super()._init_weights(module)
        if isinstance(module, RecurrentStack) and self.config.lstm_forget_bias is not None:
            # PyTorch's gate order is input, forget, cell, output: the forget gate is the second quarter.
            hidden_size = module.hidden_size
            for layer in range(module.num_layers):
                for direction in range(module.num_directions):
                    _, _, bias_ih, bias_hh = module.layer_weights(layer, direction)
                    # Slices are views without the "already loaded" flag: check the biases' own flags.
                    if not getattr(bias_ih, "_is_hf_initialized", False):
                        init.constant_(bias_ih[hidden_size : 2 * hidden_size], self.config.lstm_forget_bias)
                    if not getattr(bias_hh, "_is_hf_initialized", False):
                        init.zeros_(bias_hh[hidden_size : 2 * hidden_size])

    @torch.no_grad()
    def _init_pytorch_defaults(self, module):
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


class GRUModel(GRUPreTrainedModel):
    """The bare recurrent encoder: embedding → (bi)GRU/LSTM stack over the valid steps. What `AutoModel` loads, and
    the backbone every head of this family shares (`model.base_model`, attribute `gru`)."""

    def __init__(self, config: GRUConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = MaskedRecurrentStack(
            config.cell_type,
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            bidirectional=config.bidirectional,
            separate_directions=config.separate_directions,
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embed_tokens = value

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        tokens = input_ids if input_ids is not None else inputs_embeds
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        if tokens.dim() != (2 if input_ids is not None else 3):
            raise ValueError(f"`{name}` must be batched: got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(
                f"`{name}` is empty (shape {tuple(tokens.shape)}): every text needs at least one token (an empty "
                "string has none)."
            )
        if inputs_embeds is not None and inputs_embeds.shape[-1] != self.config.embedding_dim:
            raise ValueError(
                f"`inputs_embeds` must be [batch, time, embedding_dim={self.config.embedding_dim}], got shape "
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
        # Data-dependent checks: a device→host sync, on the eager path only.
        if input_ids is not None:
            low, high = torch.aminmax(input_ids)
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {self.config.vocab_size}) (the model's `vocab_size`), got values from "
                    f"{int(low)} to {int(high)}: was the model trained with this tokenizer?"
                )
        if attention_mask is not None:
            empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
            if empty_rows:
                raise ValueError(
                    f"rows {empty_rows} of `attention_mask` are all padding: every text needs at least one token."
                )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> GRUModelOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (on either side). Padded steps are skipped, not read. Every row needs at least one real token.
                Without it every step is read, padding included.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            output_hidden_states (`bool`, *optional*): also return the embeddings and each layer's outputs.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        self._validate_inputs(input_ids, inputs_embeds, attention_mask)

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        # The classifier needs no cell state: an LSTM with padding then runs fused, not step by step.
        outputs, layer_outputs, _ = self.rnn(
            self.embedding_dropout(inputs_embeds), attention_mask, return_final_state=False
        )
        last_state = self._last_state(outputs, attention_mask)

        hidden_states = (inputs_embeds, *layer_outputs) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (outputs, last_state, hidden_states) if v is not None)
        return GRUModelOutput(last_hidden_state=outputs, last_state=last_state, hidden_states=hidden_states)


    def _last_state(self, outputs: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The top layer's final state of each direction: the forward output at each row's last real token, the
        backward output at its first. [batch, time, D * hidden_size] → [batch, D * hidden_size]."""
        batch_size, seq_len, _ = outputs.shape
        positions = torch.arange(seq_len, device=outputs.device).expand(batch_size, -1)
        if attention_mask is None:
            last, first = positions[:, -1], positions[:, 0]
        else:
            mask = attention_mask.bool()
            last = positions.masked_fill(~mask, -1).amax(dim=1).clamp(min=0)
            first = positions.masked_fill(~mask, seq_len).amin(dim=1).clamp(max=seq_len - 1)
        hidden_size = self.config.hidden_size
        forward_last = outputs[torch.arange(batch_size, device=outputs.device), last, :hidden_size]
        if self.rnn.num_directions == 1:
            return forward_last
        backward_first = outputs[torch.arange(batch_size, device=outputs.device), first, hidden_size:]
        return torch.cat([forward_last, backward_first], dim=-1)


class GRUForSequenceClassification(GRUPreTrainedModel):
    """Recurrent text classifier: [`GRUModel`] → pooling → dropout → linear (with `classifier_batch_norm` and
    `classifier_hidden_size`, ULMFiT's head: batch norm → dropout → linear → ReLU → batch norm → dropout → linear).

    With the default configuration this is the chapter's `SentimentAnalysisModel` with packed sequences, but with
    `num_labels` logits and Hugging Face's loss conventions: cross-entropy for class ids, MSE when `num_labels == 1`,
    BCE with logits for `problem_type="multi_label_classification"`.
    """

    # The loss is a mean over this batch's rows (`num_items_in_batch` is not used, for every `problem_type` alike): the
    # Trainer then divides it by the accumulation steps and lets DDP average it over processes.
    accepts_loss_kwargs = False

    def __init__(self, config: GRUConfig):
        super().__init__(config)
        self.gru = GRUModel(config)
        features = config.hidden_size * (2 if config.bidirectional else 1) * (2 if config.pooling == "mean_max" else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.pooled_norm = nn.BatchNorm1d(features) if config.classifier_batch_norm else None
        self.pre_classifier = self.hidden_norm = None
        if config.classifier_hidden_size is not None:
            self.pre_classifier = nn.Linear(features, config.classifier_hidden_size)
            features = config.classifier_hidden_size
            self.hidden_norm = nn.BatchNorm1d(features) if config.classifier_batch_norm else None
        self.classifier = nn.Linear(features, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.gru.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.gru.embed_tokens = value

    @torch.no_grad()
    def load_pretrained_embeddings(self, weights: torch.Tensor | nn.Embedding, freeze: bool = False):
        """Copies a pretrained embedding matrix into the model, e.g. `AutoModel.from_pretrained(...)`'s input embeddings.

        The matrix must be [vocab_size, embedding_dim] of this model's config, and its rows must follow the ids of the
        tokenizer used with the model (use that pretrained model's tokenizer). `freeze=True` stops its training for
        good: an optimizer built afterwards (the `Trainer`'s) leaves it out. To train it frozen for a few epochs and
        then fine-tune it, keep `freeze=False` and pass a `FreezeEmbeddingsCallback` to the `Trainer` instead.

        Args:
            weights: [vocab_size, embedding_dim] tensor, or an `nn.Embedding` holding one.
            freeze: make the embedding non-trainable.
        """
        if isinstance(weights, nn.Embedding):
            weights = weights.weight
        expected = (self.config.vocab_size, self.config.embedding_dim)
        if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != expected:
            shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
            raise ValueError(
                f"pretrained embeddings must be a [vocab_size, embedding_dim] = {list(expected)} matrix, got {shape}: "
                "build the config with the pretrained model's vocabulary size and embedding size."
            )
        embeddings = self.get_input_embeddings()
        embeddings.weight.copy_(weights)
        embeddings.weight.requires_grad_(not freeze)

    def _validate_labels(self, labels, batch_size):
        if not isinstance(labels, torch.Tensor):
            raise ValueError(f"`labels` must be a tensor, got {type(labels).__name__}.")
        num_labels, problem_type = self.config.num_labels, self.config.problem_type
        multi_label = problem_type == "multi_label_classification"
        if labels.dim() == 0 or labels.shape[0] != batch_size:
            raise ValueError(
                f"`labels` must have one entry per row ({batch_size}), got shape {tuple(labels.shape)}."
            )
        if multi_label:
            if tuple(labels.shape) != (batch_size, num_labels):
                raise ValueError(
                    f"`labels` must be [batch, num_labels] = {[batch_size, num_labels]} for multi-label "
                    f"classification, got shape {tuple(labels.shape)}."
                )
        elif num_labels == 1 or problem_type == "regression":
            if labels.dim() > 2 or (labels.dim() == 2 and labels.shape[1] != num_labels):
                raise ValueError(f"`labels` must be [batch] or [batch, {num_labels}] for regression, got "
                                 f"{tuple(labels.shape)}.")
        else:
            # Single-label classification: one class id per row. Float ids (e.g. 0.0 / 1.0 from a pandas column) would
            # make transformers switch to multi-label; they are refused, not reinterpreted.
            if labels.dim() != 1:
                raise ValueError(
                    f"`labels` must be [batch] class ids for single-label classification, got shape "
                    f"{tuple(labels.shape)} (set `problem_type=\"multi_label_classification\"` for multi-label)."
                )
            if labels.dtype.is_floating_point or labels.dtype == torch.bool:
                raise ValueError(
                    f"`labels` must be integer class ids for single-label classification, got dtype {labels.dtype}: "
                    "cast them with `.long()` (or set `problem_type` explicitly)."
                )
            if not is_tracing():
                bad = labels[(labels != -100) & ((labels < 0) | (labels >= num_labels))]
                if bad.numel():
                    raise ValueError(
                        f"`labels` must be class ids in [0, {num_labels}) (`num_labels`), got {bad.unique().tolist()}."
                    )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (on either side). Padded steps are skipped, not read, so they never change the logits. Every row
                needs at least one real token. Without it every step is read, padding included.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            labels (`torch.Tensor`, *optional*): `[batch]` integer class ids for cross-entropy (`-100` is ignored),
                `[batch]` or `[batch, 1]` floats for regression (`num_labels == 1`), or `[batch, num_labels]` floats
                in {0, 1} for `problem_type="multi_label_classification"`.
            output_hidden_states (`bool`, *optional*): also return the embeddings and each layer's outputs
                `[batch, time, D * hidden_size]` (0 at padding).

        Returns:
            [`SequenceClassifierOutput`] with `logits` `[batch, num_labels]` and `loss` if `labels` was given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        tokens = input_ids if input_ids is not None else inputs_embeds
        if labels is not None and tokens is not None:
            self._validate_labels(labels, tokens.shape[0])
        outputs = self.gru(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        features = self._pool(outputs.last_hidden_state, attention_mask, outputs.last_state)
        if self.pooled_norm is not None:
            features = self._batch_norm(self.pooled_norm, features)
        features = self.dropout(features)
        if self.pre_classifier is not None:
            features = torch.relu(self.pre_classifier(features))
            if self.hidden_norm is not None:
                features = self._batch_norm(self.hidden_norm, features)
            features = self.dropout(features)
        logits = self.classifier(features)

        loss = None
        if labels is not None:
            if self.config.problem_type is None:
                # Decided from the config, never from the labels' dtype (transformers' default would switch float
                # labels to multi-label).
                num_labels = self.config.num_labels
                self.config.problem_type = "regression" if num_labels == 1 else "single_label_classification"
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)

        if not return_dict:
            output = (logits,) + ((outputs.hidden_states,) if outputs.hidden_states is not None else ())
            return ((loss,) + output) if loss is not None else output
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)

    def _batch_norm(self, norm: nn.BatchNorm1d, features: torch.Tensor) -> torch.Tensor:
        """`norm(features)`; a training batch of one text (e.g. an epoch's last) has no spread to standardise by:
        it is standardised with the running statistics, as at inference, and leaves them as they are."""
        if self.training and features.shape[0] == 1:
            return nn.functional.batch_norm(
                features, norm.running_mean, norm.running_var, norm.weight, norm.bias, training=False, eps=norm.eps
            )
        return norm(features)

    def _pool(
        self, outputs: torch.Tensor, attention_mask: torch.Tensor | None, last_state: torch.Tensor
    ) -> torch.Tensor:
        """[batch, time, F] outputs, [batch, time] mask and [batch, F] last state → [batch, F or 2F] text vector."""
        if self.config.pooling == "last":
            return last_state
        if attention_mask is None:
            mask = outputs.new_ones(outputs.shape[:2], dtype=torch.bool).unsqueeze(-1)
        else:
            mask = attention_mask.bool().unsqueeze(-1)
        pooled = []
        if self.config.pooling in ("mean", "mean_max"):
            pooled.append((outputs * mask).sum(dim=1) / mask.sum(dim=1))
        if self.config.pooling in ("max", "mean_max"):
            pooled.append(outputs.masked_fill(~mask, torch.finfo(outputs.dtype).min).amax(dim=1))
        return torch.cat(pooled, dim=-1)


# Copied from rnnformers.models.rnn_tagger.modeling_rnn_tagger.labelled_token_count
def labelled_token_count(labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """What a token loss's sum is divided by: `num_items_in_batch` when the Trainer gives it (the labelled tokens of
    all the batches accumulated into one optimizer step, over every process: the loss is then the exact mean over
    them, and the Trainer neither divides it by the accumulation steps nor averages it over processes), else this
    batch's labelled tokens (at least 1)."""
    if num_items_in_batch is None:
        return (labels != -100).sum().clamp(min=1)
    if torch.is_tensor(num_items_in_batch):
        return num_items_in_batch.to(labels.device)
    return torch.tensor(num_items_in_batch, device=labels.device)

class GRUForTokenClassification(GRUPreTrainedModel):
    """Token classifier (a tagger): [`GRUModel`] → dropout → linear scores per token and label.

    The head of a pretrained backbone for tagging, as ELMo and ULMFiT use their biLM: `GRUForTokenClassification.
    from_pretrained(lm_folder, num_labels=17, id2label=...)` loads a [`GRUForCausalLM`]'s backbone (`gru.`) with a new
    head. On a bidirectional backbone each token's features are the forward direction's state after reading it and
    the backward direction's after reading it from the right, so every label sees the whole sentence. Labels follow
    transformers' token-classification conventions: one label id per token, `-100` for tokens without one (a word's
    sub-words after its first, special tokens, padding). For a CRF and character features, see the tagger family
    (`RNNTaggerForTokenClassification`).
    """

    def __init__(self, config: GRUConfig):
        super().__init__(config)
        self.gru = GRUModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size * (2 if config.bidirectional else 1), config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.gru.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.gru.embed_tokens = value

    # Copied from rnnformers.models.rnn_tagger.modeling_rnn_tagger.RNNTaggerForTokenClassification._validate_labels
    def _validate_labels(self, labels: torch.Tensor, shape: tuple):
        if tuple(labels.shape) != tuple(shape):
            raise ValueError(f"`labels` has shape {tuple(labels.shape)} but the tokens have {tuple(shape)}.")
        if labels.dtype.is_floating_point:
            raise ValueError(f"`labels` must hold label ids, got dtype {labels.dtype}.")
        if torch.compiler.is_compiling():
            return
        bad = labels[(labels != -100) & ((labels < 0) | (labels >= self.config.num_labels))]
        if bad.numel():
            raise ValueError(
                f"`labels` must be label ids in [0, {self.config.num_labels}) (`num_labels`) or -100, got "
                f"{bad.unique().tolist()}."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> TokenClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (on either side); padding is skipped, so it never changes a real token's logits.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            labels (`torch.LongTensor` of shape `[batch, time]`, *optional*): label ids, `-100` where a token has
                none (ignored). Labels at padding are ignored.
            output_hidden_states (`bool`, *optional*): also return the embeddings and each layer's outputs.

        Returns:
            [`TokenClassifierOutput`] with `logits` `[batch, time, num_labels]` and `loss` (the mean cross-entropy over
            the labelled tokens; with `num_items_in_batch`, which the Trainer passes, the sum divided by that count of
            labelled tokens over the accumulated batches and processes, as transformers' token classifiers) if
            `labels` was given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.gru(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))

        loss = None
        if labels is not None:
            self._validate_labels(labels, logits.shape[:2])
            if attention_mask is not None:
                labels = labels.masked_fill(~attention_mask.bool(), -100)
            token_losses = nn.functional.cross_entropy(
                logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
            )
            loss = token_losses / labelled_token_count(labels, kwargs.get("num_items_in_batch"))

        if not return_dict:
            output = (logits,) + ((outputs.hidden_states,) if outputs.hidden_states is not None else ())
            return ((loss,) + output) if loss is not None else output
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


class ChunkedCrossEntropy(torch.autograd.Function):
    """The summed cross-entropy of `[N, vocab_size]` scores against `N` token ids (`-100` ignored), computed in
    float32 (float64 for float64 scores) a block of rows at a time, with the gradient in the scores' dtype.

    The same value and gradient as `cross_entropy(scores.float(), ids, reduction="sum")`, which transformers' causal-LM
    loss computes, without its float32 copy of all the scores (for bf16 scores of 16k tokens × 8,000 words: 0.5 GB
    written, read back by the log-softmax and again by its backward). Each block is upcast, reduced to one
    log-sum-exp per row, and dropped; the backward recomputes the block's softmax from the kept log-sum-exps. On this
    project's CPU (bf16, 1 thread) the loss and its backward take half the time (BENCHMARKS.md).
    """

    @staticmethod
    def forward(ctx, scores: torch.Tensor, ids: torch.Tensor, block_rows: int) -> torch.Tensor:
        # float32, or float64 for float64 scores.
        dtype = torch.promote_types(scores.dtype, torch.float32)
        with torch.autocast(scores.device.type, enabled=False):
            log_sum_exp = torch.cat([torch.logsumexp(block.to(dtype), dim=-1) for block in scores.split(block_rows)])
            valid = ids != -100
            safe_ids = ids.masked_fill(~valid, 0)
            target = scores.gather(1, safe_ids.unsqueeze(1)).squeeze(1).to(dtype)
            # masked_fill, not a product: an ignored row's non-finite score must not reach the sum.
            loss = (log_sum_exp - target).masked_fill(~valid, 0).sum()
        ctx.save_for_backward(scores, safe_ids, valid, log_sum_exp)
        ctx.block_rows = block_rows
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss: torch.Tensor):
        scores, safe_ids, valid, log_sum_exp = ctx.saved_tensors
        grad = torch.empty_like(scores)
        with torch.autocast(scores.device.type, enabled=False):
            for start in range(0, scores.shape[0], ctx.block_rows):
                rows = slice(start, start + ctx.block_rows)
                # d(logsumexp - target)/d scores = softmax - one-hot(target), for the counted rows only.
                block = torch.exp(scores[rows].to(log_sum_exp.dtype) - log_sum_exp[rows].unsqueeze(1))
                block.scatter_add_(1, safe_ids[rows].unsqueeze(1), -torch.ones_like(block[:, :1]))
                block = block.masked_fill(~valid[rows].unsqueeze(1), 0) * grad_loss
                grad[rows] = block.to(scores.dtype)
        return grad, None, None


def causal_lm_loss(scores: torch.Tensor, shift_labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """transformers' `ForCausalLMLoss` with the labels already shifted (position t's scores against `shift_labels[:,
    t]`): the mean over the counted tokens, or the sum divided by `num_items_in_batch` (the Trainer's count over
    accumulated batches), through [`ChunkedCrossEntropy`]. [batch, time, vocab_size] and [batch, time] → []."""
    vocab_size = scores.shape[-1]
    ids = shift_labels.reshape(-1).to(scores.device)
    # About 2M float32 values per block: a few MB, so that a block is still in cache for its second read.
    block_rows = max(1, 2**21 // vocab_size)
    total = ChunkedCrossEntropy.apply(scores.reshape(-1, vocab_size), ids, block_rows)
    if num_items_in_batch is None:
        return total / (ids != -100).sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


@dataclass
class GRUCausalLMOutput(ModelOutput):
    """Output of [`GRUForCausalLM`].

    Args:
        loss (`torch.FloatTensor` of shape `[]`, *optional*): the language-modelling loss, averaged over the
            directions (forward, and backward when the model is bidirectional); `exp(loss)` is the geometric mean of
            the two perplexities.
        logits (`torch.FloatTensor` of shape `[batch, time, vocab_size]`): the forward language model's scores of the
            token *after* each position.
        backward_logits (`torch.FloatTensor` of shape `[batch, time, vocab_size]`, *optional*): the backward language
            model's scores of the token *before* each position (bidirectional models).
        forward_loss / backward_loss (`torch.FloatTensor` of shape `[]`, *optional*): each direction's loss.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*): the embeddings and each layer's outputs.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    backward_logits: torch.FloatTensor | None = None
    forward_loss: torch.FloatTensor | None = None
    backward_loss: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class GRUForCausalLM(GRUPreTrainedModel):
    """A language model on [`GRUModel`]: the backbone a [`GRUForSequenceClassification`] is fine-tuned from (the
    chapter's "Reusing Pretrained Embeddings and Language Models": ULMFiT, ELMo).

    Unidirectional: a classic recurrent LM, the top layer's output at each position scores the next token.
    Bidirectional: a forward and a backward LM on one backbone, as ELMo's biLM: the forward direction scores the next
    token, the backward direction the previous one, through one shared output layer; their losses are averaged. With
    more than one layer this needs `separate_directions=True`, so that no forward feature has read the token it
    predicts. `GRUForSequenceClassification.from_pretrained(lm_folder, num_labels=2)` then loads the backbone (`gru.`)
    with a new classification head. This model does not generate text: use [`CharRNNForCausalLM`]'s family for that.
    """

    def __init__(self, config: GRUConfig):
        if config.bidirectional and config.num_layers > 1 and not config.separate_directions:
            raise ValueError(
                "a bidirectional GRUForCausalLM with more than one layer needs `separate_directions=True`: otherwise "
                "the forward direction's upper layers read the backward direction's outputs, which have seen the "
                "tokens it must predict."
            )
        super().__init__(config)
        self.gru = GRUModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.gru.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.gru.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head = value

    # Copied from rnnformers.models.char_rnn.modeling_char_rnn.CharRNNForCausalLM._validate_labels
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

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> GRUCausalLMOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (either side); padded steps are skipped.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            labels (`torch.LongTensor` of shape `[batch, time]`, *optional*): usually `input_ids` (`-100` where
                padding); shifted inside the model: position t's forward scores are compared with token t + 1, its
                backward scores with token t - 1.
            output_hidden_states (`bool`, *optional*): also return the embeddings and each layer's outputs.

        Returns:
            [`GRUCausalLMOutput`]: `logits` (forward) and `backward_logits` `[batch, time, vocab_size]`, and the loss
            if `labels` was given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        tokens = input_ids if input_ids is not None else inputs_embeds
        if labels is not None and tokens is not None:
            self._validate_labels(labels, tokens)
        outputs = self.gru(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        features = self.dropout(outputs.last_hidden_state)
        hidden_size = self.config.hidden_size
        logits = self.lm_head(features[..., :hidden_size])
        backward_logits = self.lm_head(features[..., hidden_size:]) if self.config.bidirectional else None

        loss = forward_loss = backward_loss = None
        if labels is not None:
            num_items_in_batch = kwargs.get("num_items_in_batch")
            # The forward direction scores the token after: position t against token t + 1 (none at the end).
            next_tokens = nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]
            forward_loss = causal_lm_loss(logits, next_tokens, num_items_in_batch)
            loss = forward_loss
            if backward_logits is not None:
                # The backward direction scores the token before: position t against token t - 1 (none at t = 0).
                previous_tokens = nn.functional.pad(labels, (1, 0), value=-100)[..., :-1]
                backward_loss = causal_lm_loss(backward_logits, previous_tokens, num_items_in_batch)
                loss = (forward_loss + backward_loss) / 2

        if not return_dict:
            output = tuple(v for v in (logits, backward_logits, outputs.hidden_states) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return GRUCausalLMOutput(
            loss=loss, logits=logits, backward_logits=backward_logits, forward_loss=forward_loss,
            backward_loss=backward_loss, hidden_states=outputs.hidden_states,
        )


__all__ = [
    "GRUCausalLMOutput",
    "GRUForCausalLM",
    "GRUForSequenceClassification",
    "GRUForTokenClassification",
    "GRUModel",
    "GRUPreTrainedModel",
    "MaskedRecurrentStack",
]
