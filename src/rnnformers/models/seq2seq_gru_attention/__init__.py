from .configuration_seq2seq_gru_attention import Seq2SeqGRUAttentionConfig, Seq2SeqGRUAttentionEnsembleConfig
from .modeling_seq2seq_gru_attention import (
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionDecoder,
    Seq2SeqGRUAttentionEncoder,
    Seq2SeqGRUAttentionEncoderOutput,
    Seq2SeqGRUAttentionEnsemble,
    Seq2SeqGRUAttentionModel,
    Seq2SeqGRUAttentionPreTrainedModel,
)


__all__ = [
    "Seq2SeqGRUAttention",
    "Seq2SeqGRUAttentionConfig",
    "Seq2SeqGRUAttentionDecoder",
    "Seq2SeqGRUAttentionEncoder",
    "Seq2SeqGRUAttentionEncoderOutput",
    "Seq2SeqGRUAttentionEnsemble",
    "Seq2SeqGRUAttentionEnsembleConfig",
    "Seq2SeqGRUAttentionModel",
    "Seq2SeqGRUAttentionPreTrainedModel",
]
