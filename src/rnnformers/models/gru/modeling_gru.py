"""The chapter's IMDb sentiment-analysis GRU as a Hugging Face sequence classifier.

An embedding, a stack of GRU (or LSTM) layers read in one or both directions over packed sequences, a pooling of the
outputs into one vector per text and a linear head. Padding never reaches the recurrent layers: each row's valid steps
are packed, so a review gets the same logits alone or padded on either side inside a batch.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_gru import GRUConfig


def run_packed_rnn(
    rnn: nn.RNNBase, inputs: torch.Tensor, attention_mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Runs a batch-first, uni- or bidirectional `nn.GRU`/`nn.LSTM` over the valid steps of each row only.

    Each row's valid steps are moved to the front (keeping their order, so padding may be on either side, or even in
    the middle) and run as a packed sequence: the backward direction starts at each row's real last token, not at the
    padding. Every row must hold at least one valid step.

    Args:
        rnn: a batch-first `nn.GRU` or `nn.LSTM`, with D = 2 directions if bidirectional else 1.
        inputs: [batch, time, input_size].
        attention_mask: [batch, time], 1 for real tokens and 0 for padding, or None (every step is valid).

    Returns:
        `outputs` [batch, time, D * hidden_size]: the top layer's outputs with each row's valid steps first (steps past
        a row's length are zeros); `step_mask` [batch, time] (bool): which of those steps are valid; `last_state`
        [batch, D * hidden_size]: the top layer's final state of each direction, concatenated (forward after the last
        token, backward after the first).
    """
    batch_size, seq_len, _ = inputs.shape
    if attention_mask is None or bool(attention_mask.all()):
        outputs, final = rnn(inputs)
        step_mask = torch.ones(batch_size, seq_len, dtype=torch.bool, device=inputs.device)
    else:
        mask = attention_mask.bool()
        lengths = mask.sum(dim=1)
        # A stable sort on "is padding" moves each row's valid steps to the front, in their order.
        order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
        compact = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
        packed = pack_padded_sequence(compact, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_outputs, final = rnn(packed)
        outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=seq_len)
        step_mask = torch.arange(seq_len, device=inputs.device).unsqueeze(0) < lengths.unsqueeze(1)

    h_n = final[0] if isinstance(final, tuple) else final  # an LSTM returns (h_n, c_n)
    num_directions = 2 if rnn.bidirectional else 1
    # h_n: [num_layers * D, batch, hidden], layer-major; the last D rows are the top layer's directions.
    last_state = h_n[-num_directions:].transpose(0, 1).reshape(batch_size, num_directions * rnn.hidden_size)
    return outputs, step_mask, last_state


class GRUPreTrainedModel(PreTrainedModel):
    config_class = GRUConfig
    base_model_prefix = "gru"
    main_input_name = "input_ids"
    _no_split_modules = []

    @torch.no_grad()
    def _init_weights(self, module):
        # PyTorch's own defaults, which the chapter's model trains with; the padding embedding stays at zero.
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
            if module.padding_idx is not None:
                init.zeros_(module.weight[module.padding_idx])


class GRUForSequenceClassification(GRUPreTrainedModel):
    """Recurrent text classifier: embedding → (bi)GRU/LSTM stack over packed sequences → pooling → dropout → linear.

    With the default configuration this is the chapter's `SentimentAnalysisModel` with packed sequences, but with
    `num_labels` logits and Hugging Face's loss conventions: cross-entropy for class ids, MSE when `num_labels == 1`,
    BCE with logits for `problem_type="multi_label_classification"`.
    """

    def __init__(self, config: GRUConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        rnn_class = nn.LSTM if config.cell_type == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
        )
        features = config.hidden_size * (2 if config.bidirectional else 1) * (2 if config.pooling == "mean_max" else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(features, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding):
        self.embed_tokens = value

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
        self.embed_tokens.weight.copy_(weights)
        self.embed_tokens.weight.requires_grad_(not freeze)

    def _validate_inputs(self, input_ids, inputs_embeds, attention_mask, labels):
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
            if tuple(attention_mask.shape) != tuple(tokens.shape[:2]):
                raise ValueError(
                    f"`attention_mask` has shape {tuple(attention_mask.shape)} but `{name}` has "
                    f"{tuple(tokens.shape[:2])}."
                )
            empty_rows = (attention_mask.sum(dim=1) == 0).nonzero().flatten().tolist()
            if empty_rows:
                raise ValueError(
                    f"rows {empty_rows} of `attention_mask` are all padding: every text needs at least one token."
                )
        if labels is not None:
            if labels.shape[0] != tokens.shape[0]:
                raise ValueError(f"`labels` has {labels.shape[0]} rows but `{name}` has {tokens.shape[0]}.")
            if not labels.dtype.is_floating_point and self.config.num_labels > 1:
                # Class ids for cross-entropy; -100 is ignored, as everywhere in transformers.
                bad = labels[(labels != -100) & ((labels < 0) | (labels >= self.config.num_labels))]
                if bad.numel():
                    raise ValueError(
                        f"`labels` must be class ids in [0, {self.config.num_labels}) (`num_labels`), got "
                        f"{bad.unique().tolist()}."
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
            labels (`torch.Tensor`, *optional*): `[batch]` class ids for cross-entropy (`-100` is ignored), `[batch]`
                or `[batch, 1]` floats for regression (`num_labels == 1`), or `[batch, num_labels]` floats in {0, 1}
                for multi-label classification.
            output_hidden_states (`bool`, *optional*): also return `(embeddings, top-layer outputs)`, the outputs
                [batch, time, D * hidden_size] with each row's valid steps first.

        Returns:
            [`SequenceClassifierOutput`] with `logits` `[batch, num_labels]` and `loss` if `labels` was given.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        self._validate_inputs(input_ids, inputs_embeds, attention_mask, labels)

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        outputs, step_mask, last_state = run_packed_rnn(
            self.rnn, self.embedding_dropout(inputs_embeds), attention_mask
        )
        pooled = self._pool(outputs, step_mask, last_state)
        logits = self.classifier(self.dropout(pooled))

        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)

        hidden_states = (inputs_embeds, outputs) if output_hidden_states else None
        if not return_dict:
            output = (logits,) + ((hidden_states,) if hidden_states is not None else ())
            return ((loss,) + output) if loss is not None else output
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)

    def _pool(self, outputs: torch.Tensor, step_mask: torch.Tensor, last_state: torch.Tensor) -> torch.Tensor:
        """[batch, time, F] outputs, [batch, time] mask and [batch, F] last state → [batch, F or 2F] text vector."""
        if self.config.pooling == "last":
            return last_state
        mask = step_mask.unsqueeze(-1)
        pooled = []
        if self.config.pooling in ("mean", "mean_max"):
            pooled.append((outputs * mask).sum(dim=1) / mask.sum(dim=1))
        if self.config.pooling in ("max", "mean_max"):
            pooled.append(outputs.masked_fill(~mask, torch.finfo(outputs.dtype).min).amax(dim=1))
        return torch.cat(pooled, dim=-1)


__all__ = ["GRUForSequenceClassification", "GRUPreTrainedModel"]
