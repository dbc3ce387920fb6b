"""Accuracy and F1 for classification, as an `evaluate` metric module loaded by path (no Hub download).

`evaluate.load("accuracy")` fetches its script from the Hub, which offline machines cannot reach, so rnnformers keeps
this small module in the package and loads it with `evaluate.load(<path of this file>)` (see
`rnnformers.metrics.load_metric`). It is written from the definitions, with numpy only.
"""

import datasets
import evaluate
import numpy as np


_DESCRIPTION = """
Accuracy: the fraction of predictions equal to their reference.
F1: the harmonic mean of precision and recall. With `average="binary"` (the default) it is the F1 of the class
`pos_label`; with `average="macro"` the unweighted mean of every class's F1; with `average="micro"` it equals accuracy
for single-label classification.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): predicted class ids.
    references (`list[int]`): true class ids.
    average (`str`, *optional*): `"binary"`, `"macro"` or `"micro"` for the F1 score; defaults to the module's
        configuration name when it is one of those (`load_metric("accuracy_f1", config_name="macro")`, handy where
        the caller cannot pass arguments, as in `evaluate.evaluator`), else `"binary"`.
    pos_label (`int`, defaults to 1): the positive class of a binary F1.

Returns:
    `{"accuracy": float, "f1": float}`

Example:
    >>> metric = rnnformers.metrics.load_metric("accuracy_f1")
    >>> metric.compute(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1])
    {'accuracy': 0.75, 'f1': 0.8}
"""


AVERAGES = ("binary", "macro", "micro")


def _f1(predictions: np.ndarray, references: np.ndarray, label: int) -> float:
    true_positives = np.sum((predictions == label) & (references == label))
    predicted, actual = np.sum(predictions == label), np.sum(references == label)
    # F1 = 2TP / (predicted positives + actual positives); 0 when the class is neither predicted nor present.
    return float(2 * true_positives / (predicted + actual)) if predicted + actual else 0.0


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AccuracyF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, average: str | None = None, pos_label: int = 1):
        if average is None:
            average = self.config_name if self.config_name in AVERAGES else "binary"
        predictions, references = np.asarray(predictions), np.asarray(references)
        accuracy = float(np.mean(predictions == references)) if len(references) else 0.0
        if average == "binary":
            f1 = _f1(predictions, references, pos_label)
        elif average == "macro":
            labels = np.union1d(predictions, references)
            f1 = float(np.mean([_f1(predictions, references, label) for label in labels])) if len(labels) else 0.0
        elif average == "micro":
            f1 = accuracy
        else:
            raise ValueError(f"average must be 'binary', 'macro' or 'micro', got {average!r}.")
        return {"accuracy": accuracy, "f1": f1}
