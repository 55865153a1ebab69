"""The one cache folder of hf_soundnet: `$HF_SOUNDNET_CACHE`, default `~/.cache/hf_soundnet`.

It holds what is fetched or made once and kept outside git: the released weights and their converted checkpoints
(`hf_soundnet.conversion`), the benchmark's generated audio (`benchmarks/`), and transformers' common test files
(`tests/fetch_transformers_tests.py`), each in a subfolder of its own.
"""

import os
from pathlib import Path


CACHE_ENVIRONMENT_VARIABLE = "HF_SOUNDNET_CACHE"


def cache_dir() -> Path:
    """`$HF_SOUNDNET_CACHE` when set and not empty, else `~/.cache/hf_soundnet` (not created here)."""
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or Path.home() / ".cache" / "hf_soundnet")


__all__ = ["CACHE_ENVIRONMENT_VARIABLE", "cache_dir"]
