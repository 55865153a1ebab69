"""PyTorch SoundNet models.

The network is built by one loop over the layer table of [`SoundNetConfig`]: block `i` is
`Conv1d(kernel k_i, stride s_i, padding p_i) -> BatchNorm1d(eps) -> ReLU -> MaxPool1d(pool_i)` (no pool when
`pool_i == 1`), exactly the original Torch7 `main_train.lua` written with 1-D layers. conv8 is two parallel heads
(`object_head`, `scene_head`) over the last block.

Lengths are tracked explicitly: a padded batch with an `attention_mask` zeroes every frame past each clip's valid
length after each block, which is what the next convolution's own zero padding would see for the clip alone, so each
clip's valid frames equal those of the clip run alone.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.utils import ModelOutput, add_start_docstrings_to_model_forward

from .configuration_soundnet import SoundNetConfig
from .embedding_head import SoundNetAudioEmbeddingMixin, SoundNetEmbeddingHead
from .fast_forward_soundnet import SoundNetIntermediatesMixin, SoundNetIntermediatesOutput, block_output_lengths
from .losses import distillation_loss, embedding_loss


# Probabilities are clamped to [_PROB_EPS, 1 - _PROB_EPS] before the logit transform (float32 resolution near 1).
_PROB_EPS = 1e-7


@dataclass
class SoundNetModelOutput(ModelOutput):
    """
    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, frames)`):
            Output of the last block (conv7 for SoundNet-8), after BN, ReLU and its pool if any.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
            One tensor per block, in order (`conv1` .. `convN`), each of shape `(batch_size, channels_i, frames_i)`,
            taken after BN, ReLU and the block's pool (so `hidden_states[4]` of SoundNet-8 is pool5).
        output_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*, returned with an `attention_mask`):
            Number of valid frames of `last_hidden_state` for each clip.
    """

    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    output_lengths: torch.LongTensor | None = None


@dataclass
class SoundNetForPreTrainingOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when teacher distributions or embeddings are given):
            `distillation_lambda` times the mean over both heads of the per-step KL(teacher || student), plus
            `embedding_loss_weight` times `embedding_loss` when teacher embeddings are given.
        object_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_object_classes)`):
            conv8 object logits, one row per head step (one step every `config.head_hop` samples).
        scene_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_scene_classes)`):
            conv8_2 scene logits.
        object_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Unscaled mean KL of the object head.
        scene_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Unscaled mean KL of the scene head.
        step_mask (`torch.LongTensor` of shape `(batch_size, num_steps)`, *optional*):
            1 for the valid steps of each clip, 0 for padding (numeric like `attention_mask`), returned with an
            `attention_mask`.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            As in [`SoundNetModelOutput`].
        audio_embeds (`torch.FloatTensor` of shape `(batch_size, embedding_steps, embedding_dim)`, *optional*):
            The embedding head's L2-normalised embeddings, one per conv8-like step (with `config.embedding_dim`).
        embedding_step_mask (`torch.LongTensor` of shape `(batch_size, embedding_steps)`, *optional*):
            Valid steps of `audio_embeds`, returned with an `attention_mask`.
        embedding_loss (`torch.FloatTensor` of shape `()`, *optional*):
            `embedding_cosine_weight * embedding_cosine_loss + embedding_contrastive_weight *
            embedding_contrastive_loss` (see `losses.embedding_loss`), before `embedding_loss_weight`.
        embedding_cosine_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Mean `1 - cos` between the student's steps and the teacher's image embeddings.
        embedding_contrastive_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Symmetric InfoNCE across the clips of the batch.
    """

    loss: torch.FloatTensor | None = None
    object_logits: torch.FloatTensor | None = None
    scene_logits: torch.FloatTensor | None = None
    object_loss: torch.FloatTensor | None = None
    scene_loss: torch.FloatTensor | None = None
    step_mask: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    audio_embeds: torch.FloatTensor | None = None
    embedding_step_mask: torch.LongTensor | None = None
    embedding_loss: torch.FloatTensor | None = None
    embedding_cosine_loss: torch.FloatTensor | None = None
    embedding_contrastive_loss: torch.FloatTensor | None = None


@dataclass
class SoundNetAudioClassifierOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            Classification loss chosen by `config.problem_type`.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Clip-level logits. With `classifier_type="pretrained_heads"` they are `logit(p)` where `p` is each head's
            per-step softmax averaged over the clip's valid steps, so `logits.sigmoid()` gives the original
            probabilities (objects first, then scenes).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            As in [`SoundNetModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


