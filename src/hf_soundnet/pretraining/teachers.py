"""Image teachers: any `AutoModelForImageClassification` (an ImageNet or a Places365 model from the Hub, or a local
folder) turned into a softmax distribution per video frame."""

import os

import numpy as np
import torch

from ..errors import SoundNetError


# Default teacher names by position on the command line: SoundNet's two heads, then generic names.
DEFAULT_TEACHER_NAMES = ("objects", "scenes")


class TeacherLoadError(SoundNetError, ValueError):
    """A teacher that could not be loaded; the message names the model and says what to do."""


def parse_teacher_spec(spec: str, position: int) -> tuple[str, str]:
    """
    `"NAME=MODEL"` or `"MODEL"` -> `(name, model)`. Without a name the first teacher is `objects`, the second
    `scenes` (SoundNet's object and scene heads), and later ones `teacher{position}`.
    """
    name, sep, model = spec.partition("=")
    if sep and name and "/" not in name and not os.path.exists(spec):
        return name, model
    default = DEFAULT_TEACHER_NAMES[position] if position < len(DEFAULT_TEACHER_NAMES) else f"teacher{position}"
    return default, spec


class ImageTeacher:
    """
    An image classifier and its image processor, evaluated without gradients.

    Args:
        name: the teacher's name in the corpus (its column is `teacher_{name}`).
        model_id: Hub id or local folder, recorded in the corpus card.
        model: an `AutoModelForImageClassification` instance.
        processor: its `AutoImageProcessor`.
    """

    def __init__(self, name: str, model_id: str, model, processor):
        self.name = name
        self.model_id = model_id
        self.model = model.eval().requires_grad_(False)
        self.processor = processor

    @classmethod
    def from_pretrained(cls, model_id: str, name: str, device: str | torch.device = "cpu") -> "ImageTeacher":
        """Loads `model_id` (a Hub id or a local folder) with `AutoModelForImageClassification` and its processor."""
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        try:
            model = AutoModelForImageClassification.from_pretrained(model_id)
            processor = AutoImageProcessor.from_pretrained(model_id)
        except Exception as err:
            raise TeacherLoadError(
                f"Teacher {name!r}: cannot load {model_id!r} as an image classifier with its image processor "
                f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}). Pass a Hub id "
                "of an image-classification model (online, or cached with HF_HUB_OFFLINE=1) or a folder holding "
                "config.json, the weights and preprocessor_config.json."
            ) from err
        return cls(name, model_id, model.to(device), processor)

    @property
    def labels(self) -> list[str]:
        """Class names in id order (from the model's `id2label`)."""
        id2label = self.model.config.id2label
        return [str(id2label[i]) for i in range(self.num_classes)]

    @property
    def num_classes(self) -> int:
        return int(self.model.config.num_labels)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """
        Args:
            frames (`torch.ByteTensor` of shape `(num_frames, 3, height, width)`): RGB frames.

        Returns:
            `np.ndarray` of shape `(num_frames, num_classes)`, float32: the softmax of each frame's logits.
        """
        images = [frame.permute(1, 2, 0).cpu().numpy() for frame in frames]
        inputs = self.processor(images=images, return_tensors="pt").to(self.model.device)
        logits = self.model(**inputs).logits
        return logits.float().softmax(-1).cpu().numpy()


def load_teachers(specs: list[str], device: torch.device | str = "cpu") -> list[ImageTeacher]:
    """
    The image teachers of `--teachers`: each spec `NAME=MODEL` or `MODEL` ([`parse_teacher_spec`]) loaded on
    `device`, in order.

    Raises:
        `TeacherLoadError`: two teachers have the same name, or a model does not load as an image classifier.
    """
    named = [parse_teacher_spec(spec, i) for i, spec in enumerate(specs)]
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise TeacherLoadError(f"Teacher names must be unique, got {names}; name them with NAME=MODEL.")
    return [ImageTeacher.from_pretrained(model, name, device=device) for name, model in named]


__all__ = ["DEFAULT_TEACHER_NAMES", "ImageTeacher", "TeacherLoadError", "load_teachers", "parse_teacher_spec"]
