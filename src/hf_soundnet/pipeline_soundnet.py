"""The audio-classification pipeline of SoundNet checkpoints.

Importing `hf_soundnet` registers [`SoundNetAudioClassificationPipeline`] as the implementation of the
`"audio-classification"` task, so `pipeline("audio-classification", model=<SoundNet checkpoint>)` returns it. For any
other model it behaves exactly as transformers' [`AudioClassificationPipeline`] (every method defers to it).

With a SoundNet model it differs from upstream in what it accepts and what it answers:

- Paths and bytes are decoded in-process by `load_audio` (torchcodec, then soxr) rather than piped through an
  `ffmpeg` subprocess: a container whose index is at its end (an MP4 with `moov` last) is read by seeking, the channels
  are reduced by the feature extractor's saved `channel_mode` (the original SoundNet took the first channel), and a
  file that cannot be decoded (empty, random bytes, text, video without audio) raises `AudioLoadError` naming it.
- Files longer than `stream_longer_than` seconds (default 600) are not decoded whole: they are streamed through
  `hf_soundnet.inference.streaming` in chunks of 60 s with exact context, so memory stays bounded (a few chunks of audio and
  the model's activations of one chunk) whatever the length, and the answer equals the whole-file forward up to the
  fast forward's float error (1e-4).
- `datasets` Audio values (`ds[i]["audio"]`, a torchcodec `AudioDecoder`; `{"array", "sampling_rate"}` dicts at any
  rate; `KeyDataset(ds, "audio")`) go through the feature extractor, which resamples and applies `channel_mode`.
- Without `top_k`, the released model (`classifier_type="pretrained_heads"`) answers with its top
  `top_k_per_head` (5) objects followed by its top 5 scenes, each list sorted by probability: the two heads are
  separate softmaxes, so one ranking across both means little. An explicit `top_k` (an int, or None for every label)
  gives transformers' single ranking of all 1,401 labels.
"""

import os
from collections.abc import Iterator

import numpy as np
import torch
from transformers import AudioClassificationPipeline

from .audio.decoding import AudioLoadError, load_audio


# Seconds above which a file is streamed in chunks rather than decoded whole (as `soundnet extract` does).
STREAM_LONGER_THAN = 600.0
# Core length of a streamed chunk, in seconds of audio.
STREAM_CHUNK_SECONDS = 60.0
# Labels per head in the default answer of a model with the pretrained heads.
TOP_K_PER_HEAD = 5
# Probabilities are clamped to [eps, 1 - eps] before `logit`, as the model's forward does.
_PROB_EPS = 1e-7

_UNSET = object()


