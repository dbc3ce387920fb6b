"""The chapter's IMDb sentiment-analysis GRU as a Hugging Face sequence classifier.

An embedding, a stack of GRU (or LSTM) layers read in one or both directions over the valid steps only, a pooling of
the outputs into one vector per text and a linear head. Padding never reaches a valid step of the recurrent layers (the
result of a packed sequence, computed faster on CPU), so a review gets the same logits alone or padded on either side
inside a batch.

This file imports only its configuration, so a saved folder runs with `trust_remote_code=True` without rnnformers.
"""

import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_gru import GRUConfig


class MaskedRecurrentStack(nn.Module):
    """A stack of uni- or bidirectional GRU/LSTM layers that reads only the valid (non-padding) steps of each row.

    It computes exactly what `nn.GRU(..., bidirectional=...)` computes on a packed sequence of the valid steps, but
    with one plain batched run per layer and direction. (On CPU, PyTorch's packed-sequence RNN backward slices the
    packed input at every step and materialises a full-size gradient each time, which makes it quadratic in the text
    length: 5x slower than this on IMDb reviews cut at 400 tokens, in benchmarks/bench_sentiment.py.)

    How: each row's valid steps are moved to the front (so padding may be on either side), which makes every valid
    output of the forward direction exact, as padding now only follows them. The backward direction reads the same
    rows with their valid steps reversed in place, so it too meets a row's tokens before its padding; its outputs are
    put back in reading order. Each (layer, direction) is its own one-layer `nn.GRU`/`nn.LSTM`, in the layout of
    `nn.GRU`'s `weight_ih_l{k}` / `weight_ih_l{k}_reverse` parameters.
    """

    def __init__(self, cell_type: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 bidirectional: bool):
        super().__init__()
        rnn_class = nn.LSTM if cell_type == "lstm" else nn.GRU
        self.hidden_size = hidden_size
        self.num_directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(
                rnn_class(input_size if layer == 0 else hidden_size * self.num_directions, hidden_size,
                          batch_first=True)
                for _ in range(self.num_directions)
            )
            for layer in range(num_layers)
        )
        # Between layers only, as in `nn.GRU(dropout=...)`.
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, inputs: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        Args:
            inputs: [batch, time, input_size].
            attention_mask: [batch, time], 1 for real tokens and 0 for padding, or None (every step is valid). Every
                row must hold at least one valid step.

        Returns:
            `outputs` [batch, time, D * hidden_size]: the top layer's outputs, each row's valid steps first (what
            follows them is meaningless); `step_mask` [batch, time] (bool): which of those steps are valid;
            `last_state` [batch, D * hidden_size]: the top layer's final state of each direction, concatenated
            (forward after the last token, backward after the first), as `nn.GRU`'s `h_n[-D:]`.
        """
        batch_size, seq_len, _ = inputs.shape
        steps = torch.arange(seq_len, device=inputs.device).unsqueeze(0)
        if attention_mask is None:
            lengths = torch.full((batch_size,), seq_len, device=inputs.device)
        else:
            mask = attention_mask.bool()
            lengths = mask.sum(dim=1)
            # A stable sort on "is padding" moves each row's valid steps to the front, in their order.
            order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
            inputs = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
        step_mask = steps < lengths.unsqueeze(1)
        # Step t of a row reads valid step (length - 1 - t): its valid steps reversed in place, padding left as is.
        # The permutation is its own inverse, so it also puts the backward outputs back in reading order.
        reverse = torch.where(step_mask, lengths.unsqueeze(1) - 1 - steps, steps)
        last_step = (lengths - 1).view(batch_size, 1, 1)

        def permute(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return x.gather(1, index.unsqueeze(-1).expand_as(x))

        hidden = inputs
        for layer_index, directions in enumerate(self.layers):
            if layer_index > 0:
                hidden = self.dropout(hidden)
            forward_outputs, _ = directions[0](hidden)
            finals = [forward_outputs.gather(1, last_step.expand(-1, -1, self.hidden_size)).squeeze(1)]
            outputs = [forward_outputs]
            if self.num_directions == 2:
                backward_outputs, _ = directions[1](permute(hidden, reverse))
                finals.append(backward_outputs.gather(1, last_step.expand(-1, -1, self.hidden_size)).squeeze(1))
                outputs.append(permute(backward_outputs, reverse))
            hidden = torch.cat(outputs, dim=-1)
        return hidden, step_mask, torch.cat(finals, dim=-1)


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
            # The row is a view without the "already loaded" flag of its weight: check the weight's flag, as
            # transformers does, so that a loaded (e.g. pretrained, non-zero) padding embedding is kept.
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])


class GRUForSequenceClassification(GRUPreTrainedModel):
    """Recurrent text classifier: embedding → (bi)GRU/LSTM stack over valid steps → pooling → dropout → linear.

    With the default configuration this is the chapter's `SentimentAnalysisModel` with packed sequences, but with
    `num_labels` logits and Hugging Face's loss conventions: cross-entropy for class ids, MSE when `num_labels == 1`,
    BCE with logits for `problem_type="multi_label_classification"`.
    """

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
        outputs, step_mask, last_state = self.rnn(self.embedding_dropout(inputs_embeds), attention_mask)
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


__all__ = ["GRUForSequenceClassification", "GRUPreTrainedModel", "MaskedRecurrentStack"]
