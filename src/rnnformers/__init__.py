"""rnnformers: classic recurrent NLP models as first-class Hugging Face models.

Importing the package registers every model with the `Auto*` classes, and marks each class for `save_pretrained` to
copy its code next to the weights, so a saved folder loads with `trust_remote_code=True` where rnnformers is absent.
"""

from transformers import AutoConfig, AutoModelForCausalLM

from .models.char_rnn import CharRNNConfig, CharRNNForCausalLM, CharRNNPreTrainedModel


__version__ = "0.1.0"

AutoConfig.register(CharRNNConfig.model_type, CharRNNConfig, exist_ok=True)
AutoModelForCausalLM.register(CharRNNConfig, CharRNNForCausalLM, exist_ok=True)
CharRNNConfig.register_for_auto_class()
CharRNNForCausalLM.register_for_auto_class("AutoModelForCausalLM")


__all__ = ["CharRNNConfig", "CharRNNForCausalLM", "CharRNNPreTrainedModel", "__version__"]