class SoundNetAudioClassificationPipeline(AudioClassificationPipeline):
    """
    [`AudioClassificationPipeline`] for SoundNet checkpoints (see the module docstring); unchanged upstream behaviour
    for other models.

    Call arguments beyond upstream's (SoundNet models only):
        top_k_per_head (`int`, *optional*, defaults to 5): labels per head in the default answer (no `top_k`).
        stream_longer_than (`float`, *optional*, defaults to 600): files longer than this many seconds are streamed
            in chunks; 0 or None decodes every file whole.
    """

    def __init__(self, *args, **kwargs):
        top_k_given = "top_k" in kwargs
        super().__init__(*args, **kwargs)
        if self.is_soundnet and not top_k_given:
            # Upstream's __init__ injects top_k=5; the SoundNet default is the per-head answer instead.
            self._postprocess_params.pop("top_k", None)

    @property
    def is_soundnet(self) -> bool:
        return getattr(self.model.config, "model_type", None) == "soundnet"

    @property
    def has_pretrained_heads(self) -> bool:
        return self.is_soundnet and getattr(self.model.config, "classifier_type", None) == "pretrained_heads"

    def _sanitize_parameters(
        self,
        top_k=_UNSET,
        function_to_apply=None,
        top_k_per_head: int | None = None,
        stream_longer_than: float | None | object = _UNSET,
        **kwargs,
    ):
        if not self.is_soundnet:
            unexpected = {"top_k_per_head": top_k_per_head, "stream_longer_than": stream_longer_than}
            given = [name for name, value in unexpected.items() if value is not None and value is not _UNSET]
            if given:
                raise TypeError(f"{given} apply to SoundNet checkpoints only.")
            return super()._sanitize_parameters(
                top_k=None if top_k is _UNSET else top_k, function_to_apply=function_to_apply, **kwargs
            )
        preprocess_params, forward_params, postprocess_params = {}, {}, {}
        if top_k is not _UNSET:
            postprocess_params = super()._sanitize_parameters(top_k=top_k, function_to_apply=function_to_apply)[2]
        elif function_to_apply is not None:
            postprocess_params = super()._sanitize_parameters(function_to_apply=function_to_apply)[2]
            postprocess_params.pop("top_k")
        if top_k_per_head is not None:
            if top_k_per_head < 1:
                raise ValueError(f"`top_k_per_head` must be at least 1, got {top_k_per_head}.")
            postprocess_params["top_k_per_head"] = top_k_per_head
        if stream_longer_than is not _UNSET:
            preprocess_params["stream_longer_than"] = stream_longer_than
        return preprocess_params, forward_params, postprocess_params

    def preprocess(self, inputs, stream_longer_than: float | None = STREAM_LONGER_THAN):
        if not self.is_soundnet:
            return super().preprocess(inputs)
        extractor = self.feature_extractor
        rate, mode = extractor.sampling_rate, extractor.channel_mode
        if isinstance(inputs, os.PathLike):
            inputs = os.fspath(inputs)
        if isinstance(inputs, str) and inputs.startswith(("http://", "https://")):
            import httpx

            inputs = load_audio(httpx.get(inputs, follow_redirects=True).content, rate, name=inputs, channel_mode=mode)
        elif isinstance(inputs, str):
            if stream_longer_than and (header_duration(inputs) or 0.0) > stream_longer_than:
                return {"streamed_logits": self._streamed_logits(inputs)}
            inputs = load_audio(inputs, sampling_rate=rate, channel_mode=mode)
        elif isinstance(inputs, (bytes, bytearray)):
            inputs = load_audio(bytes(inputs), sampling_rate=rate, channel_mode=mode)
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2 and inputs.shape[0] == 1:
            inputs = inputs[0]  # load_audio's (1, num_samples)
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.cpu().numpy()
        # One clip, wrapped so that a 2-D array is read as one multi-channel clip: the feature extractor applies its
        # `channel_mode`, resamples decoders and dicts, and checks the values.
        processed = extractor([inputs], sampling_rate=rate, return_tensors="pt")
        return processed.to(dtype=self.dtype) if self.dtype is not None else processed

    def _forward(self, model_inputs):
        if "streamed_logits" in model_inputs:
            from .modeling_soundnet import SoundNetAudioClassifierOutput

            return SoundNetAudioClassifierOutput(logits=model_inputs["streamed_logits"])
        return super()._forward(model_inputs)

    def postprocess(self, model_outputs, top_k=None, function_to_apply=None, top_k_per_head=TOP_K_PER_HEAD):
        if not self.has_pretrained_heads or top_k is not None or function_to_apply is not None:
            if top_k is None:
                top_k = self.model.config.num_labels
            return super().postprocess(model_outputs, top_k=top_k, function_to_apply=function_to_apply)
        # The per-head answer: sigmoid(logits) are each head's clip probabilities (see SoundNetForAudioClassification).
        probabilities = model_outputs.logits[0].float().sigmoid()
        num_objects = self.model.config.num_object_classes
        answer = []
        for start, stop in ((0, num_objects), (num_objects, probabilities.shape[0])):
            scores, ids = probabilities[start:stop].topk(min(top_k_per_head, stop - start))
            answer += [
                {"score": score, "label": self.model.config.id2label[start + i]}
                for score, i in zip(scores.tolist(), ids.tolist())
            ]
        return answer

    @torch.inference_mode()
    def _streamed_logits(self, path: str) -> torch.Tensor:
        """
        The clip logits `(1, num_labels)` of a long file, streamed in chunks with exact context: each head's softmax
        per step summed as chunks arrive (pretrained heads), or the classifier layer's frames summed (linear
        classifier), so memory does not grow with the file's length.
        """
        from .fast_forward_soundnet import FastSoundNet
        from .inference.streaming import iter_file_waveform, stream_layers

        model, extractor = self.model, self.feature_extractor
        fast = FastSoundNet.from_model(model).eval()
        if self.has_pretrained_heads:
            layer, keys = "conv8", ("object_logits", "scene_logits")
        else:
            layer = model.config.layer_names[model.layer_index]
            keys = (layer,)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        pieces = iter_file_waveform(
            path, extractor.sampling_rate, STREAM_CHUNK_SECONDS, channel_mode=extractor.channel_mode
        )
        scaled = (piece * np.float32(extractor.input_scale) for piece in continued(pieces, extractor))
        chunks = stream_layers(fast, scaled, [layer], chunk_seconds=STREAM_CHUNK_SECONDS)
        for chunk in chunks:
            if keys[0] not in chunk.values:
                continue
            for key in keys:
                value = chunk.values[key].float()
                # heads: (steps, classes) -> softmax over classes; a block: (channels, frames) -> frames last
                part = value.softmax(-1).sum(0) if layer == "conv8" else value.sum(-1)
                sums[key] = sums[key] + part if key in sums else part
            count += chunk.values[keys[0]].shape[0 if layer == "conv8" else -1]
        if count == 0:
            raise AudioLoadError(f"{path}: decoded to too few samples for one {layer} step.")
        if layer == "conv8":
            probabilities = (torch.cat([sums[key] for key in keys]) / count).clamp(_PROB_EPS, 1 - _PROB_EPS)
            logits = torch.log(probabilities) - torch.log1p(-probabilities)
        else:
            pooled = (sums[layer] / count).to(next(model.parameters()).device)
            logits = model.classifier(model.dropout(pooled))
        return logits[None].cpu()


