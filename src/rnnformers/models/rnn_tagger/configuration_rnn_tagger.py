"""Configuration of the recurrent sequence tagger (the seed's LSTM part-of-speech tagger and Bi-LSTM CRF)."""

from transformers import PretrainedConfig


# The character language models' config fields that shape their weights: `char_lm_<field>` here.
CHAR_LM_FIELDS = ("cell_type", "vocab_size", "embedding_dim", "hidden_size", "num_layers")


class RNNTaggerConfig(PretrainedConfig):
    r"""
    Configuration of an [`RNNTaggerModel`] and its [`RNNTaggerForTokenClassification`] head: a token embedding, a stack
    of bidirectional LSTM (or GRU) layers that reads only the real tokens, a linear layer giving one score per label
    and token, and optionally a linear-chain CRF over those scores (the seed's "Bi-LSTM CRF").

    Args:
        vocab_size (`int`, defaults to 16000):
            Number of tokens the model knows; must cover every id of the tokenizer it is used with.
        embedding_dim (`int`, defaults to 128):
            Size of each token embedding.
        hidden_size (`int`, defaults to 256):
            Number of units of each recurrent layer, per direction.
        num_layers (`int`, defaults to 2):
            Number of stacked recurrent layers.
        cell_type (`str`, defaults to `"lstm"`):
            `"lstm"` or `"gru"`.
        bidirectional (`bool`, defaults to `True`):
            Read each sentence in both directions (a tagger needs the right context too); the two directions'
            features are concatenated.
        dropout (`float`, defaults to 0.33):
            Dropout between recurrent layers and before the classifier, in `[0, 1)`.
        embedding_dropout (`float`, defaults to 0.33):
            Dropout on the token embeddings, in `[0, 1)`.
        char_features (`int`, defaults to 0):
            Size of a character-level representation of each token, concatenated to its embedding (0: none). A
            convolution over the token's characters (its vocabulary string, hashed into `char_buckets` ids) with
            max-pooling, as taggers do for rare and unknown words; the characters of every vocabulary entry are kept
            in the model (`RNNTaggerModel.set_token_strings`).
        char_buckets (`int`, defaults to 512):
            Number of character ids (characters are hashed into them by code point).
        max_token_chars (`int`, defaults to 16):
            Characters of a token string read by `char_features` (longer strings are cut).
        char_lm_hidden_size (`int`, defaults to 0):
            Flair's contextual string embeddings (Akbik et al., 2018), 0 for none: a forward and a backward
            character-level language model read the sentence's characters (rebuilt from its tokens' strings, a space
            before each word) and each token gets the forward model's output at its last character and the backward
            model's at its first, `2 * char_lm_hidden_size` features concatenated to its embedding. Both models are
            trained beforehand (`CharRNNForCausalLM`, the backward one with `reads_backward=True`), copied in with
            `RNNTaggerModel.set_char_language_models`, and stay frozen: the tagger's training does not change them.
        char_lm_vocab_size / char_lm_embedding_dim / char_lm_num_layers / char_lm_cell_type (defaults to 0, 0, 1,
            `"lstm"`): the shape of those two language models (their characters, embedding size, layers and cell).
        max_token_lm_chars (`int`, defaults to 24):
            Characters of a token's text (with its leading space) the language models read; longer ones are cut.
        token_dropout (`float`, defaults to 0.0):
            While training, the probability of replacing a real token by `unk_token_id` ("word dropout"), which
            teaches the model to tag words it has never seen from their context; in `[0, 1)`. Needs `unk_token_id`.
        initializer_range (`float`, defaults to 0.1):
            Standard deviation of the token embeddings' normal initialisation. Small, so that what training writes
            into a rare token's embedding is not drowned by its random start (measured on UD English EWT: 85.3% vs
            80.2% dev accuracy after 200 steps, against PyTorch's default of 1.0).
        use_crf (`bool`, defaults to `False`):
            Put a linear-chain CRF on the per-token scores: the loss is the CRF's negative log-likelihood and the
            returned `logits` are the Viterbi max-marginals, whose argmax at every token is the Viterbi path (see
            [`RNNTaggerForTokenClassification.forward`]).
        pad_token_id (`int`, *optional*, defaults to 0):
            Padding id of the tokenizer; its embedding is kept at zero.
        unk_token_id (`int`, *optional*, defaults to 1):
            Unknown-token id of the tokenizer, used by `token_dropout`.
        num_labels / id2label / label2id:
            The usual classification fields of [`PretrainedConfig`]: the tag set (e.g. the 17 UPOS tags).

    Example:

    ```python
    >>> from rnnformers import RNNTaggerConfig, RNNTaggerForTokenClassification
    >>> tags = ["NOUN", "VERB", "DET"]
    >>> config = RNNTaggerConfig(vocab_size=8000, use_crf=True, id2label=dict(enumerate(tags)),
    ...                          label2id={tag: i for i, tag in enumerate(tags)})
    >>> model = RNNTaggerForTokenClassification(config)
    ```
    """

    model_type = "rnn_tagger"
    attribute_map = {"num_hidden_layers": "num_layers"}

    vocab_size: int = 16_000
    embedding_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    cell_type: str = "lstm"
    bidirectional: bool = True
    dropout: float = 0.33
    embedding_dropout: float = 0.33
    char_features: int = 0
    char_buckets: int = 512
    max_token_chars: int = 16
    char_lm_hidden_size: int = 0
    char_lm_vocab_size: int = 0
    char_lm_embedding_dim: int = 0
    char_lm_num_layers: int = 1
    char_lm_cell_type: str = "lstm"
    max_token_lm_chars: int = 24
    token_dropout: float = 0.0
    initializer_range: float = 0.1
    use_crf: bool = False
    pad_token_id: int | None = 0
    unk_token_id: int | None = 1

    def __post_init__(self, **kwargs):
        self.check_values()
        super().__post_init__(**kwargs)
        if self.num_labels < 1:
            raise ValueError(f"`num_labels` must be at least 1, got {self.num_labels!r}.")

    def check_values(self):
        """Raises a ValueError naming the first field with a value the model cannot be built with. Also run when a
        model is built, for values set after the config was made."""
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers", "char_buckets", "max_token_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if isinstance(self.char_features, bool) or not isinstance(self.char_features, int) or self.char_features < 0:
            raise ValueError(f"`char_features` must be a non-negative integer, got {self.char_features!r}.")
        for name in ("char_lm_hidden_size", "char_lm_vocab_size", "char_lm_embedding_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}.")
        for name in ("char_lm_num_layers", "max_token_lm_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if self.char_lm_hidden_size and not (self.char_lm_vocab_size and self.char_lm_embedding_dim):
            raise ValueError(
                "`char_lm_hidden_size` > 0 needs the language models' `char_lm_vocab_size` and "
                f"`char_lm_embedding_dim`, got {self.char_lm_vocab_size!r} and {self.char_lm_embedding_dim!r}."
            )
        if self.char_lm_cell_type not in ("gru", "lstm"):
            raise ValueError(f"`char_lm_cell_type` must be 'gru' or 'lstm', got {self.char_lm_cell_type!r}.")
        for name in ("dropout", "embedding_dropout", "token_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}.")
        if isinstance(self.initializer_range, bool) or not isinstance(self.initializer_range, (int, float)) or not (
            self.initializer_range > 0
        ):
            raise ValueError(f"`initializer_range` must be a positive number, got {self.initializer_range!r}.")
        for name in ("bidirectional", "use_crf"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"`{name}` must be True or False, got {getattr(self, name)!r}.")
        if self.cell_type not in ("gru", "lstm"):
            raise ValueError(f"`cell_type` must be 'gru' or 'lstm', got {self.cell_type!r}.")
        for name in ("pad_token_id", "unk_token_id"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value < self.vocab_size):
                raise ValueError(f"`{name}` must be None or an id in [0, {self.vocab_size}), got {value!r}.")
        if self.token_dropout > 0 and self.unk_token_id is None:
            raise ValueError("`token_dropout` replaces tokens by `unk_token_id`, which is None: set it.")


__all__ = ["RNNTaggerConfig"]
