"""Feature extractor for SoundNet: raw audio -> `input_values` at 22,050 Hz scaled to [-256, 256]."""

import math
import sys

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor
from transformers.utils import logging


logger = logging.get_logger(__name__)

# Full scale of each integer PCM dtype: an integer sample divided by it lies in [-1, 1).
_PCM_FULL_SCALE = {np.dtype(np.int8): 128.0, np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


CHANNEL_MODES = ("first", "mean")

# soxr's quality preset for every resampling in the package (its default; librosa's `res_type="soxr_hq"`). Defined
# here, not in `audio.decoding`, so that the feature extractor's code (copied into saved checkpoints for
# `trust_remote_code=True`) imports no other module of the package.
RESAMPLE_QUALITY = "HQ"

# A 2-D array of shape (num_samples, num_channels) with at most this many channels and more rows than columns is read
# as one channels-last clip (soundfile's and scipy's layout), not as a batch of `num_samples` clips of a few samples.
MAX_CHANNELS_LAST = 8

# Peak amplitudes of a float waveform: above `AMPLITUDE_WARN` a warning (decoders and resamplers overshoot full scale
# by a little, never by this much); above `AMPLITUDE_LIMIT` an error, since such values are integer-scale samples
# stored as floats (int16 -> up to 32,768) or already-scaled `input_values`, and the answer would be silently wrong.
AMPLITUDE_WARN = 1.25
AMPLITUDE_LIMIT = 4.0

# SoundNet-8's conv8 receptive field `[hop, receptive_field, offset]` in samples, and conv6's `-offset`: the defaults of
# `head_field` / `max_head_padding` (tests derive both from `SoundNetConfig().layer_table`).
SOUNDNET8_HEAD_FIELD = (65536, 320542, -55584)
SOUNDNET8_MAX_HEAD_PADDING = 22816


def check_channel_mode(channel_mode: str) -> None:
    """Raises `ValueError` unless `channel_mode` is one of `CHANNEL_MODES` (the one check behind every option)."""
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(f"`channel_mode` must be one of {CHANNEL_MODES}, got {channel_mode!r}.")


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """
    Resamples with soxr (`RESAMPLE_QUALITY`); see `hf_soundnet.audio.decoding` for why soxr.

    Args:
        audio: `np.ndarray` float32 of shape `(num_samples,)` or `(num_channels, num_samples)`.

    Returns:
        float32 of the same layout, `round(num_samples * to_rate / from_rate)` samples long.
    """
    import soxr

    if from_rate == to_rate:
        return audio
    if audio.ndim == 1:
        return soxr.resample(audio, from_rate, to_rate, quality=RESAMPLE_QUALITY)
    return np.ascontiguousarray(soxr.resample(audio.T, from_rate, to_rate, quality=RESAMPLE_QUALITY).T)


def downmix(audio: np.ndarray, channel_mode: str) -> np.ndarray:
    """`(num_channels, num_samples)` -> `(num_samples,)`: the `"first"` channel (the original's choice) or the
    `"mean"` of the channels. Shared by the feature extractor, `load_audio`, streaming and the corpus builder."""
    return audio[0] if channel_mode == "first" else audio.mean(axis=0)


class SoundNetFeatureExtractor(SequenceFeatureExtractor):
    r"""
    Turns waveforms into SoundNet's `input_values`, as the original preprocessing did: mono, 22,050 Hz, a float
    waveform in [-1, 1] multiplied by `input_scale` (256), clips shorter than `repeat_to_seconds` repeated whole until
    they are at least that long (the original's handling of short clips: conv8 needs 209,374 samples, about 9.5 s),
    and continued cyclically where the last conv8 step would otherwise read the zero padding of its input block
    (see [`~SoundNetFeatureExtractor.repeat_short`]).

    Inputs may be one clip or a list of clips (a batch). A clip is a 1-D array; a 2-D array of shape
    `(num_channels, num_samples)`, reduced to mono by `channel_mode`; a `datasets` Audio value, that is a decoded
    `torchcodec` `AudioDecoder` (what `ds[i]["audio"]` returns) or a `{"array", "sampling_rate"}` dict, at any rate
    (resampled with soxr, multi-channel reduced by `channel_mode`). Following transformers' convention, a single 2-D
    array is a batch of mono clips, except a channels-last clip `(num_samples, num_channels)` with at most
    `MAX_CHANNELS_LAST` channels (what `soundfile.read` returns), which is transposed with a warning; wrap a
    `(num_channels, num_samples)` clip in a list. Integer PCM (`int8`, `uint8`, `int16`, `int32`) is scaled to
    [-1, 1] by its full scale first; a float clip whose peak exceeds `AMPLITUDE_LIMIT` (integer-scale samples stored
    as floats) is refused, and one above `AMPLITUDE_WARN` warned about.

    Args:
        feature_size (`int`, *optional*, defaults to 1): Channels of `input_values` (mono).
        sampling_rate (`int`, *optional*, defaults to 22050): The rate the model expects, in Hz.
        padding_value (`float`, *optional*, defaults to 0.0): Value of padded samples.
        input_scale (`float`, *optional*, defaults to 256.0): Multiplier of the [-1, 1] waveform.
        channel_mode (`str`, *optional*, defaults to `"first"`): How a multi-channel clip becomes mono: `"first"`
            keeps the first channel (what the original did), `"mean"` averages the channels (what transformers'
            ffmpeg file decoding in the pipeline does before the extractor sees the audio).
        repeat_to_seconds (`float`, *optional*, defaults to 10.0): Clips shorter than this are tiled whole until
            they reach at least this duration; `None` or 0 disables every repetition (this one and `head_field`'s).
        head_field (`list[int]`, *optional*, defaults to `[65536, 320542, -55584]`): `[hop, receptive_field, offset]` in samples
            of the conv8 steps' receptive field (step `q` sees samples `[q * hop + offset, q * hop + offset + size)`),
            SoundNet-8's, i.e. `config.layer_table[-1]`; set it from that for another
            layer table. `None` disables the continuation below.
        max_head_padding (`int`, *optional*, defaults to 22816): When the last conv8 step's field ends more than this
            many samples past the clip's end, the clip is continued cyclically to the end of that field. SoundNet-8's
            value, `-config.layer_table[-3].offset` (conv6's): beyond it the step reads conv7 frames computed
            from conv7's zero padding, and the released heads then answer `parking_garage/outdoor` with p close to 1
            whatever the sound.
        continue_long_clips (`bool`, *optional*, defaults to `True`): Whether clips not shorter than
            `repeat_to_seconds` are continued as well (as a real 10 s clip needs); `soundnet extract` turns it off so
            that a long file's frames are those of its own audio, as streaming gives them.
        return_attention_mask (`bool`, *optional*, defaults to `True`): Return the sample mask with padded batches.
    """

    model_input_names = ["input_values", "attention_mask"]
    channel_modes = CHANNEL_MODES

    def __init__(
        self,
        feature_size: int = 1,
        sampling_rate: int = 22050,
        padding_value: float = 0.0,
        input_scale: float = 256.0,
        channel_mode: str = "first",
        repeat_to_seconds: float | None = 10.0,
        head_field: list[int] | tuple[int, int, int] | None = SOUNDNET8_HEAD_FIELD,
        max_head_padding: int = SOUNDNET8_MAX_HEAD_PADDING,
        continue_long_clips: bool = True,
        return_attention_mask: bool = True,
        **kwargs,
    ):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        check_channel_mode(channel_mode)
        if head_field is not None:
            if len(head_field) != 3 or min(head_field[0], head_field[1]) < 1 or head_field[0] <= -head_field[2]:
                raise ValueError(
                    f"`head_field` must be [hop, size, offset] with hop, size >= 1 and hop > -offset (as "
                    f"`config.layer_table[-1]` gives), got {head_field!r}."
                )
            head_field = [int(value) for value in head_field]
        if max_head_padding < 0:
            raise ValueError(f"`max_head_padding` must be >= 0 samples, got {max_head_padding}.")
        self.input_scale = input_scale
        self.channel_mode = channel_mode
        self.repeat_to_seconds = repeat_to_seconds
        self.head_field = head_field
        self.max_head_padding = int(max_head_padding)
        self.continue_long_clips = continue_long_clips
        self.return_attention_mask = return_attention_mask

    @property
    def min_num_samples(self) -> int:
        """Clips shorter than this many samples are repeated (220,500 at the defaults)."""
        return math.ceil((self.repeat_to_seconds or 0) * self.sampling_rate)

    def to_mono_float(self, waveform, source: str = "input") -> np.ndarray:
        """
        One clip as a finite float32 waveform in [-1, 1] of shape `(num_samples,)` at `self.sampling_rate`, before
        scaling.

        Args:
            waveform: array-like of shape `(num_samples,)`, `(num_channels, num_samples)` or channels-last
                `(num_samples, num_channels)` (at most `MAX_CHANNELS_LAST` channels), float or integer PCM, at
                `self.sampling_rate`; or a `datasets` Audio value at any rate: a torchcodec `AudioDecoder` or a
                `{"array", "sampling_rate"}` dict (`"raw"` is accepted for `"array"`, as transformers' pipelines do).
            source: what to call the clip in error messages (a file name, say).
        """
        array, rate = self._array_and_rate(waveform, source)
        is_float = np.issubdtype(array.dtype, np.floating)
        if array.dtype in _PCM_FULL_SCALE:
            array = array.astype(np.float32) / _PCM_FULL_SCALE[array.dtype]
        elif array.dtype == np.uint8:
            array = (array.astype(np.float32) - 128.0) / 128.0
        elif not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"{source}: unsupported audio dtype {array.dtype}; pass float or integer PCM samples.")
        if array.ndim == 2:
            if array.shape[0] > array.shape[1]:
                if array.shape[1] > MAX_CHANNELS_LAST:
                    raise ValueError(
                        f"{source}: a multi-channel clip must be (num_channels, num_samples), got shape "
                        f"{array.shape}; transpose it."
                    )
                logger.warning(
                    f"{source}: read the array of shape {array.shape} as one channels-last clip (num_samples, "
                    f"num_channels), as soundfile returns it, and reduced it by channel_mode={self.channel_mode!r}; "
                    "pass `waveform.T` (num_channels, num_samples) to silence this."
                )
                array = array.T
            array = downmix(array, self.channel_mode)
        elif array.ndim != 1:
            raise ValueError(f"{source}: expected a 1-D or (channels, samples) waveform, got shape {array.shape}.")
        if array.size == 0:
            raise ValueError(f"{source}: the waveform is empty (0 samples).")
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise ValueError(f"{source}: the waveform contains {bad} NaN or Inf samples; clean or re-decode it.")
        if is_float:
            self._check_amplitude(array, source)
        array = array.astype(np.float32, copy=False)
        if rate is not None and rate != self.sampling_rate:
            array = resample(np.ascontiguousarray(array), int(rate), self.sampling_rate)
        return array

    @staticmethod
    def _array_and_rate(waveform, source: str) -> tuple[np.ndarray, int | None]:
        """The samples of one clip as numpy and their rate when the input carries one (decoders and dicts)."""
        if is_audio_decoder(waveform):
            path = getattr(waveform.metadata, "path", None)  # set by `datasets` for its Audio values
            try:
                samples = waveform.get_all_samples()
            except Exception as err:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
                where = f"{source} ({path})" if path else source
                raise ValueError(f"{where}: cannot decode the AudioDecoder's audio ({err}).") from err
            return samples.data.numpy(), samples.sample_rate
        rate = None
        if isinstance(waveform, dict):
            if "sampling_rate" not in waveform or not ("array" in waveform or "raw" in waveform):
                raise ValueError(
                    f'{source}: a dict clip needs an "array" (or "raw") and a "sampling_rate" key, as a '
                    f"`datasets` Audio value has; got keys {sorted(waveform)}."
                )
            rate = waveform["sampling_rate"]
            waveform = waveform["array"] if "array" in waveform else waveform["raw"]
        array = waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else np.asarray(waveform)
        return array, rate

    @staticmethod
    def _check_amplitude(array: np.ndarray, source: str) -> None:
        """Refuses float samples far outside [-1, 1] (`AMPLITUDE_LIMIT`), warns about some (`AMPLITUDE_WARN`)."""
        peak = float(np.abs(array).max())
        if peak > AMPLITUDE_LIMIT:
            raise ValueError(
                f"{source}: float samples must lie in [-1, 1], but the peak is {peak:.6g}. Integer-scale samples "
                "stored as floats? Divide by the integer full scale (32768 for int16) or pass the integer array "
                "itself, which is scaled for you."
            )
        if peak > AMPLITUDE_WARN:
            logger.warning(
                f"{source}: float samples should lie in [-1, 1], but the peak is {peak:.3g}; the answer may be "
                "distorted. Normalise the waveform."
            )

    def covered_num_samples(self, num_samples: int) -> int:
        """
        The length a clip of `num_samples` samples is continued to so that its last conv8 step reads no zero padding
        of its input block: `num_samples` itself when the last step's field ends at most `max_head_padding` samples
        past it, else the end of that field (then the step sees no padding at all).

        With `head_field = [hop, size, offset]` and padding of `-offset` on each side, step `q` exists when
        `num_samples >= q * hop + size + 2 * offset` (209,374 for the first step of SoundNet-8), so its field ends
        `-offset` samples or less past the input; lengthening to that end adds no step because `hop > -offset`.
        """
        if self.head_field is None or not self.min_num_samples:
            return num_samples
        hop, size, offset = self.head_field
        last_step = max(0, (num_samples - size - 2 * offset) // hop)
        field_end = last_step * hop + offset + size
        return field_end if field_end - num_samples > self.max_head_padding else num_samples

    def repeat_short(self, waveform: np.ndarray) -> np.ndarray:
        """
        `waveform` `(num_samples,)` repeated as the heads need it: tiled whole until it has at least `min_num_samples`
        samples (the original's rule), then continued cyclically (its start follows its end) up to
        `covered_num_samples` of that length. Clips whose last conv8 step reads no padding of its input block are
        returned as they were, and so are clips not shorter than `repeat_to_seconds` without `continue_long_clips`.
        """
        if waveform.shape[0] == 0 or not self.min_num_samples:
            return waveform
        if waveform.shape[0] >= self.min_num_samples and not self.continue_long_clips:
            return waveform
        tiled = waveform.shape[0] * max(1, math.ceil(self.min_num_samples / waveform.shape[0]))
        target = self.covered_num_samples(tiled)
        return waveform if target == waveform.shape[0] else np.resize(waveform, target)

    def clip_input_values(self, clip, source: str = "input") -> np.ndarray:
        """
        One clip as the model reads it: [`to_mono_float`], [`repeat_short`], then scaled by `input_scale`; what
        `__call__` makes of each clip before padding, without the batch (no padding, no mask).

        Args:
            clip: one clip, as [`to_mono_float`] accepts it.
            source: what to call the clip in error messages.

        Returns:
            `np.ndarray` of shape `(num_samples,)`, float32.
        """
        return self.repeat_short(self.to_mono_float(clip, source=source)) * np.float32(self.input_scale)

    def __call__(
        self,
        raw_audio,
        sampling_rate: int | None = None,
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """
        Args:
            raw_audio (`np.ndarray`, `torch.Tensor`, `list[float]`, `AudioDecoder`, `dict`, or a list of those):
                one clip or a batch (see the class docstring); a list of `datasets` Audio values, as
                `ds.map(lambda batch: extractor(batch["audio"]), batched=True)` passes, is a batch.
            sampling_rate (`int`, *optional*): Rate of array clips; must equal `self.sampling_rate`. Decoders and
                dicts carry their own rate and are resampled.

        Returns:
            [`BatchFeature`] with `input_values` of shape `(batch_size, num_samples)` (float32) and, when asked or
            configured, `attention_mask` of the same shape.
        """
        clips = self._split_batch(raw_audio)
        carries_rate = all(is_audio_decoder(clip) or isinstance(clip, dict) for clip in clips)
        if sampling_rate is not None and not carries_rate:
            if sampling_rate != self.sampling_rate:
                raise ValueError(
                    f"The audio is sampled at {sampling_rate} Hz but SoundNet expects {self.sampling_rate} Hz. "
                    f"Resample it first, e.g. `torchaudio.functional.resample(waveform, {sampling_rate}, "
                    f"{self.sampling_rate})`, or decode with `torchcodec.decoders.AudioDecoder(path, "
                    f"sample_rate={self.sampling_rate})`."
                )
        elif not carries_rate:
            logger.warning(
                f"No `sampling_rate` was passed to {self.__class__.__name__}; assuming {self.sampling_rate} Hz. "
                "Pass `sampling_rate` to catch silent errors."
            )

        values = [self.clip_input_values(clip, source=f"clip {i}") for i, clip in enumerate(clips)]

        padded = self.pad(
            BatchFeature({"input_values": values}),
            padding=padding,
            max_length=max_length,
            truncation=truncation,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=self.return_attention_mask
            if return_attention_mask is None
            else return_attention_mask,
        )
        padded["input_values"] = [np.asarray(v, dtype=np.float32) for v in padded["input_values"]]
        if "attention_mask" in padded:
            padded["attention_mask"] = [np.asarray(m, dtype=np.int32) for m in padded["attention_mask"]]
        if return_tensors is not None:
            padded = padded.convert_to_tensors(return_tensors)
        return padded

    @staticmethod
    def _split_batch(raw_audio) -> list:
        """The clips of `raw_audio`: a list or tuple of clips, a 2-D array of mono clips (transformers' convention)
        unless it is one channels-last clip, or a single clip."""
        if isinstance(raw_audio, (list, tuple)):
            return list(raw_audio) if len(raw_audio) > 0 and not np.isscalar(raw_audio[0]) else [raw_audio]
        if getattr(raw_audio, "ndim", None) == 2:
            rows, columns = raw_audio.shape
            if columns <= MAX_CHANNELS_LAST and rows > columns:
                return [raw_audio]  # one channels-last clip; `to_mono_float` transposes it with a warning
            return list(raw_audio)
        return [raw_audio]


def is_audio_decoder(value) -> bool:
    """Whether `value` is a torchcodec `AudioDecoder` (also `datasets`' subclass), without importing torchcodec."""
    torchcodec = sys.modules.get("torchcodec.decoders")
    return torchcodec is not None and isinstance(value, torchcodec.AudioDecoder)


__all__ = [
    "AMPLITUDE_LIMIT",
    "AMPLITUDE_WARN",
    "CHANNEL_MODES",
    "MAX_CHANNELS_LAST",
    "RESAMPLE_QUALITY",
    "SoundNetFeatureExtractor",
    "check_channel_mode",
    "downmix",
    "is_audio_decoder",
    "resample",
]
