"""Per-clip features of a named layer, cut from a padded batch's forward output at each clip's valid length.

Layer names are those of the config's layer table (`config.get_layer`: `conv1`..`conv7`, `pool1`, `pool2`, `pool5`
for SoundNet-8) plus `conv8`, the released heads: object logits (or per-step softmax) followed by scene ones along the
channel axis, in the order of the `pretrained_heads` labels. The valid lengths come with the output
([`SoundNetIntermediatesOutput`]), so nothing here needs the model.
"""

import numpy as np
import torch

from ..configuration_soundnet import SoundNetLayerInfo
from ..fast_forward_soundnet import SoundNetIntermediatesOutput


HEAD_OUTPUTS = ("logits", "probabilities")


def resolve_layer(model: torch.nn.Module, name: str) -> SoundNetLayerInfo:
    """`model.config.get_layer(name)`, with the heads available when `model` (or its `FastSoundNet`) has them."""
    return model.config.get_layer(name, heads_available=model.has_heads)


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
    output: SoundNetIntermediatesOutput, layer: SoundNetLayerInfo, head_output: str = "logits"
) -> list[np.ndarray]:
    """
    Cuts each clip's valid frames of `layer` from a batch output.

    Returns:
        one float32 `np.ndarray` of shape `(channels, frames)` per row of the batch, in order. For conv8 the channels
        are the object logits then the scene logits (or each head's softmax with `head_output="probabilities"`).
    """
    if head_output not in HEAD_OUTPUTS:
        raise ValueError(f"head_output must be one of {HEAD_OUTPUTS}, got {head_output!r}.")
    if layer.is_head:
        lengths = output.step_lengths
        values = head_channels(output.object_logits, output.scene_logits, head_output)
    else:
        lengths = output.hidden_state_lengths[layer.index]
        values = output.hidden_states[layer.index]
    values = values.float().cpu().numpy()
    return [np.ascontiguousarray(values[row, :, : int(length)]) for row, length in enumerate(lengths.tolist())]


def clip_step_probabilities(output: SoundNetIntermediatesOutput) -> list[tuple[np.ndarray, np.ndarray]]:
    """
    Each clip's per-step softmax of the two heads over its valid conv8 steps.

    Returns:
        per row of the batch, object probabilities `(steps, num_object_classes)` and scene probabilities
        `(steps, num_scene_classes)`; their mean over steps is `clip_probabilities`.
    """
    objects = output.object_logits.softmax(-1).float().cpu().numpy()
    scenes = output.scene_logits.softmax(-1).float().cpu().numpy()
    return [(objects[row, :n], scenes[row, :n]) for row, n in enumerate(output.step_lengths.tolist())]


__all__ = [
    "HEAD_OUTPUTS",
    "clip_layer_features",
    "clip_step_probabilities",
    "head_channels",
    "resolve_layer",
]
