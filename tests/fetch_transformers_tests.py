"""Fetches transformers' common test mixins of the installed transformers version into a cache outside git.

    python tests/fetch_transformers_tests.py [--archive PATH]    # prints the cache folder

The test files come from transformers' published source distribution on PyPI (checksummed against the table below),
like the released weights: nothing of transformers' test code is copied into this repository. Only the files
`tests/test_transformers_common.py` uses are extracted, with the modules they import from the same archive. Three
modules those files import live in transformers' git repository but are not in the sdist (`tests/utils/`,
`tests/exporters/`, `tests/generation/`); a stand-in for each is written, marked as such, holding only the name that
is imported (see `STAND_INS`). Idempotent; offline once cached. Exit status 0 done, 1 failed, 2 usage error.
"""

import argparse
import ast
import hashlib
import io
import sys
import tarfile
import urllib.request
from importlib.metadata import version
from pathlib import Path


# version -> (sdist URL on files.pythonhosted.org, sha256 of the archive)
KNOWN_SDISTS = {
    "5.23.0": (
        "https://files.pythonhosted.org/packages/7e/d3/1ff04cfc1ddbc6853af16973b17cd437426b4303599bc3e84af11fe55057/"
        "transformers-5.23.0.tar.gz",
        "19d647a4d5d903a7c644ca5cde2d86efc3dde7d8c687ae7988806ff2205efa71",
    ),
}
WANTED = (
    "tests/test_configuration_common.py",
    "tests/test_modeling_common.py",
    "tests/test_feature_extraction_common.py",
    "tests/test_sequence_feature_extraction_common.py",
)
# Imported by the files above but absent from the sdist: a stand-in with the imported name only.
STAND_INS = {
    "tests/__init__.py": "",
    "tests/utils/__init__.py": "",
    # `ConfigTester.check_config_arguments_init` needs the real table; test_transformers_common.py skips it.
    "tests/utils/test_configuration_utils.py": "config_common_kwargs = {}\n",
    "tests/exporters/__init__.py": "",
    # transformers' export mixin; hf-soundnet's own export tests are tests/test_export.py.
    "tests/exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    "tests/generation/__init__.py": "",
    # SoundNet does not generate: the mixin's tests do not apply.
    "tests/generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
}
STAND_IN_HEADER = (
    "# Stand-in written by hf-soundnet's tests/fetch_transformers_tests.py: not in transformers' sdist.\n"
)
COMPLETE = ".complete"


def cache_dir(transformers_version: str) -> Path:
    """`hf_soundnet.cache.cache_dir()` (`$HF_SOUNDNET_CACHE`, default `~/.cache/hf_soundnet`) /
    `transformers-tests-<version>`."""
    from hf_soundnet.cache import cache_dir as soundnet_cache_dir

    return soundnet_cache_dir() / f"transformers-tests-{transformers_version}"


def _relative_imports(source: str, module_path: str) -> set[str]:
    """Archive paths (`tests/...py`) of the modules `source` imports relatively (`from .x import y`)."""
    package = Path(module_path).parent
    paths = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            base = package
            for _ in range(node.level - 1):
                base = base.parent
            paths.add(str(base.joinpath(*node.module.split("."))) + ".py")
    return paths


def _read_archive(archive: Path, expected_sha256: str) -> bytes:
    data = archive.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise ValueError(f"{archive}: sha256 {digest} is not the expected {expected_sha256}; delete it and rerun.")
    return data


def fetch(archive: Path | None = None) -> Path:
    """Extracts the common test files of the installed transformers into the cache; returns the cache folder."""
    transformers_version = version("transformers")
    if transformers_version not in KNOWN_SDISTS:
        raise ValueError(
            f"No known sdist checksum for transformers {transformers_version}; add its URL and sha256 to "
            f"KNOWN_SDISTS in {__file__} (known: {sorted(KNOWN_SDISTS)})."
        )
    target = cache_dir(transformers_version)
    if (target / COMPLETE).is_file():
        return target
    url, sha256 = KNOWN_SDISTS[transformers_version]
    download = target.parent / Path(url).name
    if archive is None:
        archive = download
        if not archive.is_file():
            print(f"Fetching transformers {transformers_version} sdist (its tests/ common mixins) from {url}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = archive.with_suffix(".partial")
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                out.write(response.read())
            _read_archive(partial, sha256)
            partial.replace(archive)
    data = _read_archive(archive, sha256)

    prefix = f"transformers-{transformers_version}/"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name[len(prefix) :]: m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)}
        pending, done = list(WANTED), {}
        while pending:
            path = pending.pop()
            if path in done:
                continue
            if path not in members:
                if path not in STAND_INS:
                    raise ValueError(f"{path} is imported by the common tests but neither in the sdist nor stood in")
                continue
            source = tar.extractfile(members[path]).read().decode()
            done[path] = source
            pending.extend(_relative_imports(source, path))
    for path, source in done.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(source)
    for path, source in STAND_INS.items():
        if path not in done:
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_text(STAND_IN_HEADER + source)
    (target / COMPLETE).write_text(f"{url}\n{sha256}\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, help="a local copy of the sdist (checked against the same sha256)")
    args = parser.parse_args(argv)
    try:
        print(fetch(args.archive))
    except (OSError, ValueError) as error:
        print(f"fetch_transformers_tests: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
