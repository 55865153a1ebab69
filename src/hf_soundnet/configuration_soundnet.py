"""SoundNet model configuration.

SoundNet (Aytar, Vondrick and Torralba, "SoundNet: Learning Sound Representations from Unlabeled Video", NIPS 2016)
is a fully convolutional network over raw 22,050 Hz waveforms. The 8-layer definition mirrors the original Torch7
``main_train.lua``: every block is ``SpatialConvolution -> SpatialBatchNormalization -> ReLU [-> SpatialMaxPooling]``
and conv8 has two heads (1000 ImageNet objects and 401 Places scenes).
"""

import copy
import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig
from transformers.dynamic_module_utils import custom_object_save
from transformers.utils import logging


logger = logging.get_logger(__name__)

# The layer name of the conv8 object and scene heads (the last row of the layer table).
HEAD_LAYER = "conv8"

# Fields whose assignment after construction is checked against `classifier_type` (see `__setattr__`).
_LABEL_FIELDS = ("id2label", "classifier_type", "num_object_classes", "num_scene_classes")


# What a checkpoint saved with code declares in `config.custom_pipelines` (read by transformers' `pipeline()` before
# its registry): the SoundNet pipeline of the checkpoint's own `pipeline_soundnet.py`, on the model that
# `AutoModelForAudioClassification` loads. See `SoundNetConfig.custom_pipelines` and `save_pretrained`.
SOUNDNET_PIPELINES: dict[str, dict[str, Any]] = {
    "audio-classification": {
        "impl": "pipeline_soundnet.SoundNetAudioClassificationPipeline",
        "pt": ["AutoModelForAudioClassification"],
        "type": "audio",
    }
}


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


def conv_output_length(length, kernel: int, stride: int, padding: int):
    """
    Floor formula of a convolution, `(length + 2 * padding - kernel) // stride + 1`, clamped at 0.

    Args:
        length (`int` or `torch.LongTensor` of any shape): input frames.

    Returns:
        the output frames, of the same type and shape.
    """
    frames = (length + 2 * padding - kernel) // stride + 1
    return max(0, frames) if isinstance(frames, int) else frames.clamp(min=0)


@dataclasses.dataclass(frozen=True)
class SoundNetLayerInfo:
    """
    One row of the layer table (in the spirit of timm's `feature_info`): a convolutional block, or the conv8 heads.

    Frame `q` of the layer's output sees the input samples `[q * hop + offset, q * hop + offset + receptive_field)`
    (`offset <= 0` comes from the zero padding).

    Args:
        name: the name the layer was asked by (`conv{i}`, `pool{i}` for a pooled block, `conv8` for the heads).
        index: position of the block's output in `hidden_states`; `num_blocks` for the heads.
        in_channels: channels in (1 for conv1).
        channels: channels out (for the heads: objects then scenes).
        kernel_size, stride, padding: the convolution's.
        pool: max-pool kernel and stride after the ReLU (1: no pool; always 1 for the heads).
        hop: input samples between consecutive output frames.
        receptive_field: input samples one output frame sees.
        offset: first input sample of frame 0's field.
        aliases: the other names of the layer (`pool{i}` of a pooled block).
        is_head: whether this is the conv8 heads' row.
    """

    name: str
    index: int
    in_channels: int
    channels: int
    kernel_size: int
    stride: int
    padding: int
    pool: int
    hop: int
    receptive_field: int
    offset: int
    aliases: tuple[str, ...] = ()
    is_head: bool = False

    @property
    def num_blocks(self) -> int:
        """How many convolutional blocks must run to compute this layer (all of them for the heads)."""
        return self.index if self.is_head else self.index + 1

    def conv_length(self, length):
        """Frames out of the layer's convolution (before its pool) for `length` frames in (`int` or tensor)."""
        return conv_output_length(length, self.kernel_size, self.stride, self.padding)

    def output_length(self, length):
        """Frames out of the layer (after its pool) for `length` frames into it (`int` or `torch.LongTensor`)."""
        return self.conv_length(length) // self.pool


