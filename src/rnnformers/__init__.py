"""rnnformers: classic recurrent NLP models as first-class Hugging Face models.

Importing the package registers every model with the `Auto*` classes, and marks each class for `save_pretrained` to
copy its code next to the weights, so a saved folder loads with `trust_remote_code=True` where rnnformers is absent.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .models.char_rnn import (
    CharRNNConfig,
    CharRNNForCausalLM,
    CharRNNModel,
    CharRNNPreTrainedModel,
    RecurrentStateCache,
)
from .models.gru import (
    GRUConfig,
    GRUForCausalLM,
    GRUForSequenceClassification,
    GRUForTokenClassification,
    GRUModel,
    GRUPreTrainedModel,
)
from .models.rnn_tagger import (
    RNNTaggerConfig,
    RNNTaggerForTokenClassification,
    RNNTaggerModel,
    RNNTaggerPreTrainedModel,
)
from .models.seq2seq_gru_attention import (
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionEnsemble,
    Seq2SeqGRUAttentionEnsembleConfig,
    Seq2SeqGRUAttentionModel,
    Seq2SeqGRUAttentionPreTrainedModel,
)
from .pipelines import RnnTranslationPipeline  # registers the "rnn-translation" pipeline task
from .training.callbacks import FreezeEmbeddingsCallback


__version__ = "0.1.0"

for config_class, model_class, auto_model_class in (
    (CharRNNConfig, CharRNNModel, AutoModel),
    (CharRNNConfig, CharRNNForCausalLM, AutoModelForCausalLM),
    (GRUConfig, GRUModel, AutoModel),
    (GRUConfig, GRUForSequenceClassification, AutoModelForSequenceClassification),
    (GRUConfig, GRUForTokenClassification, AutoModelForTokenClassification),
    (GRUConfig, GRUForCausalLM, AutoModelForCausalLM),
    (Seq2SeqGRUAttentionConfig, Seq2SeqGRUAttentionModel, AutoModel),
    (Seq2SeqGRUAttentionConfig, Seq2SeqGRUAttention, AutoModelForSeq2SeqLM),
    (Seq2SeqGRUAttentionEnsembleConfig, Seq2SeqGRUAttentionEnsemble, AutoModelForSeq2SeqLM),
    (RNNTaggerConfig, RNNTaggerModel, AutoModel),
    (RNNTaggerConfig, RNNTaggerForTokenClassification, AutoModelForTokenClassification),
):
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    auto_model_class.register(config_class, model_class, exist_ok=True)
    # save_pretrained then writes an `auto_map` and copies the class's file (and its relative imports).
    config_class.register_for_auto_class()
    model_class.register_for_auto_class(auto_model_class.__name__)


__all__ = [
    "CharRNNConfig",
    "CharRNNForCausalLM",
    "CharRNNModel",
    "CharRNNPreTrainedModel",
    "FreezeEmbeddingsCallback",
    "GRUConfig",
    "GRUForCausalLM",
    "GRUForSequenceClassification",
    "GRUForTokenClassification",
    "GRUModel",
    "GRUPreTrainedModel",
    "RNNTaggerConfig",
    "RNNTaggerForTokenClassification",
    "RNNTaggerModel",
    "RNNTaggerPreTrainedModel",
    "RecurrentStateCache",
    "RnnTranslationPipeline",
    "Seq2SeqGRUAttention",
    "Seq2SeqGRUAttentionConfig",
    "Seq2SeqGRUAttentionEnsemble",
    "Seq2SeqGRUAttentionEnsembleConfig",
    "Seq2SeqGRUAttentionModel",
    "Seq2SeqGRUAttentionPreTrainedModel",
    "__version__",
]
