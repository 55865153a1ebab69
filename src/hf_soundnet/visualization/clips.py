"""Cutting a segment of an audio file into a small clip a browser plays, with the `ffmpeg` program."""

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import SoundNetError


# --clip-format -> (file suffix, ffmpeg output options). Ogg Opus is small (a 4 s conv7 clip is about 30 kB) and
# plays in every current browser; WAV keeps the samples as they are.
CLIP_FORMATS = {
    "ogg": (".ogg", ["-c:a", "libopus", "-b:a", "64k"]),
    "wav": (".wav", ["-c:a", "pcm_s16le"]),
}


class ClipError(SoundNetError, RuntimeError):
    """A clip could not be cut; the message names the file and FFmpeg's reason."""


def ffmpeg_program() -> str:
    """The `ffmpeg` executable; a [`ClipError`] says how to install it when missing."""
    program = shutil.which("ffmpeg")
    if program is None:
        raise ClipError("cutting clips needs the `ffmpeg` program: apt-get install ffmpeg.")
    return program


def cut_clip(
    source: str | os.PathLike, start_s: float, end_s: float, target: str | os.PathLike, clip_format: str = "ogg"
) -> Path:
    """
    Writes `[start_s, end_s)` of `source` (its own rate and channels) to `target` in `clip_format`.

    Raises:
        ClipError: FFmpeg failed (its first line of error is in the message), or an empty segment.
    """
    if clip_format not in CLIP_FORMATS:
        raise ValueError(f"clip_format must be one of {sorted(CLIP_FORMATS)}, got {clip_format!r}.")
    if end_s <= start_s:
        raise ClipError(f"{source}: empty segment {start_s:.3f}-{end_s:.3f} s.")
    target = Path(target)
    command = [ffmpeg_program(), "-nostdin", "-v", "error", "-y", "-ss", f"{start_s:.6f}", "-t"]
    command += [f"{end_s - start_s:.6f}", "-i", os.fspath(source), "-vn", *CLIP_FORMATS[clip_format][1]]
    command.append(os.fspath(target))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not target.is_file():
        reason = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "ffmpeg failed"
        raise ClipError(f"{source}: cannot cut {start_s:.2f}-{end_s:.2f} s ({reason}).")
    return target


__all__ = ["CLIP_FORMATS", "ClipError", "cut_clip", "ffmpeg_program"]
