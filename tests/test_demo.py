"""The interactive demo (`soundnet demo`, spaces/soundnet8): what it computes for a recording equals the library's
`classify_files` run independently, bad input is a message naming the file, and in a real headless Chromium the
page takes an uploaded recording and shows `railroad_track` for the railroad recording."""

import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_browser import FAKE_MICROPHONE_ARGS, open_page, save_screenshot
from conftest import REPO_ROOT, released_style_tiny_config

from hf_soundnet import SoundNetFeatureExtractor, SoundNetForAudioClassification
from hf_soundnet.cli import main
from hf_soundnet.demo import TABLE_HEADERS, DemoModel, analyse
from hf_soundnet.demo.app import NO_AUDIO, build_demo, make_classifier
from hf_soundnet.demo.plot import timeline_figure
from hf_soundnet.inference.classify import classify_files


SPACE = REPO_ROOT / "spaces" / "soundnet8"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random model with released-style heads (5 objects + 3 scenes) and the default feature extractor."""
    torch.manual_seed(0)
    model = SoundNetForAudioClassification(released_style_tiny_config()).eval()
    for module in model.modules():  # non-trivial BN statistics so that every layer matters
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("tiny_demo")
    model.save_pretrained(path)
    SoundNetFeatureExtractor().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def stereo_clip(tmp_path_factory) -> Path:
    """4 s of 44.1 kHz stereo with different channels (the demo must read the first one, as classify does)."""
    import soundfile

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("demo_audio") / "stereo.wav"
    soundfile.write(path, rng.uniform(-0.5, 0.5, size=(4 * 44100, 2)).astype(np.float32), 44100)
    return path


def assert_same_record(record: dict, expected: dict, atol: float) -> None:
    """Same labels in the same order, probabilities within `atol`, the same timeline."""
    assert record["duration_s"] == pytest.approx(expected["duration_s"], abs=1e-6)
    for key in ("objects", "scenes"):
        assert [e["label"] for e in record[key]] == [e["label"] for e in expected[key]], key
        np.testing.assert_allclose(
            [e["probability"] for e in record[key]], [e["probability"] for e in expected[key]], atol=atol
        )
    assert len(record["timeline"]) == len(expected["timeline"])
    for step, other in zip(record["timeline"], expected["timeline"]):
        assert step["start_s"] == pytest.approx(other["start_s"])
        for head in ("object", "scene"):
            assert step[head]["label"] == other[head]["label"]
            assert step[head]["probability"] == pytest.approx(other[head]["probability"], abs=atol)


@pytest.mark.numeric
def test_analysis_equals_classify_files(tiny_checkpoint, stereo_clip):
    demo = DemoModel.load(tiny_checkpoint)
    [expected] = list(classify_files(demo.model, demo.feature_extractor, [stereo_clip], top_k=3, num_workers=0))
    analysis = analyse(demo, stereo_clip, top_k=3)
    assert analysis.record["path"] == "stereo.wav"
    assert_same_record(analysis.record, expected, atol=1e-5)
    # The plot gets the first channel at the model's rate, before short clips are repeated.
    assert analysis.sampling_rate == 22050 and analysis.waveform.shape == (4 * 22050,)
    assert analysis.object_steps.shape == (len(expected["timeline"]), 5)
    np.testing.assert_allclose(analysis.scene_steps.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.numeric
def test_analysis_equals_classify_files_with_the_released_weights(released_checkpoint, audio_dir):
    # Real recordings: 22.05 kHz mono, and 44.1 kHz stereo MP3 (first channel, resampled).
    demo = DemoModel.load(released_checkpoint)
    files = [audio_dir / "railroad.wav", audio_dir / "forest_track.mp3"]
    expected = {
        Path(r["path"]).name: r
        for r in classify_files(demo.model, demo.feature_extractor, files, top_k=5, batch_size=1, num_workers=0)
    }
    for path in files:
        assert_same_record(analyse(demo, path).record, expected[path.name], atol=1e-4)
    assert expected["railroad.wav"]["scenes"][0]["label"] == "railroad_track"


def test_page_outputs_are_the_record(tiny_checkpoint, stereo_clip):
    demo = DemoModel.load(tiny_checkpoint)
    record = analyse(demo, stereo_clip, top_k=2).record
    status, objects, scenes, figure, rows = make_classifier(demo, top_k=2)(str(stereo_clip))
    assert "stereo.wav" in status and record["scenes"][0]["label"] in status
    assert objects == {e["label"]: e["probability"] for e in record["objects"]} and len(objects) == 2
    assert scenes == {e["label"]: e["probability"] for e in record["scenes"]}
    assert len(rows) == len(record["timeline"]) and all(len(row) == len(TABLE_HEADERS) for row in rows)
    for row, step in zip(rows, record["timeline"]):
        assert row[2] == step["object"]["label"] and row[4] == step["scene"]["label"]
        assert row[1] - row[0] == pytest.approx(demo.step_seconds, abs=0.011)
    assert {axes.get_label() for axes in figure.axes} >= {"audio", "objects", "scenes"}


def test_timeline_strips_show_the_step_probabilities(tiny_checkpoint, stereo_clip):
    demo = DemoModel.load(tiny_checkpoint)
    analysis = analyse(demo, stereo_clip)
    figure = timeline_figure(demo, analysis)
    strips = {axes.get_label(): axes for axes in figure.axes}
    for head, steps, names in (
        ("objects", analysis.object_steps, demo.labels[0]),
        ("scenes", analysis.scene_steps, demo.labels[1]),
    ):
        axes = strips[head]
        shown = [names.index(tick.get_text()) for tick in axes.get_yticklabels()]
        assert len(shown) == min(len(names), 5) and len(set(shown)) == len(shown)
        winners = set(steps.argmax(axis=1).tolist())  # every step's winner has a row (brute force)
        assert winners <= set(shown)
        np.testing.assert_allclose(axes.get_images()[0].get_array(), steps[:, shown].T)


def test_bad_input_is_a_message_naming_the_file(tiny_checkpoint, tmp_path):
    classify = make_classifier(DemoModel.load(tiny_checkpoint))
    broken = tmp_path / "broken_upload.wav"
    broken.write_bytes(b"not audio at all" * 100)
    status, objects, scenes, figure, rows = classify(str(broken))
    assert status.startswith("**Error:**") and "broken_upload.wav" in status and "cannot decode" in status
    assert (objects, scenes, figure, rows) == (None, None, None, [])
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    assert "empty.mp3: empty file" in classify(str(empty))[0]
    assert classify(None)[0] == NO_AUDIO


def test_blocks_build_without_network(tiny_checkpoint):
    import gradio

    blocks = build_demo(DemoModel.load(tiny_checkpoint))
    assert isinstance(blocks, gradio.Blocks)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_cli_help_and_usage_errors(tmp_path, capsys):
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--port" in out and "--share" in out
    assert main(["demo", "--model", str(tmp_path / "missing"), "--port", "7860"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["demo", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["demo", "--share", "maybe"]) == 2


@pytest.mark.slow
def test_cli_port_in_use_is_a_usage_error(tiny_checkpoint):
    # In its own process (a server that started would block): exit status 2, the message names the address.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "hf_soundnet.cli", "demo", "--model", str(tiny_checkpoint), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=300,
            env=demo_env(),
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr


def test_cli_refuses_a_checkpoint_without_heads(tmp_path, capsys):
    from hf_soundnet import SoundNetConfig

    config = released_style_tiny_config().to_dict()
    config.update(classifier_type="linear", num_labels=2, id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    SoundNetForAudioClassification(SoundNetConfig.from_dict(config)).save_pretrained(tmp_path)
    SoundNetFeatureExtractor().save_pretrained(tmp_path)
    assert main(["demo", "--model", str(tmp_path)]) == 2
    assert "no object/scene heads" in capsys.readouterr().err


def test_space_app_serves_a_local_folder(tiny_checkpoint, monkeypatch):
    # What the Space runs, imported as the Space's runner does (not as __main__, so nothing is served): it builds the
    # page for the folder named on its command line, else for $SOUNDNET_MODEL.
    import gradio

    monkeypatch.setattr(sys, "argv", ["app.py", str(tiny_checkpoint)])
    space = runpy.run_path(str(SPACE / "app.py"), run_name="space_app")
    assert isinstance(space["demo"], gradio.Blocks)
    monkeypatch.setenv("SOUNDNET_MODEL", "user/soundnet8")
    assert space["checkpoint_name"]([]) == "user/soundnet8"
    assert space["checkpoint_name"](["other"]) == "other"


def test_space_pins_are_the_tested_set():
    # The Space's gradio (sdk_version) and its pinned packages are those of requirements/constraints.txt.
    pins = dict(
        line.split("==")
        for line in (REPO_ROOT / "requirements" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    header = (SPACE / "README.md").read_text().split("---")[1]
    fields = dict(line.split(": ", 1) for line in header.strip().splitlines())
    assert fields["sdk"] == "gradio" and fields["app_file"] == "app.py" and (SPACE / "app.py").is_file()
    assert fields["sdk_version"] == pins["gradio"]
    for line in (SPACE / "requirements.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            assert pins[name] == version, name
    assert "ffmpeg" in (SPACE / "packages.txt").read_text().split()


def demo_env() -> dict:
    """The environment of a `soundnet demo` process: this checkout's sources first, offline."""
    source_path = os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": source_path, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_served(process: subprocess.Popen, url: str, log: Path, timeout_s: float = 240.0) -> None:
    """Returns once `url` answers 200; fails with the server's log when it exits or does not answer in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the demo did not answer at {url} within {timeout_s:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served_demo(released_checkpoint, tmp_path_factory):
    """`soundnet demo` on the converted weights, on a free localhost port, in its own process; yields its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("served_demo") / "demo.log"
    env = demo_env()
    command = [sys.executable, "-m", "hf_soundnet.cli", "demo", "--model", str(released_checkpoint)]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--use-cpu"], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def upload_and_classify(page, path: Path) -> None:
    page.set_input_files("#audio input[type=file]", str(path))
    page.wait_for_selector("#audio button[aria-label='Clear']")  # the upload is done: the player replaces it
    page.click("#classify")


