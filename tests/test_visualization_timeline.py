"""Timeline plots: the heat strips hold the heads' per-step probabilities (checked against an independent forward),
placed in time by the layer table; `soundnet classify --plot` writes one PNG per file and survives bad files."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_visualization import cut_clip_folder, save_tiny_checkpoint, units_config

from hf_soundnet import SoundNetFeatureExtractor, SoundNetForPreTraining, load_audio
from hf_soundnet.cli import main
from hf_soundnet.inference.classify import classify_files


pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), units_config())


@pytest.fixture(scope="module")
def clips(tmp_path_factory, audio_dir) -> list[Path]:
    return cut_clip_folder(tmp_path_factory.mktemp("clips"), audio_dir)


def independent_step_probabilities(checkpoint: Path, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-step softmax of both heads from `SoundNetForPreTraining`'s eager forward on the extractor's input."""
    model = SoundNetForPreTraining.from_pretrained(checkpoint).eval()
    extractor = SoundNetFeatureExtractor.from_pretrained(checkpoint)
    inputs = extractor(load_audio(path, 22050)[0], sampling_rate=22050, return_tensors="pt")
    with torch.no_grad(), model.forward_implementation("eager"):
        output = model(inputs["input_values"])
    return output.object_logits[0].softmax(-1).numpy(), output.scene_logits[0].softmax(-1).numpy()


def strip(figure, name: str) -> tuple[np.ndarray, list[str], tuple]:
    """The heat strip of axes `name`: its image data, its row labels and its extent."""
    (axes,) = [a for a in figure.axes if a.get_label() == name]
    (image,) = axes.images
    return np.asarray(image.get_array()), [t.get_text() for t in axes.get_yticklabels()], image.get_extent()


@pytest.mark.numeric
def test_plot_file_timeline_strips_are_the_heads_probabilities_placed_by_the_layer_table(checkpoint, clips):
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from hf_soundnet.visualization import plot_file_timeline

    path = clips[1]
    model = AutoModelForAudioClassification.from_pretrained(checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(checkpoint)
    figure = plot_file_timeline(path, model, extractor, classes_per_head=3)

    expected = dict(zip(("objects", "scenes"), independent_step_probabilities(checkpoint, path)))
    names = {
        "objects": [f"o{i}" for i in range(5)],
        "scenes": [f"s{i}" for i in range(3)],
    }
    config = model.config
    hop, offset, field = 4096, config.layer_table[-1].offset, config.layer_table[-1].receptive_field
    assert (hop, field) == (config.layer_table[-1].hop, 9948)  # the units_config geometry
    for head in ("objects", "scenes"):
        data, labels, extent = strip(figure, head)
        steps = expected[head].shape[0]
        assert data.shape == (3, steps)
        rows = [names[head].index(label) for label in labels]
        np.testing.assert_allclose(data, expected[head][:, rows].T, atol=1e-5)
        # the rows are the classes that win a step, then the most probable on average
        winners = set(expected[head].argmax(1).tolist())
        assert winners <= set(rows) or set(rows) <= winners
        # column t is one hop wide, centred on the middle of step t's receptive field
        centre0 = (offset + field / 2) / 22050
        left, right, bottom, top = extent
        assert left == pytest.approx(centre0 - hop / 2 / 22050)
        assert right == pytest.approx(centre0 + (steps - 1) * hop / 22050 + hop / 2 / 22050)
        assert (bottom, top) == (2.5, -0.5)
    (audio,) = [a for a in figure.axes if a.get_label() == "audio"]
    duration = load_audio(path, 22050).shape[-1] / 22050
    assert audio.get_xlim()[0] <= 0 and audio.get_xlim()[1] >= duration
    assert audio.collections and not audio.images  # the waveform's envelope
    figure = plot_file_timeline(path, model, extractor, spectrogram=True)
    (audio,) = [a for a in figure.axes if a.get_label() == "audio"]
    (image,) = audio.images  # the spectrogram, over the file's duration
    assert image.get_extent()[1] == pytest.approx(duration, abs=0.05)


@pytest.mark.numeric
def test_classify_files_with_arrays_gives_the_probabilities_of_its_own_records(checkpoint, clips):
    from transformers import AutoModelForAudioClassification

    model = AutoModelForAudioClassification.from_pretrained(checkpoint).eval()
    extractor = SoundNetFeatureExtractor.from_pretrained(checkpoint)
    records = {r["path"]: r for r in classify_files(model, extractor, clips[:2], num_workers=0, with_arrays=True)}
    for path in clips[:2]:
        record = records[str(path)]
        objects, scenes = record["step_probabilities"]
        expected_objects, expected_scenes = independent_step_probabilities(checkpoint, path)
        np.testing.assert_allclose(objects, expected_objects, atol=1e-5)
        np.testing.assert_allclose(scenes, expected_scenes, atol=1e-5)
        assert [step["object"]["label"] for step in record["timeline"]] == [f"o{i}" for i in objects.argmax(1)]
        np.testing.assert_allclose(record["waveform"], load_audio(path, 22050, channel_mode="first")[0], atol=1e-6)


def test_classify_plot_writes_one_png_per_file_and_reports_a_bad_one(checkpoint, clips, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    # Same stem, other suffix, and the same name in a subfolder: three pictures that must not overwrite each other.
    for source, name in ((clips[0], "a.wav"), (clips[2], "a.mp3"), (clips[1], "sub/a.wav")):
        (folder / name).write_bytes(source.read_bytes())
    (folder / "bad.wav").write_bytes(b"RIFF not really a wave file")
    plots, output = tmp_path / "plots", tmp_path / "out.jsonl"
    status = main(
        ["classify", str(folder), "--model", str(checkpoint), "--plot", str(plots), "--output-file", str(output)]
        + ["--num-workers", "0", "--quiet"]
    )
    assert status == 1
    assert "bad.wav" in capsys.readouterr().err
    written = sorted(p.relative_to(plots).as_posix() for p in plots.rglob("*") if p.is_file())
    assert written == ["a.mp3.png", "a.wav.png", "sub/a.wav.png"]
    for name in written:
        with Image.open(plots / name) as image:
            assert image.format == "PNG" and image.size[0] >= 800
    records = [json.loads(line) for line in output.read_text().splitlines()]  # JSON-ready: no arrays left
    assert len(records) == 4 and sum("error" in r for r in records) == 1
    assert all("waveform" not in r and "step_probabilities" not in r for r in records)


def test_classify_plot_without_matplotlib_is_a_usage_error(checkpoint, clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError, as if not installed
    status = main(["classify", str(clips[0]), "--model", str(checkpoint), "--plot", str(tmp_path / "plots")])
    assert status == 2
    error = capsys.readouterr().err
    assert "--plot" in error and "matplotlib" in error and "hf-soundnet[viz]" in error
    assert not (tmp_path / "plots").exists()
