"""`hf_soundnet.audio.decoding`: the audio decoding of [`hf_soundnet.decoding_soundnet`] under its historical name.

The functions live in the root-level `decoding_soundnet.py` so that code upload carries them beside
`pipeline_soundnet.py`; this module re-exports them for the CLI, the corpus tools and streaming.
"""

from ..decoding_soundnet import (
    DECODERS,
    RESAMPLE_QUALITY,
    AudioLoadError,
    check_decoder,
    decode_with_ffmpeg_program,
    ffmpeg_program_words,
    ffmpeg_words,
    load_audio,
    preload_decoder,
    preload_decoder_in_background,
    resample,
)


__all__ = [
    "DECODERS",
    "RESAMPLE_QUALITY",
    "AudioLoadError",
    "check_decoder",
    "decode_with_ffmpeg_program",
    "ffmpeg_program_words",
    "ffmpeg_words",
    "load_audio",
    "preload_decoder",
    "preload_decoder_in_background",
    "resample",
]
