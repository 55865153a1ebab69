"""hf-soundnet: SoundNet (Aytar, Vondrick, Torralba, NIPS 2016) for the Hugging Face ecosystem.

Importing the package registers SoundNet with transformers' Auto classes and the audio-classification pipeline.
Training and data modules (`hf_soundnet.trainer_soundnet`, `hf_soundnet.corpus`) are imported on demand so that
`import hf_soundnet` needs neither `datasets` nor `accelerate`.
"""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForPreTraining,
)

from .audio_io import AudioLoadError, load_audio
from .configuration_soundnet import SOUNDNET_VARIANTS, SoundNetConfig
from .feature_extraction_soundnet import SoundNetFeatureExtractor
from .modeling_soundnet import (
    SoundNetAudioClassifierOutput,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
    SoundNetForPreTrainingOutput,
    SoundNetModel,
    SoundNetModelOutput,
    SoundNetPreTrainedModel,
)
from .pipeline_soundnet import SoundNetAudioClassificationPipeline


__version__ = "0.1.0"

AutoConfig.register("soundnet", SoundNetConfig, exist_ok=True)
AutoModel.register(SoundNetConfig, SoundNetModel, exist_ok=True)
AutoModelForPreTraining.register(SoundNetConfig, SoundNetForPreTraining, exist_ok=True)
AutoModelForAudioClassification.register(SoundNetConfig, SoundNetForAudioClassification, exist_ok=True)
AutoFeatureExtractor.register(SoundNetConfig, SoundNetFeatureExtractor, exist_ok=True)

# Code upload: `save_pretrained` copies the module files and writes `auto_map`, so a saved or pushed checkpoint also
# loads with `trust_remote_code=True` where hf_soundnet is not installed (the model classes write every view's entry).
SoundNetConfig.register_for_auto_class("AutoConfig")
SoundNetModel.register_for_auto_class("AutoModel")
SoundNetForPreTraining.register_for_auto_class("AutoModelForPreTraining")
SoundNetForAudioClassification.register_for_auto_class("AutoModelForAudioClassification")
SoundNetFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")

__all__ = [
    "SOUNDNET_VARIANTS",
    "AudioLoadError",
    "SoundNetAudioClassificationPipeline",
    "load_audio",
    "SoundNetAudioClassifierOutput",
    "SoundNetConfig",
    "SoundNetFeatureExtractor",
    "SoundNetForAudioClassification",
    "SoundNetForPreTraining",
    "SoundNetForPreTrainingOutput",
    "SoundNetModel",
    "SoundNetModelOutput",
    "SoundNetPreTrainedModel",
    "__version__",
]
