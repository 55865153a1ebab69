"""`soundnet units`: the gallery's top segments equal a brute-force ranking of every frame of every whole file
(the eager model's forward_intermediates), its clips are the receptive fields cut from the files, and its page plays
them in a real headless browser; the conv1 filters picture holds the checkpoint's weights."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from _helpers_visualization import EDGE_OVERRIDES, cut_clip_folder, save_tiny_checkpoint, units_config

from hf_soundnet import SoundNetForAudioClassification, load_audio
from hf_soundnet.cli import main


RATE = 22050


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), units_config(), seed=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, audio_dir) -> Path:
    root = tmp_path_factory.mktemp("units")
    cut_clip_folder(root, audio_dir)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00 this is no audio")
    return root


def brute_force(
    checkpoint: Path,
    files: list[str],
    layer_name: str,
    units: list[int],
    top_k: int,
    per_file: int,
    edge_frames: bool = False,
) -> tuple[dict, dict]:
    """
    The definition, computed the slow way: each whole file through the eager model once, every frame of the layer
    scored, frames whose field leaves the file dropped (unless `edge_frames`), at most `per_file` best of each file,
    then the `top_k` best over files (ties: earlier file, earlier frame).

    Returns:
        `({unit: [(file_index, frame, score), ...]}, {(file_index, frame): score per unit})`.
    """
    model = SoundNetForAudioClassification.from_pretrained(checkpoint).eval()
    layer = model.config.get_layer(layer_name)
    candidates = {unit: [] for unit in units}
    activations = {}
    for file_index, path in enumerate(files):
        waveform = load_audio(path, RATE, channel_mode="first")[0] * 256
        with torch.no_grad(), model.forward_implementation("eager"):
            output = model.forward_intermediates(torch.from_numpy(waveform)[None])
        values = output.hidden_states[layer.index][0].numpy()
        activations[file_index] = values
        starts = np.arange(values.shape[1]) * layer.hop + layer.offset
        whole = (starts >= 0) & (starts + layer.receptive_field <= waveform.shape[0])
        frames = np.arange(values.shape[1]) if edge_frames else np.flatnonzero(whole)
        for unit in units:
            ranked = sorted((-float(values[unit, f]), int(f)) for f in frames)
            ranked = ranked[:per_file] if per_file else ranked
            candidates[unit] += [(score, file_index, frame) for score, frame in ranked]
    best = {unit: [(f, t, -s) for s, f, t in sorted(c)[:top_k]] for unit, c in candidates.items()}
    return best, activations


class SegmentItems(HTMLParser):
    """The `li.segment` elements of the gallery page: their data attributes and their audio's src."""

    def __init__(self):
        super().__init__()
        self.items = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and attrs.get("class") == "segment":
            self.items.append({**attrs, "src": None})
        elif tag == "audio" and self.items:
            self.items[-1]["src"] = attrs["src"]


def read_gallery(output: Path) -> tuple[dict, list[dict]]:
    parser = SegmentItems()
    parser.feed((output / "index.html").read_text(encoding="utf-8"))
    return json.loads((output / "units.json").read_text()), parser.items


def ffprobe_duration(path: Path) -> float:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


def assert_equal_up_to_ties(segments: list[dict], expected: list[tuple], activations: dict, unit: int) -> None:
    """The gallery's segments are the brute force's, except where two scores tie within float tolerance."""
    scale = max(1e-3, max(abs(float(v[unit].max())) for v in activations.values()))
    tolerance = 1e-4 * scale
    assert len(segments) == len(expected), (unit, segments, expected)
    for segment, (file_index, frame, score) in zip(segments, expected):
        actual = float(activations[segment["file_index"]][unit, segment["frame"]])
        assert segment["score"] == pytest.approx(actual, abs=tolerance)
        assert segment["score"] == pytest.approx(score, abs=tolerance)
        if (segment["file_index"], segment["frame"]) != (file_index, frame):
            assert abs(actual - score) <= tolerance, (unit, segment, (file_index, frame, score))


