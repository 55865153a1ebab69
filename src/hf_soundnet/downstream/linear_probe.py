"""The paper's linear-probe evaluation (SoundNet, section 4.1): a linear SVM on the features of one layer.

Following the paper, each clip is cut into segments, the SVM is trained on every segment as an example carrying
its clip's label, and at test time a clip's class scores are the mean of its segments' SVM scores. Here a segment is
one frame of the chosen layer (pool5 of SoundNet-8: a frame every 8,192 samples, 0.37 s, with a receptive field of a
few seconds), so the segments come from one forward pass per clip. Accuracy is cross-validated over the dataset's
folds (ESC-50: 5 folds), training on all other folds each time.

scikit-learn is imported here only (the `train` extra), never by `import hf_soundnet`.
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..audio.batches import AudioFileDataset, make_loader
from ..inference.engine import run_batches
from ..inference.features import clip_layer_features, resolve_layer


def extract_segments(
    model: torch.nn.Module,
    feature_extractor,
    sources: Sequence,
    layer: str,
    names: Sequence[str] | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    progress: Callable | None = None,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """
    Segment features of every clip through the batched engine.

    Returns:
        per clip, `np.ndarray` of shape `(segments, channels)` (None for a clip that failed), and the failures as
        `(name, error)` pairs.
    """
    spec = resolve_layer(model, layer)
    dataset = AudioFileDataset(sources, feature_extractor, names=names)
    features: list[np.ndarray | None] = [None] * len(dataset)
    skipped = []
    for batch, output in run_batches(model, make_loader(dataset, batch_size, num_workers), num_blocks=spec.num_blocks):
        skipped += [(item.name, item.error) for item in batch.failures]
        if output is not None:
            for item, array in zip(batch.items, clip_layer_features(output, spec)):
                features[item.index] = array.T
        if progress is not None:
            progress(len(batch.items) + len(batch.failures))
    return features, skipped


def make_folds(labels: np.ndarray, folds: np.ndarray | None, num_folds: int | None, seed: int = 0) -> np.ndarray:
    """The given folds, or `num_folds` stratified folds (numbered 1..K) when the set has none."""
    if folds is not None and num_folds is None:
        return np.asarray(folds)
    from sklearn.model_selection import StratifiedKFold

    assigned = np.zeros(len(labels), dtype=int)
    splitter = StratifiedKFold(n_splits=num_folds or 5, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels), start=1):
        assigned[test] = fold
    return assigned


def clip_scores(svm, segments: np.ndarray) -> np.ndarray:
    """Mean over segments `(segments, channels)` of the SVM's class scores, `(num_classes,)` in `svm.classes_` order."""
    scores = svm.decision_function(segments)
    if scores.ndim == 1:  # two classes: one score, positive for classes_[1]
        scores = np.stack([-scores, scores], axis=1)
    return scores.mean(axis=0)


def cross_validate(
    features: list[np.ndarray | None],
    labels: np.ndarray,
    folds: np.ndarray,
    C: float = 0.01,
    standardize: bool = False,
    seed: int = 0,
) -> tuple[dict[int, float], dict[int, int]]:
    """
    Trains a `LinearSVC(C=C)` on the segments of all folds but one and scores the held-out clips, for every fold.
    Clips whose features are None are left out.

    Returns:
        fold id -> accuracy of the held-out clips, and fold id -> number of held-out clips.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    valid = np.array([f is not None for f in features])
    accuracy, size = {}, {}
    for fold in sorted(set(folds[valid].tolist())):
        train = np.flatnonzero(valid & (folds != fold))
        test = np.flatnonzero(valid & (folds == fold))
        x = np.concatenate([features[i] for i in train])
        y = np.concatenate([np.full(len(features[i]), labels[i]) for i in train])
        scale = StandardScaler().fit(x).transform if standardize else (lambda v: v)
        svm = LinearSVC(C=C, random_state=seed, max_iter=10_000).fit(scale(x), y)
        predicted = [svm.classes_[np.argmax(clip_scores(svm, scale(features[i])))] for i in test]
        accuracy[int(fold)] = float(np.mean(np.array(predicted) == labels[test]))
        size[int(fold)] = len(test)
    return accuracy, size


__all__ = ["clip_scores", "cross_validate", "extract_segments", "make_folds"]
