"""The chapter's English→Spanish GRU encoder–decoder with attention, as a Hugging Face sequence-to-sequence model.

Source and target share one embedding. The encoder (a GRU stack, optionally bidirectional) reads the source as a
packed sequence; the decoder (a GRU stack) starts from the encoder's final states and reads the target shifted right
behind `<s>`. Each decoder output then attends over the encoder outputs (Luong dot or general, or Bahdanau's additive
score), and the output layer reads `[attention vector; decoder output]`, as in the chapter. Unlike the chapter, source
padding is masked: its attention weights are exactly 0.

The decoder's recurrent state is the generation cache: `generate()` runs the encoder once, then feeds one new token
and the previous state per step, and beam search reorders the state with the beams.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ModelOutput, Seq2SeqLMOutput

from .configuration_seq2seq_gru_attention import Seq2SeqGRUAttentionConfig


DecoderState = tuple[torch.Tensor]
"""`(h,)`: the decoder GRU's state, batch-first: [batch, num_layers, hidden_size]."""


@dataclass
class Seq2SeqGRUAttentionEncoderOutput(ModelOutput):
    """What the encoder hands to the decoder. Every tensor is batch-first, so `generate()` can repeat it for beams.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `[batch, source_len, hidden_size]`):
            Top-layer encoder output at each source position (directions summed if bidirectional); 0 at padding.
        final_state (`torch.FloatTensor` of shape `[batch, num_layers, hidden_size]`):
            Each layer's state after the last real source token: the decoder's initial state.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            `(embeddings, last_hidden_state)` when `output_hidden_states=True`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    final_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


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


def run_packed_rnn(
    rnn: nn.GRU, inputs: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Runs a batch-first GRU over the real tokens of each row only, wherever the padding is (left, right or both).

    The real steps of each row are moved to the front, in order, and run as a packed sequence, so a padded row gives
    exactly what it gives alone, and a bidirectional GRU's backward direction starts at the row's last real token.

    Args:
        rnn: a batch-first `nn.GRU`, uni- or bidirectional.
        inputs: [batch, time, input_size].
        attention_mask: [batch, time], 1 for real tokens and 0 for padding; every row has at least one real token.

    Returns:
        outputs [batch, time, num_directions * hidden_size], 0 at padded positions, and the final states
        [num_layers * num_directions, batch, hidden_size] (PyTorch's layout).
    """
    mask = attention_mask.bool()
    if bool(mask.all()):
        return rnn(inputs)
    seq_len = inputs.shape[1]
    # A stable sort on "is padding" lists each row's real positions first, in their order.
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
    compact = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
    packed = pack_padded_sequence(compact, mask.sum(dim=1).cpu(), batch_first=True, enforce_sorted=False)
    packed_outputs, final = rnn(packed)
    compact_outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=seq_len)
    # Put every output back at its token's position; the zeros after each row's end land on its padding.
    index = order.unsqueeze(-1).expand_as(compact_outputs)
    outputs = torch.zeros_like(compact_outputs).scatter(1, index, compact_outputs)
    return outputs, final


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
        self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            query: [batch, target_len, hidden_size] decoder outputs.
            keys: [batch, source_len, hidden_size] encoder outputs (also the values).
            key_mask: [batch, source_len] bool, True for real source tokens.

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
        # -inf before the softmax makes the padding weights exactly 0, not just small.
        scores = scores.masked_fill(~key_mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ keys, weights


class Seq2SeqGRUAttentionEncoder(nn.Module):
    """Shared embedding → (bi)directional GRU stack over the packed source. What `get_encoder()` returns."""

    main_input_name = "input_ids"

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__()
        self.config = config
        # The decoder reads its tokens through this embedding too (the model's `get_input_embeddings()`).
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
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
        if input_ids is not None:
            if input_ids.dtype.is_floating_point:
                raise ValueError(f"`input_ids` must hold integer token ids, got dtype {input_ids.dtype}.")
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`input_ids` must be in [0, {self.config.vocab_size}) (the model's `vocab_size`), got values "
                    f"from {low} to {high}."
                )
        if attention_mask is not None:
            if tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
                raise ValueError(
                    f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has "
                    f"{tuple(tokens.shape[:2])}."
                )
            empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
            if empty_rows:
                raise ValueError(f"Source row(s) {empty_rows} are all padding: every source needs a real token.")

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
            output_hidden_states: also return `(embeddings, outputs)`.

        Returns:
            [`Seq2SeqGRUAttentionEncoderOutput`] (or a tuple if `return_dict=False`).
        """
        self._validate_inputs(input_ids, inputs_embeds, attention_mask)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)

        outputs, final = run_packed_rnn(self.rnn, self.dropout(inputs_embeds), attention_mask)
        if self.config.bidirectional_encoder:
            # Sum the directions so that the decoder state and dot-product attention keep `hidden_size` units.
            batch_size, seq_len, _ = outputs.shape
            outputs = outputs.view(batch_size, seq_len, 2, self.config.hidden_size).sum(dim=2)
            final = final.view(self.config.num_layers, 2, batch_size, self.config.hidden_size).sum(dim=1)
        final_state = final.transpose(0, 1)  # batch-first, so that generate() can repeat it for beams

        hidden_states = (inputs_embeds, outputs) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (outputs, final_state, hidden_states) if v is not None)
        return Seq2SeqGRUAttentionEncoderOutput(
            last_hidden_state=outputs, final_state=final_state, hidden_states=hidden_states
        )


class Seq2SeqGRUAttentionPreTrainedModel(PreTrainedModel):
    config_class = Seq2SeqGRUAttentionConfig
    base_model_prefix = "seq2seq_gru_attention"
    main_input_name = "input_ids"
    _no_split_modules = []

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults, which the chapter's model trains with.
        if isinstance(module, nn.GRU):
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
            if module.padding_idx is not None:
                init.zeros_(module.weight[module.padding_idx])


class Seq2SeqGRUAttention(Seq2SeqGRUAttentionPreTrainedModel, GenerationMixin):
    """GRU encoder–decoder with attention for translation (the chapter's `NmtModel` with attention).

    `past_key_values` is the decoder's recurrent state `(h,)`, h of shape [batch, num_layers, hidden_size]; with it,
    `decoder_input_ids` holds only the new tokens. The encoder outputs never change while decoding, so `generate()`
    keeps them in `encoder_outputs`.
    """

    _tied_weights_keys = {"lm_head.weight": "encoder.embed_tokens.weight"}

    def __init__(self, config: Seq2SeqGRUAttentionConfig):
        super().__init__(config)
        self.encoder = Seq2SeqGRUAttentionEncoder(config)
        self.decoder = nn.GRU(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.attention = Seq2SeqGRUAttentionLayer(config)
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

    def get_encoder(self) -> Seq2SeqGRUAttentionEncoder:
        return self.encoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.encoder.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The cache is the decoder's recurrent state, not a key/value cache: generate() must not build one.
        return False

    def _validate_decoder_inputs(self, decoder_input_ids, decoder_inputs_embeds, labels, past_key_values, batch_size):
        tokens = decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds
        name = "decoder_input_ids" if decoder_input_ids is not None else "decoder_inputs_embeds"
        if tokens.dim() != (2 if decoder_input_ids is not None else 3) or tokens.shape[1] == 0:
            raise ValueError(f"`{name}` must be batched with at least one step, got shape {tuple(tokens.shape)}.")
        if tokens.shape[0] != batch_size:
            raise ValueError(f"`{name}` has {tokens.shape[0]} rows but the source has {batch_size}.")
        if decoder_input_ids is not None:
            low, high = int(decoder_input_ids.min()), int(decoder_input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"`decoder_input_ids` must be in [0, {self.config.vocab_size}), got values from {low} to {high}."
                )
        if labels is not None and tuple(labels.shape) != tuple(tokens.shape[:2]):
            raise ValueError(f"`labels` has shape {tuple(labels.shape)} but `{name}` has {tuple(tokens.shape[:2])}.")
        if past_key_values is not None:
            expected = (batch_size, self.config.num_layers, self.config.hidden_size)
            if (
                not isinstance(past_key_values, (tuple, list))
                or len(past_key_values) != 1
                or tuple(past_key_values[0].shape) != expected
            ):
                raise ValueError(
                    f"`past_key_values` must be a tuple holding one tensor shaped {expected} (the decoder state "
                    "returned by a previous call)."
                )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: Seq2SeqGRUAttentionEncoderOutput | tuple | None = None,
        past_key_values: DecoderState | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        decoder_inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
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
                `past_key_values`, only the new tokens.
            decoder_attention_mask (*optional*): accepted for API compatibility and not used: the decoder reads
                left to right and target padding is on the right, so padding never changes a real position's output.
            encoder_outputs ([`Seq2SeqGRUAttentionEncoderOutput`], *optional*): the encoder's outputs for the source,
                to skip running it again (what `generate()` does).
            past_key_values (`tuple[torch.Tensor]`, *optional*): the decoder state `(h,)` after the target tokens
                seen so far, h `[batch, num_layers, hidden_size]`.
            inputs_embeds / decoder_inputs_embeds (*optional*): embeddings instead of `input_ids` /
                `decoder_input_ids`.
            labels (`torch.LongTensor` of shape `[batch, target_len]`, *optional*): target ids ending with `</s>`;
                `-100` positions are ignored by the cross-entropy loss.
            use_cache (`bool`, *optional*): return the decoder state as `past_key_values`.
            output_attentions (`bool`, *optional*): return the attention weights as `cross_attentions`, one tensor
                `[batch, 1, target_len, source_len]` (one layer, one head).
            output_hidden_states (`bool`, *optional*): return `(embeddings, top-layer outputs)` of the encoder and
                the decoder.

        Returns:
            [`Seq2SeqLMOutput`] with `logits` `[batch, target_len, vocab_size]` and `loss` if `labels` was given.
        """
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )

        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, Seq2SeqGRUAttentionEncoderOutput):
            encoder_outputs = Seq2SeqGRUAttentionEncoderOutput(*encoder_outputs)
        source = encoder_outputs.last_hidden_state
        batch_size, source_len, _ = source.shape
        if attention_mask is None:
            source_mask = torch.ones(batch_size, source_len, dtype=torch.bool, device=source.device)
        else:
            source_mask = attention_mask.bool()

        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if labels is None:
                raise ValueError("Pass `labels` or `decoder_input_ids` (or `decoder_inputs_embeds`).")
            if self.config.decoder_start_token_id is None or self.config.pad_token_id is None:
                raise ValueError(
                    "Making decoder inputs from `labels` needs `config.decoder_start_token_id` and "
                    "`config.pad_token_id`."
                )
            decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        self._validate_decoder_inputs(decoder_input_ids, decoder_inputs_embeds, labels, past_key_values, batch_size)
        if decoder_inputs_embeds is None:
            decoder_inputs_embeds = self.encoder.embed_tokens(decoder_input_ids)

        # The decoder starts from the encoder's final states, or goes on from the cached state.
        state = past_key_values[0] if past_key_values is not None else encoder_outputs.final_state
        decoder_outputs, final = self.decoder(
            self.dropout(decoder_inputs_embeds), state.transpose(0, 1).contiguous().to(decoder_inputs_embeds.dtype)
        )
        context, weights = self.attention(decoder_outputs, source, source_mask)
        combined = self.dropout(torch.cat([context, decoder_outputs], dim=-1))
        if self.output_projection is not None:
            combined = self.output_projection(combined)
        logits = self.lm_head(combined)

        loss = None
        if labels is not None:
            loss = self._loss(logits, labels, kwargs.get("num_items_in_batch"))

        past = (final.transpose(0, 1),) if use_cache else None
        cross_attentions = (weights.unsqueeze(1),) if output_attentions else None
        decoder_hidden_states = (decoder_inputs_embeds, decoder_outputs) if output_hidden_states else None
        if not return_dict:
            output = tuple(
                v
                for v in (logits, past, decoder_hidden_states, cross_attentions, source, encoder_outputs.hidden_states)
                if v is not None
            )
            return ((loss,) + output) if loss is not None else output
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=past,
            decoder_hidden_states=decoder_hidden_states,
            cross_attentions=cross_attentions,
            encoder_last_hidden_state=source,
            encoder_hidden_states=encoder_outputs.hidden_states,
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

    def generate(self, inputs: torch.Tensor | None = None, generation_config=None, **kwargs):
        """`GenerationMixin.generate`, with a clear error for `num_beams` < 1 (transformers divides by it first)."""
        num_beams = kwargs.get("num_beams", (generation_config or self.generation_config).num_beams)
        # None: not set, generate() then uses 1.
        if num_beams is not None and (isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1):
            raise ValueError(f"`num_beams` must be an integer of at least 1, got {num_beams!r}.")
        return super().generate(inputs, generation_config=generation_config, **kwargs)

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """What `DataCollatorForSeq2Seq(model=...)` calls, so that batches carry `decoder_input_ids` (the Trainer's
        label smoothing pops `labels` before the forward pass)."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def prepare_inputs_for_generation(
        self,
        decoder_input_ids: torch.LongTensor,
        past_key_values: DecoderState | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_outputs: Seq2SeqGRUAttentionEncoderOutput | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> dict:
        if past_key_values is not None:
            # The state already summarises the target so far: feed only the newest token.
            decoder_input_ids = decoder_input_ids[:, -1:]
        model_inputs = {
            "decoder_input_ids": decoder_input_ids,
            "attention_mask": attention_mask,
            "encoder_outputs": encoder_outputs,
            "past_key_values": past_key_values,
            "use_cache": use_cache,
        }
        for name in ("output_attentions", "output_hidden_states"):
            if name in kwargs:
                model_inputs[name] = kwargs[name]
        return model_inputs

    def _reorder_cache(self, past_key_values: DecoderState, beam_idx: torch.LongTensor) -> DecoderState:
        """Beam search: keep the decoder states of the beams it continues, in their new order."""
        return tuple(s.index_select(0, beam_idx.to(s.device)) for s in past_key_values)


__all__ = [
    "Seq2SeqGRUAttention",
    "Seq2SeqGRUAttentionEncoder",
    "Seq2SeqGRUAttentionEncoderOutput",
    "Seq2SeqGRUAttentionPreTrainedModel",
]
