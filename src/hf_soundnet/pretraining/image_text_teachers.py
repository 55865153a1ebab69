"""Image-text teachers: any transformers model with `get_image_features` and `get_text_features` (`CLIPModel`,
`SiglipModel`, ...) as an embedding teacher (one L2-normalised image embedding per video frame) or, with a label
list, as a zero-shot classifier teacher (a softmax over one text prompt per label per frame).

How a frame becomes an embedding (what a reader recomputes to check a corpus): the RGB frame `(3, H, W)` uint8, as
`iter_frames` decodes it, is given to the model's `AutoImageProcessor` as an `(H, W, 3)` array; `get_image_features`
(in transformers 5 a `BaseModelOutputWithPooling` whose `pooler_output` is the projected embedding; older versions
return the tensor) gives `(frames, dim)`, divided by its L2 norm.

The zero-shot distribution of a frame over labels `l_1 .. l_K` is `softmax(exp(logit_scale) * cos(image, text_k))`,
with `text_k` the normalised `get_text_features` of the prompt `template.format(label=l_k)`, tokenized with the
model's `AutoTokenizer` padded to `max_length = text_config.max_position_embeddings` (SigLIP was trained so; CLIP
takes the end-of-text token's state and is indifferent to the padding). This is CLIP's `logits_per_image.softmax(-1)`;
for SigLIP, whose logits add a `logit_bias` and are read with a sigmoid, the bias is the same for every label and
drops out of the softmax, so the teacher is the model's relative preference among the labels.
"""

import numpy as np
import torch

from ..processing_soundnet_text_audio import tokenize_prompts
from .corpus import TeacherInfo
from .teachers import TeacherLoadError, image_inputs


DEFAULT_PROMPT = "a photo of a {label}."


def features_tensor(output) -> torch.Tensor:
    """The embedding tensor of a `get_image_features` / `get_text_features` result (transformers 5: `pooler_output`)."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None:
        raise TypeError(f"get_*_features returned {type(output).__name__} without a pooler_output.")
    return pooled


def l2_normalize(features: torch.Tensor) -> torch.Tensor:
    """`features / ||features||` along the last axis, in float32."""
    return torch.nn.functional.normalize(features.float(), dim=-1)


def load_image_text_model(model_id: str, name: str, need_text: bool, device: str | torch.device = "cpu"):
    """
    `(model, image_processor, tokenizer or None)` of an image-text model (`AutoModel` with `get_image_features`).

    Raises:
        `TeacherLoadError`: the model does not load, has no `get_image_features` (or no `get_text_features` when
            `need_text`), or lacks its image processor or tokenizer.
    """
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(model_id)
        processor = AutoImageProcessor.from_pretrained(model_id)
        tokenizer = AutoTokenizer.from_pretrained(model_id) if need_text else None
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TeacherLoadError(
            f"Teacher {name!r}: cannot load {model_id!r} as an image-text model with its image processor"
            f"{' and tokenizer' if need_text else ''} ({first_line}). Pass a Hub id of a model like CLIP or SigLIP "
            "(online, or cached with HF_HUB_OFFLINE=1) or a folder holding its config, weights, "
            "preprocessor_config.json and tokenizer files."
        ) from err
    wanted = ["get_image_features", *(["get_text_features", "logit_scale"] if need_text else [])]
    missing = [attribute for attribute in wanted if not hasattr(model, attribute)]
    if missing:
        raise TeacherLoadError(
            f"Teacher {name!r}: {model_id!r} loads as {type(model).__name__}, which has no {', '.join(missing)}; an "
            "embedding or zero-shot teacher needs an image-text model such as CLIPModel or SiglipModel."
        )
    return model.to(device).eval().requires_grad_(False), processor, tokenizer


class ImageEmbeddingTeacher:
    """
    An image-text model's image tower: one L2-normalised embedding per frame (see the module docstring).

    Args:
        name: the teacher's name in the corpus (its column is `teacher_{name}`).
        model_id: Hub id or local folder, recorded in the corpus card.
        model: a model with `get_image_features` (`CLIPModel`, `SiglipModel`).
        processor: its `AutoImageProcessor`.
    """

    kind = "embedding"

    def __init__(self, name: str, model_id: str, model, processor):
        self.name = name
        self.model_id = model_id
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self._dim: int | None = None

    @classmethod
    def from_pretrained(cls, model_id: str, name: str, device: str | torch.device = "cpu") -> "ImageEmbeddingTeacher":
        model, processor, _ = load_image_text_model(model_id, name, need_text=False, device=device)
        return cls(name, model_id, model, processor)

    @property
    def num_classes(self) -> int:
        """The embedding dimension (the corpus column's width), measured on one black frame the first time."""
        if self._dim is None:
            self._dim = int(self.image_embeddings(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)).shape[-1])
        return self._dim

    @property
    def labels(self) -> list[str]:
        return []

    def teacher_info(self) -> TeacherInfo:
        return TeacherInfo(self.name, self.model_id, self.num_classes, [], kind=self.kind)

    @torch.no_grad()
    def image_embeddings(self, frames: torch.Tensor) -> torch.Tensor:
        """
        Args:
            frames (`torch.ByteTensor` of shape `(num_frames, 3, height, width)`): RGB frames.

        Returns:
            `torch.FloatTensor` of shape `(num_frames, dim)`: L2-normalised image embeddings, on the model's device.
        """
        inputs = image_inputs(self.processor, frames, self.model.device)
        return l2_normalize(features_tensor(self.model.get_image_features(pixel_values=inputs["pixel_values"])))

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """`(num_frames, dim)` float32 unit vectors (the builder stores them as float16)."""
        return self.image_embeddings(frames).cpu().numpy()


