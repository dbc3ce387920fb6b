"""Configuration of the character-level recurrent language model (the chapter's Shakespeare char-RNN)."""

from transformers import PretrainedConfig


class CharRNNConfig(PretrainedConfig):
    r"""
    Configuration of a [`CharRNNForCausalLM`]: an embedding, a stack of GRU (or LSTM) layers and a linear output layer
    over the vocabulary. The defaults are the model of the chapter "NLP with RNNs and Attention": 10-dimensional
    character embeddings, two GRU layers of 128 units and a dropout of 0.1 between them.

    Args:
        vocab_size (`int`, defaults to 39):
            Number of tokens (characters) the model knows; 39 is the lower-cased Tiny Shakespeare alphabet.
        embedding_dim (`int`, defaults to 10):
            Size of each character embedding.
        hidden_size (`int`, defaults to 128):
            Number of units of each recurrent layer.
        num_layers (`int`, defaults to 2):
            Number of stacked recurrent layers.
        dropout (`float`, defaults to 0.1):
            Dropout between recurrent layers (as in `torch.nn.GRU`), in `[0, 1)`.
        output_dropout (`float`, defaults to 0.0):
            Dropout on the top layer's outputs before the output layer, in `[0, 1)` (Zaremba et al., 2014, and
            char-rnn drop there too; with `dropout` it is the regulariser of the larger recipes).
        weight_dropout (`float`, defaults to 0.0):
            DropConnect on each layer's hidden-to-hidden weights while training (AWD-LSTM's WeightDrop: one mask per
            forward pass, shared by all time steps), in `[0, 1)`.
        cell_type (`str`, defaults to `"gru"`):
            `"gru"` or `"lstm"`.
        tie_word_embeddings (`bool`, defaults to `False`):
            Share the input embedding matrix with the output layer. Requires `embedding_dim == hidden_size`.
        reads_backward (`bool`, defaults to `False`):
            The model was trained on reversed text, last character first: a backward language model (the second
            direction of Flair's and ELMo's language models). Only recorded: give such a model its text reversed, and
            reverse what it generates. `scripts/train_char_rnn.py` reverses its texts when it is set.
        pad_token_id / bos_token_id / eos_token_id / unk_token_id (`int`, *optional*):
            Special token ids of the tokenizer the model was trained with.

    Example:

    ```python
    >>> from rnnformers import CharRNNConfig, CharRNNForCausalLM
    >>> config = CharRNNConfig(vocab_size=65)
    >>> model = CharRNNForCausalLM(config)
    ```
    """

    model_type = "char_rnn"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {"num_hidden_layers": "num_layers"}

    vocab_size: int = 39
    embedding_dim: int = 10
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.1
    output_dropout: float = 0.0
    weight_dropout: float = 0.0
    cell_type: str = "gru"
    tie_word_embeddings: bool = False
    reads_backward: bool = False
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    unk_token_id: int | None = None

    def __post_init__(self, **kwargs):
        self.check_values()
        super().__post_init__(**kwargs)

    def check_values(self):
        """Raises a ValueError naming the first field with a value the model cannot be built with. Also run when a
        model is built, for values set after the config was made."""
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        for name in ("dropout", "output_dropout", "weight_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}.")
        if not isinstance(self.reads_backward, bool):
            raise ValueError(f"`reads_backward` must be True or False, got {self.reads_backward!r}.")
        if self.cell_type not in ("gru", "lstm"):
            raise ValueError(f"`cell_type` must be 'gru' or 'lstm', got {self.cell_type!r}.")
        if self.tie_word_embeddings and self.embedding_dim != self.hidden_size:
            raise ValueError(
                f"`tie_word_embeddings=True` needs `embedding_dim` == `hidden_size`, got {self.embedding_dim} and "
                f"{self.hidden_size}."
            )
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value < self.vocab_size):
                raise ValueError(f"`{name}` must be None or an id in [0, {self.vocab_size}), got {value!r}.")


__all__ = ["CharRNNConfig"]
