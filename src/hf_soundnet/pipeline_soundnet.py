"""An audio-classification pipeline that decodes files in-process with torchcodec.

transformers' `AudioClassificationPipeline` decodes paths and bytes through an `ffmpeg` subprocess that averages the
channels and reports a bad file as "Malformed soundfile". This subclass decodes with `load_audio` (torchcodec, then
soxr), reduces the channels by the feature extractor's saved `channel_mode` (the original SoundNet took the first
channel), and raises `AudioLoadError` naming the file and the problem. Use it with
`pipeline("audio-classification", model=..., pipeline_class=SoundNetAudioClassificationPipeline)`.
"""

import numpy as np
from transformers import AudioClassificationPipeline

from .audio_io import load_audio


class SoundNetAudioClassificationPipeline(AudioClassificationPipeline):
    """[`AudioClassificationPipeline`] with torchcodec decoding of paths and bytes; arrays and dicts as upstream."""

    def preprocess(self, inputs):
        rate, mode = self.feature_extractor.sampling_rate, self.feature_extractor.channel_mode
        if isinstance(inputs, str) and not inputs.startswith(("http://", "https://")):
            inputs = load_audio(inputs, sampling_rate=rate, channel_mode=mode)[0]
        elif isinstance(inputs, (bytes, bytearray)):
            inputs = load_audio(bytes(inputs), sampling_rate=rate, channel_mode=mode)[0]
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
            # A multi-channel clip `(num_channels, num_samples)`: the feature extractor applies its `channel_mode`.
            processed = self.feature_extractor([inputs], sampling_rate=rate, return_tensors="pt")
            return processed.to(dtype=self.dtype) if self.dtype is not None else processed
        return super().preprocess(inputs)


__all__ = ["SoundNetAudioClassificationPipeline"]