class ZeroShotImageTeacher(ImageEmbeddingTeacher):
    """
    A classifier teacher made from an image-text model and a label list: per frame, the softmax over labels of
    `exp(logit_scale) * cos(image, prompt)` (see the module docstring), distilled with the KL heads like the
    original's ImageNet and Places teachers.

    Args:
        name, model_id, model, processor: as for [`ImageEmbeddingTeacher`].
        tokenizer: the model's `AutoTokenizer`.
        labels: the class names, in class-id order.
        prompt: the template, with `{label}` where the label goes.
    """

    kind = "zero_shot"

    def __init__(self, name: str, model_id: str, model, processor, tokenizer, labels: list[str], prompt: str):
        super().__init__(name, model_id, model, processor)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise TeacherLoadError(
                f"Teacher {name!r}: a zero-shot teacher needs 2 or more distinct labels, got {labels}."
            )
        if "{label}" not in prompt:
            raise TeacherLoadError(f"Teacher {name!r}: the prompt {prompt!r} has no {{label}} placeholder.")
        self.tokenizer = tokenizer
        self._labels = list(labels)
        self.prompt = prompt
        self.text_embeddings = self.prompt_embeddings()

    @classmethod
    def from_pretrained(
        cls,
        model_id: str,
        name: str,
        labels: list[str],
        prompt: str = DEFAULT_PROMPT,
        device: str | torch.device = "cpu",
    ) -> "ZeroShotImageTeacher":
        model, processor, tokenizer = load_image_text_model(model_id, name, need_text=True, device=device)
        return cls(name, model_id, model, processor, tokenizer, labels, prompt)

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def num_classes(self) -> int:
        return len(self._labels)

    def teacher_info(self) -> TeacherInfo:
        return TeacherInfo(self.name, self.model_id, self.num_classes, self.labels, kind=self.kind, prompt=self.prompt)

    @torch.no_grad()
    def prompt_embeddings(self) -> torch.Tensor:
        """`(num_labels, dim)`: the L2-normalised text embedding of each label's prompt."""
        text_config = getattr(self.model.config, "text_config", None)
        prompts = [self.prompt.format(label=label) for label in self._labels]
        max_length = getattr(text_config, "max_position_embeddings", None)
        tokens = {k: v.to(self.model.device) for k, v in tokenize_prompts(self.tokenizer, prompts, max_length).items()}
        return l2_normalize(features_tensor(self.model.get_text_features(**tokens)))

    @property
    def logit_scale(self) -> float:
        """`exp(model.logit_scale)`: the inverse temperature of the softmax."""
        return float(self.model.logit_scale.detach().float().exp())

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """`(num_frames, num_labels)` float32 distributions over the labels."""
        cosine = self.image_embeddings(frames) @ self.text_embeddings.T
        return (self.logit_scale * cosine).softmax(-1).cpu().numpy()


def read_labels(values: list[str]) -> list[str]:
    """
    The labels of `--zero_shot_labels`: the values themselves, or, when one value is given and names a file, its
    non-empty lines (stripped).
    """
    from pathlib import Path

    if len(values) == 1 and Path(values[0]).is_file():
        return [line.strip() for line in Path(values[0]).read_text().splitlines() if line.strip()]
    return list(values)


__all__ = [
    "DEFAULT_PROMPT",
    "ImageEmbeddingTeacher",
    "ZeroShotImageTeacher",
    "features_tensor",
    "l2_normalize",
    "load_image_text_model",
    "read_labels",
]
