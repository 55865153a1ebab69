"""The converter's error."""

from ..errors import SoundNetError


class ConversionError(SoundNetError, RuntimeError):
    """Anything that makes the converted checkpoint untrustworthy (the message names the file and what to do)."""


__all__ = ["ConversionError"]
