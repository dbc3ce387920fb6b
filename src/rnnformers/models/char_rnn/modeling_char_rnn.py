"""The chapter's Shakespeare char-RNN as a Hugging Face causal language model.

An embedding, a stack of GRU (or LSTM) layers and a linear layer over the vocabulary. The recurrent state is the
generation cache: `generate()` feeds one new token and the previous state at each step, so a token costs O(1) whatever
the length of the text, and beam search reorders the state with the beams.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_char_rnn import CharRNNConfig


RecurrentState = tuple[torch.Tensor, ...]
"""`(h,)` for a GRU, `(h, c)` for an LSTM; each tensor is batch-first: [batch, num_layers, hidden_size]."""


def run_masked_rnn(
    rnn: nn.RNNBase,
    inputs: torch.Tensor,
    state: RecurrentState | None,
    attention_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, RecurrentState]:
    """Runs a batch-first `nn.GRU`/`nn.LSTM` so that masked steps are skipped: the state passes through them unchanged.

    A padded row therefore gives exactly what the row gives alone, with padding on either side. The valid steps of
    each row are moved to the front and run as a packed sequence; the output at a masked step is the output of the
    last valid step before it (the initial state's top layer if there is none).

    Args:
        rnn: a batch-first, unidirectional `nn.GRU` or `nn.LSTM`.
        inputs: [batch, time, input_size].
        state: initial state, each tensor [batch, num_layers, hidden_size], or None for zeros.
        attention_mask: [batch, time], 1 for real tokens and 0 for padding, or None.

    Returns:
        outputs [batch, time, hidden_size] of the top layer, and the state after each row's last valid step.
    """
    torch_state = None
    if state is not None:
        torch_state = tuple(s.transpose(0, 1).contiguous() for s in state)
        if not isinstance(rnn, nn.LSTM):
            torch_state = torch_state[0]

    def to_batch_first(final) -> RecurrentState:
        final = final if isinstance(final, tuple) else (final,)
        return tuple(s.transpose(0, 1) for s in final)

    if attention_mask is None or bool(attention_mask.all()):
        outputs, final = rnn(inputs, torch_state)
        return outputs, to_batch_first(final)

    batch_size, seq_len, _ = inputs.shape
    mask = attention_mask.bool()
    lengths = mask.sum(dim=1)
    # A stable sort on "is padding" moves each row's valid steps to the front, in their order.
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
    compact = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
    packed = pack_padded_sequence(compact, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
    packed_outputs, final = rnn(packed, torch_state)
    compact_outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=seq_len)
    final = to_batch_first(final)

    if state is None:
        state = tuple(torch.zeros_like(s) for s in final)
    # Position t reads the output of the row's last valid step at or before t; index 0 is the initial state.
    initial_top = state[0][:, -1:, :].to(compact_outputs.dtype)
    with_initial = torch.cat([initial_top, compact_outputs], dim=1)
    last_valid_step = mask.long().cumsum(dim=1)
    outputs = with_initial.gather(1, last_valid_step.unsqueeze(-1).expand(-1, -1, with_initial.size(-1)))
    # Rows with no valid step keep their initial state (packing needs a length of at least 1).
    empty_rows = (lengths == 0).view(batch_size, 1, 1)
    final = tuple(torch.where(empty_rows, s0, s) for s0, s in zip(state, final))
    return outputs, final


class CharRNNPreTrainedModel(PreTrainedModel):
    config_class = CharRNNConfig
    base_model_prefix = "char_rnn"
    main_input_name = "input_ids"
    _no_split_modules = []

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults, which the chapter's model trains with.
        if isinstance(module, (nn.GRU, nn.LSTM)):
            bound = 1.0 / math.sqrt(module.hidden_size)
            for param in module.parameters():
                init.uniform_(param, -bound, bound)
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.in_features)
                init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=1.0)


class CharRNNForCausalLM(CharRNNPreTrainedModel, GenerationMixin):
    """Character-level recurrent language model: embedding → GRU/LSTM stack → linear layer over the vocabulary.

    The recurrent state plays the part of the key/value cache: `past_key_values` is a tuple of batch-first tensors,
    `(h,)` for a GRU and `(h, c)` for an LSTM, each [batch, num_layers, hidden_size].
    """

    _tied_weights_keys = {"lm_head.weight": "embed_tokens.weight"}

    def __init__(self, config: CharRNNConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim)
        rnn_class = nn.LSTM if config.cell_type == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The cache is the recurrent state, not a key/value cache: generate() must not build a DynamicCache.
        return False

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask, labels, past_key_values):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        tokens = input_ids if input_ids is not None else inputs_embeds
        name = "input_ids" if input_ids is not None else "inputs_embeds"
        if tokens.dim() != (2 if input_ids is not None else 3):
            raise ValueError(f"`{name}` must be batched: got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] == 0 or tokens.shape[1] == 0:
            raise ValueError(f"`{name}` is empty (shape {tuple(tokens.shape)}): give at least one token per row.")
        if input_ids is not None:
            if input_ids.dtype.is_floating_point:
                raise ValueError(f"`input_ids` must hold integer token ids, got dtype {input_ids.dtype}.")
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {self.config.vocab_size}) (the model's `vocab_size`), got values "
                    f"from {low} to {high}."
                )
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
            raise ValueError(
                f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has {tuple(tokens.shape[:2])}."
            )
        if labels is not None and tuple(labels.shape) != tuple(tokens.shape[:2]):
            raise ValueError(f"`labels` has shape {tuple(labels.shape)} but `{name}` has {tuple(tokens.shape[:2])}.")
        if past_key_values is not None:
            expected = (tokens.shape[0], self.config.num_layers, self.config.hidden_size)
            num_tensors = 2 if self.config.cell_type == "lstm" else 1
            if (
                not isinstance(past_key_values, (tuple, list))
                or len(past_key_values) != num_tensors
                or any(tuple(s.shape) != expected for s in past_key_values)
            ):
                raise ValueError(
                    f"`past_key_values` must be a tuple of {num_tensors} tensor(s) shaped {expected} (the recurrent "
                    "state returned by a previous call)."
                )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: RecurrentState | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `[batch, time]`): token ids.
            attention_mask (`torch.Tensor` of shape `[batch, time]`, *optional*): 1 for real tokens, 0 for padding.
                Padded steps leave the state unchanged, so a padded row gives the logits it gives alone.
            past_key_values (`tuple[torch.Tensor]`, *optional*): the recurrent state after the tokens seen so far,
                each tensor `[batch, num_layers, hidden_size]`; `input_ids` then holds only the new tokens.
            inputs_embeds (`torch.FloatTensor` of shape `[batch, time, embedding_dim]`, *optional*): instead of
                `input_ids`.
            labels (`torch.LongTensor` of shape `[batch, time]`, *optional*): usually `input_ids`; shifted inside the
                model so that step t predicts token t+1. `-100` is ignored.
            use_cache (`bool`, *optional*): return the recurrent state as `past_key_values`.
            output_hidden_states (`bool`, *optional*): return `(embeddings, top-layer outputs)`.

        Returns:
            [`CausalLMOutputWithPast`] with `logits` `[batch, time, vocab_size]`, `loss` if `labels` was given and the
            state as `past_key_values` if `use_cache`.
        """
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        self._validate_inputs(input_ids, inputs_embeds, attention_mask, labels, past_key_values)

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        outputs, state = run_masked_rnn(self.rnn, inputs_embeds, past_key_values, attention_mask)
        logits = self.lm_head(outputs)

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)

        past = state if use_cache else None
        hidden_states = (inputs_embeds, outputs) if output_hidden_states else None
        if not return_dict:
            output = tuple(v for v in (logits, past, hidden_states) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=past, hidden_states=hidden_states)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        past_key_values: RecurrentState | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> dict:
        if past_key_values is not None:
            # The state already summarises the prompt and the tokens generated so far: feed only the newest token.
            model_inputs = {"input_ids": input_ids[:, -1:], "attention_mask": None}
        elif inputs_embeds is not None:
            model_inputs = {"inputs_embeds": inputs_embeds, "attention_mask": attention_mask}
        else:
            model_inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        model_inputs.update(past_key_values=past_key_values, use_cache=use_cache)
        return model_inputs

    def _reorder_cache(self, past_key_values: RecurrentState, beam_idx: torch.LongTensor) -> RecurrentState:
        """Beam search: keep the state of the beams it continues, in their new order."""
        return tuple(s.index_select(0, beam_idx.to(s.device)) for s in past_key_values)


__all__ = ["CharRNNForCausalLM", "CharRNNPreTrainedModel"]
