"""The linear probe: cross-validation logic on synthetic features, and end to end on real recordings."""

import re
from pathlib import Path

import numpy as np
import pytest
from _helpers_downstream import RECORDINGS, make_esc50_folder, run_script
from conftest import REPO_ROOT

from hf_soundnet.downstream.linear_probe import clip_scores, cross_validate, make_folds


PROBE = str(REPO_ROOT / "examples" / "linear_probe.py")
FOLD_LINE = re.compile(r"^fold (\d+): accuracy ([0-9.]+) \((\d+) clips\)$", re.MULTILINE)
MEAN_LINE = re.compile(r"^mean accuracy: ([0-9.]+)", re.MULTILINE)


def synthetic_clips(num_clips: int, num_classes: int, separable: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(num_clips) % num_classes
    centres = rng.normal(size=(num_classes, 16)) * (3.0 if separable else 0.0)
    features = [centres[label] + rng.normal(size=(int(rng.integers(3, 8)), 16)) for label in labels]
    return features, labels


def test_cross_validate_separable_and_random_labels():
    features, labels = synthetic_clips(60, 3, separable=True)
    folds = make_folds(labels, None, num_folds=5)
    accuracy, size = cross_validate(features, labels, folds, C=0.01)
    assert sorted(accuracy) == [1, 2, 3, 4, 5] and sum(size.values()) == 60
    assert np.mean(list(accuracy.values())) > 0.95
    # Pure noise: the probe must not do better than chance (1/3) by more than sampling noise.
    features, labels = synthetic_clips(300, 3, separable=False)
    accuracy, _ = cross_validate(features, labels, make_folds(labels, None, 5), C=0.01)
    assert np.mean(list(accuracy.values())) < 0.45


def test_failed_clips_are_left_out_and_given_folds_kept():
    features, labels = synthetic_clips(20, 2, separable=True)
    features[3] = None
    folds = np.arange(20) % 4 + 1
    assert (make_folds(labels, folds, None) == folds).all()
    accuracy, size = cross_validate(features, labels, folds)
    assert sum(size.values()) == 19


def test_clip_scores_average_segment_scores():
    from sklearn.svm import LinearSVC

    features, labels = synthetic_clips(30, 2, separable=True)
    x = np.concatenate(features)
    y = np.concatenate([np.full(len(f), label) for f, label in zip(features, labels)])
    svm = LinearSVC(C=0.01).fit(x, y)
    segments = features[0]
    # Independent: the mean over segments of w.x + b, for a two-class SVM.
    expected = (segments @ svm.coef_[0] + svm.intercept_[0]).mean()
    np.testing.assert_allclose(clip_scores(svm, segments), [-expected, expected], rtol=1e-6)


@pytest.fixture(scope="module")
def esc50_folder(tmp_path_factory) -> Path:
    from conftest import shared_dir

    audio = shared_dir() / "audio"
    if not audio.is_dir():
        pytest.skip(f"real recordings not found at {audio}")
    return make_esc50_folder(tmp_path_factory.mktemp("esc50"), audio)


def parse_probe_output(stdout: str) -> tuple[dict[int, float], float]:
    folds = {int(fold): float(value) for fold, value, _ in FOLD_LINE.findall(stdout)}
    (mean,) = MEAN_LINE.findall(stdout)
    return folds, float(mean)


@pytest.mark.slow
def test_probe_on_esc50_folder(esc50_folder, released_checkpoint):
    result = run_script(
        [
            PROBE,
            "--data",
            str(esc50_folder),
            "--model",
            str(released_checkpoint),
            "--layer",
            "pool5",
            "--num_workers",
            "1",
        ]
    )
    assert result.returncode == 0, result.stderr
    folds, mean = parse_probe_output(result.stdout)
    assert sorted(folds) == [1, 2, 3, 4, 5]
    assert mean == pytest.approx(np.mean(list(folds.values())), abs=1e-4)
    assert mean > 0.8  # chance is 1/3


@pytest.mark.slow
def test_probe_on_dataset_with_audio_column_and_corrupt_record(esc50_folder, released_checkpoint, tmp_path):
    from datasets import Audio, ClassLabel, Dataset, Features

    files = sorted((esc50_folder / "audio").iterdir())
    records = [
        {"audio": {"bytes": f.read_bytes(), "path": f.name}, "label": int(f.stem.split("-")[-1])} for f in files
    ]
    records.append({"audio": {"bytes": b"RIFF\x00garbage" * 50, "path": "broken.wav"}, "label": 0})
    features = Features({"audio": Audio(decode=False), "label": ClassLabel(names=[Path(r).stem for r in RECORDINGS])})
    data_dir = tmp_path / "my_dataset" / "data"
    data_dir.mkdir(parents=True)
    Dataset.from_list(records, features=features).to_parquet(str(data_dir / "train-00000-of-00001.parquet"))
    # No fold column: three stratified folds; loaded through datasets.load_dataset like a Hub id.
    result = run_script(
        [
            PROBE,
            "--data",
            str(tmp_path / "my_dataset"),
            "--model",
            str(released_checkpoint),
            "--layer",
            "conv6",
            "--num_folds",
            "3",
            "--num_workers",
            "0",
        ]
    )
    assert result.returncode == 1, result.stderr  # done, but one clip was skipped
    assert "31 clips, 1 skipped" in result.stdout and "broken.wav" in result.stderr
    folds, mean = parse_probe_output(result.stdout)
    assert sorted(folds) == [1, 2, 3] and mean > 0.8
