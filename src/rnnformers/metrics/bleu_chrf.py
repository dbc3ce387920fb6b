"""Corpus BLEU and chrF from sacrebleu, as an `evaluate` metric module loaded by path (no Hub download).

`evaluate.load("sacrebleu")` fetches its script from the Hub, which offline machines cannot reach, so rnnformers keeps
this small module in the package and loads it with `evaluate.load(<path of this file>)` (see
`rnnformers.metrics.load_metric("bleu_chrf")`). The scores are sacrebleu's own `corpus_bleu` and `corpus_chrf` with
their defaults (BLEU: 13a tokenisation, exponential smoothing; chrF: character 6-grams, β = 2), on detokenised text.
"""

import datasets
import evaluate
import sacrebleu


_DESCRIPTION = """
BLEU (Papineni et al., 2002): the geometric mean of the 1- to 4-gram precisions of the translations against their
references, times a brevity penalty, in [0, 100]. chrF (Popović, 2015): the F-score (β = 2) of character n-grams, in
[0, 100]. Both are corpus-level: n-gram counts are summed over all sentences before the scores are taken.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): detokenised translations.
    references (`list[list[str]]`): for each translation, one or more detokenised reference translations (any number
        per sentence; sentences with fewer references are padded as sacrebleu requires).

Returns:
    `{"bleu": float, "chrf": float, "bleu_brevity_penalty": float, "bleu_signature": str, "chrf_signature": str}`

Example:
    >>> metric = rnnformers.metrics.load_metric("bleu_chrf")
    >>> metric.compute(predictions=["Me gusta el fútbol."], references=[["Me gusta el fútbol."]])["bleu"]
    100.00000000000004
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class BleuChrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references):
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists.")
        if any(len(refs) == 0 for refs in references):
            raise ValueError("every prediction needs at least one reference.")
        # sacrebleu wants one stream per reference "slot": stream k holds every sentence's k-th reference; a sentence
        # with fewer references gets None there, which sacrebleu skips.
        num_slots = max(len(refs) for refs in references)
        streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(num_slots)]
        bleu = sacrebleu.metrics.BLEU()
        chrf = sacrebleu.metrics.CHRF()
        bleu_score = bleu.corpus_score(predictions, streams)
        chrf_score = chrf.corpus_score(predictions, streams)
        return {
            "bleu": bleu_score.score,
            "chrf": chrf_score.score,
            "bleu_brevity_penalty": bleu_score.bp,
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature()),
        }
