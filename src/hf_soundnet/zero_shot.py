"""Zero-shot audio classification with SoundNet students: the config, model, processor and pipeline, and their
registration with transformers' Auto classes and pipeline registry (called once by `import hf_soundnet`).

After registration `AutoConfig`, `AutoModel`, `AutoFeatureExtractor` and `AutoProcessor` load a
`"soundnet_text_audio"` checkpoint, `save_pretrained` uploads the code (`auto_map`, and the zero-shot pipeline in
`custom_pipelines`), and `pipeline("zero-shot-audio-classification", model=<checkpoint>)` returns
[`SoundNetZeroShotAudioClassificationPipeline`].
"""

from .configuration_soundnet_text_audio import SoundNetTextAudioConfig
from .feature_extraction_soundnet import SoundNetFeatureExtractor
from .modeling_soundnet_text_audio import SoundNetTextAudioModel, SoundNetTextAudioOutput, ZeroShotModelError
from .pipeline_soundnet_zero_shot import SoundNetZeroShotAudioClassificationPipeline
from .processing_soundnet_text_audio import SoundNetTextAudioProcessor, tokenize_prompts


TASK = "zero-shot-audio-classification"


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
    "register_zero_shot",
    "tokenize_prompts",
]
