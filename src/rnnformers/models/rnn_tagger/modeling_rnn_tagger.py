"""The seed's LSTM part-of-speech tagger and Bi-LSTM CRF as a Hugging Face token classifier.

An embedding, a stack of bidirectional LSTM (or GRU) layers that read the real tokens only, and a linear layer giving
one score per label and token; optionally a linear-chain CRF on top of those scores, trained by its exact negative
log-likelihood and decoded by Viterbi, both batched over sentences (the seed's version loops over tags in Python and
tags one sentence at a time). Padding never reaches a real token, on either side, so a sentence gets the same logits
alone or inside a padded batch.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math
import re
from collections.abc import Callable, Sequence

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput, TokenClassifierOutput
from transformers.utils import logging

from .configuration_rnn_tagger import CHAR_LM_FIELDS, RNNTaggerConfig


logger = logging.get_logger(__name__)


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


# Copied from rnnformers.models.gru.modeling_gru.MaskedRecurrentStack
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


def left_align(attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each row's real tokens go when they are moved to the front, padding after them.

    Args:
        attention_mask: [batch, time], 1 for real tokens and 0 for padding (on either side).

    Returns:
        `order` [batch, time]: `aligned = x.gather(1, order)` puts the real tokens first, in their order, and
        `x.scatter(1, order, aligned)` puts them back; `step_mask` [batch, time] (bool): the real steps of `aligned`.
    """
    mask = attention_mask.bool()
    # Sorting on "is padding, then position" keeps the real tokens in their order (unique keys: any sort is stable,
    # and ONNX, which has no stable sort, exports it).
    steps = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    order = torch.argsort((~mask).long() * mask.shape[1] + steps, dim=1)
    return order, steps < mask.sum(dim=1, keepdim=True)


