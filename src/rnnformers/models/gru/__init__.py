from .configuration_gru import GRUConfig
from .modeling_gru import GRUForSequenceClassification, GRUModel, GRUPreTrainedModel, MaskedRecurrentStack


__all__ = [
    "GRUConfig",
    "GRUForSequenceClassification",
    "GRUModel",
    "GRUPreTrainedModel",
    "MaskedRecurrentStack",
]
