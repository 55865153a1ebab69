"""The embedding head: SoundNet projected into an image-text teacher's embedding space (CLIP, SigLIP), one
L2-normalised vector per conv8-like step, and the public feature methods built on it.

The head is a 1-D convolution over `config.embedding_layer` (conv7 of SoundNet-8 by default, the input of the conv8
heads) to `config.embedding_dim` channels, with conv8's window and hop expressed in that layer's frames: over conv7 it
is exactly conv8 (kernel 8, stride 2, one step per 16,384 input samples); over an earlier layer whose hop is `r`
times smaller, kernel, stride and padding are `r` times larger, so its steps keep conv8's hop and are aligned to the
teacher steps the same way (`losses.align_student_steps`). A linear map, like conv8 itself: the student's
representation is the trunk's, the head only rotates it into the teacher's space.

[`SoundNetAudioEmbeddingMixin`] gives a model with an `embedding_head` (and a `soundnet` trunk) the methods a
zero-shot model needs, like transformers' CLAP: `get_audio_features` (one vector per clip, pooled over its steps) and
`get_audio_step_features` (one per step, for a timeline).
"""

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_outputs import BaseModelOutputWithPooling

from .configuration_soundnet import SoundNetConfig, conv_output_length


class SoundNetEmbeddingHead(nn.Module):
    """
    `Conv1d(channels of embedding_layer -> embedding_dim)` with conv8's hop, then L2 normalisation per step.

    Args:
        config ([`SoundNetConfig`]): with `embedding_dim` set.
    """

    def __init__(self, config: SoundNetConfig):
        super().__init__()
        if config.embedding_dim is None:
            raise ValueError("SoundNetEmbeddingHead needs `config.embedding_dim` (the teacher's embedding dimension).")
        layer = config.layer_table[config.embedding_layer_index]
        ratio = config.layer_table[config.num_blocks - 1].hop // layer.hop  # conv8's input frames per layer frame
        self.layer_index = config.embedding_layer_index
        self.kernel_size = config.head_kernel_size * ratio
        self.stride = config.head_stride * ratio
        self.padding = config.head_padding * ratio
        self.projection = nn.Conv1d(
            layer.channels, config.embedding_dim, self.kernel_size, stride=self.stride, padding=self.padding
        )

    def step_lengths(self, frame_lengths: torch.Tensor) -> torch.Tensor:
        """Valid steps for `frame_lengths` `(batch_size,)` valid frames of the input layer."""
        return conv_output_length(frame_lengths, self.kernel_size, self.stride, self.padding)

    def forward(
        self, hidden_state: torch.Tensor, frame_lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, frames)`): the embedding layer's output.
            frame_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*): its valid frames per clip.

        Returns:
            embeddings `(batch_size, num_steps, embedding_dim)`, L2-normalised (zero at the padding steps past a
            clip's valid ones), and the valid steps per clip `(batch_size,)` (None without `frame_lengths`).
        """
        if hidden_state.shape[-1] + 2 * self.padding < self.kernel_size:
            raise ValueError(
                f"The embedding head needs at least {self.kernel_size} frames of its layer ({hidden_state.shape[-1]} "
                "given): the input is shorter than one conv8 step. Repeat short clips to 10 s as "
                "SoundNetFeatureExtractor does."
            )
        embeddings = F.normalize(self.projection(hidden_state).transpose(1, 2), dim=-1)
        if frame_lengths is None:
            return embeddings, None
        step_lengths = self.step_lengths(frame_lengths)
        valid = torch.arange(embeddings.shape[1], device=embeddings.device)[None] < step_lengths[:, None]
        return embeddings * valid[..., None].to(embeddings.dtype), step_lengths


class SoundNetAudioEmbeddingMixin:
    """
    Feature methods of a SoundNet model with an `embedding_head` ([`SoundNetEmbeddingHead`]) and a `soundnet` trunk.
    """

    def embedding_head_or_error(self) -> "SoundNetEmbeddingHead":
        """The model's embedding head; a `ValueError` saying what to do when it has none."""
        head = getattr(self, "embedding_head", None)
        if head is None:
            raise ValueError(
                f"{type(self).__name__} has no embedding head (config.embedding_dim is None); pre-train one on a "
                "corpus with an --embedding_teachers column."
            )
        return head

    def trunk_hidden_states(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """The trunk's block outputs `(batch_size, channels, frames)`, up to the embedding head's layer."""
        head = self.embedding_head_or_error()
        return self.soundnet(
            input_values,
            attention_mask=attention_mask,
            output_hidden_states=True,
            return_dict=True,
            num_blocks=head.layer_index + 1,
        ).hidden_states

    def embedding_steps(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None, hidden_states=None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        The per-step embeddings from the trunk's `hidden_states` (computed when not given).

        Returns:
            `(embeddings (batch_size, num_steps, dim), step_lengths (batch_size,) or None)`; lengths need an
            `attention_mask`.
        """
        head = self.embedding_head_or_error()
        if hidden_states is None:
            hidden_states = self.trunk_hidden_states(input_values, attention_mask)
        frame_lengths = None
        if attention_mask is not None:
            input_lengths = attention_mask.sum(-1).to(torch.long)
            frame_lengths = self.get_output_lengths(input_lengths)[head.layer_index].to(input_values.device)
        return head(hidden_states[head.layer_index], frame_lengths)

    def get_audio_step_features(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None, hidden_states=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        One L2-normalised embedding per conv8 step, in the teacher's space (compare with its text embeddings by dot
        product).

        Args:
            input_values (`torch.FloatTensor` of shape `(batch_size, num_samples)`): waveforms as
                `SoundNetFeatureExtractor` gives them.
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_samples)`, *optional*): valid samples.
            hidden_states (`tuple[torch.FloatTensor]`, *optional*): the trunk's block outputs, when already computed.

        Returns:
            `(embeddings, step_mask)`: `(batch_size, num_steps, embedding_dim)` and `(batch_size, num_steps)` long,
            1 for the valid steps of each clip (all 1 without `attention_mask`).
        """
        embeddings, lengths = self.embedding_steps(input_values, attention_mask, hidden_states=hidden_states)
        steps = torch.arange(embeddings.shape[1], device=embeddings.device)
        if lengths is None:
            lengths = torch.full((embeddings.shape[0],), embeddings.shape[1], device=embeddings.device)
        return embeddings, (steps[None] < lengths[:, None]).long()

    def get_audio_features(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        """
        The clip embeddings, as transformers' `ClapModel.get_audio_features` gives them.

        Args:
            input_values (`torch.FloatTensor` of shape `(batch_size, num_samples)`): waveforms as
                `SoundNetFeatureExtractor` gives them.
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_samples)`, *optional*): valid samples.
            output_hidden_states (`bool`, *optional*): also the trunk's block outputs up to the head's layer.
            return_dict (`bool`, *optional*): a `BaseModelOutputWithPooling` (default) or a tuple.

        Returns:
            `BaseModelOutputWithPooling`: `pooler_output` `(batch_size, embedding_dim)` the L2-normalised clip
            embedding (the mean of its valid step embeddings, normalised again); `last_hidden_state`
            `(batch_size, num_steps, embedding_dim)` the step embeddings (zero past a clip's end); `hidden_states`
            the trunk's block outputs `(batch_size, channels, frames)` when asked.
        """
        return_dict = return_dict if return_dict is not None else self.config.use_return_dict
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        hidden_states = self.trunk_hidden_states(input_values, attention_mask)
        steps, step_mask = self.get_audio_step_features(input_values, attention_mask, hidden_states=hidden_states)
        pooled = pool_steps(steps, step_mask)
        hidden_states = hidden_states if output_hidden_states else None
        if not return_dict:
            return tuple(value for value in (steps, pooled, hidden_states) if value is not None)
        return BaseModelOutputWithPooling(last_hidden_state=steps, pooler_output=pooled, hidden_states=hidden_states)


def pool_steps(embeddings: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
    """
    One L2-normalised embedding per clip: the mean of its valid steps, normalised again.

    Args:
        embeddings (`torch.FloatTensor` of shape `(batch_size, num_steps, dim)`): step embeddings.
        step_mask (`torch.LongTensor` of shape `(batch_size, num_steps)`): 1 at the valid steps.

    Returns:
        `torch.FloatTensor` of shape `(batch_size, dim)`.
    """
    weights = step_mask.to(embeddings.dtype)[..., None]
    return F.normalize((embeddings * weights).sum(1) / weights.sum(1).clamp(min=1), dim=-1)


__all__ = ["SoundNetAudioEmbeddingMixin", "SoundNetEmbeddingHead", "pool_steps"]
