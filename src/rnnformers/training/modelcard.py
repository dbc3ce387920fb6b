"""Model cards (README.md with YAML metadata) for the folders the training scripts save."""

from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData


TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

This is an [rnnformers](https://github.com/rnnformers/rnnformers) model: its code is stored next to its weights, so it
loads with plain transformers and `trust_remote_code=True`, with or without `pip install rnnformers`.

## Usage

```python
{{ usage }}
```

## Evaluation

| metric | value | data |
|---|---|---|
{% for row in results -%}
| {{ row.name }} | {{ row.value }} | {{ row.data }} |
{% endfor %}

## Training

{{ training }}
"""


@dataclass
class CardMetric:
    """One measured figure for the card: shown in its table and stored as a model-index result in the metadata."""

    metric_type: str  # e.g. "perplexity", "accuracy", "bleu"
    value: float
    dataset_type: str  # Hub id or a short name, e.g. "tiny_shakespeare"
    dataset_name: str
    split: str  # which data the figure comes from, e.g. "validation (last 5% of the text)"
    name: str | None = None  # display name

    def row(self) -> dict:
        value = f"{self.value:.4f}" if isinstance(self.value, float) else str(self.value)
        return {"name": self.name or self.metric_type, "value": value, "data": f"{self.dataset_name}, {self.split}"}


@dataclass
class CardInfo:
    model_name: str
    description: str
    usage: str
    training: str
    task_type: str  # Hub task id: "text-generation", "text-classification", "translation"
    tags: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    metrics: list[CardMetric] = field(default_factory=list)
    language: list[str] | None = None
    license: str = "apache-2.0"


def write_model_card(output_dir: str | Path, info: CardInfo) -> ModelCard:
    """Writes `output_dir/README.md` and returns the card."""
    eval_results = [
        EvalResult(
            task_type=info.task_type,
            dataset_type=m.dataset_type,
            dataset_name=m.dataset_name,
            dataset_split=m.split,
            metric_type=m.metric_type,
            metric_name=m.name or m.metric_type,
            metric_value=m.value,
        )
        for m in info.metrics
    ]
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=info.task_type,
        tags=["rnnformers", "custom_code", *info.tags],
        datasets=info.datasets or None,
        language=info.language,
        license=info.license,
        model_name=info.model_name,
        eval_results=eval_results or None,
    )
    card = ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        model_name=info.model_name,
        description=info.description,
        usage=info.usage.strip(),
        training=info.training,
        results=[m.row() for m in info.metrics],
    )
    card.save(Path(output_dir) / "README.md")
    return card


def not_trained_text(script: str, model_name_or_path: str) -> str:
    """The card's "Training" section for a run that only scored a saved model: it states no hyperparameters."""
    return (
        f"Not trained by this run: `{script}` scored the saved model `{model_name_or_path}`. How that model was "
        "trained is recorded with it (its own card and `trainer_state.json`)."
    )


__all__ = ["CardInfo", "CardMetric", "not_trained_text", "write_model_card"]
