"""Configuration of the recurrent text classifier (the chapter's IMDb sentiment-analysis GRU)."""

from transformers import PretrainedConfig


POOLING_CHOICES = ("last", "mean", "max", "mean_max")


class GRUConfig(PretrainedConfig):
    r"""
    Configuration of a [`GRUForSequenceClassification`]: an embedding, a stack of GRU (or LSTM) layers read in one or
    both directions, a pooling of their outputs into one vector per text, and a linear classification head. The
    defaults are the chapter's sentiment-analysis model: 128-dimensional embeddings, two GRU layers of 64 units, a
    dropout of 0.2 and the top layer's last state as the text's summary.

    Args:
        vocab_size (`int`, defaults to 10000):
            Number of tokens the model knows; must cover every id of the tokenizer it is used with.
        embedding_dim (`int`, defaults to 128):
            Size of each token embedding.
        hidden_size (`int`, defaults to 64):
            Number of units of each recurrent layer (per direction).
        num_layers (`int`, defaults to 2):
            Number of stacked recurrent layers.
        dropout (`float`, defaults to 0.2):
            Dropout between recurrent layers and before the classification head, in `[0, 1)`.
        embedding_dropout (`float`, defaults to 0.0):
            Dropout on the token embeddings, in `[0, 1)`; a strong regulariser for a model trained from scratch.
        bidirectional (`bool`, defaults to `False`):
            Read each text left to right and right to left; the two directions' features are concatenated.
        separate_directions (`bool`, defaults to `False`):
            With `bidirectional=True` and several layers: each direction's layer reads only the same direction's layer
            below (ELMo's biLM), instead of both directions concatenated. Then no forward feature has seen a later
            token, so the backbone can be pretrained as a forward and a backward language model
            ([`GRUForCausalLM`]) and fine-tuned as a bidirectional classifier.
        cell_type (`str`, defaults to `"gru"`):
            `"gru"` or `"lstm"`.
        lstm_forget_bias (`float`, *optional*):
            Initial bias of the LSTM forget gates (in `bias_ih`; `bias_hh`'s forget part starts at 0): 1.0 is Keras's
            `unit_forget_bias=True` (the Keras edition's LSTMs) and Jozefowicz et al. (2015)'s advice, so that the
            cells keep what they hold from the first step on. `None` (the default) keeps `nn.LSTM`'s initialisation,
            U(±1/√hidden_size) for every bias, so that PyTorch-trained weights and recipes carry over. LSTM only.
        pooling (`str`, defaults to `"last"`):
            How the recurrent outputs become one vector per text: `"last"` (the top layer's final state, as in the
            chapter; forward and backward final states concatenated when bidirectional), `"mean"` or `"max"` over the
            valid (non-padding) steps, or `"mean_max"` (both, concatenated).
        classifier_batch_norm (`bool`, defaults to `False`):
            Standardise each pooled feature over the batch (`BatchNorm1d`) before the classifier's linear layer(s),
            as ULMFiT's head does. Mean and max over hundreds of steps of a pretrained backbone give features that
            barely vary from text to text; a linear layer on them learns slowly. (A training batch of one text is
            standardised with the running statistics.) Sequence classifier only.
        classifier_hidden_size (`int`, *optional*):
            A hidden ReLU layer of this many units between the pooled features and the labels (ULMFiT's head: 50),
            with the same dropout (and batch norm) before each linear layer. `None`: one linear layer, as in the
            chapter. Sequence classifier only.
        pad_token_id (`int`, *optional*, defaults to 0):
            Padding id of the tokenizer; its embedding is kept at zero (`nn.Embedding(padding_idx=...)`).
        num_labels / id2label / label2id / problem_type:
            The usual classification fields of [`PretrainedConfig`]: two labels by default; `num_labels=1` trains a
            regression (MSE) and `problem_type="multi_label_classification"` a multi-label model (BCE).

    Example:

    ```python
    >>> from rnnformers import GRUConfig, GRUForSequenceClassification
    >>> config = GRUConfig(vocab_size=20_000, bidirectional=True, pooling="mean_max",
    ...                    id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    >>> model = GRUForSequenceClassification(config)
    ```
    """

    model_type = "gru"
    attribute_map = {"num_hidden_layers": "num_layers"}

    vocab_size: int = 10_000
    embedding_dim: int = 128
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.2
    embedding_dropout: float = 0.0
    bidirectional: bool = False
    separate_directions: bool = False
    cell_type: str = "gru"
    lstm_forget_bias: float | None = None
    pooling: str = "last"
    classifier_batch_norm: bool = False
    classifier_hidden_size: int | None = None
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        self.check_values()
        super().__post_init__(**kwargs)
        if self.num_labels < 1:
            raise ValueError(f"`num_labels` must be at least 1, got {self.num_labels!r}.")

    def check_values(self):
        """Raises a ValueError naming the first field with a value the model cannot be built with. Also run when a
        model is built, for values set after the config was made."""
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        for name in ("dropout", "embedding_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}.")
        for name in ("bidirectional", "separate_directions", "classifier_batch_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"`{name}` must be True or False, got {getattr(self, name)!r}.")
        if self.separate_directions and not self.bidirectional:
            raise ValueError("`separate_directions=True` needs `bidirectional=True` (one direction is never mixed).")
        if self.cell_type not in ("gru", "lstm"):
            raise ValueError(f"`cell_type` must be 'gru' or 'lstm', got {self.cell_type!r}.")
        if self.lstm_forget_bias is not None:
            if isinstance(self.lstm_forget_bias, bool) or not isinstance(self.lstm_forget_bias, (int, float)):
                raise ValueError(f"`lstm_forget_bias` must be None or a number, got {self.lstm_forget_bias!r}.")
            if self.cell_type != "lstm":
                raise ValueError(f"`lstm_forget_bias` is for `cell_type='lstm'`; this config's is {self.cell_type!r}.")
        if self.classifier_hidden_size is not None and (
            isinstance(self.classifier_hidden_size, bool)
            or not isinstance(self.classifier_hidden_size, int)
            or self.classifier_hidden_size < 1
        ):
            raise ValueError(
                f"`classifier_hidden_size` must be None or a positive integer, got {self.classifier_hidden_size!r}."
            )
        if self.pooling not in POOLING_CHOICES:
            raise ValueError(f"`pooling` must be one of {', '.join(POOLING_CHOICES)}, got {self.pooling!r}.")
        if self.pad_token_id is not None and (
            not isinstance(self.pad_token_id, int) or not 0 <= self.pad_token_id < self.vocab_size
        ):
            raise ValueError(f"`pad_token_id` must be None or an id in [0, {self.vocab_size}), got {self.pad_token_id!r}.")


__all__ = ["GRUConfig"]