@pytest.mark.numeric
@pytest.mark.parametrize(
    ("layer", "units", "top_k", "per_file", "edge_frames"),
    [("conv3", "0-3,6", 4, 2, False), ("conv2", None, 5, 0, False), ("pool1", "1,3", 3, 1, True)],
)
def test_gallery_equals_brute_force_over_every_frame(
    checkpoint, folder, tmp_path, layer, units, top_k, per_file, edge_frames, capsys
):
    output = tmp_path / "gallery"
    args = ["units", str(folder), "--model", str(checkpoint), "--layer", layer, "--top-k", str(top_k)]
    args += ["--per-file", str(per_file), "--output-dir", str(output), "--clip-format", "wav", "--use-cpu"]
    args += ["--chunk-seconds", "0.5"]  # several streamed chunks per file, so that chunk edges are crossed
    args += (["--units", units] if units else []) + (["--edge-frames"] if edge_frames else [])
    status = main(args)
    assert status == 1  # broken.wav
    assert "broken.wav" in capsys.readouterr().err

    summary, items = read_gallery(output)
    good = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "broken.wav")
    assert sorted(summary["files"]) == sorted(str(p) for p in good)
    assert len(summary["failures"]) == 1 and "broken.wav" in summary["failures"][0]
    config = units_config()
    wanted = (
        list(range(config.get_layer(layer).channels))
        if units is None
        else sorted({0, 1, 2, 3, 6} if units == "0-3,6" else {1, 3})
    )
    assert [int(unit) for unit in summary["units"]] == wanted

    expected, activations = brute_force(checkpoint, summary["files"], layer, wanted, top_k, per_file, edge_frames)
    for unit in wanted:
        segments = summary["units"][str(unit)]
        assert [s["rank"] for s in segments] == list(range(len(segments)))
        assert_equal_up_to_ties(segments, expected[unit], activations, unit)
        page = [item for item in items if int(item["data-unit"]) == unit]  # the page shows the same segments
        assert [(int(i["data-file-index"]), int(i["data-frame"])) for i in page] == [
            (s["file_index"], s["frame"]) for s in segments
        ]
        assert [float(i["data-score"]) for i in page] == [s["score"] for s in segments]
        assert all(i["src"] == f"clips/{s['clip']}" for i, s in zip(page, segments))


