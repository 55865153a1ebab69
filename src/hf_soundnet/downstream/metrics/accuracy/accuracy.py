"""Accuracy as a local `evaluate` module: `evaluate.load(hf_soundnet.downstream.metrics.module_path("accuracy"))`.

`evaluate.load("accuracy")` fetches the module from the Hub and fails offline; this copy ships in the package and
loads by path. It computes the fraction of predictions equal to their references (optionally weighted), as
evaluate's own `accuracy` module does, with NumPy instead of scikit-learn.
"""

import datasets
import evaluate
import numpy as np


_DESCRIPTION = (
    """Accuracy: the proportion of correct predictions, (TP + TN) / (TP + TN + FP + FN) in the binary case."""
)

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): predicted class ids.
    references (`list[int]`): true class ids.
    normalize (`bool`, defaults to `True`): return the fraction of correct predictions; if `False`, their number
        (or total weight).
    sample_weight (`list[float]`, *optional*): a weight per sample.
Returns:
    accuracy (`float`): in [0, 1] when `normalize`, else the (weighted) count of correct predictions.
Example:
    >>> metric = evaluate.load(hf_soundnet.downstream.metrics.module_path("accuracy"))
    >>> metric.compute(predictions=[0, 1, 2], references=[0, 1, 1])
    {'accuracy': 0.6666666666666666}
"""

_CITATION = ""


class Accuracy(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, normalize: bool = True, sample_weight=None) -> dict[str, float]:
        predictions, references = np.asarray(predictions), np.asarray(references)
        if predictions.shape != references.shape:
            raise ValueError(f"{predictions.shape[0]} predictions for {references.shape[0]} references.")
        weights = np.ones(len(predictions)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        correct = float(np.sum(weights * (predictions == references)))
        return {"accuracy": correct / float(np.sum(weights)) if normalize else correct}
