from .callbacks import FreezeEmbeddingsCallback
from .configuration_gru import GRUConfig
from .modeling_gru import GRUForSequenceClassification, GRUPreTrainedModel


__all__ = ["FreezeEmbeddingsCallback", "GRUConfig", "GRUForSequenceClassification", "GRUPreTrainedModel"]
