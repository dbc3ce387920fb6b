from .configuration_char_rnn import CharRNNConfig
from .modeling_char_rnn import CharRNNForCausalLM, CharRNNPreTrainedModel


__all__ = ["CharRNNConfig", "CharRNNForCausalLM", "CharRNNPreTrainedModel"]