def continued(pieces: Iterator[np.ndarray], extractor) -> Iterator[np.ndarray]:
    """
    The consecutive 1-D `pieces` of a long waveform, followed by what `extractor.repeat_short` appends to the whole
    waveform (its start, continued cyclically up to `covered_num_samples`), so that streaming gives the whole-file
    answer. Keeps at most the first `head_field` size samples (14.5 s for SoundNet-8) besides the current piece.
    """
    head_field = getattr(extractor, "head_field", None)
    if head_field is None or not extractor.min_num_samples or not getattr(extractor, "continue_long_clips", False):
        yield from pieces
        return
    keep = int(head_field[1])
    start: list[np.ndarray] = []
    kept = total = 0
    for piece in pieces:
        if kept < keep:
            start.append(piece[: keep - kept].copy())
            kept += start[-1].shape[0]
        total += piece.shape[0]
        yield piece
    if total == 0:
        return
    beginning = np.concatenate(start)
    target = extractor.covered_num_samples(max(total, extractor.min_num_samples))
    if total < extractor.min_num_samples or target - total > beginning.shape[0]:
        raise ValueError("Streaming is for long files; a short one is decoded whole (lower stream_longer_than).")
    if target > total:
        yield beginning[: target - total]


def header_duration(path: str) -> float | None:
    """The duration in seconds that a file's header states, or None when unknown or unreadable (the whole-file decode
    then reports the problem, naming the file)."""
    try:
        from torchcodec.decoders import AudioDecoder

        return AudioDecoder(path).metadata.duration_seconds_from_header
    except Exception:  # a corrupt or missing file: load_audio names the problem
        return None


__all__ = [
    "STREAM_CHUNK_SECONDS",
    "STREAM_LONGER_THAN",
    "TOP_K_PER_HEAD",
    "SoundNetAudioClassificationPipeline",
    "header_duration",
]
