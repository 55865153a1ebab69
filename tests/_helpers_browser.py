"""A real headless browser for the tests: Debian's Chromium driven by Playwright, offline.

`make setup` installs the `chromium` Debian package and Playwright (the `demo` extra); Playwright's own browser
download (`playwright install`) is never used: it needs the network. The tests that open a page:

    from _helpers_browser import open_page, save_screenshot

    def test_page(tmp_path):
        with open_page() as browser:              # skips (with the reason) when Chromium is not installed
            browser.page.goto(url)
            ...
            print(save_screenshot(browser.page, "my_test"))   # test-artifacts/my_test.png

Requests to anything but this machine (localhost, 127.0.0.1, file:, data:, blob:) are aborted and listed in
`browser.blocked`, so that a page that reaches out to the network fails fast instead of waiting, and a test can
assert that it did not; uncaught page errors are listed in `browser.page_errors`.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest


REPO_ROOT = Path(__file__).resolve().parent.parent
# `$SOUNDNET_CHROMIUM` names another Chromium binary; the default is the Debian package's.
CHROMIUM = os.environ.get("SOUNDNET_CHROMIUM", "/usr/bin/chromium")
# Headless, no sandbox (tests run as root in containers), and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A microphone that Chromium fakes (a beep) and grants without asking: recording in a page works headless.
FAKE_MICROPHONE_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
# Screenshots and other files a browser test keeps for people to look at (git-ignored); `$SOUNDNET_TEST_ARTIFACTS`
# moves them.
ARTIFACTS_DIR = Path(os.environ.get("SOUNDNET_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))


def chromium_path() -> str | None:
    """The Chromium binary the tests drive, or None when it is not installed."""
    path = shutil.which(CHROMIUM)
    return path if path and os.access(path, os.X_OK) else None


def require_chromium() -> str:
    """The Chromium binary; skips the calling test, saying how to install it, when it is missing."""
    path = chromium_path()
    if path is None:
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: `make setup` installs it (apt-get install chromium), or set "
            "SOUNDNET_CHROMIUM to a Chromium binary"
        )
    return path


def is_local(url: str) -> bool:
    """Whether `url` stays on this machine (loopback host or a file/data/blob URL)."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class BrowserSession:
    """An open page, the non-local requests it tried (aborted) and its uncaught JavaScript errors."""

    page: object
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@contextmanager
def open_page(
    viewport: tuple[int, int] = (1280, 1600), timeout_s: float = 60.0, extra_args: tuple[str, ...] = ()
) -> Iterator[BrowserSession]:
    """
    A fresh headless Chromium page (Playwright's sync API), closed with its browser afterwards.

    Args:
        viewport: width and height of the page in CSS pixels (screenshots have this size, or the full page).
        timeout_s: Playwright's default timeout of every action and wait on the page.
        extra_args: more Chromium switches (for example `FAKE_MICROPHONE_ARGS`).
    """
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.set_default_timeout(timeout_s * 1000)
            session = BrowserSession(page=context.new_page())

            def route(route_) -> None:
                if is_local(route_.request.url):
                    route_.continue_()
                else:
                    session.blocked.append(route_.request.url)
                    route_.abort()

            context.route("**/*", route)
            session.page.on("pageerror", lambda error: session.page_errors.append(str(error)))
            yield session
        finally:
            browser.close()


def save_screenshot(page, name: str, full_page: bool = True) -> Path:
    """Saves a PNG of `page` as `test-artifacts/<name>.png` and returns its path (the test prints it)."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


__all__ = [
    "ARTIFACTS_DIR",
    "BrowserSession",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "FAKE_MICROPHONE_ARGS",
    "chromium_path",
    "is_local",
    "open_page",
    "require_chromium",
    "save_screenshot",
]
