"""The headless-browser helper itself: Debian's Chromium opens a local page, plays no part in the network, and
decodes a real recording in an <audio> element (what the demo and the gallery tests rely on)."""

import shutil
import subprocess

import pytest
from _helpers_browser import is_local, open_page, save_screenshot


def test_is_local_tells_this_machine_from_the_network():
    assert is_local("http://127.0.0.1:7860/") and is_local("http://localhost/x") and is_local("file:///tmp/a.html")
    assert is_local("data:text/html,hi")
    assert not is_local("https://fonts.googleapis.com/css2?family=Inter")
    assert not is_local("http://huggingface.co/")


def test_chromium_opens_a_local_page_and_plays_a_real_recording(tmp_path, audio_dir):
    # Chromium's own decoders read the shared recording (an MP3 at 44.1 kHz stereo, via a file: URL, as a gallery's
    # <audio> elements would), and a request to the network is aborted, not waited for.
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found")
    clip = tmp_path / "clip.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(audio_dir / "forest_track.mp3"), "-t", "2", "-c", "copy", str(clip)],
        check=True,
    )
    page_file = tmp_path / "page.html"
    page_file.write_text(
        '<html><body><h1 id="title">local page</h1>'
        '<img src="https://example.com/remote.png">'
        f'<audio id="clip" controls preload="auto" src="{clip.name}"></audio></body></html>',
        encoding="utf-8",
    )
    with open_page(timeout_s=30) as browser:
        browser.page.goto(page_file.as_uri())
        assert browser.page.text_content("#title") == "local page"
        browser.page.wait_for_function("document.getElementById('clip').readyState >= 1")
        duration = browser.page.evaluate("document.getElementById('clip').duration")
        error = browser.page.evaluate("document.getElementById('clip').error")
        print(save_screenshot(browser.page, "browser_helper_local_page"))
    assert error is None
    assert 1.5 < duration < 2.5, duration  # ffmpeg cut 2 s of the recording; Chromium decoded its length
    assert browser.blocked == ["https://example.com/remote.png"]
    assert browser.page_errors == []