class SoundNetMaxPool(nn.Module):
    """
    Max pooling over time with kernel = stride = `kernel_size` (floor mode), as `nn.MaxPool1d(k, stride=k)`.

    Computed by `max_pool2d` over a `(batch, channels, 1, frames)` view: `max_pool1d` reads its input sizes as plain
    integers in C++ and so fixes the length when `torch.export` / `torch.compile` trace it; `max_pool2d` keeps it
    symbolic. The result is the same maximum.
    """

    def __init__(self, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(batch, channels, frames)` -> `(batch, channels, frames // kernel_size)`."""
        pooled = F.max_pool2d(hidden_states.unsqueeze(2), (1, self.kernel_size), (1, self.kernel_size))
        return pooled.squeeze(2)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


class SoundNetConvBlock(nn.Module):
    """One row of the layer table: Conv1d -> BatchNorm1d -> ReLU [-> MaxPool1d]."""

    def __init__(self, config: SoundNetConfig, layer_id: int):
        super().__init__()
        in_channels = config.conv_channels[layer_id - 1] if layer_id > 0 else 1
        self.conv = nn.Conv1d(
            in_channels,
            config.conv_channels[layer_id],
            kernel_size=config.conv_kernel_sizes[layer_id],
            stride=config.conv_strides[layer_id],
            padding=config.conv_paddings[layer_id],
        )
        self.norm = nn.BatchNorm1d(config.conv_channels[layer_id], eps=config.batch_norm_eps)
        self.act = nn.ReLU()
        pool = config.pool_kernel_sizes[layer_id]
        self.pool = SoundNetMaxPool(pool) if pool > 1 else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`hidden_states` of shape `(batch, in_channels, frames)` -> `(batch, out_channels, out_frames)`."""
        return self.pool(self.act(self.norm(self.conv(hidden_states))))


def mask_frames(hidden_states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zeroes the frames of `hidden_states` `(batch, channels, frames)` at or past `lengths` `(batch,)`."""
    frames = torch.arange(hidden_states.shape[-1], device=hidden_states.device)
    return hidden_states * (frames[None, :] < lengths[:, None]).unsqueeze(1).to(hidden_states.dtype)


def check_valid_lengths(lengths: torch.Tensor, layer: str) -> None:
    """
    Raises a clear error when a clip of a padded batch has no valid frame (or step) at `layer`.

    Eager only: the check reads the lengths' values, so it is skipped while `torch.compile` / `torch.export` trace
    the model (a data-dependent branch would break the graph). Traced programs then pool a too-short clip over zero
    frames, which gives zeros rather than an error; `SoundNetFeatureExtractor` repeats short clips so this cannot
    happen through it.
    """
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return
    if bool((lengths <= 0).any()):
        raise ValueError(
            f"A clip has no valid frame at {layer} (valid lengths {lengths.tolist()}); the input is too short. "
            "Use SoundNetFeatureExtractor, which repeats short clips, or pass longer audio."
        )


def masked_mean(values: torch.Tensor, lengths: torch.Tensor | None, dim: int) -> torch.Tensor:
    """
    Mean of `values` over its first `lengths[b]` entries along `dim` (a time axis), per batch row `b`.

    Pure arithmetic (a 0/1 mask and a division by the length clamped at 1), so it traces with dynamic shapes; a row
    with `lengths[b] == 0` gives zeros. Callers check lengths in eager mode with [`check_valid_lengths`].
    """
    if lengths is None:
        return values.mean(dim=dim)
    steps = torch.arange(values.shape[dim], device=values.device)
    shape = [1] * values.dim()
    shape[0], shape[dim] = values.shape[0], values.shape[dim]
    mask = (steps[None, :] < lengths[:, None]).reshape(shape).to(values.dtype)
    denominator = lengths.clamp(min=1).reshape([-1] + [1] * (values.dim() - 2)).to(values.dtype)
    return (values * mask).sum(dim=dim) / denominator


# The arguments every SoundNet model's `forward` shares, documented once (transformers' docstring convention).
SOUNDNET_INPUTS_DOCSTRING = r"""
        Args:
            input_values (`torch.FloatTensor` of shape `(batch_size, num_samples)`):
                Waveform at `config.sampling_rate`, scaled to [-256, 256] (see [`SoundNetFeatureExtractor`]).
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_samples)`, *optional*):
                1 for real samples, 0 for padding (padding must be at the end).
            output_hidden_states (`bool`, *optional*):
                Return every block's output.
            return_dict (`bool`, *optional*):
                Return a [`~utils.ModelOutput`] instead of a plain tuple."""


class SoundNetPreTrainedModel(SoundNetIntermediatesMixin, PreTrainedModel):
    """Weight initialisation, loading, and the length arithmetic shared by every SoundNet model."""

    config: SoundNetConfig
    base_model_prefix = "soundnet"
    main_input_name = "input_values"
    input_modalities = ("audio",)
    supports_gradient_checkpointing = False
    # The Auto class of each model: registered at import, and written to `auto_map` for code upload.
    auto_classes = {
        "AutoModel": "SoundNetModel",
        "AutoModelForPreTraining": "SoundNetForPreTraining",
        "AutoModelForAudioClassification": "SoundNetForAudioClassification",
    }

    def save_pretrained(self, save_directory, *args, **kwargs):
        """[`PreTrainedModel.save_pretrained`]; with code upload on, `auto_map` lists every view, not only this class."""
        if self._auto_class is not None:
            module = __name__.rsplit(".", 1)[-1]
            views = {auto: f"{module}.{name}" for auto, name in self.auto_classes.items()}
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **views}
        return super().save_pretrained(save_directory, *args, **kwargs)

    def get_output_lengths(self, input_lengths: torch.Tensor | int) -> list[torch.Tensor]:
        """
        Valid frames of every block's output for clips of `input_lengths` samples.

        Args:
            input_lengths (`torch.LongTensor` of shape `(batch_size,)` or `int`): samples per clip.

        Returns:
            `list[torch.LongTensor]`: one tensor of shape `(batch_size,)` per block, in order.
        """
        return block_output_lengths(self.config, input_lengths)

    def set_forward_implementation(self, forward_implementation: str) -> None:
        """Chooses `"fast"` or `"eager"` for this model and its submodules (see `SoundNetConfig.forward_implementation`)."""
        self.config.forward_implementation = forward_implementation

    @contextmanager
    def forward_implementation(self, forward_implementation: str) -> Iterator[None]:
        """`with model.forward_implementation("eager"): ...` runs the block with that implementation, then restores."""
        previous = self.config.forward_implementation
        self.set_forward_implementation(forward_implementation)
        try:
            yield
        finally:
            self.set_forward_implementation(previous)

    def _fast_module(self, part: str) -> nn.Module:
        """
        The fast module of `part` (`"trunk"`: a `FastSoundNet` of the blocks; `"heads"`: `FastHeads`) for the current
        weights, built on first use and rebuilt when a weight or BN statistic changes (another tensor, device, or an
        in-place update such as `load_state_dict` or an optimizer step). Not a submodule: no state_dict entry.
        """
        from .fast_forward_soundnet import FastHeads, FastSoundNet

        owner = self.base_model if part == "trunk" else self
        tensors = (
            [*owner.parameters(), *owner.buffers()]
            if part == "trunk"
            else [
                *self.object_head.parameters(),
                *self.scene_head.parameters(),
            ]
        )
        # Inference tensors (made under `torch.inference_mode`) have no version counter and cannot change in place
        # outside it; their storage identifies them.
        key = tuple((tensor.data_ptr(), 0 if tensor.is_inference() else tensor._version) for tensor in tensors)
        caches = self.__dict__.setdefault("_fast_modules", {})
        if part not in caches or caches[part][0] != key:
            build = FastSoundNet.from_model if part == "trunk" else FastHeads.from_model
            caches[part] = (key, build(owner).eval())
        return caches[part][1]

    def get_head_lengths(self, input_lengths: torch.Tensor | int) -> torch.Tensor:
        """Number of conv8 steps for clips of `input_lengths` samples; shape `(batch_size,)`."""
        return self.config.layer_table[-1].output_length(self.get_output_lengths(input_lengths)[-1])

    @property
    def has_heads(self) -> bool:
        """Whether the model carries the conv8 object and scene heads (pre-training, or the released classifier)."""
        return isinstance(getattr(self, "object_head", None), nn.Module)

    def _intermediates(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None, num_blocks: int, heads: bool
    ) -> SoundNetIntermediatesOutput:
        """[`SoundNetIntermediatesMixin.forward_intermediates`] once the layers are resolved: the eager stack."""
        if attention_mask is not None:
            input_lengths = attention_mask.sum(-1).to(torch.long)
        else:
            input_lengths = torch.full((input_values.shape[0],), input_values.shape[-1], dtype=torch.long)
        outputs = self.base_model(
            input_values,
            attention_mask=attention_mask,
            output_hidden_states=True,
            return_dict=True,
            num_blocks=num_blocks,
        )
        lengths = tuple(n.to(input_values.device) for n in self.get_output_lengths(input_lengths)[:num_blocks])
        object_logits = scene_logits = step_lengths = None
        if heads:
            object_logits, scene_logits, step_lengths = self.forward_head(outputs.last_hidden_state, lengths[-1])
        return SoundNetIntermediatesOutput(
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            output_lengths=lengths[-1],
            hidden_state_lengths=lengths,
            object_logits=object_logits,
            scene_logits=scene_logits,
            step_lengths=step_lengths,
        )

    def _build_heads(self, config: SoundNetConfig) -> None:
        """Adds the conv8 heads under the checkpoint names `object_head` and `scene_head`."""
        head = {"kernel_size": config.head_kernel_size, "stride": config.head_stride, "padding": config.head_padding}
        self.object_head = nn.Conv1d(config.conv_channels[-1], config.num_object_classes, **head)
        self.scene_head = nn.Conv1d(config.conv_channels[-1], config.num_scene_classes, **head)

    def forward_head(
        self, last_hidden_state: torch.Tensor, output_lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """
        conv8 over `last_hidden_state` `(batch, channels, frames)` (the last block's output), for a model with heads.

        Args:
            last_hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, frames)`): the last block's output.
            output_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*): its valid frames per clip.

        Returns:
            object logits `(batch, steps, num_object_classes)`, scene logits `(batch, steps, num_scene_classes)`,
            and the valid steps per clip `(batch,)` (None without lengths).
        """
        config = self.config
        if not self.has_heads:
            raise ValueError(
                f"{type(self).__name__} has no conv8 heads (classifier_type={config.classifier_type!r}); load the "
                "checkpoint with AutoModelForPreTraining or a `pretrained_heads` classifier."
            )
        if last_hidden_state.shape[-1] + 2 * config.head_padding < config.head_kernel_size:
            raise ValueError(
                f"The conv8 heads need at least {self._min_head_samples()} input samples (about "
                f"{self._min_head_samples() / config.sampling_rate:.1f} s); the input is shorter. "
                "SoundNetFeatureExtractor repeats short clips to 10 s as the original did."
            )
        if self.base_model.uses_fast_forward():
            object_logits, scene_logits = self._fast_module("heads")(last_hidden_state)
        else:
            object_logits = self.object_head(last_hidden_state).transpose(1, 2)
            scene_logits = self.scene_head(last_hidden_state).transpose(1, 2)
        step_lengths = config.layer_table[-1].output_length(output_lengths) if output_lengths is not None else None
        return object_logits, scene_logits, step_lengths

    def _min_head_samples(self) -> int:
        """Smallest input, in samples, that gives one conv8 step (209,374 for SoundNet-8)."""
        low, high = 1, 1 << 24
        while low < high:
            middle = (low + high) // 2
            if int(self.get_head_lengths(middle)) >= 1:
                high = middle
            else:
                low = middle + 1
        return low


class SoundNetModel(SoundNetPreTrainedModel):
    """The convolutional trunk (conv1 .. conv7 of SoundNet-8) without heads."""

    def __init__(self, config: SoundNetConfig):
        super().__init__(config)
        self.blocks = nn.ModuleList([SoundNetConvBlock(config, i) for i in range(config.num_blocks)])
        self.post_init()

    @add_start_docstrings_to_model_forward(SOUNDNET_INPUTS_DOCSTRING)
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_blocks: int | None = None,
        **kwargs,
    ) -> SoundNetModelOutput | tuple:
        r"""
        num_blocks (`int`, *optional*):
            Run only the first `num_blocks` blocks (feature extraction from an early layer).

        With `config.forward_implementation="fast"` (the default) and no gradient needed, the blocks run as
        `FastSoundNet` (see [`SoundNetModel.uses_fast_forward`]); the outputs are the same within 1e-4 of each layer's
        scale.
        """
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if input_values.dim() != 2:
            raise ValueError(
                f"`input_values` must be (batch_size, num_samples), got shape {tuple(input_values.shape)}."
            )
        if self.uses_fast_forward():
            output = self._fast_forward(input_values, attention_mask, output_hidden_states, num_blocks)
            return output if return_dict else output.to_tuple()

        block_lengths = None
        if attention_mask is not None:
            block_lengths = self.get_output_lengths(attention_mask.sum(-1).to(torch.long))
            input_values = input_values * attention_mask.to(input_values.dtype)

        hidden_state = input_values.unsqueeze(1)
        hidden_states = ()
        output_lengths = None
        for i, block in enumerate(self.blocks[:num_blocks]):
            hidden_state = block(hidden_state)
            if block_lengths is not None:
                output_lengths = block_lengths[i]
                hidden_state = mask_frames(hidden_state, output_lengths)
            if output_hidden_states:
                hidden_states += (hidden_state,)

        output = SoundNetModelOutput(
            last_hidden_state=hidden_state,
            hidden_states=hidden_states or None,
            output_lengths=output_lengths,
        )
        return output if return_dict else output.to_tuple()

    def uses_fast_forward(self) -> bool:
        """
        Whether `forward` runs `FastSoundNet` now: `config.forward_implementation == "fast"`, eval mode, no gradient
        being recorded, float32 weights, and not inside a `torch.compile` / `torch.export` / `torch.jit` trace (those
        trace the eager stack).
        """
        return (
            self.config.forward_implementation == "fast"
            and not self.training
            and not torch.is_grad_enabled()
            and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()
            and self.blocks[0].conv.weight.dtype == torch.float32
        )

    def _fast_forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None,
        output_hidden_states: bool,
        num_blocks: int | None,
    ) -> SoundNetModelOutput:
        """The blocks computed by the cached `FastSoundNet` of the current weights, as the eager loop returns them."""
        outputs = self._fast_module("trunk")(
            input_values, attention_mask=attention_mask, num_blocks=num_blocks, compute_heads=False
        )
        hidden_states = tuple(hidden.contiguous() for hidden in outputs.hidden_states)
        return SoundNetModelOutput(
            last_hidden_state=hidden_states[-1],
            hidden_states=hidden_states if output_hidden_states else None,
            output_lengths=outputs.output_lengths if attention_mask is not None else None,
        )


