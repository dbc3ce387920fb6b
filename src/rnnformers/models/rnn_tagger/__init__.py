from .configuration_rnn_tagger import RNNTaggerConfig
from .modeling_rnn_tagger import RNNTaggerForTokenClassification, RNNTaggerModel, RNNTaggerPreTrainedModel


__all__ = ["RNNTaggerConfig", "RNNTaggerForTokenClassification", "RNNTaggerModel", "RNNTaggerPreTrainedModel"]
