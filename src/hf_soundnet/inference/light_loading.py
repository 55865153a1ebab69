"""The fast forward of a checkpoint folder, built without a transformers model: the start-up path of `soundnet classify`.

[`load_fast_classifier`] reads `config.json` ([`SoundNetConfig`]), `preprocessor_config.json`
([`SoundNetFeatureExtractor`], with the checkpoint's channel policy) and `model.safetensors`, and builds the
[`FastSoundNet`] straight from the tensors ([`FastSoundNet.from_state_dict`]): the same BN folding, in float64, of the
same float32 tensors that `AutoModelForAudioClassification.from_pretrained` would put in the model (one code path:
`from_model` calls `from_state_dict`), so the outputs are those of `FastSoundNet.from_model` of that model
(`tests/test_light_loading.py` checks them against it and against the eager stack, on a tiny random checkpoint and on
the released weights with real recordings).

What it saves: `transformers.modeling_utils` and `transformers.pipelines` (and the Auto-class and pipeline
registration that need them, deferred in the command: `hf_soundnet.register`) are never imported, about 0.8 s of the
command's start-up on a 2-core machine (README, "Benchmarks", section (e)).

It reads only what it can read exactly: a local folder whose `model.safetensors` holds exactly the float32 tensors of
`SoundNetForAudioClassification` with the released object and scene heads (`classifier_type="pretrained_heads"`).
Anything else (a Hub id, sharded or `.bin` weights, another head, other dtypes) returns None, and the caller loads the
model through transformers as before (`hf_soundnet.inference.engine.load_model_and_extractor`), with the Hub cache
semantics of `from_pretrained`.
"""

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from ..configuration_soundnet import SoundNetConfig
from ..fast_forward_soundnet import BLOCK_TENSORS, HEAD_TENSORS, FastSoundNet
from ..feature_extraction_soundnet import SoundNetFeatureExtractor


WEIGHTS_NAME = "model.safetensors"
# The prefix of the trunk's tensors in the state dict of `SoundNetForAudioClassification` (its `base_model_prefix`).
TRUNK_PREFIX = "soundnet."


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict (names, dtypes, shapes and bytes, in name order): the same weights give the same digest
    whether they are read from a file or taken from a model's `state_dict()`."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)  # 0-d tensors (BN's step counts) cannot be viewed
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def classifier_tensor_names(config: SoundNetConfig) -> set[str]:
    """The names of `SoundNetForAudioClassification(config).state_dict()` with the released heads."""
    per_block = (*BLOCK_TENSORS, "norm.num_batches_tracked")
    trunk = {f"{TRUNK_PREFIX}blocks.{i}.{name}" for i in range(config.num_blocks) for name in per_block}
    return trunk | set(HEAD_TENSORS)


def readable_checkpoint(name_or_path: str | os.PathLike) -> bool:
    """Whether `name_or_path` is a local folder with the three files [`load_fast_classifier`] reads."""
    folder = Path(name_or_path)
    return all((folder / name).is_file() for name in ("config.json", "preprocessor_config.json", WEIGHTS_NAME))


def load_fast_classifier(
    name_or_path: str | os.PathLike, device: str = "cpu", precision: str = "fp32"
) -> tuple[FastSoundNet, SoundNetFeatureExtractor] | None:
    """
    The [`FastSoundNet`] (with the object and scene heads) and the feature extractor of a checkpoint folder, or None
    when the folder is not one this path reads exactly (see the module docstring).

    Args:
        name_or_path: a checkpoint folder (`save_pretrained`'s layout); a Hub id gives None.
        device: where the fast module's weights live.
        precision: `"fp32"`, `"bf16"` or `"fp16"`: the compute dtype of the fast module
            (`hf_soundnet.inference.engine.PRECISIONS`).

    Returns:
        `(fast, feature_extractor)`; `fast.checkpoint_sha256` is the [`state_dict_sha256`] of the weights, equal to
        that of the transformers model loaded from the folder.
    """
    from safetensors.torch import load_file

    from .engine import PRECISIONS

    if not readable_checkpoint(name_or_path):
        return None
    folder = Path(name_or_path)
    config = SoundNetConfig.from_pretrained(folder)
    config.name_or_path = str(name_or_path)  # as `from_pretrained` of the model sets it
    if config.classifier_type != "pretrained_heads":
        return None
    state_dict = load_file(folder / WEIGHTS_NAME, device="cpu")
    if set(state_dict) != classifier_tensor_names(config):
        return None
    if any(t.dtype != torch.float32 for name, t in state_dict.items() if not name.endswith("num_batches_tracked")):
        return None
    trunk = {name[len(TRUNK_PREFIX) :]: t for name, t in state_dict.items() if name.startswith(TRUNK_PREFIX)}
    heads = {name: state_dict[name] for name in HEAD_TENSORS}
    fast = FastSoundNet.from_state_dict(config, trunk, heads=heads, compute_dtype=PRECISIONS[precision])
    fast = fast.to(device).eval()
    fast.checkpoint_sha256 = state_dict_sha256(state_dict)
    return fast, SoundNetFeatureExtractor.from_pretrained(folder)


__all__ = [
    "TRUNK_PREFIX",
    "WEIGHTS_NAME",
    "classifier_tensor_names",
    "load_fast_classifier",
    "readable_checkpoint",
    "state_dict_sha256",
]
