"""Video frames for the image teachers: one frame per teacher step, decoded with torchcodec's `VideoDecoder`.

The original sampled 4 frames from each 20 s video, one per 5 s. Here step `t` covers `[t * step, (t + 1) * step)`
seconds of the audio and its frame is the one shown at the step's centre, `(t + 0.5) * step` seconds; a clip shorter
than one step has a single step whose frame is taken at the middle of the clip.
"""

import math
import os
from collections.abc import Iterator

import torch

from ..audio.decoding import ffmpeg_words
from ..errors import SoundNetError


class VideoDecodeError(SoundNetError, ValueError):
    """A video whose frames could not be decoded; the message names the file and the problem."""


def num_teacher_steps(duration: float, step_seconds: float) -> int:
    """Whole steps in `duration` seconds, at least 1 (a clip shorter than one step is one step)."""
    if duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}.")
    return max(1, math.floor(duration / step_seconds + 1e-6))


def step_times(duration: float, step_seconds: float) -> list[float]:
    """Frame time, in seconds, of each teacher step of a clip of `duration` seconds (step centres)."""
    if duration < step_seconds:
        return [duration / 2]
    return [(t + 0.5) * step_seconds for t in range(num_teacher_steps(duration, step_seconds))]


def iter_frames(
    path: str | os.PathLike, times: list[float], frames_per_batch: int, device: str | torch.device = "cpu"
) -> Iterator[torch.Tensor]:
    """
    The frames shown at `times` seconds, `frames_per_batch` at a time, from one decoder opened once.

    Times past the last frame (a video stream slightly shorter than its audio) are clamped to the last frame.

    Args:
        path: a video file.
        times: `num_frames` times in seconds.
        frames_per_batch: frames per yielded tensor (bounds the memory of long videos).
        device: where torchcodec decodes (`"cuda"` uses NVDEC when torchcodec was built with it).

    Yields:
        `torch.ByteTensor` of shape `(frames, 3, height, width)`, RGB, in the order of `times`.

    Raises:
        VideoDecodeError: no video stream, or an undecodable file.
    """
    from torchcodec.decoders import VideoDecoder

    try:
        decoder = VideoDecoder(str(path), device=device, seek_mode="approximate")
        metadata = decoder.metadata
        begin = metadata.begin_stream_seconds or 0.0
        end = metadata.end_stream_seconds or metadata.duration_seconds
        if end is None or end <= begin:
            raise VideoDecodeError(f"{path}: the video stream has no duration (no frames?).")
        # Half a frame before the end is still inside the last frame's display interval.
        last = end - 0.5 / (metadata.average_fps or 25.0)
        clamped = [min(max(t, begin), max(begin, last)) for t in times]
        for start in range(0, len(clamped), frames_per_batch):
            yield decoder.get_frames_played_at(seconds=clamped[start : start + frames_per_batch]).data
    except VideoDecodeError:
        raise
    except Exception as err:  # torchcodec raises RuntimeError/ValueError/IndexError with FFmpeg's words
        raise VideoDecodeError(f"{path}: cannot decode video frames ({ffmpeg_words(err)}).") from err


__all__ = ["VideoDecodeError", "iter_frames", "num_teacher_steps", "step_times"]
