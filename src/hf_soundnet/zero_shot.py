"""Zero-shot audio classification with SoundNet students: the config, model, processor and pipeline, and their
registration with transformers' Auto classes and pipeline registry (called once by `import hf_soundnet`).

After registration `AutoConfig`, `AutoModel`, `AutoFeatureExtractor` and `AutoProcessor` load a
`"soundnet_text_audio"` checkpoint, `save_pretrained` uploads the code (`auto_map`, and the zero-shot pipeline in
`custom_pipelines`), and `pipeline("zero-shot-audio-classification", model=<checkpoint>)` returns
[`SoundNetZeroShotAudioClassificationPipeline`].
"""

import os
from pathlib import Path

import numpy as np
import torch

from .configuration_soundnet_text_audio import SoundNetTextAudioConfig
from .feature_extraction_soundnet import SoundNetFeatureExtractor
from .modeling_soundnet_text_audio import SoundNetTextAudioModel, SoundNetTextAudioOutput, ZeroShotModelError
from .pipeline_soundnet_zero_shot import SoundNetZeroShotAudioClassificationPipeline
from .processing_soundnet_text_audio import SoundNetTextAudioProcessor, tokenize_prompts


TASK = "zero-shot-audio-classification"


def save_zero_shot_checkpoint(
    student_name_or_path: str | os.PathLike,
    teacher_name_or_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    hypothesis_template: str | None = None,
) -> Path:
    """
    Makes and saves (with code) the zero-shot checkpoint of a pre-trained student and its image-text teacher:
    [`SoundNetTextAudioModel.from_student_and_teacher`] and [`SoundNetTextAudioProcessor.from_student_and_teacher`].
    The folder then serves `pipeline("zero-shot-audio-classification", model=output_dir)` and `soundnet push`.
    """
    model = SoundNetTextAudioModel.from_student_and_teacher(
        str(student_name_or_path), str(teacher_name_or_path), hypothesis_template=hypothesis_template
    )
    processor = SoundNetTextAudioProcessor.from_student_and_teacher(
        str(student_name_or_path), str(teacher_name_or_path), text_max_length=model.config.text_max_length
    )
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return Path(output_dir)


def label_embeddings(
    model: SoundNetTextAudioModel,
    processor: SoundNetTextAudioProcessor,
    labels: list[str],
    hypothesis_template: str | None = None,
) -> torch.Tensor:
    """
    `(num_labels, embedding_dim)`: the normalised text embedding of each label's prompt
    (`hypothesis_template`, the checkpoint's by default), computed once for a whole evaluation.
    """
    template = hypothesis_template or model.config.hypothesis_template
    tokens = processor(text=[template.format(label) for label in labels]).to(model.device)
    with torch.no_grad():
        return model.get_text_features(tokens["input_ids"], tokens["attention_mask"]).pooler_output


def zero_shot_probabilities(
    model: SoundNetTextAudioModel, processor: SoundNetTextAudioProcessor, waveform: np.ndarray, text_embeds
) -> torch.Tensor:
    """
    `(num_labels,)`: the pipeline's scores of one clip, `softmax(exp(logit_scale) * cos(audio, prompt))`, against
    precomputed `text_embeds` ([`label_embeddings`]).

    Args:
        waveform (`np.ndarray` of shape `(num_samples,)`): at the feature extractor's rate.
    """
    rate = processor.feature_extractor.sampling_rate
    inputs = processor(audio=waveform, sampling_rate=rate).to(model.device)
    with torch.no_grad():
        audio = model.get_audio_features(inputs["input_values"], inputs.get("audio_attention_mask")).pooler_output
        return model.scores(audio, text_embeds)[0].float().softmax(-1).cpu()


def register_zero_shot() -> None:
    """
    Registers the text-audio classes with the Auto classes (and for code upload), and makes the SoundNet zero-shot
    pipeline the registry's implementation of the task (replacing the entry, as `hf_soundnet._register_pipeline`
    does for audio classification, so other models' saved pipelines are not marked custom).
    """
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoProcessor
    from transformers.pipelines import PIPELINE_REGISTRY

    AutoConfig.register(SoundNetTextAudioConfig.model_type, SoundNetTextAudioConfig, exist_ok=True)
    SoundNetTextAudioConfig.register_for_auto_class("AutoConfig")
    AutoModel.register(SoundNetTextAudioConfig, SoundNetTextAudioModel, exist_ok=True)
    SoundNetTextAudioModel.register_for_auto_class("AutoModel")
    AutoFeatureExtractor.register(SoundNetTextAudioConfig, SoundNetFeatureExtractor, exist_ok=True)
    AutoProcessor.register(SoundNetTextAudioConfig, SoundNetTextAudioProcessor, exist_ok=True)
    SoundNetTextAudioProcessor.register_for_auto_class("AutoProcessor")
    task = PIPELINE_REGISTRY.supported_tasks[TASK]
    if task["impl"] is not SoundNetZeroShotAudioClassificationPipeline:
        PIPELINE_REGISTRY.supported_tasks[TASK] = {**task, "impl": SoundNetZeroShotAudioClassificationPipeline}


__all__ = [
    "SoundNetTextAudioConfig",
    "SoundNetTextAudioModel",
    "SoundNetTextAudioOutput",
    "SoundNetTextAudioProcessor",
    "SoundNetZeroShotAudioClassificationPipeline",
    "TASK",
    "ZeroShotModelError",
    "label_embeddings",
    "register_zero_shot",
    "save_zero_shot_checkpoint",
    "tokenize_prompts",
    "zero_shot_probabilities",
]