@strict
class SoundNetConfig(PreTrainedConfig):
    r"""
    Configuration of a SoundNet model. The per-layer lists derive the layer table ([`SoundNetConfig.layer_table`]:
    one [`SoundNetLayerInfo`] per block and one for the heads) that builds the network, computes its output lengths,
    receptive fields and FLOPs, and names its layers (`conv1`, `conv2`, ...; a block followed by a pool is also
    `pool{i}`; the heads are `conv8`); [`SoundNetConfig.get_layer`] resolves a name.

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
            softmax averaged over the clip's valid steps). Asking a `"pretrained_heads"` config for other labels
            (`from_pretrained(..., num_labels=N)` or `id2label=...`, or `config.num_labels = N` afterwards) is a
            request for a new classifier: the config switches to `"linear"`, resets `problem_type` and logs it.
            Building a `"pretrained_heads"` config with other than `num_object_classes + num_scene_classes` labels
            raises; setting `classifier_type="pretrained_heads"` on a built config re-derives its labels (logged).
        classifier_layer (`str`, *optional*):
            Name of the block whose output feeds the `"linear"` classifier (`conv1`..`convN`, or `pool{i}`); the
            last block (conv7 of SoundNet-8) when unset.
        classifier_dropout (`float`, *optional*, defaults to 0.0):
            Dropout before the `"linear"` classifier.
        distillation_lambda (`float`, *optional*, defaults to 250.0):
            Scale of the distillation loss (the paper's lambda).
        embedding_dim (`int`, *optional*):
            Dimension of the image-text teacher's embedding space (512 for CLIP ViT-B/32, 768 for SigLIP base). When
            set, [`SoundNetForPreTraining`] has an embedding head ([`SoundNetEmbeddingHead`]) that projects
            `embedding_layer` to that space once per conv8 step, trained by the loss of `losses.embedding_loss`.
        embedding_layer (`str`, *optional*):
            Name of the block whose output feeds the embedding head (`conv1`..`convN`, or `pool{i}`); the last block
            (conv7 of SoundNet-8, the input of conv8) when unset.
        embedding_cosine_weight (`float`, *optional*, defaults to 1.0):
            Weight of the cosine regression `1 - cos(student step, teacher image embedding)` in the embedding loss.
        embedding_contrastive_weight (`float`, *optional*, defaults to 1.0):
            Weight of the symmetric InfoNCE across clips in the embedding loss (0 turns it off).
        embedding_temperature (`float`, *optional*, defaults to 0.07):
            Temperature of the InfoNCE logits (cosines divided by it), fixed rather than learned.
        embedding_loss_weight (`float`, *optional*, defaults to 1.0):
            Scale of the embedding loss in the total loss, which adds it to `distillation_lambda` times the KL heads'
            mean when the batch has distributions too.
        forward_implementation (`str`, *optional*, defaults to `"fast"`):
            How the trunk is computed, chosen like transformers' `attn_implementation` (here or in
            `from_pretrained(..., forward_implementation=...)`, or later with `model.set_forward_implementation`).
            `"fast"`: `FastSoundNet` (BN folded, GEMM convolutions) whenever the result needs no gradient and the
            weights are float32: eval mode, under `torch.no_grad()` or `torch.inference_mode()`, not while
            `torch.compile`/`torch.export` trace; the eager stack otherwise (training always). `"eager"`: always the
            eager stack. Both agree within 1e-4 of each layer's scale.
    """

    model_type = "soundnet"
    # The embedding head projects into an image-text teacher's space, as `ClapAudioConfig.projection_dim` does.
    attribute_map = {"projection_dim": "embedding_dim"}
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
    embedding_dim: int | None = None
    embedding_layer: str | None = None
    embedding_cosine_weight: float = 1.0
    embedding_contrastive_weight: float = 1.0
    embedding_temperature: float = 0.07
    embedding_loss_weight: float = 1.0
    forward_implementation: Literal["eager", "fast"] = "fast"

    def __post_init__(self, **kwargs):
        for name in ("conv_channels", "conv_kernel_sizes", "conv_strides", "conv_paddings", "pool_kernel_sizes"):
            setattr(self, name, list(getattr(self, name)))
        labels_given = self.id2label is not None or kwargs.get("num_labels") is not None
        super().__post_init__(**kwargs)
        if self.classifier_type == "pretrained_heads" and not labels_given:
            # The heads' label space is fixed by the architecture: derive it instead of transformers' default of 2.
            self.num_labels = self.num_pretrained_labels

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> "SoundNetConfig":
        """
        [`PreTrainedConfig.from_dict`], where asking a `"pretrained_heads"` config (the released checkpoint's) for
        other labels (`num_labels`, `id2label`, or `classifier_type="linear"` in `kwargs`) is the fine-tuning
        request: the config becomes a `"linear"` classifier over the new labels on the same trunk, with
        `problem_type` reset (inferred from the labels' dtype by the loss), and one log line says so.
        """
        config_dict = dict(config_dict)
        saved_type = config_dict.get("classifier_type", "linear")
        requested_type = kwargs.get("classifier_type", saved_type)
        if saved_type == "pretrained_heads" and requested_type in ("pretrained_heads", "linear"):
            num_heads_labels = config_dict.get("num_object_classes", 1000) + config_dict.get("num_scene_classes", 401)
            new_labels = kwargs.get("id2label")
            num_labels = len(new_labels) if new_labels is not None else kwargs.get("num_labels")
            if requested_type == "linear" or (num_labels is not None and num_labels != num_heads_labels):
                if requested_type == "pretrained_heads" and "classifier_type" in kwargs:
                    raise ValueError(
                        f"`classifier_type='pretrained_heads'` predicts {num_heads_labels} labels, not {num_labels}; "
                        "leave `classifier_type` out (or set it to 'linear') to fine-tune a new classifier."
                    )
                config_dict["classifier_type"] = "linear"
                config_dict["problem_type"] = None
                if num_labels is not None:
                    config_dict.pop("id2label", None)
                    config_dict.pop("label2id", None)
                    config_dict["num_labels"] = num_labels
                logger.warning(
                    f"The checkpoint's pretrained conv8 object and scene heads ({num_heads_labels} labels) are dropped: "
                    f"a new linear classifier over {num_labels or num_heads_labels} labels is initialised on the "
                    "pretrained trunk (classifier_type='linear', problem_type reset). Train it before use."
                )
        return super().from_dict(config_dict, **kwargs)

    def __setattr__(self, key: str, value: Any) -> None:
        """
        Keeps `classifier_type` and the labels consistent after construction, each change logged:

        - new labels on a `"pretrained_heads"` config (`config.num_labels = 10`, `config.id2label = {...}`) switch it
          to a `"linear"` classifier with `problem_type` reset, as `from_pretrained(..., num_labels=10)` does;
        - `config.classifier_type = "pretrained_heads"`, or new head sizes on such a config, re-derive the labels
          (`num_object_classes + num_scene_classes` of them, named `LABEL_i`) when their count no longer matches.
        """
        # `_post_init_done` (set by `PreTrainedConfig.__post_init__`, never saved): construction is over.
        if key not in _LABEL_FIELDS or not self.__dict__.get("_post_init_done", False):
            super().__setattr__(key, value)
            return
        super().__setattr__(key, value)
        if self.classifier_type != "pretrained_heads" or self.num_labels == self.num_pretrained_labels:
            return
        if key == "id2label":
            super().__setattr__("classifier_type", "linear")
            super().__setattr__("problem_type", None)
            logger.warning(
                f"`num_labels={self.num_labels}` on a `classifier_type='pretrained_heads'` config: a model built from "
                "it drops the pretrained conv8 heads and initialises a new linear classifier (classifier_type set to "
                "'linear', problem_type reset)."
            )
            return
        logger.warning(
            f"`{key}={value!r}`: the conv8 heads predict {self.num_pretrained_labels} labels, so the config's "
            f"{self.num_labels} labels are replaced by {self.num_pretrained_labels} unnamed ones (LABEL_i)."
        )
        self.num_labels = self.num_pretrained_labels

    @property
    def custom_pipelines(self) -> dict[str, dict[str, Any]]:
        """
        The pipelines the checkpoint declares (`custom_pipelines` of its config.json, [`SOUNDNET_PIPELINES`] when
        saved with code), less each task whose implementation in transformers' pipeline registry is already the
        declared class: `import hf_soundnet` registers `SoundNetAudioClassificationPipeline` for
        "audio-classification", so with the plugin imported `pipeline()` reads no declaration and takes the
        registry's class without `trust_remote_code`; without the plugin it reads the declaration and, with
        `trust_remote_code=True`, loads the class from the checkpoint's `pipeline_soundnet.py`. A copy: `pipeline()`
        rewrites what it reads in place.
        """
        declared = self.__dict__.get("custom_pipelines") or {}
        return {task: copy.deepcopy(info) for task, info in declared.items() if not _registry_implements(task, info)}

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict[str, dict[str, Any]] | None) -> None:
        self.__dict__["custom_pipelines"] = value  # saved as given by `to_dict`

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs) -> None:
        """
        [`PreTrainedConfig.save_pretrained`]; with code upload on (`import hf_soundnet` registers the class for
        `AutoConfig`), it also copies `pipeline_soundnet.py` and the root-level modules it imports into
        `save_directory` and declares the pipeline ([`SOUNDNET_PIPELINES`]) in `custom_pipelines`, so that
        `pipeline("audio-classification", model=<checkpoint>, trust_remote_code=True)` returns the SoundNet pipeline
        where hf_soundnet is not installed. Code loaded without the pipeline module (a model loaded from a
        checkpoint's code, not its pipeline) saves no declaration of it.
        """
        if self._auto_class is not None:
            pipeline_class = _pipeline_class()
            if pipeline_class is not None:
                os.makedirs(save_directory, exist_ok=True)
                custom_object_save(pipeline_class, save_directory)
                declared = self.__dict__.get("custom_pipelines") or {}
                self.custom_pipelines = {**declared, **copy.deepcopy(SOUNDNET_PIPELINES)}
        return super().save_pretrained(save_directory, *args, **kwargs)

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
        self.validate_embedding_head()
        if self.classifier_type == "pretrained_heads" and self.num_labels != self.num_pretrained_labels:
            raise ValueError(
                f"`classifier_type='pretrained_heads'` predicts {self.num_pretrained_labels} labels (objects then "
                f"scenes) but the config has num_labels={self.num_labels}. For fine-tuning on your own labels set "
                "`classifier_type='linear'`."
            )

    def validate_embedding_head(self) -> None:
        """The embedding head's settings: a positive dimension, a known layer, usable loss weights."""
        if self.embedding_dim is not None and self.embedding_dim < 1:
            raise ValueError(
                f"`embedding_dim` must be >= 1 (or None for no embedding head), got {self.embedding_dim}."
            )
        if self.embedding_layer is not None and self.embedding_layer not in self.layer_name_to_index:
            raise ValueError(
                f"`embedding_layer={self.embedding_layer!r}` names no layer; choose one of {self.layer_names}."
            )
        weights = {
            "embedding_cosine_weight": self.embedding_cosine_weight,
            "embedding_contrastive_weight": self.embedding_contrastive_weight,
            "embedding_loss_weight": self.embedding_loss_weight,
        }
        if any(value < 0 for value in weights.values()):
            raise ValueError(f"The embedding loss weights must be >= 0, got {weights}.")
        if self.embedding_dim is not None and self.embedding_cosine_weight == self.embedding_contrastive_weight == 0:
            raise ValueError(
                "`embedding_cosine_weight` and `embedding_contrastive_weight` are both 0: no embedding loss."
            )
        if self.embedding_temperature <= 0:
            raise ValueError(f"`embedding_temperature` must be > 0, got {self.embedding_temperature}.")

    @property
    def embedding_layer_index(self) -> int:
        """Index in `hidden_states` of the block that feeds the embedding head."""
        return self.layer_name_to_index.get(self.embedding_layer, self.num_blocks - 1)

    @property
    def num_blocks(self) -> int:
        """Number of convolutional blocks (7 for SoundNet-8, 4 for SoundNet-5)."""
        return len(self.conv_channels)

    @property
    def num_pretrained_labels(self) -> int:
        """Objects followed by scenes: the label space of `classifier_type='pretrained_heads'`."""
        return self.num_object_classes + self.num_scene_classes

    @property
    def layer_table(self) -> tuple[SoundNetLayerInfo, ...]:
        """
        One [`SoundNetLayerInfo`] per block (`conv1` .. `conv{num_blocks}`), then one for the heads (`conv8`).

        A layer with kernel `k`, stride `s`, padding `p` and pool `m` over a layer of hop `H`, receptive field `R` and
        offset `O` has hop `H * s * m`, receptive field `R + ((m - 1) * s + k - 1) * H` and offset `O - p * H`.
        """
        rows = [
            (f"conv{i + 1}", channels, kernel, stride, padding, pool)
            for i, (channels, kernel, stride, padding, pool) in enumerate(
                zip(
                    self.conv_channels,
                    self.conv_kernel_sizes,
                    self.conv_strides,
                    self.conv_paddings,
                    self.pool_kernel_sizes,
                )
            )
        ]
        rows.append(
            (HEAD_LAYER, self.num_pretrained_labels, self.head_kernel_size, self.head_stride, self.head_padding, 1)
        )
        table, in_channels, hop, size, offset = [], 1, 1, 1, 0
        for index, (name, channels, kernel, stride, padding, pool) in enumerate(rows):
            size += ((pool - 1) * stride + kernel - 1) * hop
            offset -= padding * hop
            hop *= stride * pool
            is_head = index == len(rows) - 1
            aliases = (f"pool{index + 1}",) if pool > 1 else ()
            table.append(
                SoundNetLayerInfo(
                    name,
                    index,
                    in_channels,
                    channels,
                    kernel,
                    stride,
                    padding,
                    pool,
                    hop,
                    size,
                    offset,
                    aliases,
                    is_head,
                )
            )
            in_channels = channels
        return tuple(table)

    @property
    def layer_names(self) -> list[str]:
        """Canonical names of the block outputs, in order: `conv1` .. `conv{num_blocks}`."""
        return [layer.name for layer in self.layer_table[:-1]]

    @property
    def layer_name_to_index(self) -> dict[str, int]:
        """Maps `conv{i}` and, for pooled blocks, `pool{i}` to the index of the block's output in `hidden_states`."""
        return {name: layer.index for layer in self.layer_table[:-1] for name in (layer.name, *layer.aliases)}

    def get_layer(self, name: str | int, heads_available: bool = True) -> SoundNetLayerInfo:
        """
        The layer table's row for `name` (`conv{i}`, `pool{i}`, or `conv8` for the heads; or a row number), with
        `name` as asked. The one resolver of layer names: every command, library call and model method uses it.

        Args:
            name: the layer's name, or its row in `layer_table`.
            heads_available: whether the model that will compute the layer has the conv8 heads.

        Raises:
            ValueError: an unknown name, or `conv8` when `heads_available` is False; the message lists the choices.
        """
        for layer in self.layer_table:
            if name == layer.name or name in layer.aliases or (isinstance(name, int) and name == layer.index):
                if layer.is_head and not heads_available:
                    break
                return layer if isinstance(name, int) else dataclasses.replace(layer, name=name)
        choices = [*self.layer_name_to_index, *([HEAD_LAYER] if heads_available else [])]
        reason = (
            f"Layer {HEAD_LAYER!r} needs the released object/scene heads, which this model has not "
            f"(classifier_type={self.classifier_type!r})"
            if name in (HEAD_LAYER, self.num_blocks)
            else f"Unknown layer {name!r}"
        )
        raise ValueError(f"{reason}; choose one of {choices}.")

    def layers_to_run(
        self, indices: Sequence[str | int] | None = None, stop_early: bool = False, heads_available: bool = True
    ) -> tuple[int, bool]:
        """
        `(blocks to run, whether to run the heads)` for the layers `indices` (names or rows, see [`get_layer`]; None:
        every block, and the heads when available); with `stop_early`, only as far as the deepest one.
        """
        if indices is None:
            return self.num_blocks, heads_available
        layers = [self.get_layer(index, heads_available=heads_available) for index in indices]
        if not layers:
            raise ValueError("`indices` names no layer; pass None for all of them.")
        heads = any(layer.is_head for layer in layers)
        num_blocks = max(layer.num_blocks for layer in layers) if stop_early else self.num_blocks
        return num_blocks, heads

    @property
    def classifier_layer_index(self) -> int:
        """Index in `hidden_states` of the block that feeds the `"linear"` classifier."""
        return self.layer_name_to_index.get(self.classifier_layer, self.num_blocks - 1)

    @property
    def block_hops(self) -> list[int]:
        """Hop, in input samples, between consecutive frames of each block's output."""
        return [layer.hop for layer in self.layer_table[:-1]]

    @property
    def head_hop(self) -> int:
        """Hop, in input samples, between consecutive steps of the conv8 heads."""
        return self.layer_table[-1].hop


