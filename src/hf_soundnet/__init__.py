"""hf-soundnet: SoundNet (Aytar, Vondrick, Torralba, NIPS 2016) for the Hugging Face ecosystem.

Importing the package registers SoundNet with transformers' Auto classes and the audio-classification pipeline
([`register`]). Training and data modules (`hf_soundnet.pretraining.trainer`, `hf_soundnet.pretraining.corpus`) are
imported on demand so that `import hf_soundnet` needs neither `datasets` nor `accelerate`.

Start-up of the `soundnet` command: the names below are imported on first use (PEP 562 `__getattr__`), and when this
process's program is the command itself (its console script, or `python -m hf_soundnet.cli`) the registration is
deferred: the command calls [`register`] only where it loads a model through transformers (`--eager`, a Hub id, a
checkpoint that `hf_soundnet.inference.light_loading` does not read). Registration needs the model classes, hence
`transformers.modeling_utils`, and the pipeline registry, hence `transformers.pipelines`: about 1 s that
`soundnet classify one.mp3` no longer pays (README, "Benchmarks"). Every other program registers at import, as before.
"""

import importlib
import os
import sys


__version__ = "0.1.0"  # the only place the version is written (pyproject reads it: [tool.hatch.version])

# Public name -> the submodule that defines it, imported on first access (`__getattr__` below).
_LAZY_NAMES = {
    "SOUNDNET_VARIANTS": "configuration_soundnet",
    "SoundNetConfig": "configuration_soundnet",
    "SoundNetLayerInfo": "configuration_soundnet",
    "AudioLoadError": "audio.decoding",
    "load_audio": "audio.decoding",
    "SoundNetError": "errors",
    "SoundNetFeatureExtractor": "feature_extraction_soundnet",
    "SoundNetAudioClassifierOutput": "modeling_soundnet",
    "SoundNetForAudioClassification": "modeling_soundnet",
    "SoundNetForPreTraining": "modeling_soundnet",
    "SoundNetForPreTrainingOutput": "modeling_soundnet",
    "SoundNetIntermediatesOutput": "modeling_soundnet",
    "SoundNetModel": "modeling_soundnet",
    "SoundNetModelOutput": "modeling_soundnet",
    "SoundNetPreTrainedModel": "modeling_soundnet",
    "SoundNetAudioClassificationPipeline": "pipeline_soundnet",
    "SoundNetTextAudioModel": "zero_shot",
    "SoundNetTextAudioProcessor": "zero_shot",
}


def __getattr__(name: str):
    """PEP 562: `hf_soundnet.SoundNetModel` and the other public names import their submodule on first access."""
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


_registered = False


def register() -> None:
    """
    Registers SoundNet with transformers (idempotent): `AutoConfig`, `AutoFeatureExtractor`, the model Auto classes
    of `SoundNetPreTrainedModel.auto_classes`, the `"audio-classification"` pipeline, and the zero-shot text-audio
    model, processor and `"zero-shot-audio-classification"` pipeline (`hf_soundnet.zero_shot`). `import hf_soundnet` calls it,
    except in the `soundnet` command, which calls it before loading a model through transformers.

    Also code upload: `save_pretrained` copies the module files and writes `auto_map`, so a saved or pushed
    checkpoint also loads with `trust_remote_code=True` where hf_soundnet is not installed.
    """
    global _registered
    if _registered:
        return
    import transformers
    from transformers import AutoConfig, AutoFeatureExtractor

    from . import modeling_soundnet
    from .configuration_soundnet import SoundNetConfig
    from .feature_extraction_soundnet import SoundNetFeatureExtractor

    AutoConfig.register("soundnet", SoundNetConfig, exist_ok=True)
    SoundNetConfig.register_for_auto_class("AutoConfig")
    AutoFeatureExtractor.register(SoundNetConfig, SoundNetFeatureExtractor, exist_ok=True)
    SoundNetFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    for auto_name, class_name in modeling_soundnet.SoundNetPreTrainedModel.auto_classes.items():
        model_class = getattr(modeling_soundnet, class_name)
        getattr(transformers, auto_name).register(SoundNetConfig, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_name)
    _register_pipeline()
    from .zero_shot import register_zero_shot

    register_zero_shot()  # the zero-shot text-audio model, processor and pipeline (hf_soundnet.zero_shot)
    _registered = True


# The file names of the `soundnet` console script: pip's on POSIX and its Windows launcher's.
_CONSOLE_SCRIPT_NAMES = ("soundnet", "soundnet.exe", "soundnet-script.py")


def _started_as_cli(argv: list[str] | None = None) -> bool:
    """Whether this process's program (`sys.orig_argv`, or `argv`) is the `soundnet` command: `python -m
    hf_soundnet.cli ...` (also under `accelerate launch -m`) or the `soundnet` console script."""
    argv = list(sys.orig_argv if argv is None else argv)
    arguments = iter(argv[1:])
    for argument in arguments:
        if argument == "-m":
            return next(arguments, None) == "hf_soundnet.cli"
        if argument in ("-c", "-") or argument.startswith("-c"):
            return False
        if argument in ("-W", "-X", "--check-hash-based-pycs"):
            next(arguments, None)  # the option's value
        elif not argument.startswith("-"):  # the script: the console script itself, not a user's `soundnet.py`
            return os.path.basename(argument) in _CONSOLE_SCRIPT_NAMES
    return False


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

    from .pipeline_soundnet import SoundNetAudioClassificationPipeline

    task = PIPELINE_REGISTRY.supported_tasks["audio-classification"]
    if task["impl"] is SoundNetAudioClassificationPipeline:
        return
    PIPELINE_REGISTRY.supported_tasks["audio-classification"] = {**task, "impl": SoundNetAudioClassificationPipeline}


if not _started_as_cli():
    register()

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
    "register",
]
