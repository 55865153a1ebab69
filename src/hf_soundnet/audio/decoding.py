"""`hf_soundnet.audio.decoding`: the audio decoding of [`hf_soundnet.decoding_soundnet`] under its historical name.

The functions live in the root-level `decoding_soundnet.py` so that code upload carries them beside
`pipeline_soundnet.py`; this module re-exports every public name of it (its `__all__`) for the CLI, the corpus tools
and streaming.
"""

from ..decoding_soundnet import *  # noqa: F403
from ..decoding_soundnet import __all__  # noqa: F401