@pytest.mark.slow
def test_demo_in_a_real_browser(served_demo, audio_dir, tmp_path):
    # The railroad recording: the released model's top scene is railroad_track (as `soundnet classify` says).
    broken = tmp_path / "not_a_recording.wav"
    broken.write_bytes(b"RIFF....WAVEfmt " + b"\x00" * 200)
    with open_page(timeout_s=180) as browser:
        page = browser.page
        page.goto(served_demo)
        page.wait_for_selector("#classify")
        upload_and_classify(page, audio_dir / "railroad.wav")
        page.wait_for_function(
            "document.querySelector('#status') && document.querySelector('#status').innerText.includes('railroad')"
        )
        page.wait_for_selector("#timeline img, #timeline canvas, #timeline svg", state="attached")
        status = page.inner_text("#status")
        scenes = page.inner_text("#scenes")
        table = page.inner_text("#steps")
        screenshot = save_screenshot(page, "demo_railroad")
        print(f"\nscreenshot of the demo page: {screenshot}")
        # A file that cannot be decoded: the page says so, naming it, and keeps working.
        page.click("#audio button[aria-label='Clear']")
        upload_and_classify(page, broken)
        page.wait_for_function("document.querySelector('#status').innerText.includes('not_a_recording.wav')")
        error = page.inner_text("#status")
        print(save_screenshot(page, "demo_bad_file"))
    assert "railroad.wav" in status and "top scene railroad_track" in status
    scene_lines = [line.strip() for line in scenes.splitlines() if line.strip()]
    assert scene_lines[:2] == ["Top scenes (Places)", "railroad_track"]  # the Label's heading is its top class
    assert "railroad_track" in table and "start (s)" in table
    assert "cannot decode audio" in error
    assert browser.page_errors == []
    assert browser.blocked == []  # the page asked nothing of the network (system fonts, no analytics)
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_demo_records_from_the_microphone(served_demo):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # Chromium's fake microphone (a beep, granted without asking): record, stop, classify; the recording reaches the
    # model as Gradio saved it (audio.wav) and the page shows its result.
    with open_page(timeout_s=180, extra_args=FAKE_MICROPHONE_ARGS) as browser:
        page = browser.page
        page.goto(served_demo)
        page.wait_for_selector("#classify")
        page.click("#audio button[aria-label='Record audio']")
        page.get_by_role("button", name="Record", exact=True).click()
        page.wait_for_timeout(3000)
        page.locator("#audio button:visible", has_text="Stop").first.click()
        page.wait_for_selector("#audio button[aria-label='Clear']")  # the recording is in the player
        # The player shows the recording before Gradio has uploaded it: a click in between answers NO_AUDIO (or is
        # dropped), so click again, a few times at most, until the answer names the recording or an error.
        for _ in range(8):
            page.click("#classify")
            try:
                page.wait_for_function(
                    "words => words.some(word => document.querySelector('#status').innerText.includes(word))",
                    arg=["audio.wav: ", "Error"],
                    timeout=20_000,
                )
                break
            except PlaywrightTimeoutError:
                continue
        status = page.inner_text("#status")
        table = page.inner_text("#steps")
        print(save_screenshot(page, "demo_microphone"))
    assert status.startswith("audio.wav: "), status
    assert float(status.split(": ", 1)[1].split(" s,")[0]) > 1.0  # about 3 s were recorded
    assert "top scene" in status and "2.97" in table  # at least one step row
    assert browser.page_errors == [] and browser.blocked == []
