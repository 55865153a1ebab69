"""Multiply-add count of a SoundNet forward, from the config's layer table (for throughput in GFLOP/s)."""

from ..configuration_soundnet import SoundNetConfig
from ..modeling_soundnet import conv_output_length


def forward_flops(config: SoundNetConfig, num_samples: int, heads: bool = True) -> dict[str, int]:
    """
    FLOPs (2 per multiply-add) of the convolutions of one clip of `num_samples` samples, per layer.

    Counts `2 * in_channels * kernel * out_channels * conv_frames` for each block (before its pool) and each head;
    BN, ReLU and pooling are a few operations per value and left out, as is usual.

    Returns:
        `{"conv1": ..., ..., "conv8": ..., "total": ...}` (`conv8`: both heads, present when `heads`).
    """
    flops, length, in_channels = {}, num_samples, 1
    layers = zip(
        config.layer_names,
        config.conv_channels,
        config.conv_kernel_sizes,
        config.conv_strides,
        config.conv_paddings,
        config.pool_kernel_sizes,
    )
    for name, out_channels, kernel, stride, padding, pool in layers:
        frames = conv_output_length(length, kernel, stride, padding)
        flops[name] = 2 * in_channels * kernel * out_channels * frames
        length, in_channels = frames // pool, out_channels
    if heads:
        steps = conv_output_length(length, config.head_kernel_size, config.head_stride, config.head_padding)
        classes = config.num_object_classes + config.num_scene_classes
        flops["conv8"] = 2 * in_channels * config.head_kernel_size * classes * steps
    flops["total"] = sum(flops.values())
    return flops


__all__ = ["forward_flops"]
