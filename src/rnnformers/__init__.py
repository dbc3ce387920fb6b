"""rnnformers: classic recurrent NLP models as first-class Hugging Face models.

Importing the package registers every model with the `Auto*` classes, and marks each class for `save_pretrained` to
copy its code next to the weights, so a saved folder loads with `trust_remote_code=True` where rnnformers is absent.
"""

from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

from .models.char_rnn import CharRNNConfig, CharRNNForCausalLM, CharRNNPreTrainedModel
from .models.gru import FreezeEmbeddingsCallback, GRUConfig, GRUForSequenceClassification, GRUPreTrainedModel
from .models.seq2seq_gru_attention import (
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionPreTrainedModel,
)
from .pipelines import RnnTranslationPipeline  # registers the "rnn-translation" pipeline task


__version__ = "0.1.0"

AutoConfig.register(CharRNNConfig.model_type, CharRNNConfig, exist_ok=True)
AutoModelForCausalLM.register(CharRNNConfig, CharRNNForCausalLM, exist_ok=True)
CharRNNConfig.register_for_auto_class()
CharRNNForCausalLM.register_for_auto_class("AutoModelForCausalLM")
AutoConfig.register(GRUConfig.model_type, GRUConfig, exist_ok=True)
AutoModelForSequenceClassification.register(GRUConfig, GRUForSequenceClassification, exist_ok=True)
GRUConfig.register_for_auto_class()
GRUForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
AutoConfig.register(Seq2SeqGRUAttentionConfig.model_type, Seq2SeqGRUAttentionConfig, exist_ok=True)
AutoModelForSeq2SeqLM.register(Seq2SeqGRUAttentionConfig, Seq2SeqGRUAttention, exist_ok=True)
Seq2SeqGRUAttentionConfig.register_for_auto_class()
Seq2SeqGRUAttention.register_for_auto_class("AutoModelForSeq2SeqLM")


__all__ = [
    "CharRNNConfig",
    "CharRNNForCausalLM",
    "CharRNNPreTrainedModel",
    "FreezeEmbeddingsCallback",
    "GRUConfig",
    "GRUForSequenceClassification",
    "GRUPreTrainedModel",
    "RnnTranslationPipeline",
    "Seq2SeqGRUAttention",
    "Seq2SeqGRUAttentionConfig",
    "Seq2SeqGRUAttentionPreTrainedModel",
    "__version__",
]