def _registry_implements(task: str, info: Any) -> bool:
    """Whether transformers' pipeline registry (if `transformers.pipelines` is imported: `pipeline()` and
    `import hf_soundnet` import it) answers `task` with the class that `info["impl"]` (`"module.Class"`) names."""
    pipelines = sys.modules.get("transformers.pipelines")
    if pipelines is None or not isinstance(info, dict):
        return False
    impl = pipelines.PIPELINE_REGISTRY.supported_tasks.get(task, {}).get("impl")
    return getattr(impl, "__name__", None) == str(info.get("impl", "")).rsplit(".", 1)[-1]


def _pipeline_class() -> type | None:
    """`SoundNetAudioClassificationPipeline` of this package (`hf_soundnet`, or a checkpoint's code module when its
    pipeline was loaded from it), or None where the package has no pipeline module. Imported by name, not by a
    `from .pipeline_soundnet import`, so that code upload of this file does not carry the pipeline's decoding."""
    try:
        module = importlib.import_module(".pipeline_soundnet", __package__)
    except ImportError:
        return None
    return getattr(module, "SoundNetAudioClassificationPipeline", None)


__all__ = [
    "HEAD_LAYER",
    "SOUNDNET_PIPELINES",
    "SOUNDNET_VARIANTS",
    "SoundNetConfig",
    "SoundNetLayerInfo",
    "conv_output_length",
]
