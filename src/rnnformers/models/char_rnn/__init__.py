from .configuration_char_rnn import CharRNNConfig
from .modeling_char_rnn import (
    CharRNNForCausalLM,
    CharRNNModel,
    CharRNNPreTrainedModel,
    RecurrentStack,
    RecurrentStateCache,
    RecurrentStateLayer,
)


__all__ = [
    "CharRNNConfig",
    "CharRNNForCausalLM",
    "CharRNNModel",
    "CharRNNPreTrainedModel",
    "RecurrentStack",
    "RecurrentStateCache",
    "RecurrentStateLayer",
]