@pytest.mark.numeric
# (layer, seed of the random weights): seeds with which, on this data, some unit's best frame reads the padding past
# the file's end (and for conv2 also one past its start, with a positive score: not a tie of silent units).
@pytest.mark.parametrize(("layer", "seed", "left_edge_wins"), [("conv2", 5, True), ("conv3", 1, False)])
def test_frames_that_read_the_padding_are_left_out_exactly(folder, tmp_path, layer, seed, left_edge_wins):
    """Quiet noise with loud bursts at both ends: frames whose field reaches past the file's start or end are the
    best of several units (checked below, so this data exercises the rule at both edges); the gallery must still
    equal the brute force over whole fields only, one segment per file."""
    checkpoint = save_tiny_checkpoint(tmp_path / "model", units_config(**EDGE_OVERRIDES), seed=seed)
    rng = np.random.default_rng(0)
    waveform = 0.01 * rng.standard_normal(3 * RATE)
    waveform[: RATE // 20] *= 60
    waveform[-RATE // 20 :] *= 60
    edges = tmp_path / "edges"
    edges.mkdir()
    soundfile.write(edges / "bursts.wav", waveform.astype(np.float32), RATE, subtype="FLOAT")
    shutil.copy(folder / "rail_a.wav", edges / "rail_a.wav")
    output = tmp_path / "gallery"
    status = main(
        ["units", str(edges), "--model", str(checkpoint), "--layer", layer, "--top-k", "2", "--per-file", "1"]
        + ["--output-dir", str(output), "--clip-format", "wav", "--quiet", "--chunk-seconds", "0.5"]
    )
    assert status == 0
    summary, _ = read_gallery(output)
    config = units_config(**EDGE_OVERRIDES)
    spec = config.get_layer(layer)
    units = list(range(spec.channels))
    expected, activations = brute_force(checkpoint, summary["files"], layer, units, 2, 1)
    with_edges, _ = brute_force(checkpoint, summary["files"], layer, units, 2, 1, edge_frames=True)
    bursts = summary["files"].index(str(edges / "bursts.wav"))
    frames = activations[bursts].shape[1]
    winners = {(frame, score) for unit in units for index, frame, score in with_edges[unit] if index == bursts}
    right_edge = {f for f in range(frames) if f * spec.hop + spec.offset + spec.receptive_field > 3 * RATE}
    assert any(frame in right_edge for frame, _ in winners), (winners, right_edge)
    assert not left_edge_wins or any(frame == 0 and score > 0 for frame, score in winners), winners
    for unit in units:
        assert_equal_up_to_ties(summary["units"][str(unit)], expected[unit], activations, unit)


@pytest.mark.numeric
def test_clips_are_the_receptive_fields_cut_from_the_files(checkpoint, folder, tmp_path):
    output = tmp_path / "gallery"
    status = main(
        ["units", str(folder), "--model", str(checkpoint), "--layer", "conv3", "--top-k", "4", "--per-file", "1"]
        + ["--output-dir", str(output), "--clip-format", "wav", "--quiet", "--edge-frames"]
    )  # one segment of each of the 4 files per unit: the 22.05 kHz WAVs among them
    assert status == 1
    summary, _ = read_gallery(output)
    layer = units_config().get_layer("conv3")
    checked_content = 0
    for segments in summary["units"].values():
        for segment in segments:
            clip = output / "clips" / segment["clip"]
            assert clip.is_file()
            samples = load_audio(segment["path"], RATE).shape[-1]
            start = segment["frame"] * layer.hop + layer.offset  # the layer table, not the code under test
            first, last = max(0, start), min(samples, start + layer.receptive_field)
            assert segment["start_s"] == pytest.approx(first / RATE) and segment["end_s"] == pytest.approx(last / RATE)
            assert ffprobe_duration(clip) == pytest.approx((last - first) / RATE, abs=1e-3)
            source_info = soundfile.info(segment["path"]) if segment["path"].endswith(".wav") else None
            if source_info is not None and source_info.samplerate == RATE:  # same rate: the very samples
                source, _ = soundfile.read(segment["path"], dtype="int16")
                cut, _ = soundfile.read(clip, dtype="int16")
                assert abs(cut.shape[0] - (last - first)) <= 1
                np.testing.assert_array_equal(cut, source[first : first + cut.shape[0]])
                checked_content += 1
    assert checked_content > 0


def test_usage_errors_and_short_files(checkpoint, folder, tmp_path, capsys):
    base = ["units", str(folder), "--model", str(checkpoint), "--output-dir", str(tmp_path / "g")]
    assert main([*base, "--layer", "conv9"]) == 2
    assert "conv9" in capsys.readouterr().err
    assert main([*base, "--layer", "conv3", "--units", "0-8"]) == 2  # conv3 has 8 units: 0..7
    assert "0..7" in capsys.readouterr().err
    assert main([*base, "--top", "0"]) == 2
    assert not (tmp_path / "g").exists()
    # A file shorter than one conv8 field (0.45 s) is skipped and counted, not a failure.
    short = tmp_path / "short"
    short.mkdir()
    waveform = load_audio(folder / "rail_a.wav", RATE)[0]
    soundfile.write(short / "tiny.wav", waveform[: RATE // 10], RATE)
    soundfile.write(short / "long.wav", waveform, RATE)
    assert (
        main(
            ["units", str(short), "--model", str(checkpoint), "--layer", "conv8", "--output-dir", str(tmp_path / "s")]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "1 files shorter than one conv8 receptive field" in err and "tiny.wav" in err
    summary = json.loads((tmp_path / "s" / "units.json").read_text())
    assert summary["files"] == [str(short / "long.wav")] and len(summary["units"]) == 8
    assert len(summary["skipped"]) == 1 and "tiny.wav" in summary["skipped"][0]


@pytest.mark.slow
def test_gallery_plays_in_headless_chromium(checkpoint, folder, tmp_path):
    from _helpers_browser import open_page, save_screenshot

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found")
    output = tmp_path / "gallery"
    status = main(
        ["units", str(folder), "--model", str(checkpoint), "--layer", "conv8", "--units", "0-2", "--top-k", "2"]
        + ["--output-dir", str(output), "--quiet", "--filters"]  # Ogg Opus clips, as by default
    )
    assert status == 1
    summary, items = read_gallery(output)
    assert len(items) == 6 and all(item["src"] and item["src"].endswith(".ogg") for item in items)
    with open_page(timeout_s=60) as browser:
        browser.page.goto((output / "index.html").as_uri())
        browser.page.wait_for_function(
            "[...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)"
        )
        players = browser.page.evaluate(
            "[...document.querySelectorAll('audio')].map(a => ({src: a.getAttribute('src'), ready: a.readyState, "
            "duration: a.duration, error: a.error && a.error.code}))"
        )
        filters_width = browser.page.evaluate("document.querySelector('img').naturalWidth")
        print(save_screenshot(browser.page, "units_gallery"))
    assert browser.page_errors == [] and browser.blocked == []
    assert filters_width > 0  # conv1_filters.png decoded
    durations = {s["clip"]: s["end_s"] - s["start_s"] for segments in summary["units"].values() for s in segments}
    for player in players:
        assert player["error"] is None and player["ready"] >= 1, player
        assert player["duration"] == pytest.approx(durations[player["src"].removeprefix("clips/")], abs=0.03)


def test_conv1_filters_picture_holds_the_weights_by_peak_frequency(checkpoint):
    pytest.importorskip("matplotlib")
    from hf_soundnet.visualization import plot_conv1_filters

    model = SoundNetForAudioClassification.from_pretrained(checkpoint).eval()
    weight = model.soundnet.blocks[0].conv.weight.detach().numpy()[:, 0, :]
    figure = plot_conv1_filters(model)
    panels = {a.get_label(): a for a in figure.axes if a.get_label().startswith("filter ")}
    assert sorted(panels) == sorted(f"filter {c}" for c in range(weight.shape[0]))
    for channel in range(weight.shape[0]):
        (line,) = panels[f"filter {channel}"].get_lines()
        np.testing.assert_array_equal(line.get_ydata(), weight[channel])
    # panels in reading order go up in the frequency where each filter's response peaks
    spectrum_peaks = np.abs(np.fft.rfft(weight, 1024, axis=1)).argmax(1)
    order = [int(a.get_label().split()[1]) for a in figure.axes if a.get_label().startswith("filter ")]
    assert list(spectrum_peaks[order]) == sorted(spectrum_peaks)


def test_units_is_a_soundnet_command_in_the_dialect(monkeypatch, capsys):
    """Listed by `soundnet --help`, and held to the checks of every front door (tests/test_options.py)."""
    import test_options

    assert main(["--help"]) == 0
    assert "    units " in capsys.readouterr().out
    door = (test_options.soundnet("units"), ["x.wav", "--output-dir", "out"], ["output_dir", "use_cpu", "quiet"])
    monkeypatch.setitem(test_options.FRONT_DOORS, "soundnet units", door)
    test_options.test_front_door_speaks_the_dialect("soundnet units", capsys)
    args = test_options.build_parser().parse_args(["units", "x.wav", "--output-dir", "o", "--top", "3"])
    assert (args.top_k, args.layer, args.per_file, args.clip_format) == (3, "conv7", 1, "ogg")


@pytest.mark.slow
def test_released_heads_hear_railroad_and_forest_where_they_are(released_checkpoint, audio_dir, tmp_path):
    """With the real weights, the conv8 "units" of the scenes railroad_track and forest_path are most active in the
    recording of that place (the short 3 s file has no whole 14.5 s conv8 field and is skipped)."""
    import transformers

    labels = transformers.AutoConfig.from_pretrained(released_checkpoint).label2id
    railroad, forest = labels["scene: railroad_track"], labels["scene: forest_path"]
    output = tmp_path / "gallery"
    status = main(
        ["units", str(audio_dir), "--model", str(released_checkpoint), "--layer", "conv8", "--top-k", "2"]
        + ["--units", f"{railroad},{forest}", "--output-dir", str(output), "--quiet", "--clip-format", "wav"]
    )
    assert status == 0
    summary, _ = read_gallery(output)
    assert Path(summary["units"][str(railroad)][0]["path"]).name == "railroad.wav"
    assert Path(summary["units"][str(forest)][0]["path"]).name == "forest_track.mp3"
    assert all(Path(p).name != "short_stereo_48k.wav" for p in summary["files"])
