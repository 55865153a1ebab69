"""The one base of every error hf_soundnet raises on purpose.

Each error keeps the builtin it specialises as a second base (an undecodable file is still a `ValueError`, a failed
push a `RuntimeError`), so existing `except ValueError` code keeps working, while `except SoundNetError` catches
everything the package reports. Messages name the file or argument, the problem and what to do.

Not imported by the model files that `save_pretrained` uploads (configuration, modeling, feature extraction, losses):
they raise builtin errors only. The pipeline's decoding (`decoding_soundnet.py`, uploaded with `pipeline_soundnet.py`)
imports it, so this file (which imports nothing) is uploaded with them.
"""


class SoundNetError(Exception):
    """Base of every error raised on purpose by hf_soundnet (outside the uploaded plugin files)."""


__all__ = ["SoundNetError"]
