from .configuration_gru import GRUConfig
from .modeling_gru import (
    GRUCausalLMOutput,
    GRUForCausalLM,
    GRUForSequenceClassification,
    GRUForTokenClassification,
    GRUModel,
    GRUPreTrainedModel,
    MaskedRecurrentStack,
)


__all__ = [
    "GRUCausalLMOutput",
    "GRUConfig",
    "GRUForCausalLM",
    "GRUForSequenceClassification",
    "GRUForTokenClassification",
    "GRUModel",
    "GRUPreTrainedModel",
    "MaskedRecurrentStack",
]
