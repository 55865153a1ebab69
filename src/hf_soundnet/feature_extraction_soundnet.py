"""Feature extractor for SoundNet: raw audio -> `input_values` at 22,050 Hz scaled to [-256, 256]."""

import math

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor
from transformers.utils import logging


logger = logging.get_logger(__name__)

# Full scale of each integer PCM dtype: an integer sample divided by it lies in [-1, 1).
_PCM_FULL_SCALE = {np.dtype(np.int8): 128.0, np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


CHANNEL_MODES = ("first", "mean")

# SoundNet-8's conv8 receptive field `[hop, size, offset]` in samples, and conv6's `-offset`: the defaults of
# `head_field` / `max_head_padding` (tests derive both from `receptive_fields(SoundNetConfig())`).
SOUNDNET8_HEAD_FIELD = (65536, 320542, -55584)
SOUNDNET8_MAX_HEAD_PADDING = 22816


def check_channel_mode(channel_mode: str) -> None:
    """Raises `ValueError` unless `channel_mode` is one of `CHANNEL_MODES` (the one check behind every option)."""
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(f"`channel_mode` must be one of {CHANNEL_MODES}, got {channel_mode!r}.")


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

    Inputs may be a 1-D array (one clip), a list of them (a batch), or, per clip, a 2-D array of shape
    `(num_channels, num_samples)`, reduced to mono by `channel_mode`. Following transformers' convention, a single
    2-D array is a batch of mono clips, not a multi-channel clip: wrap a multi-channel clip in a list. Integer PCM
    (`int8`, `uint8`, `int16`, `int32`) is scaled to [-1, 1] by its full scale first.

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
        head_field (`list[int]`, *optional*, defaults to `[65536, 320542, -55584]`): `[hop, size, offset]` in samples
            of the conv8 steps' receptive field (step `q` sees samples `[q * hop + offset, q * hop + offset + size)`),
            SoundNet-8's, i.e. `hf_soundnet.streaming.receptive_fields(config)[-1]`; set it from that for another
            layer table. `None` disables the continuation below.
        max_head_padding (`int`, *optional*, defaults to 22816): When the last conv8 step's field ends more than this
            many samples past the clip's end, the clip is continued cyclically to the end of that field. SoundNet-8's
            value, `-receptive_fields(config)[-3].offset` (conv6's): beyond it the step reads conv7 frames computed
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
                    f"`receptive_fields(config)[-1]` gives), got {head_field!r}."
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
        One clip as a finite float32 waveform in [-1, 1] of shape `(num_samples,)`, before scaling.

        Args:
            waveform: array-like of shape `(num_samples,)` or `(num_channels, num_samples)`, float or integer PCM.
            source: what to call the clip in error messages (a file name, say).
        """
        array = waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else np.asarray(waveform)
        if array.dtype in _PCM_FULL_SCALE:
            array = array.astype(np.float32) / _PCM_FULL_SCALE[array.dtype]
        elif array.dtype == np.uint8:
            array = (array.astype(np.float32) - 128.0) / 128.0
        elif not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"{source}: unsupported audio dtype {array.dtype}; pass float or integer PCM samples.")
        if array.ndim == 2:
            if array.shape[0] > array.shape[1]:
                raise ValueError(
                    f"{source}: a multi-channel clip must be (num_channels, num_samples), got shape {array.shape}; "
                    "transpose it."
                )
            array = downmix(array, self.channel_mode)
        elif array.ndim != 1:
            raise ValueError(f"{source}: expected a 1-D or (channels, samples) waveform, got shape {array.shape}.")
        if array.size == 0:
            raise ValueError(f"{source}: the waveform is empty (0 samples).")
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise ValueError(f"{source}: the waveform contains {bad} NaN or Inf samples; clean or re-decode it.")
        return array.astype(np.float32, copy=False)

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
            raw_audio (`np.ndarray`, `torch.Tensor`, `list[float]` or a list of those): one clip or a batch.
            sampling_rate (`int`, *optional*): Rate of `raw_audio`; must equal `self.sampling_rate`.

        Returns:
            [`BatchFeature`] with `input_values` of shape `(batch_size, num_samples)` (float32) and, when asked or
            configured, `attention_mask` of the same shape.
        """
        if sampling_rate is not None:
            if sampling_rate != self.sampling_rate:
                raise ValueError(
                    f"The audio is sampled at {sampling_rate} Hz but SoundNet expects {self.sampling_rate} Hz. "
                    f"Resample it first, e.g. `torchaudio.functional.resample(waveform, {sampling_rate}, "
                    f"{self.sampling_rate})`, or decode with `torchcodec.decoders.AudioDecoder(path, "
                    f"sample_rate={self.sampling_rate})`."
                )
        else:
            logger.warning(
                f"No `sampling_rate` was passed to {self.__class__.__name__}; assuming {self.sampling_rate} Hz. "
                "Pass `sampling_rate` to catch silent errors."
            )

        is_batched = (
            isinstance(raw_audio, (list, tuple)) and len(raw_audio) > 0 and not np.isscalar(raw_audio[0])
        ) or (hasattr(raw_audio, "ndim") and raw_audio.ndim == 2)
        clips = list(raw_audio) if is_batched else [raw_audio]
        values = [
            self.repeat_short(self.to_mono_float(clip, source=f"clip {i}")) * np.float32(self.input_scale)
            for i, clip in enumerate(clips)
        ]

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


__all__ = ["CHANNEL_MODES", "SoundNetFeatureExtractor", "check_channel_mode", "downmix"]
