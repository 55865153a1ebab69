"""Per-clip features of a named layer, cut from a padded batch's [`ForwardOutput`] at each clip's valid length.

Layer names are those of `config.layer_name_to_index` (`conv1`..`conv7`, `pool1`, `pool2`, `pool5` for
SoundNet-8) plus `conv8`, the released heads: object logits (or per-step softmax) followed by scene ones along the
channel axis, in the order of the `pretrained_heads` labels.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..audio.batches import AudioBatch
from .engine import ForwardOutput, has_heads


HEAD_LAYER = "conv8"
HEAD_OUTPUTS = ("logits", "probabilities")


@dataclass(frozen=True)
class LayerSpec:
    """
    A resolved layer: `index` in `hidden_states` (None for conv8), `channels`, and `hop` (samples between frames).
    `num_blocks` is how many blocks must run (None: all, plus the heads).
    """

    name: str
    index: int | None
    channels: int
    hop: int
    num_blocks: int | None


def layer_choices(config) -> list[str]:
    """Every name `resolve_layer` accepts for `config`."""
    return [*config.layer_name_to_index, HEAD_LAYER]


def resolve_layer(model: torch.nn.Module, name: str) -> LayerSpec:
    """Resolves `name` for `model`; raises `ValueError` naming the choices for an unknown layer or missing heads."""
    config = model.config
    if name == HEAD_LAYER:
        if not has_heads(model):
            raise ValueError(
                f"Layer {HEAD_LAYER!r} needs the released object/scene heads, which this checkpoint has not "
                f"(classifier_type={config.classifier_type!r}); choose one of {list(config.layer_name_to_index)}."
            )
        channels = config.num_object_classes + config.num_scene_classes
        return LayerSpec(name, None, channels, config.head_hop, None)
    if name not in config.layer_name_to_index:
        raise ValueError(f"Unknown layer {name!r}; choose one of {layer_choices(config)}.")
    index = config.layer_name_to_index[name]
    return LayerSpec(name, index, config.conv_channels[index], config.block_hops[index], index + 1)


def head_channels(objects: torch.Tensor, scenes: torch.Tensor, head_output: str = "logits") -> torch.Tensor:
    """
    The conv8 "layer" as features: object then scene logits (or each head's softmax) as channels.

    Args:
        objects: `(..., steps, num_object_classes)`; scenes: `(..., steps, num_scene_classes)`.

    Returns:
        `(..., num_object_classes + num_scene_classes, steps)`.
    """
    if head_output not in HEAD_OUTPUTS:
        raise ValueError(f"head_output must be one of {HEAD_OUTPUTS}, got {head_output!r}.")
    if head_output == "probabilities":
        objects, scenes = objects.softmax(-1), scenes.softmax(-1)
    return torch.cat([objects, scenes], dim=-1).transpose(-1, -2)


def clip_layer_features(
    model: torch.nn.Module, batch: AudioBatch, output: ForwardOutput, spec: LayerSpec, head_output: str = "logits"
) -> list[np.ndarray]:
    """
    Cuts each clip's valid frames of layer `spec` from a batch output.

    Returns:
        one float32 `np.ndarray` of shape `(channels, frames)` per clip of `batch.items`, in order. For conv8 the
        channels are the object logits then the scene logits (or each head's softmax with
        `head_output="probabilities"`).
    """
    if head_output not in HEAD_OUTPUTS:
        raise ValueError(f"head_output must be one of {HEAD_OUTPUTS}, got {head_output!r}.")
    num_samples = batch.num_samples
    if spec.index is None:
        lengths = model.get_head_lengths(num_samples)
        values = head_channels(output.object_logits, output.scene_logits, head_output)
    else:
        lengths = model.get_output_lengths(num_samples)[spec.index]
        values = output.hidden_states[spec.index]
    values = values.float().cpu().numpy()
    return [np.ascontiguousarray(values[row, :, : int(length)]) for row, length in enumerate(lengths)]


def clip_step_probabilities(
    model: torch.nn.Module, batch: AudioBatch, output: ForwardOutput
) -> list[tuple[np.ndarray, np.ndarray]]:
    """
    Each clip's per-step softmax of the two heads over its valid conv8 steps.

    Returns:
        per clip, object probabilities `(steps, num_object_classes)` and scene probabilities
        `(steps, num_scene_classes)`; their mean over steps is `clip_probabilities`.
    """
    lengths = model.get_head_lengths(batch.num_samples)
    objects = output.object_logits.softmax(-1).float().cpu().numpy()
    scenes = output.scene_logits.softmax(-1).float().cpu().numpy()
    return [(objects[row, : int(n)], scenes[row, : int(n)]) for row, n in enumerate(lengths)]


__all__ = [
    "HEAD_LAYER",
    "HEAD_OUTPUTS",
    "LayerSpec",
    "clip_layer_features",
    "clip_step_probabilities",
    "head_channels",
    "layer_choices",
    "resolve_layer",
]
