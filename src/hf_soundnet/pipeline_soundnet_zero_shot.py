"""The zero-shot audio-classification pipeline of SoundNet text-audio checkpoints ([`SoundNetTextAudioModel`]).

Importing `hf_soundnet` makes [`SoundNetZeroShotAudioClassificationPipeline`] the implementation of the
`"zero-shot-audio-classification"` task; for any other model (CLAP) it behaves exactly as transformers'
`ZeroShotAudioClassificationPipeline`. With a SoundNet model it differs from upstream in:

- decoding: paths and bytes are decoded in-process by `load_audio` (torchcodec, then soxr) at the feature extractor's
  rate with its saved `channel_mode`, not by an `ffmpeg` subprocess; a file that cannot be decoded raises
  `AudioLoadError` naming it; multi-channel arrays and `datasets` audio go through the feature extractor;
- prompts: the default `hypothesis_template` is the checkpoint's (`config.hypothesis_template`, "a photo of a {}.":
  the text tower is an image-text teacher's), and prompts are padded to `config.text_max_length` as the teacher's
  zero-shot targets were ([`tokenize_prompts`]);
- `timeline=True`: the answer becomes `{"scores": [...], "timeline": {...}}` with, per conv8 step, the start time in
  seconds and the softmax over the labels of that step's scores (`logits_per_audio_step`).

The scores are `softmax(exp(logit_scale) * cos(audio, prompt))` over the candidate labels (CLAP's answer; SigLIP's
`logit_bias` is the same for every label and drops out).

Where hf_soundnet is not installed, a checkpoint saved with code declares this class in `custom_pipelines`, and
`pipeline("zero-shot-audio-classification", model=<checkpoint>, trust_remote_code=True)` loads it from the
checkpoint's `pipeline_soundnet_zero_shot.py` (this module imports root-level siblings only, so code upload carries
it whole).
"""

import os
from typing import Any

import numpy as np
import torch
from transformers import ZeroShotAudioClassificationPipeline
from transformers.utils import logging

from .decoding_soundnet import load_audio
from .processing_soundnet_text_audio import tokenize_prompts


MODEL_TYPE = "soundnet_text_audio"

logger = logging.get_logger(__name__)


class SoundNetZeroShotAudioClassificationPipeline(ZeroShotAudioClassificationPipeline):
    """
    [`ZeroShotAudioClassificationPipeline`] for SoundNet text-audio checkpoints (see the module docstring); unchanged
    upstream behaviour for other models.

    Call arguments beyond upstream's (SoundNet models only):
        timeline (`bool`, *optional*, defaults to False): also the per-step scores.
    """

    @property
    def is_soundnet(self) -> bool:
        return getattr(self.model.config, "model_type", None) == MODEL_TYPE

    def __call__(self, audios, **kwargs):
        """Upstream's call; with a SoundNet model each clip is scored alone (`batch_size` above 1 is taken as 1, with
        a warning: the per-clip work is the clip's forward and its prompts' embeddings; for many clips against one
        label set, embed the prompts once with `hf_soundnet.zero_shot.label_embeddings`)."""
        if self.is_soundnet and (kwargs.get("batch_size") or self._batch_size or 1) > 1:
            logger.warning("The SoundNet zero-shot pipeline scores one clip at a time: batch_size is taken as 1.")
            kwargs["batch_size"] = 1
            self._batch_size = None
        return super().__call__(audios, **kwargs)

    def _sanitize_parameters(self, timeline: bool | None = None, **kwargs):
        preprocess_params, forward_params, postprocess_params = super()._sanitize_parameters(**kwargs)
        if timeline is not None:
            if not self.is_soundnet:
                raise TypeError("`timeline` applies to SoundNet checkpoints only.")
            forward_params["timeline"] = postprocess_params["timeline"] = timeline
        return preprocess_params, forward_params, postprocess_params

    def preprocess(self, audio, candidate_labels=None, hypothesis_template=None):
        if not self.is_soundnet:
            kwargs = {} if hypothesis_template is None else {"hypothesis_template": hypothesis_template}
            return super().preprocess(audio, candidate_labels=candidate_labels, **kwargs)
        if not candidate_labels:
            raise ValueError("Give `candidate_labels`: the labels to choose from.")
        extractor = self.feature_extractor
        rate, mode = extractor.sampling_rate, getattr(extractor, "channel_mode", "mean")
        if isinstance(audio, os.PathLike):
            audio = os.fspath(audio)
        if isinstance(audio, str) and audio.startswith(("http://", "https://")):
            import httpx

            audio = load_audio(httpx.get(audio, follow_redirects=True).content, rate, name=audio, channel_mode=mode)
        elif isinstance(audio, (str, bytes, bytearray)):
            audio = load_audio(audio if isinstance(audio, str) else bytes(audio), rate, channel_mode=mode)
        if isinstance(audio, np.ndarray) and audio.ndim == 2 and audio.shape[0] == 1:
            audio = audio[0]  # load_audio's (1, num_samples)
        if isinstance(audio, torch.Tensor):
            audio = audio.cpu().numpy()
        # One clip, wrapped so that a 2-D array is read as one multi-channel clip (the extractor's channel_mode).
        features = extractor([audio], sampling_rate=rate, return_tensors="pt")
        inputs = {"input_values": features["input_values"].to(self.dtype or torch.float32)}
        if "attention_mask" in features:
            inputs["audio_attention_mask"] = features["attention_mask"]
        template = hypothesis_template or self.model.config.hypothesis_template
        prompts = [template.format(label) for label in candidate_labels]
        inputs["text_inputs"] = tokenize_prompts(self.tokenizer, prompts, self.model.config.text_max_length)
        inputs["candidate_labels"] = list(candidate_labels)
        return inputs

    def _forward(self, model_inputs, timeline: bool = False):
        if not self.is_soundnet:
            return super()._forward(model_inputs)
        candidate_labels = model_inputs.pop("candidate_labels")
        text_inputs = model_inputs.pop("text_inputs")
        outputs = self.model(**text_inputs, **model_inputs)
        model_outputs = {"candidate_labels": candidate_labels, "logits": outputs.logits_per_audio}
        if timeline:
            model_outputs["step_logits"] = outputs.logits_per_audio_step
            model_outputs["step_mask"] = outputs.audio_step_mask
        return model_outputs

    def postprocess(self, model_outputs, timeline: bool = False) -> list[dict[str, Any]] | dict[str, Any]:
        step_logits, step_mask = model_outputs.pop("step_logits", None), model_outputs.pop("step_mask", None)
        labels = model_outputs["candidate_labels"]
        scores = super().postprocess(model_outputs)
        if not timeline:
            return scores
        num_steps = int(step_mask[0].sum())
        probabilities = step_logits[0, :num_steps].float().softmax(-1)
        audio = self.model.config.audio_config
        return {
            "scores": scores,
            "timeline": {
                "labels": labels,
                "times": [step * audio.head_hop / audio.sampling_rate for step in range(num_steps)],
                "scores": probabilities.tolist(),
            },
        }


__all__ = ["MODEL_TYPE", "SoundNetZeroShotAudioClassificationPipeline"]
