"""The zero-shot model: a SoundNet student in an image-text teacher's embedding space, with the teacher's text tower,
scored like CLIP and exposed like transformers' `ClapModel`.

The audio side is the student's trunk (`soundnet`) and embedding head (`embedding_head`, [`SoundNetEmbeddingHead`]):
one L2-normalised vector per conv8 step, pooled over a clip's valid steps. The text side is the teacher's text model
(`text_model`, `CLIPTextModel` or `SiglipTextModel`, built from `config.text_config`) and, for CLIP, its
`text_projection`; `logit_scale` (and SigLIP's `logit_bias`) are the teacher's. Parameter names are the teacher's
(`text_model.*`, `text_projection.weight`, `logit_scale`, `logit_bias`) and the student's (`soundnet.*`,
`embedding_head.*`), so [`SoundNetTextAudioModel.from_student_and_teacher`] copies state dicts as they are.

Scores: `logits_per_audio[i, j] = exp(logit_scale) * cos(audio_i, text_j) (+ logit_bias)`; the zero-shot answer is
their softmax over the labels (the bias drops out). `logits_per_audio_step` gives the same per conv8 step, for a
timeline (one step per `config.audio_config.head_hop` samples, 2.97 s for SoundNet-8).
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import ModelOutput

from .configuration_soundnet import SoundNetConfig
from .configuration_soundnet_text_audio import SoundNetTextAudioConfig
from .embedding_head import SoundNetAudioEmbeddingMixin, SoundNetEmbeddingHead, pool_steps
from .errors import SoundNetError
from .modeling_soundnet import SoundNetModel


class ZeroShotModelError(SoundNetError, ValueError):
    """A student or teacher that cannot make a zero-shot model (no embedding head, no text tower, other dims)."""


def text_model_from_config(config: SoundNetTextAudioConfig) -> nn.Module:
    """The text tower: `config.text_model_class` (a transformers class name) built from `config.text_config`, or
    `AutoModel.from_config` of it."""
    if config.text_model_class is None:
        return AutoModel.from_config(config.text_config)
    import transformers

    model_class = getattr(transformers, config.text_model_class, None)
    if model_class is None:
        raise ZeroShotModelError(f"text_model_class {config.text_model_class!r} is not a transformers class.")
    return model_class._from_config(config.text_config)


@dataclass
class SoundNetTextAudioOutput(ModelOutput):
    """
    Output of [`SoundNetTextAudioModel`] (CLAP's names).

    Args:
        loss (`torch.FloatTensor` of shape `(1,)`, *optional*): the symmetric contrastive loss, with `return_loss`.
        logits_per_audio (`torch.FloatTensor` of shape `(audio_batch_size, text_batch_size)`): scaled cosines.
        logits_per_text (`torch.FloatTensor` of shape `(text_batch_size, audio_batch_size)`): their transpose.
        logits_per_audio_step (`torch.FloatTensor` of shape `(audio_batch_size, num_steps, text_batch_size)`): the
            same score for each conv8 step of each clip (padding steps score as a zero embedding would).
        audio_step_mask (`torch.LongTensor` of shape `(audio_batch_size, num_steps)`): 1 at each clip's valid steps.
        text_embeds (`torch.FloatTensor` of shape `(text_batch_size, embedding_dim)`): normalised text embeddings.
        audio_embeds (`torch.FloatTensor` of shape `(audio_batch_size, embedding_dim)`): normalised clip embeddings.
        text_model_output ([`BaseModelOutputWithPooling`]): the text tower's output.
        audio_model_output ([`BaseModelOutputWithPooling`]): `last_hidden_state` the step embeddings, `pooler_output`
            the clip embeddings.
    """

    loss: torch.FloatTensor | None = None
    logits_per_audio: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    logits_per_audio_step: torch.FloatTensor | None = None
    audio_step_mask: torch.LongTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    audio_embeds: torch.FloatTensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    audio_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple:
        return tuple(
            self[k] if k not in ("text_model_output", "audio_model_output") else getattr(self, k).to_tuple()
            for k in self.keys()
        )


class SoundNetTextAudioModel(SoundNetAudioEmbeddingMixin, PreTrainedModel):
    """
    SoundNet student + image-text teacher's text tower (see the module docstring).

    Args:
        config ([`SoundNetTextAudioConfig`]): `audio_config.embedding_dim` must equal the text tower's output size.
    """

    config: SoundNetTextAudioConfig
    config_class = SoundNetTextAudioConfig
    base_model_prefix = "soundnet_text_audio"
    main_input_name = "input_values"
    input_modalities = ("audio", "text")
    supports_gradient_checkpointing = False
    _no_split_modules: list[str] = []

    def __init__(self, config: SoundNetTextAudioConfig):
        super().__init__(config)
        audio_config: SoundNetConfig = config.audio_config
        if audio_config.embedding_dim is None:
            raise ZeroShotModelError(
                "The student has no embedding head (audio_config.embedding_dim is None): pre-train one on a corpus "
                "with an embedding teacher (--embedding_teachers) first."
            )
        self.soundnet = SoundNetModel(audio_config)
        self.embedding_head = SoundNetEmbeddingHead(audio_config)
        self.text_model = text_model_from_config(config)
        text_dim = config.projection_dim
        if config.projection_dim is None:
            text_dim = getattr(config.text_config, "projection_size", None) or config.text_config.hidden_size
            self.text_projection = nn.Identity()
        else:
            self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        if text_dim != audio_config.embedding_dim:
            raise ZeroShotModelError(
                f"The text tower embeds in {text_dim} dimensions, the student's head in {audio_config.embedding_dim}: "
                "the student must have been distilled from this teacher's image embeddings."
            )
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        if config.logit_bias_init_value is not None:
            self.logit_bias = nn.Parameter(torch.tensor(float(config.logit_bias_init_value)))
        else:
            self.logit_bias = None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """
        The scalars from the config (`transformers.initialization`, which leaves loaded tensors alone). Not
        `super()._init_weights`: the text tower initialises itself as its own `PreTrainedModel`, and the SoundNet
        trunk and head keep the initialisation `SoundNetModel` gives them.
        """
        if module is self:
            init.constant_(self.logit_scale, float(self.config.logit_scale_init_value))
            if self.logit_bias is not None:
                init.constant_(self.logit_bias, float(self.config.logit_bias_init_value))

    def get_output_lengths(self, input_lengths: torch.Tensor | int) -> list[torch.Tensor]:
        """Valid frames of every block's output for clips of `input_lengths` samples (the trunk's)."""
        return self.soundnet.get_output_lengths(input_lengths)

    @classmethod
    def from_student_and_teacher(
        cls,
        student_name_or_path: str,
        teacher_name_or_path: str,
        hypothesis_template: str | None = None,
    ) -> "SoundNetTextAudioModel":
        """
        The zero-shot model of a pre-trained student (a `SoundNetForPreTraining` checkpoint with an embedding head)
        and the image-text teacher it was distilled from (an `AutoModel` with `text_model`, `get_text_features` and
        `logit_scale`: `CLIPModel`, `SiglipModel`): the student's trunk and head, the teacher's text model, text
        projection, `logit_scale` and `logit_bias`, copied as they are.

        Raises:
            `ZeroShotModelError`: the student has no embedding head, the teacher no text tower, or their dimensions
                differ.
        """
        from .modeling_soundnet import SoundNetForPreTraining

        student = SoundNetForPreTraining.from_pretrained(student_name_or_path)
        if getattr(student, "embedding_head", None) is None:
            raise ZeroShotModelError(
                f"{student_name_or_path}: the student has no embedding head (config.embedding_dim is None)."
            )
        teacher = AutoModel.from_pretrained(teacher_name_or_path)
        missing = [name for name in ("text_model", "get_text_features", "logit_scale") if not hasattr(teacher, name)]
        if missing or not hasattr(teacher.config, "text_config"):
            raise ZeroShotModelError(
                f"{teacher_name_or_path}: loads as {type(teacher).__name__}, which lacks {missing or 'text_config'}; "
                "the teacher must be an image-text model such as CLIPModel or SiglipModel."
            )
        projection = getattr(teacher, "text_projection", None)
        bias = getattr(teacher, "logit_bias", None)
        config = SoundNetTextAudioConfig(
            audio_config=student.config.to_dict(),
            text_config=teacher.config.text_config.to_dict(),
            text_model_class=type(teacher.text_model).__name__,
            projection_dim=None if projection is None else projection.out_features,
            logit_scale_init_value=float(teacher.logit_scale.detach().float()),
            logit_bias_init_value=None if bias is None else float(bias.detach().float()),
            teacher_name_or_path=str(teacher_name_or_path),
            **({} if hypothesis_template is None else {"hypothesis_template": hypothesis_template}),
        )
        model = cls(config)
        model.soundnet.load_state_dict(student.soundnet.state_dict())
        model.embedding_head.load_state_dict(student.embedding_head.state_dict())
        model.text_model.load_state_dict(teacher.text_model.state_dict())
        if projection is not None:
            model.text_projection.load_state_dict(projection.state_dict())
        return model.eval()

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """
        Like `ClapModel.get_text_features`: the text tower's output with `pooler_output` replaced by the projected,
        L2-normalised text embedding `(text_batch_size, embedding_dim)`.

        Args:
            input_ids (`torch.LongTensor` of shape `(text_batch_size, sequence_length)`): the tokenized prompts.
            attention_mask (`torch.LongTensor` of shape `(text_batch_size, sequence_length)`, *optional*).
            position_ids (`torch.LongTensor` of shape `(text_batch_size, sequence_length)`, *optional*).
        """
        text_outputs = self.text_model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs
        )
        text_outputs.pooler_output = F.normalize(self.text_projection(text_outputs.pooler_output), dim=-1)
        return text_outputs

    def scores(self, audio_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """`exp(logit_scale) * audio_embeds @ text_embeds.T (+ logit_bias)`, over the last axis of both."""
        logits = self.logit_scale.exp() * audio_embeds @ text_embeds.T
        return logits if self.logit_bias is None else logits + self.logit_bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        audio_attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SoundNetTextAudioOutput | tuple:
        """
        Args:
            input_ids (`torch.LongTensor` of shape `(text_batch_size, sequence_length)`): tokenized prompts.
            input_values (`torch.FloatTensor` of shape `(audio_batch_size, num_samples)`): waveforms.
            attention_mask (`torch.LongTensor` of shape `(text_batch_size, sequence_length)`, *optional*): the text's.
            audio_attention_mask (`torch.LongTensor` of shape `(audio_batch_size, num_samples)`, *optional*).
            position_ids (`torch.LongTensor`, *optional*): the text's.
            return_loss (`bool`, *optional*): also the symmetric contrastive loss (audio `i` pairs with text `i`).

        Returns:
            [`SoundNetTextAudioOutput`].
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        steps, step_mask = self.get_audio_step_features(input_values, audio_attention_mask)
        audio_outputs = BaseModelOutputWithPooling(last_hidden_state=steps, pooler_output=pool_steps(steps, step_mask))
        text_outputs = self.get_text_features(input_ids, attention_mask, position_ids)
        audio_embeds, text_embeds = audio_outputs.pooler_output, text_outputs.pooler_output
        logits_per_audio = self.scores(audio_embeds, text_embeds)
        loss = None
        if return_loss:
            if logits_per_audio.shape[0] != logits_per_audio.shape[1]:
                raise ValueError(
                    f"return_loss pairs audio i with text i: got {logits_per_audio.shape[0]} clips and "
                    f"{logits_per_audio.shape[1]} texts."
                )
            targets = torch.arange(logits_per_audio.shape[0], device=logits_per_audio.device)
            loss = (F.cross_entropy(logits_per_audio, targets) + F.cross_entropy(logits_per_audio.T, targets)) / 2
        output = SoundNetTextAudioOutput(
            loss=loss,
            logits_per_audio=logits_per_audio,
            logits_per_text=logits_per_audio.T,
            logits_per_audio_step=self.scores(steps, text_embeds),
            audio_step_mask=step_mask,
            text_embeds=text_embeds,
            audio_embeds=audio_embeds,
            text_model_output=text_outputs,
            audio_model_output=audio_outputs,
        )
        return output if return_dict else output.to_tuple()

    def step_times(self, num_steps: int) -> torch.Tensor:
        """`(num_steps,)` the start of each conv8 step in seconds (one step per `audio_config.head_hop` samples)."""
        audio = self.config.audio_config
        return torch.arange(num_steps, dtype=torch.float64) * audio.head_hop / audio.sampling_rate


__all__ = ["SoundNetTextAudioModel", "SoundNetTextAudioOutput", "ZeroShotModelError"]
