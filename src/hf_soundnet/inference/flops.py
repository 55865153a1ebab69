"""Multiply-add count of a SoundNet forward, from the config's layer table (for throughput in GFLOP/s)."""

from ..configuration_soundnet import SoundNetConfig


def forward_flops(config: SoundNetConfig, num_samples: int, heads: bool = True) -> dict[str, int]:
    """
    FLOPs (2 per multiply-add) of the convolutions of one clip of `num_samples` samples, per layer.

    Counts `2 * in_channels * kernel * out_channels * conv_frames` for each row of `config.layer_table` (blocks before
    their pool, and the heads); BN, ReLU and pooling are a few operations per value and left out, as is usual.

    Returns:
        `{"conv1": ..., ..., "conv8": ..., "total": ...}` (`conv8`: both heads, present when `heads`).
    """
    flops, length = {}, num_samples
    for layer in config.layer_table:
        if layer.is_head and not heads:
            break
        flops[layer.name] = 2 * layer.in_channels * layer.kernel_size * layer.channels * layer.conv_length(length)
        length = layer.output_length(length)
    flops["total"] = sum(flops.values())
    return flops


__all__ = ["forward_flops"]