class SoundNetForPreTraining(SoundNetAudioEmbeddingMixin, SoundNetPreTrainedModel):
    """
    SoundNet with the original conv8 object and scene heads, and the teacher-distillation loss; with
    `config.embedding_dim` set, also an embedding head into an image-text teacher's space ([`SoundNetEmbeddingHead`],
    `get_audio_features`, `get_audio_step_features`).
    """

    def __init__(self, config: SoundNetConfig):
        super().__init__(config)
        self.soundnet = SoundNetModel(config)
        self._build_heads(config)
        if config.embedding_dim is not None:
            self.embedding_head = SoundNetEmbeddingHead(config)
        self.post_init()

    @add_start_docstrings_to_model_forward(SOUNDNET_INPUTS_DOCSTRING)
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        teacher_object_probs: torch.Tensor | None = None,
        teacher_scene_probs: torch.Tensor | None = None,
        teacher_step_mask: torch.Tensor | None = None,
        teacher_embeddings: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SoundNetForPreTrainingOutput | tuple:
        r"""
        teacher_object_probs (`torch.FloatTensor` of shape `(batch_size, teacher_steps, num_object_classes)`):
            The image teacher's object distribution per step of video; with `teacher_scene_probs` it turns on
            the distillation loss. Student steps are aligned to teacher steps in time (see `losses.py`).
        teacher_scene_probs (`torch.FloatTensor` of shape `(batch_size, teacher_steps, num_scene_classes)`):
            The scene teacher's distribution per step.
        teacher_step_mask (`torch.BoolTensor` of shape `(batch_size, teacher_steps)`, *optional*):
            Valid teacher steps (all by default).
        teacher_embeddings (`torch.FloatTensor` of shape `(batch_size, teacher_steps, embedding_dim)`, *optional*):
            An image-text teacher's image embedding per step; turns on the embedding loss (needs
            `config.embedding_dim`). Student steps are aligned to teacher steps as for the heads.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        head = getattr(self, "embedding_head", None)
        if teacher_embeddings is not None and head is None:
            raise ValueError(
                "`teacher_embeddings` given but the model has no embedding head: set `embedding_dim` in its config."
            )
        outputs = self.soundnet(
            input_values,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states or head is not None,
            return_dict=True,
        )
        object_logits, scene_logits, step_lengths = self.forward_head(
            outputs.last_hidden_state, outputs.output_lengths
        )
        step_mask = None
        if step_lengths is not None:
            steps = torch.arange(object_logits.shape[1], device=object_logits.device)
            step_mask = (steps[None] < step_lengths[:, None]).long()

        loss = object_loss = scene_loss = None
        head_losses = []
        for logits, teacher in ((object_logits, teacher_object_probs), (scene_logits, teacher_scene_probs)):
            if teacher is not None:
                head_losses.append(distillation_loss(logits, teacher, step_mask, teacher_step_mask))
        if head_losses:
            object_loss = head_losses[0] if teacher_object_probs is not None else None
            scene_loss = head_losses[-1] if teacher_scene_probs is not None else None
            loss = self.config.distillation_lambda * torch.stack(head_losses).mean()

        audio_embeds = embedding_step_mask = embed_loss = cosine_loss = contrastive_loss = None
        if head is not None:
            audio_embeds, embedding_lengths = self.embedding_steps(input_values, attention_mask, outputs.hidden_states)
            if embedding_lengths is not None:
                steps = torch.arange(audio_embeds.shape[1], device=audio_embeds.device)
                embedding_step_mask = (steps[None] < embedding_lengths[:, None]).long()
            if teacher_embeddings is not None:
                config = self.config
                embed_loss, cosine_loss, contrastive_loss = embedding_loss(
                    audio_embeds,
                    teacher_embeddings,
                    embedding_step_mask,
                    teacher_step_mask,
                    cosine_weight=config.embedding_cosine_weight,
                    contrastive_weight=config.embedding_contrastive_weight,
                    temperature=config.embedding_temperature,
                )
                weighted = config.embedding_loss_weight * embed_loss
                loss = weighted if loss is None else loss + weighted

        output = SoundNetForPreTrainingOutput(
            loss=loss,
            object_logits=object_logits,
            scene_logits=scene_logits,
            object_loss=object_loss,
            scene_loss=scene_loss,
            step_mask=step_mask,
            hidden_states=outputs.hidden_states if output_hidden_states else None,
            audio_embeds=audio_embeds,
            embedding_step_mask=embedding_step_mask,
            embedding_loss=embed_loss,
            embedding_cosine_loss=cosine_loss if self.config.embedding_cosine_weight else None,
            embedding_contrastive_loss=contrastive_loss if self.config.embedding_contrastive_weight else None,
        )
        return output if return_dict else output.to_tuple()


class SoundNetForAudioClassification(SoundNetPreTrainedModel):
    """
    Clip-level classification. `config.classifier_type` selects:

    - `"linear"`: masked mean over time of the `config.classifier_layer` block, dropout, then a linear layer
      (`classifier`) over `config.num_labels` classes: the model to fine-tune on labelled sound.
    - `"pretrained_heads"`: the released model's view. The conv8 heads give a softmax per step; each head's
      probabilities are averaged over the clip's valid steps, and the logits are `logit(p)` so that
      `sigmoid(logits)` (what the audio-classification pipeline applies for `multi_label_classification`) returns
      exactly those probabilities. Labels are the objects followed by the scenes.
    """

    def __init__(self, config: SoundNetConfig):
        super().__init__(config)
        self.soundnet = SoundNetModel(config)
        if config.classifier_type == "pretrained_heads":
            self._build_heads(config)
        else:
            self.layer_index = config.classifier_layer_index
            self.dropout = nn.Dropout(config.classifier_dropout)
            self.classifier = nn.Linear(config.conv_channels[self.layer_index], config.num_labels)
            # Loading the released checkpoint for fine-tuning drops its conv8 heads on purpose; the config's switch
            # to "linear" logs it once (`SoundNetConfig.from_dict`), so the load report does not list them again.
            self._keys_to_ignore_on_load_unexpected = [r"^object_head\.", r"^scene_head\."]
        self.post_init()

    def clip_probabilities(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        The original model's clip-level distributions (only with `classifier_type="pretrained_heads"`).

        Returns:
            object probabilities `(batch, num_object_classes)` and scene probabilities `(batch, num_scene_classes)`.
        """
        return self._mean_head_probabilities(
            self.soundnet(input_values, attention_mask=attention_mask, return_dict=True)
        )

    def _mean_head_probabilities(self, outputs: SoundNetModelOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """Each head's per-step softmax over the trunk's `outputs`, averaged over each clip's valid steps."""
        object_logits, scene_logits, step_lengths = self.forward_head(
            outputs.last_hidden_state, outputs.output_lengths
        )
        if step_lengths is not None:
            check_valid_lengths(step_lengths, "the conv8 heads")
        return (
            masked_mean(object_logits.softmax(-1), step_lengths, dim=1),
            masked_mean(scene_logits.softmax(-1), step_lengths, dim=1),
        )

    @add_start_docstrings_to_model_forward(SOUNDNET_INPUTS_DOCSTRING)
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SoundNetAudioClassifierOutput | tuple:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size,)`, or `(batch_size, num_labels)` for multi-label):
            Targets of the classification loss.
        """
        config = self.config
        return_dict = return_dict if return_dict is not None else config.return_dict
        heads = config.classifier_type == "pretrained_heads"
        outputs = self.soundnet(
            input_values,
            attention_mask=attention_mask,
            output_hidden_states=output_hidden_states,
            num_blocks=None if heads else self.layer_index + 1,
            return_dict=True,
        )
        if heads:
            probs = torch.cat(self._mean_head_probabilities(outputs), dim=-1).clamp(_PROB_EPS, 1 - _PROB_EPS)
            logits = torch.log(probs) - torch.log1p(-probs)
        else:
            if outputs.output_lengths is not None:
                check_valid_lengths(outputs.output_lengths, self.config.layer_names[self.layer_index])
            pooled = masked_mean(outputs.last_hidden_state, outputs.output_lengths, dim=2)
            logits = self.classifier(self.dropout(pooled))
        hidden_states = outputs.hidden_states

        loss = self._classification_loss(logits, labels) if labels is not None else None
        output = SoundNetAudioClassifierOutput(loss=loss, logits=logits, hidden_states=hidden_states)
        return output if return_dict else output.to_tuple()

    def _classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss `config.problem_type` names, inferred as transformers' sequence classifiers do when unset."""
        config = self.config
        problem_type = config.problem_type
        if problem_type is None:
            if config.num_labels == 1:
                problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                problem_type = "single_label_classification"
            else:
                problem_type = "multi_label_classification"
        if problem_type == "regression":
            return F.mse_loss(logits.squeeze(-1), labels.squeeze(-1).to(logits.dtype))
        if problem_type == "single_label_classification":
            return F.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


__all__ = [
    "SoundNetAudioClassifierOutput",
    "SoundNetForAudioClassification",
    "SoundNetForPreTraining",
    "SoundNetForPreTrainingOutput",
    "SoundNetModel",
    "SoundNetModelOutput",
    "SoundNetPreTrainedModel",
    "SoundNetIntermediatesMixin",
    "SoundNetIntermediatesOutput",
    "block_output_lengths",
    "check_valid_lengths",
]
