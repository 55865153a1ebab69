"""SoundNet model configuration.

SoundNet (Aytar, Vondrick and Torralba, "SoundNet: Learning Sound Representations from Unlabeled Video", NIPS 2016)
is a fully convolutional network over raw 22,050 Hz waveforms. The 8-layer definition mirrors the original Torch7
``main_train.lua``: every block is ``SpatialConvolution -> SpatialBatchNormalization -> ReLU [-> SpatialMaxPooling]``
and conv8 has two heads (1000 ImageNet objects and 401 Places scenes).
"""

from typing import Any, ClassVar, Literal

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig


# A variant is data, not code: each entry overrides the defaults of `SoundNetConfig` (the 8-layer net).
SOUNDNET_VARIANTS: dict[str, dict[str, Any]] = {
    "soundnet8": {},
    "soundnet5": {
        "conv_channels": (32, 64, 128, 256),
        "conv_kernel_sizes": (64, 32, 16, 8),
        "conv_strides": (2, 2, 2, 2),
        "conv_paddings": (32, 16, 8, 4),
        "pool_kernel_sizes": (8, 8, 8, 1),
        "head_kernel_size": 16,
        "head_stride": 12,
        "head_padding": 4,
    },
}


@strict
class SoundNetConfig(PreTrainedConfig):
    r"""
    Configuration of a SoundNet model. The per-layer lists form the layer table that builds the network, computes its
    output lengths and names its layers (`conv1`, `conv2`, ...; a block followed by a pool is also `pool{i}`).

    Args:
        conv_channels (`tuple[int, ...]`, *optional*, defaults to `(16, 32, 64, 128, 256, 512, 1024)`):
            Output channels of each convolutional block.
        conv_kernel_sizes (`tuple[int, ...]`, *optional*, defaults to `(64, 32, 16, 8, 4, 4, 4)`):
            Temporal kernel size of each block's convolution.
        conv_strides (`tuple[int, ...]`, *optional*, defaults to `(2, 2, 2, 2, 2, 2, 2)`):
            Stride of each block's convolution.
        conv_paddings (`tuple[int, ...]`, *optional*, defaults to `(32, 16, 8, 4, 2, 2, 2)`):
            Zero padding on both sides of each block's convolution.
        pool_kernel_sizes (`tuple[int, ...]`, *optional*, defaults to `(8, 8, 1, 1, 4, 1, 1)`):
            Max-pool kernel (and stride) after each block's ReLU; 1 means no pool.
        num_object_classes (`int`, *optional*, defaults to 1000):
            Size of the object head (conv8, ImageNet categories).
        num_scene_classes (`int`, *optional*, defaults to 401):
            Size of the scene head (conv8_2, Places categories).
        head_kernel_size (`int`, *optional*, defaults to 8):
            Temporal kernel of both heads.
        head_stride (`int`, *optional*, defaults to 2):
            Stride of both heads.
        head_padding (`int`, *optional*, defaults to 0):
            Zero padding of both heads (the original conv8 has none).
        sampling_rate (`int`, *optional*, defaults to 22050):
            Sampling rate of the waveform the network was trained on, in Hz.
        batch_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every batch normalisation (Torch7's default).
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of the fine-tuning `classifier`.
        classifier_type (`str`, *optional*, defaults to `"linear"`):
            What [`SoundNetForAudioClassification`] computes. `"linear"`: masked mean pooling of `classifier_layer`
            followed by a linear classifier (for fine-tuning, `num_labels` classes). `"pretrained_heads"`: the
            original conv8 object and scene heads; the labels are the objects followed by the scenes, the task is
            multi-label and each label's sigmoid score is the original model's probability (the head's per-step
            softmax averaged over the clip's valid steps).
        classifier_layer (`str`, *optional*):
            Name of the block whose output feeds the `"linear"` classifier (`conv1`..`convN`, or `pool{i}`); the
            last block (conv7 of SoundNet-8) when unset.
        classifier_dropout (`float`, *optional*, defaults to 0.0):
            Dropout before the `"linear"` classifier.
        distillation_lambda (`float`, *optional*, defaults to 250.0):
            Scale of the distillation loss (the paper's lambda).
    """

    model_type = "soundnet"
    classifier_types: ClassVar[tuple[str, ...]] = ("linear", "pretrained_heads")

    conv_channels: list[int] | tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    conv_kernel_sizes: list[int] | tuple[int, ...] = (64, 32, 16, 8, 4, 4, 4)
    conv_strides: list[int] | tuple[int, ...] = (2, 2, 2, 2, 2, 2, 2)
    conv_paddings: list[int] | tuple[int, ...] = (32, 16, 8, 4, 2, 2, 2)
    pool_kernel_sizes: list[int] | tuple[int, ...] = (8, 8, 1, 1, 4, 1, 1)
    num_object_classes: int = 1000
    num_scene_classes: int = 401
    head_kernel_size: int = 8
    head_stride: int = 2
    head_padding: int = 0
    sampling_rate: int = 22050
    batch_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    classifier_type: Literal["linear", "pretrained_heads"] = "linear"
    classifier_layer: str | None = None
    classifier_dropout: float = 0.0
    distillation_lambda: float = 250.0

    def __post_init__(self, **kwargs):
        for name in ("conv_channels", "conv_kernel_sizes", "conv_strides", "conv_paddings", "pool_kernel_sizes"):
            setattr(self, name, list(getattr(self, name)))
        super().__post_init__(**kwargs)

    @classmethod
    def from_variant(cls, name: str, **kwargs) -> "SoundNetConfig":
        """Builds the configuration of a named variant (`"soundnet8"` or `"soundnet5"`); `kwargs` override it."""
        if name not in SOUNDNET_VARIANTS:
            raise ValueError(f"Unknown SoundNet variant {name!r}; known variants: {sorted(SOUNDNET_VARIANTS)}.")
        return cls(**{**SOUNDNET_VARIANTS[name], **kwargs})

    def validate_architecture(self):
        """Part of `@strict`-powered validation: the layer table must be consistent and positive."""
        super().validate_architecture()
        lists = {
            "conv_channels": self.conv_channels,
            "conv_kernel_sizes": self.conv_kernel_sizes,
            "conv_strides": self.conv_strides,
            "conv_paddings": self.conv_paddings,
            "pool_kernel_sizes": self.pool_kernel_sizes,
        }
        lengths = {name: len(values) for name, values in lists.items()}
        if len(set(lengths.values())) != 1 or self.num_blocks == 0:
            raise ValueError(f"The SoundNet layer table needs lists of one non-zero length, got lengths {lengths}.")
        for name, values in lists.items():
            minimum = 0 if name == "conv_paddings" else 1
            if any(not isinstance(v, int) or v < minimum for v in values):
                raise ValueError(f"`{name}` must hold integers >= {minimum}, got {values}.")
        if min(self.head_kernel_size, self.head_stride, self.num_object_classes, self.num_scene_classes) < 1:
            raise ValueError("Head kernel, stride and class counts must be >= 1.")
        if self.head_padding < 0 or self.batch_norm_eps <= 0 or self.sampling_rate <= 0:
            raise ValueError("`head_padding` must be >= 0, `batch_norm_eps` and `sampling_rate` > 0.")
        if self.classifier_layer is not None and self.classifier_layer not in self.layer_name_to_index:
            raise ValueError(
                f"`classifier_layer={self.classifier_layer!r}` names no layer; choose one of {self.layer_names}."
            )
        if self.classifier_type == "pretrained_heads" and self.num_labels != self.num_pretrained_labels:
            raise ValueError(
                f"`classifier_type='pretrained_heads'` predicts {self.num_pretrained_labels} labels (objects then "
                f"scenes) but the config has num_labels={self.num_labels}. For fine-tuning on your own labels set "
                "`classifier_type='linear'`."
            )

    @property
    def num_blocks(self) -> int:
        """Number of convolutional blocks (7 for SoundNet-8, 4 for SoundNet-5)."""
        return len(self.conv_channels)

    @property
    def num_pretrained_labels(self) -> int:
        """Objects followed by scenes: the label space of `classifier_type='pretrained_heads'`."""
        return self.num_object_classes + self.num_scene_classes

    @property
    def layer_names(self) -> list[str]:
        """Canonical names of the block outputs, in order: `conv1` .. `conv{num_blocks}`."""
        return [f"conv{i + 1}" for i in range(self.num_blocks)]

    @property
    def layer_name_to_index(self) -> dict[str, int]:
        """Maps `conv{i}` and, for pooled blocks, `pool{i}` to the index of the block's output in `hidden_states`."""
        names = {name: i for i, name in enumerate(self.layer_names)}
        names.update({f"pool{i + 1}": i for i, pool in enumerate(self.pool_kernel_sizes) if pool > 1})
        return names

    @property
    def classifier_layer_index(self) -> int:
        """Index in `hidden_states` of the block that feeds the `"linear"` classifier."""
        return self.layer_name_to_index.get(self.classifier_layer, self.num_blocks - 1)

    @property
    def block_hops(self) -> list[int]:
        """Hop, in input samples, between consecutive frames of each block's output."""
        hops, hop = [], 1
        for stride, pool in zip(self.conv_strides, self.pool_kernel_sizes):
            hop *= stride * pool
            hops.append(hop)
        return hops

    @property
    def head_hop(self) -> int:
        """Hop, in input samples, between consecutive steps of the conv8 heads."""
        return self.block_hops[-1] * self.head_stride


__all__ = ["SOUNDNET_VARIANTS", "SoundNetConfig"]
