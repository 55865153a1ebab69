"""hf-soundnet: SoundNet (Aytar, Vondrick, Torralba, NIPS 2016) for the Hugging Face ecosystem.

Importing the package registers SoundNet with transformers' Auto classes and the audio-classification pipeline.
Training and data modules (`hf_soundnet.pretraining.trainer`, `hf_soundnet.pretraining.corpus`) are imported on demand so that
`import hf_soundnet` needs neither `datasets` nor `accelerate`.
"""

import transformers
from transformers import AutoConfig, AutoFeatureExtractor

from .audio.decoding import AudioLoadError, load_audio
from .configuration_soundnet import SOUNDNET_VARIANTS, SoundNetConfig, SoundNetLayerInfo
from .errors import SoundNetError
from .feature_extraction_soundnet import SoundNetFeatureExtractor
from .modeling_soundnet import (
    SoundNetAudioClassifierOutput,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
    SoundNetForPreTrainingOutput,
    SoundNetIntermediatesOutput,
    SoundNetModel,
    SoundNetModelOutput,
    SoundNetPreTrainedModel,
)
from .pipeline_soundnet import SoundNetAudioClassificationPipeline
from .zero_shot import SoundNetTextAudioModel, SoundNetTextAudioProcessor, register_zero_shot


__version__ = "0.1.0"  # the only place the version is written (pyproject reads it: [tool.hatch.version])

# Registration with the Auto classes, and code upload: `save_pretrained` copies the module files and writes
# `auto_map`, so a saved or pushed checkpoint also loads with `trust_remote_code=True` where hf_soundnet is not
# installed. The model classes come from one table, `SoundNetPreTrainedModel.auto_classes`.
AutoConfig.register("soundnet", SoundNetConfig, exist_ok=True)
SoundNetConfig.register_for_auto_class("AutoConfig")
AutoFeatureExtractor.register(SoundNetConfig, SoundNetFeatureExtractor, exist_ok=True)
SoundNetFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
for _auto_name, _class_name in SoundNetPreTrainedModel.auto_classes.items():
    _model_class = globals()[_class_name]
    getattr(transformers, _auto_name).register(SoundNetConfig, _model_class, exist_ok=True)
    _model_class.register_for_auto_class(_auto_name)


def _register_pipeline() -> None:
    """Makes `SoundNetAudioClassificationPipeline` the `"audio-classification"` implementation, keeping upstream's
    default model, so `pipeline("audio-classification", model=<SoundNet checkpoint>)` returns it; it behaves exactly
    as `AudioClassificationPipeline` for every other model. The registry's entry is replaced rather than passed to
    `register_pipeline`, which would also mark the class as a custom pipeline, so that `save_pretrained` of any
    audio-classification pipeline (a Wav2Vec2 one too) would write `custom_pipelines` into the model's config and
    make it load only with `trust_remote_code=True`. A SoundNet checkpoint saved with code declares this class in its
    own `custom_pipelines` (for `trust_remote_code=True` without the plugin); `SoundNetConfig.custom_pipelines` hides
    the declaration while this registration holds, so the plain call needs no `trust_remote_code` (see
    `hf_soundnet.pipeline_soundnet`, "How a checkpoint selects its pipeline")."""
    from transformers.pipelines import PIPELINE_REGISTRY

    task = PIPELINE_REGISTRY.supported_tasks["audio-classification"]
    if task["impl"] is SoundNetAudioClassificationPipeline:
        return
    PIPELINE_REGISTRY.supported_tasks["audio-classification"] = {**task, "impl": SoundNetAudioClassificationPipeline}


_register_pipeline()
register_zero_shot()  # the zero-shot text-audio model, processor and pipeline (hf_soundnet.zero_shot)

__all__ = [
    "SOUNDNET_VARIANTS",
    "AudioLoadError",
    "SoundNetAudioClassificationPipeline",
    "load_audio",
    "SoundNetAudioClassifierOutput",
    "SoundNetConfig",
    "SoundNetError",
    "SoundNetFeatureExtractor",
    "SoundNetLayerInfo",
    "SoundNetForAudioClassification",
    "SoundNetForPreTraining",
    "SoundNetForPreTrainingOutput",
    "SoundNetIntermediatesOutput",
    "SoundNetModel",
    "SoundNetModelOutput",
    "SoundNetPreTrainedModel",
    "SoundNetTextAudioModel",
    "SoundNetTextAudioProcessor",
    "__version__",
]