def _gather_steps(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """[batch, time, ...] → [batch, n, ...]: row b's step `order[b, i]` at position i (`order` [batch, n]; with n =
    time, the rows' steps reordered)."""
    index = order.view(*order.shape, *([1] * (x.dim() - 2))).expand(*order.shape, *x.shape[2:])
    return x.gather(1, index)


def _scatter_steps(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The inverse of `_gather_steps`: puts the steps of `x` back at the positions `order` took them from."""
    index = order.view(*order.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.zeros_like(x).scatter(1, index, x)


class LinearChainCRF(nn.Module):
    """A linear-chain conditional random field over per-token label scores ("emissions"), batched over sentences.

    The score of a label sequence y of a sentence of n tokens is
    `start[y_1] + sum_t emissions[t, y_t] + sum_t transitions[y_t, y_t+1] + end[y_n]`, and its probability is
    `exp(score) / Z`, Z summing over all label sequences (the forward algorithm). Every method takes left-aligned
    inputs: each row's real steps first, then padding (see `left_align`), so that a row simply stops at its length.
    The recursions loop over time steps only; each step is one batched operation over sentences and label pairs.
    """

    def __init__(self, num_labels: int):
        super().__init__()
        self.num_labels = num_labels
        self.start_transitions = nn.Parameter(torch.zeros(num_labels))
        self.end_transitions = nn.Parameter(torch.zeros(num_labels))
        # transitions[i, j]: score of label j following label i.
        self.transitions = nn.Parameter(torch.zeros(num_labels, num_labels))

    def log_partition(self, emissions: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """log Z of each row: [batch, time, labels] emissions, [batch, time] left-aligned mask → [batch]."""
        scores = self.start_transitions + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(scores.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            scores = torch.where(step_mask[:, t : t + 1], step, scores)
        return torch.logsumexp(scores + self.end_transitions, dim=1)

    def neg_log_likelihood(
        self, emissions: torch.Tensor, step_mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """-log p(labels) of each row: [batch, time, labels] emissions, [batch, time] mask and labels → [batch].

        A label of -100 (a sub-word after a word's first piece, as transformers' token classifiers mark them) is
        unobserved: its label is summed over, so the result is -log of the probability of the observed labels,
        exactly (the numerator is the forward algorithm restricted to the label sequences that agree with them).
        """
        observed = (labels != -100) & step_mask
        allowed = ~observed.unsqueeze(-1) | nn.functional.one_hot(labels.clamp(min=0), self.num_labels).bool()
        return self.log_partition(emissions, step_mask) - self.log_partition(
            emissions.masked_fill(~allowed, float("-inf")), step_mask
        )

    def _viterbi(self, emissions: torch.Tensor, step_mask: torch.Tensor):
        """Max-product forward pass: the best prefix scores [batch, time, labels], and for each step t >= 1 the best
        previous label of each label, [batch, labels] (a list of time - 1 back-pointers)."""
        best_prefix = [self.start_transitions + emissions[:, 0]]
        backpointers = []
        for t in range(1, emissions.shape[1]):
            best, previous = (best_prefix[-1].unsqueeze(2) + self.transitions).max(dim=1)
            best_prefix.append(torch.where(step_mask[:, t : t + 1], best + emissions[:, t], best_prefix[-1]))
            backpointers.append(previous)
        return torch.stack(best_prefix, dim=1), backpointers

    def max_marginals(self, emissions: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """For each row, step t and label y, the score of the best label sequence with label y at step t, minus the
        score of the best sequence: [batch, time, labels], 0 along the Viterbi path and negative elsewhere.

        Its argmax at every step is therefore the Viterbi path (when that path is unique), which is what lets
        `pipeline("token-classification")`, which takes the argmax of `logits` token by token, output Viterbi paths.
        """
        best_prefix, _ = self._viterbi(emissions, step_mask)
        batch_size, seq_len, num_labels = emissions.shape
        end = self.end_transitions.expand(batch_size, num_labels)
        # best_suffix[t][y]: best score of what follows label y at step t (transitions, emissions, end).
        best_suffix = [end]
        for t in range(seq_len - 2, -1, -1):
            step = (self.transitions + (emissions[:, t + 1] + best_suffix[0]).unsqueeze(1)).amax(dim=2)
            best_suffix.insert(0, torch.where(step_mask[:, t + 1 : t + 2], step, end))
        scores = best_prefix + torch.stack(best_suffix, dim=1)
        return scores - scores[:, :1].amax(dim=2, keepdim=True)

    def decode(self, emissions: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """Viterbi paths: [batch, time, labels] emissions, [batch, time] mask → [batch, time] labels (0 past a row's
        end)."""
        best_prefix, backpointers = self._viterbi(emissions, step_mask)
        last = step_mask.sum(dim=1) - 1
        final = best_prefix.gather(1, last.view(-1, 1, 1).expand(-1, 1, self.num_labels)).squeeze(1)
        best_last = (final + self.end_transitions).argmax(dim=1)
        paths = torch.zeros_like(step_mask, dtype=torch.long)
        label = best_last
        for t in range(emissions.shape[1] - 1, -1, -1):
            if t < emissions.shape[1] - 1:
                label = backpointers[t].gather(1, label.unsqueeze(1)).squeeze(1)
            # A row enters its path at its last real step; before that, `label` follows the back-pointers.
            label = torch.where(last == t, best_last, label)
            paths[:, t] = torch.where(t <= last, label, 0)
        return paths


class TokenCharacterEncoder(nn.Module):
    """A character-level representation of every vocabulary token: a convolution over the characters of the token's
    string (kept in the `token_chars` buffer, one row of hashed character ids per token id) and a max over positions.

    Rare and unknown words share prefixes, suffixes, capitals and digits with known ones; their characters say so even
    when their embeddings are barely trained. Only the distinct ids of a batch are encoded.
    """

    def __init__(self, vocab_size: int, char_buckets: int, max_token_chars: int, features: int):
        super().__init__()
        self.char_buckets = char_buckets
        self.embed_chars = nn.Embedding(char_buckets, 32, padding_idx=0)
        self.convolution = nn.Conv1d(32, features, kernel_size=3, padding=1)
        # Hashed character ids of each token's string, 0 after its end; saved with the weights.
        self.register_buffer("token_chars", torch.zeros(vocab_size, max_token_chars, dtype=torch.long))

    @torch.no_grad()
    def set_token_strings(self, strings: list[str]):
        """Fills `token_chars` from the vocabulary: `strings[i]` is the string of token id i."""
        if len(strings) != self.token_chars.shape[0]:
            raise ValueError(f"expected {self.token_chars.shape[0]} token strings (`vocab_size`), got {len(strings)}.")
        self.token_chars.zero_()
        for token_id, string in enumerate(strings):
            codes = [1 + ord(char) % (self.char_buckets - 1) for char in string[: self.token_chars.shape[1]]]
            self.token_chars[token_id, : len(codes)] = torch.tensor(codes, dtype=torch.long)

    def forward(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """[batch, time] ids → [batch, time, features]."""
        if torch.jit.is_tracing():
            # ONNX export (a TorchScript trace): every position's token is encoded, the same features for more work.
            # ONNX's `Unique` does not give back inverse indices that match PyTorch's.
            unique_ids, inverse = input_ids.flatten(), torch.arange(input_ids.numel(), device=input_ids.device)
        else:
            unique_ids, inverse = torch.unique(input_ids, return_inverse=True)
        chars = self.token_chars[unique_ids]  # [distinct, max_token_chars]
        features = self.convolution(self.embed_chars(chars).transpose(1, 2)).transpose(1, 2)
        features = torch.relu(features).masked_fill((chars == 0).unsqueeze(-1), 0.0)
        # index_select rather than `[inverse]`: the same rows, with a rank ONNX export can follow.
        return features.amax(dim=1).index_select(0, inverse.flatten()).view(*input_ids.shape, -1)


class CharLanguageModel(nn.Module):
    """The embedding and recurrent layers of a character-level language model: a `CharRNNModel`'s, under the same
    parameter names (`embed_tokens.weight`, `rnn.weight_ih_l0`, ...), without its output layer."""

    def __init__(self, cell_type: str, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RecurrentStack(cell_type, embedding_dim, hidden_size, num_layers)

    def forward(self, char_ids: torch.LongTensor, step_mask: torch.Tensor) -> torch.Tensor:
        """[batch, chars] ids, each row's characters first ([batch, chars] bool mask) → [batch, chars, hidden_size]
        top-layer outputs, each from a zero state at the row's first character."""
        return self.rnn(self.embed_tokens(char_ids), step_mask, return_final_state=False)[0]


class ContextualCharacterFeatures(nn.Module):
    """Flair's contextual string embeddings (Akbik et al., 2018), called contextual string features here: two frozen
    character language models, one reading the sentence forwards and one backwards, give each token the state it
    leaves them in.

    The sentence's characters are rebuilt from its tokens (`token_lm_chars`: each token id's text in the language
    models' character ids, a space before a word's first token, nothing for special tokens), so the features need no
    second tokenizer and a folder keeps one. A token gets the forward model's output at its last character (it has
    read the sentence up to there) and the backward model's output at its first (it has read the sentence from its
    end back to there; a word's first character is the space before it, so this is Flair's "with whitespace" position
    on that side, and its "without whitespace" one on the forward side). Each sentence is read from a zero state, as
    the models were trained on windows of text. What the words around a token say, as a character model saw them in
    much more text than the tagger's. The models are trained beforehand and kept frozen (no gradient reaches them).
    """

    def __init__(self, config: RNNTaggerConfig):
        super().__init__()
        shape = (config.char_lm_cell_type, config.char_lm_vocab_size, config.char_lm_embedding_dim,
                 config.char_lm_hidden_size, config.char_lm_num_layers)
        self.forward_lm = CharLanguageModel(*shape)
        self.backward_lm = CharLanguageModel(*shape)
        # Language-model character ids of each token's text, 0 (their padding id) after its end; saved with the weights.
        self.register_buffer("token_lm_chars", torch.zeros(config.vocab_size, config.max_token_lm_chars,
                                                           dtype=torch.long))
        # Frozen from the start, also in a reloaded model: the Trainer's optimizer and DDP then leave them out.
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, time] ids and mask → [batch, time, 2 * char_lm_hidden_size] (0 for padding and special tokens)."""
        chars = self.token_lm_chars[input_ids].masked_fill(~attention_mask.bool().unsqueeze(-1), 0)  # [B, T, L]
        counts = (chars != 0).sum(dim=-1)  # characters of each token
        # Each row's characters first, in reading order: the sentence's text.
        flat = chars.flatten(1)
        text = flat.gather(1, torch.sort((flat == 0).to(torch.int8), dim=1, stable=True).indices)
        lengths = counts.sum(dim=1, keepdim=True)
        if not torch.compiler.is_compiling():
            # The longest text, not T * L columns (a host sync; a traced graph reads them all, with the same result).
            text = text[:, : max(int(lengths.max()), 1)]
        steps = torch.arange(text.shape[1], device=text.device).unsqueeze(0)
        step_mask = steps < lengths
        # Text positions of each token's last and first characters (clamped for tokens without any: zeroed below).
        ends = counts.cumsum(dim=1) - 1
        starts = (ends - counts + 1).clamp(0, text.shape[1] - 1)
        ends = ends.clamp(0, text.shape[1] - 1)
        forward_outputs = self.forward_lm(text, step_mask)
        # The backward model reads each row's text reversed in place; the permutation is its own inverse.
        reverse = torch.where(step_mask, lengths - 1 - steps, steps)
        backward_outputs = _permute_steps(self.backward_lm(text.gather(1, reverse), step_mask), reverse)
        features = torch.cat([_gather_steps(forward_outputs, ends), _gather_steps(backward_outputs, starts)], dim=-1)
        return features * (counts > 0).unsqueeze(-1)


# The family was born with its base model: no older layout to rename (the hook below only strips the base prefix).
SAVED_LAYOUT: list[tuple[str, str]] = []


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


class RNNTaggerPreTrainedModel(PreTrainedModel):
    config_class = RNNTaggerConfig
    base_model_prefix = "rnn_tagger"
    main_input_name = "input_ids"
    _no_split_modules = []

    def __init__(self, config: RNNTaggerConfig, *inputs, **kwargs):
        # Values set on the config after it was built (or given to `from_pretrained(..., cell_type=...)`) are checked
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

    def _resize_token_embeddings(self, new_num_tokens, pad_to_multiple_of=None, mean_resizing=True):
        """`PreTrainedModel`'s, plus the per-token character tables (`token_chars`, `token_lm_chars`): they keep one
        row per token id, so they follow the embedding's new size. A new token has no characters (zero character
        features) until the whole vocabulary's strings are given again (`set_token_strings`,
        `set_char_language_models`)."""
        embeddings = super()._resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        rows = embeddings.weight.shape[0]
        base = self.base_model
        tables = (
            (base.char_encoder, "token_chars", "set_token_strings"),
            (base.contextual_chars, "token_lm_chars", "set_char_language_models"),
        )
        for module, name, setter in tables:
            table = getattr(module, name, None)  # None: the model has no such features
            if table is None or table.shape[0] == rows:
                continue
            resized = table.new_zeros(rows, table.shape[1])
            kept = min(rows, table.shape[0])
            resized[:kept] = table[:kept]
            setattr(module, name, resized)  # still the registered buffer, saved with the weights
            if rows > table.shape[0]:
                logger.warning(f"{rows - table.shape[0]} new token(s) have no characters in `{name}` yet: call "
                               f"`{setter}` with the strings of all {rows} tokens.")
        return embeddings

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults for the recurrent and linear layers; small embeddings (`initializer_range`) with the
        # padding embedding at zero; a CRF with no preference between label sequences.
        if isinstance(module, RecurrentStack):
            module.reset_parameters()
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            # The row is a view without the "already loaded" flag of its weight: check the weight's flag, as
            # transformers does, so that a loaded padding embedding is kept.
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, LinearChainCRF):
            init.zeros_(module.start_transitions)
            init.zeros_(module.end_transitions)
            init.zeros_(module.transitions)


class RNNTaggerModel(RNNTaggerPreTrainedModel):
    """The tagger's encoder, without a head: embedding → bidirectional LSTM/GRU layers over the real tokens.

    Returns a [`BaseModelOutput`] whose `last_hidden_state` [batch, time, D * hidden_size] holds each token's
    features (zero at padding), and with `output_hidden_states=True` the embeddings and every layer's outputs
    (`num_layers + 1` tensors), each at the tokens' positions.
    """

    def __init__(self, config: RNNTaggerConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.char_encoder = (
            TokenCharacterEncoder(config.vocab_size, config.char_buckets, config.max_token_chars, config.char_features)
            if config.char_features
            else None
        )
        self.contextual_chars = ContextualCharacterFeatures(config) if config.char_lm_hidden_size else None
        directions = 2 if config.bidirectional else 1
        token_features = config.embedding_dim + config.char_features + 2 * config.char_lm_hidden_size
        # One single-layer stack per layer, so that every layer's outputs can be returned as a hidden state.
        self.layers = nn.ModuleList(
            MaskedRecurrentStack(
                config.cell_type,
                token_features if layer == 0 else directions * config.hidden_size,
                config.hidden_size,
                num_layers=1,
                dropout=0.0,
                bidirectional=config.bidirectional,
            )
            for layer in range(config.num_layers)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embed_tokens = value

    def set_token_strings(self, strings: list[str]):
        """With `char_features`, gives the model the string of every token id (e.g.
        `tokenizer.convert_ids_to_tokens(range(len(tokenizer)))`), whose characters it reads; kept in the weights."""
        if self.char_encoder is None:
            raise ValueError("this model has no character features (`char_features=0`).")
        self.char_encoder.set_token_strings(strings)

    @torch.no_grad()
    def set_char_language_models(self, forward_lm: nn.Module, backward_lm: nn.Module,
                                 token_lm_chars: Sequence[Sequence[int]]):
        """With `char_lm_hidden_size`, copies in the two character language models of the contextual features and
        the text of every token id.

        Args:
            forward_lm / backward_lm: their base models (`CharRNNForCausalLM.base_model`: `embed_tokens` and `rnn`),
                the backward one trained on reversed text (`config.reads_backward`), both of this config's shape and
                one character vocabulary.
            token_lm_chars: for each token id, the language models' character ids of its text as it appears in a
                sentence (a leading space for a word's first token; empty for special tokens); cut at
                `max_token_lm_chars`. Id 0 must be their padding.
        """
        if self.contextual_chars is None:
            raise ValueError("this model has no contextual character features (`char_lm_hidden_size=0`).")
        config = self.config
        if len(token_lm_chars) != config.vocab_size:
            raise ValueError(f"expected {config.vocab_size} token texts (`vocab_size`), got {len(token_lm_chars)}.")
        texts = [list(char_ids)[: config.max_token_lm_chars] for char_ids in token_lm_chars]
        for token_id, char_ids in enumerate(texts):
            if any(not 0 < char_id < config.char_lm_vocab_size for char_id in char_ids):
                raise ValueError(f"token {token_id}: character ids must be in [1, {config.char_lm_vocab_size}), got "
                                 f"{char_ids}.")
        expected = {field: getattr(config, f"char_lm_{field}") for field in CHAR_LM_FIELDS}
        # Every check first, then the copies: a refused call leaves the model as it was.
        sources = {}
        for name, model, backward in (("forward_lm", forward_lm, False), ("backward_lm", backward_lm, True)):
            lm_config = getattr(model, "config", None)
            if lm_config is not None:
                found = {field: getattr(lm_config, field, None) for field in expected}
                if found != expected:
                    raise ValueError(f"`{name}` has {found}, this model's `char_lm_*` fields say {expected}.")
                if bool(getattr(lm_config, "reads_backward", False)) != backward:
                    raise ValueError(f"`{name}` must {'' if backward else 'not '}read backwards (its config's "
                                     f"`reads_backward` is {getattr(lm_config, 'reads_backward', False)}).")
            weights = {key: value for key, value in model.state_dict().items()
                       if key.startswith(("embed_tokens.", "rnn."))}
            missing = sorted(getattr(self.contextual_chars, name).state_dict().keys() - weights.keys())
            if missing:
                raise ValueError(f"`{name}` has no {missing}: pass a CharRNNForCausalLM's `base_model`.")
            sources[name] = weights
        for name, weights in sources.items():
            getattr(self.contextual_chars, name).load_state_dict(weights)
        buffer = self.contextual_chars.token_lm_chars
        buffer.zero_()
        for token_id, char_ids in enumerate(texts):
            buffer[token_id, : len(char_ids)] = torch.tensor(char_ids, dtype=torch.long)

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        tokens = input_ids if input_ids is not None else inputs_embeds
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        if tokens.dim() != (2 if input_ids is not None else 3):
            raise ValueError(f"`{name}` must be batched: got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(
                f"`{name}` is empty (shape {tuple(tokens.shape)}): every sentence needs at least one token (an empty "
                "sentence has none)."
            )
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
            raise ValueError(
                f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has {tuple(tokens.shape[:2])}."
            )
        if torch.compiler.is_compiling():
            return  # the checks below read tensor values: a host sync, and a graph break
        if input_ids is not None:
            if input_ids.dtype.is_floating_point:
                raise ValueError(f"`input_ids` must hold integer token ids, got dtype {input_ids.dtype}.")
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {self.config.vocab_size}) (the model's `vocab_size`), got values from "
                    f"{low} to {high}: was the model trained with this tokenizer?"
                )
        if attention_mask is not None:
            empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
            if empty_rows:
                raise ValueError(
                    f"rows {empty_rows} of `attention_mask` are all padding: every sentence needs at least one token "
                    "(an empty sentence has none)."
                )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding
                (on either side). Padded steps are skipped, not read. Without it every step is a real token.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim + char_features + 2 *
                char_lm_hidden_size]`, *optional*): instead of `input_ids` (every token feature given).
            output_hidden_states (`bool`, *optional*): also return the embeddings (with the character features) and
                each layer's outputs.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        self._validate_inputs(input_ids, inputs_embeds, attention_mask)
        if attention_mask is None:
            attention_mask = torch.ones((input_ids if input_ids is not None else inputs_embeds).shape[:2],
                                        dtype=torch.long, device=self.embed_tokens.weight.device)

        if inputs_embeds is None:
            # From the real words, before word dropout: the character models read the sentence as it is.
            context = self.contextual_chars(input_ids, attention_mask) if self.contextual_chars is not None else None
            if self.training and self.config.token_dropout > 0:
                # Word dropout: the model learns to tag from context the words it will not know.
                dropped = torch.rand(input_ids.shape, device=input_ids.device) < self.config.token_dropout
                input_ids = input_ids.masked_fill(dropped & attention_mask.bool(), self.config.unk_token_id)
            inputs_embeds = self.embed_tokens(input_ids)
            if self.char_encoder is not None:
                inputs_embeds = torch.cat([inputs_embeds, self.char_encoder(input_ids)], dim=-1)
            if context is not None:
                inputs_embeds = torch.cat([inputs_embeds, context.to(inputs_embeds.dtype)], dim=-1)

        # The layers run on each row's real tokens moved to the front; their outputs are put back in place.
        order, step_mask = left_align(attention_mask)
        real = step_mask.unsqueeze(-1)
        hidden = _gather_steps(self.embedding_dropout(inputs_embeds), order)
        all_hidden_states = (inputs_embeds,) if output_hidden_states else None
        for layer_index, layer in enumerate(self.layers):
            if layer_index > 0:
                hidden = self.dropout(hidden)
            hidden = layer(hidden, step_mask, return_final_state=False)[0] * real
            if output_hidden_states:
                all_hidden_states += (_scatter_steps(hidden, order),)
        last_hidden_state = all_hidden_states[-1] if output_hidden_states else _scatter_steps(hidden, order)

        if not return_dict:
            return tuple(v for v in (last_hidden_state, all_hidden_states) if v is not None)
        return BaseModelOutput(last_hidden_state=last_hidden_state, hidden_states=all_hidden_states)


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

class RNNTaggerForTokenClassification(RNNTaggerPreTrainedModel):
    """Sequence tagger: [`RNNTaggerModel`] → dropout → linear scores per token and label → optional CRF.

    With the default configuration this is the seed's `LSTMTagger` made bidirectional and two layers deep; with
    `use_crf=True` it is the seed's `BiLSTM_CRF`. Labels follow transformers' token-classification conventions: one
    label id per token, `-100` for tokens without a label (a word's sub-words after its first, special tokens,
    padding).
    """

    def __init__(self, config: RNNTaggerConfig):
        super().__init__(config)
        self.rnn_tagger = RNNTaggerModel(config)
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.classifier = nn.Linear(directions * config.hidden_size, config.num_labels)
        self.crf = LinearChainCRF(config.num_labels) if config.use_crf else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.rnn_tagger.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.rnn_tagger.embed_tokens = value

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

    def emissions(self, input_ids=None, attention_mask=None, inputs_embeds=None, output_hidden_states=None):
        """The per-token label scores [batch, time, num_labels] before any CRF, and the encoder's outputs."""
        outputs = self.rnn_tagger(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        return self.classifier(self.dropout(outputs.last_hidden_state)), outputs

    @torch.no_grad()
    def decode(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> list[list[int]]:
        """The best label id of every real token of each row: the Viterbi path with a CRF, the argmax without."""
        emissions, _ = self.emissions(input_ids, attention_mask, inputs_embeds)
        if attention_mask is None:
            attention_mask = torch.ones(emissions.shape[:2], dtype=torch.long, device=emissions.device)
        order, step_mask = left_align(attention_mask)
        aligned = _gather_steps(emissions.float(), order)
        paths = self.crf.decode(aligned, step_mask) if self.crf is not None else aligned.argmax(dim=-1)
        return [path[:length].tolist() for path, length in zip(paths, step_mask.sum(dim=1).tolist())]

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
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, features]`, *optional*): instead of
                `input_ids`, every token feature the base model reads (see [`RNNTaggerModel.forward`]).
            labels (`torch.LongTensor` of shape `[batch, time]`, *optional*): label ids, `-100` where a token has
                none (ignored; with a CRF, summed over). Labels at padding are ignored.
            output_hidden_states (`bool`, *optional*): also return the embeddings and each layer's outputs.

        Returns:
            [`TokenClassifierOutput`] with `logits` [batch, time, num_labels] and `loss` if `labels` was given.
            Without a CRF, `logits` are the per-token scores and `loss` their mean cross-entropy over labelled tokens.
            With a CRF, `loss` is the CRF's negative log-likelihood of the sentences' labels divided by the number of
            labelled tokens (on the scale of a cross-entropy; with `num_items_in_batch`, which the Trainer passes,
            either sum is divided by that count of labelled tokens over the accumulated batches and processes, as
            transformers' token classifiers do), and `logits` are the Viterbi *max-marginals*: at
            each token, for each label, the score of the best label sequence through that label minus the best
            sequence's score. Their argmax token by token is the Viterbi path, so `pipeline("token-classification")`
            and any argmax-based metric see the CRF's decoding; their softmax is a confidence relative to the best
            alternative path, not a marginal probability. `logits` are 0 at padding.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        emissions, outputs = self.emissions(input_ids, attention_mask, inputs_embeds, output_hidden_states)
        if attention_mask is None:
            attention_mask = torch.ones(emissions.shape[:2], dtype=torch.long, device=emissions.device)
        if labels is not None:
            self._validate_labels(labels, emissions.shape[:2])
            labels = labels.masked_fill(~attention_mask.bool(), -100)

        loss = None
        if self.crf is None:
            logits = emissions
            if labels is not None:
                token_losses = nn.functional.cross_entropy(
                    logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
                )
                loss = token_losses / labelled_token_count(labels, kwargs.get("num_items_in_batch"))
        else:
            # The CRF reads left-aligned rows (each row's tokens first), in float32 for its sums of exponentials.
            order, step_mask = left_align(attention_mask)
            aligned = _gather_steps(emissions.float(), order)
            if labels is not None:
                sentence_losses = self.crf.neg_log_likelihood(aligned, step_mask, _gather_steps(labels, order))
                loss = sentence_losses.sum() / labelled_token_count(labels, kwargs.get("num_items_in_batch"))
            logits = _scatter_steps(self.crf.max_marginals(aligned, step_mask) * step_mask.unsqueeze(-1), order)

        if not return_dict:
            output = (logits,) + ((outputs.hidden_states,) if outputs.hidden_states is not None else ())
            return ((loss,) + output) if loss is not None else output
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


__all__ = ["RNNTaggerForTokenClassification", "RNNTaggerModel", "RNNTaggerPreTrainedModel"]
