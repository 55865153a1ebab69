"""Imports transformers' common test mixins from the cache filled by `tests/fetch_transformers_tests.py`.

The sdist's test files form the package `tests` (they import each other relatively: `from .utils...`). This
repository's own `tests/` folder has no `__init__.py`, so it is no regular package and the cache's `tests` package
wins the import once its folder is first on `sys.path`.
"""

import importlib
import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).parent))
from fetch_transformers_tests import COMPLETE, cache_dir  # noqa: E402


def import_common(module: str):
    """`tests.<module>` of the installed transformers' sdist; skips when the set-up has not fetched it."""
    from importlib.metadata import version

    folder = cache_dir(version("transformers"))
    if not (folder / COMPLETE).is_file():
        pytest.skip(
            f"transformers' common tests are not fetched ({folder}): run `make test` or "
            "`python tests/fetch_transformers_tests.py`",
            allow_module_level=True,
        )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    package = sys.modules.get("tests")
    if package is not None and not str(getattr(package, "__file__", "") or "").startswith(str(folder)):
        del sys.modules["tests"]  # a namespace package made of this repository's tests/ folder
    return importlib.import_module(f"tests.{module}")
