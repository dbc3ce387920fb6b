"""Pipelines that transformers 5 no longer has, registered under rnnformers' own task names on import."""

from transformers import AutoModelForSeq2SeqLM
from transformers.pipelines import PIPELINE_REGISTRY

from .translation import RnnTranslationPipeline


PIPELINE_REGISTRY.register_pipeline(
    "rnn-translation", pipeline_class=RnnTranslationPipeline, pt_model=AutoModelForSeq2SeqLM, type="text"
)


__all__ = ["RnnTranslationPipeline"]
