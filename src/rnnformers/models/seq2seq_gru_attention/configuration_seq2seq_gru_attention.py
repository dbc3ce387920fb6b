"""Configuration of the GRU encoder–decoder with attention (the chapter's English→Spanish translation model)."""

from transformers import PretrainedConfig


ATTENTION_TYPES = ("dot", "general", "concat")


class Seq2SeqGRUAttentionConfig(PretrainedConfig):
    r"""
    Configuration of a [`Seq2SeqGRUAttention`] model: one embedding shared by source and target, a GRU encoder, a GRU
    decoder started from the encoder's final states, attention from each decoder output over the encoder outputs, and
    an output layer over the concatenation `[attention vector; decoder output]`. The defaults are the chapter's model
    (512-dimensional embeddings, two GRU layers of 512 units, Luong dot-product attention, a 10,000-token vocabulary).

    Args:
        vocab_size (`int`, defaults to 10000):
            Size of the shared (source and target) vocabulary.
        embedding_dim (`int`, defaults to 512):
            Size of each token embedding.
        hidden_size (`int`, defaults to 512):
            Number of units of every encoder and decoder GRU layer.
        num_layers (`int`, defaults to 2):
            Number of stacked GRU layers, in the encoder and in the decoder.
        dropout (`float`, defaults to 0.1):
            Dropout on the embeddings, between GRU layers and on the `[attention; decoder output]` vector, in `[0, 1)`.
        attention_type (`str`, defaults to `"dot"`):
            How a decoder output `h_t` scores an encoder output `h_s`: `"dot"` (Luong, `h_t·h_s`, the chapter's
            choice), `"general"` (Luong, `h_t·W h_s`) or `"concat"` (Bahdanau's additive score,
            `v·tanh(W_q h_t + W_k h_s)`).
        bidirectional_encoder (`bool`, defaults to `False`):
            Read the source in both directions. The two directions are summed, per step and per layer, so the encoder
            outputs and the decoder's initial state keep `hidden_size` units.
        tie_word_embeddings (`bool`, defaults to `False`):
            Use the embedding matrix as the output layer's weights (Press & Wolf, 2016). The `[attention; decoder
            output]` vector is then first projected to `embedding_dim` by a bias-free linear layer.
        pad_token_id / bos_token_id / eos_token_id / unk_token_id (`int`, *optional*):
            Special token ids of the tokenizer (the shared BPE tokenizer uses 0, 2, 3 and 1).
        decoder_start_token_id (`int`, *optional*):
            First decoder input: `labels` are shifted right behind it. Defaults to `bos_token_id` (`<s>`), as in the
            chapter.

    Example:

    ```python
    >>> from rnnformers import Seq2SeqGRUAttention, Seq2SeqGRUAttentionConfig
    >>> config = Seq2SeqGRUAttentionConfig(vocab_size=8000, hidden_size=256, attention_type="general")
    >>> model = Seq2SeqGRUAttention(config)
    ```
    """

    model_type = "seq2seq_gru_attention"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {"num_hidden_layers": "num_layers", "d_model": "hidden_size"}

    vocab_size: int = 10_000
    embedding_dim: int = 512
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.1
    attention_type: str = "dot"
    bidirectional_encoder: bool = False
    tie_word_embeddings: bool = False
    use_cache: bool = True
    is_encoder_decoder: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3
    unk_token_id: int | None = 1
    decoder_start_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.bos_token_id
        self.check_values()
        super().__post_init__(**kwargs)

    def check_values(self):
        """Raises a ValueError naming the first field with a value the model cannot be built with. Also run when a
        model is built, for values set after the config was made."""
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"`dropout` must be a number in [0, 1), got {self.dropout!r}.")
        if self.attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"`attention_type` must be one of {', '.join(map(repr, ATTENTION_TYPES))}, got {self.attention_type!r}."
            )
        if not isinstance(self.bidirectional_encoder, bool):
            raise ValueError(f"`bidirectional_encoder` must be True or False, got {self.bidirectional_encoder!r}.")
        if not self.is_encoder_decoder:
            raise ValueError("`is_encoder_decoder` must be True: this model is an encoder–decoder.")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.vocab_size
            ):
                raise ValueError(f"`{name}` must be None or an id in [0, {self.vocab_size}), got {value!r}.")


# Fields every member of an ensemble must share: the ensemble reads one tokenizer's ids and averages distributions
# over one vocabulary.
SHARED_MEMBER_FIELDS = ("vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id",
                        "decoder_start_token_id")
# Fields of a member's saved config that describe the saved folder, not the member.
FOLDER_FIELDS = ("architectures", "auto_map", "_name_or_path", "transformers_version", "dtype", "torch_dtype")


class Seq2SeqGRUAttentionEnsembleConfig(PretrainedConfig):
    r"""
    Configuration of a [`Seq2SeqGRUAttentionEnsemble`]: several [`Seq2SeqGRUAttention`] translators, trained apart
    on one tokenizer, that translate together by averaging their next-token distributions.

    Args:
        members (`list[dict]`):
            Each member's [`Seq2SeqGRUAttentionConfig`] as a dict (`config.to_diff_dict()`); at least two. Their sizes and
            attention types may differ; their vocabulary and special token ids (`SHARED_MEMBER_FIELDS`) may not.

    The ensemble's own vocabulary size and special token ids are its members' (what `generate()` reads).

    Example:

    ```python
    >>> from rnnformers import Seq2SeqGRUAttention, Seq2SeqGRUAttentionEnsemble
    >>> members = [Seq2SeqGRUAttention.from_pretrained(path) for path in ("outputs/nmt-s42", "outputs/nmt-s43")]
    >>> ensemble = Seq2SeqGRUAttentionEnsemble.from_members(members)
    ```
    """

    model_type = "seq2seq_gru_attention_ensemble"
    keys_to_ignore_at_inference = ["past_key_values"]

    members: list[dict] | None = None
    use_cache: bool = True
    is_encoder_decoder: bool = True

    def __post_init__(self, **kwargs):
        self.check_values()
        self.members = [{key: value for key, value in member.items() if key not in FOLDER_FIELDS}
                        for member in self.members]
        first = self.member_configs()[0]
        for name in SHARED_MEMBER_FIELDS:
            setattr(self, name, getattr(first, name))
        super().__post_init__(**kwargs)

    @property
    def num_members(self) -> int:
        return len(self.members)

    def member_configs(self) -> list[Seq2SeqGRUAttentionConfig]:
        """Each member's configuration."""
        return [Seq2SeqGRUAttentionConfig.from_dict(member) for member in self.members]

    def check_values(self):
        """Raises a ValueError naming the member and field that make the ensemble impossible to build."""
        if not isinstance(self.members, list) or not all(isinstance(member, dict) for member in self.members):
            raise ValueError(f"`members` must be a list of member configurations (dicts), got {self.members!r}.")
        if len(self.members) < 2:
            raise ValueError(f"`members` must hold at least two configurations, got {len(self.members)}.")
        configs = self.member_configs()  # each checks its own values
        for index, config in enumerate(configs[1:], start=1):
            for name in SHARED_MEMBER_FIELDS:
                value, first_value = getattr(config, name), getattr(configs[0], name)
                if value != first_value:
                    raise ValueError(
                        f"member {index}'s `{name}` is {value!r}, member 0's {first_value!r}: an ensemble's members "
                        "share one tokenizer (its vocabulary and special token ids)."
                    )


__all__ = ["Seq2SeqGRUAttentionConfig", "Seq2SeqGRUAttentionEnsembleConfig"]
