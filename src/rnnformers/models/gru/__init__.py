from .callbacks import FreezeEmbeddingsCallback
from .configuration_gru import GRUConfig
from .modeling_gru import GRUForSequenceClassification, GRUModel, GRUPreTrainedModel, MaskedRecurrentStack


__all__ = [
    "FreezeEmbeddingsCallback",
    "GRUConfig",
    "GRUForSequenceClassification",
    "GRUModel",
    "GRUPreTrainedModel",
    "MaskedRecurrentStack",
]
