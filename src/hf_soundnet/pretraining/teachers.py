"""Image teachers: any `AutoModelForImageClassification` (an ImageNet or a Places365 model from the Hub, or a local
folder) turned into a softmax distribution per video frame; and [`load_teachers`], which also loads the image-text
teachers of `image_text_teachers` (embeddings, zero-shot classifiers)."""

import os

import numpy as np
import torch

from ..errors import SoundNetError
from .corpus import TeacherInfo


# Default teacher names by position on the command line: SoundNet's two heads, then generic names.
DEFAULT_TEACHER_NAMES = ("objects", "scenes")


class TeacherLoadError(SoundNetError, ValueError):
    """A teacher that could not be loaded; the message names the model and says what to do."""


def parse_teacher_spec(
    spec: str, position: int, default_names: tuple[str, ...] = DEFAULT_TEACHER_NAMES, prefix: str = "teacher"
) -> tuple[str, str]:
    """
    `"NAME=MODEL"` or `"MODEL"` -> `(name, model)`. Without a name the first teacher is `objects`, the second
    `scenes` (SoundNet's object and scene heads), and later ones `teacher{position}` (`default_names` and `prefix`
    give other defaults).
    """
    name, sep, model = spec.partition("=")
    if sep and name and "/" not in name and not os.path.exists(spec):
        return name, model
    default = default_names[position] if position < len(default_names) else f"{prefix}{position}"
    return default, spec


def image_inputs(processor, frames: torch.Tensor, device: torch.device | str):
    """
    The model inputs of video frames: `processor` (an image processor) applied to each frame as an `(height, width, 3)`
    array, on `device`.

    Args:
        frames (`torch.ByteTensor` of shape `(num_frames, 3, height, width)`): RGB frames.

    Returns:
        the processor's `BatchFeature` (`pixel_values` of shape `(num_frames, 3, size, size)`), on `device`.
    """
    images = [frame.permute(1, 2, 0).cpu().numpy() for frame in frames]
    return processor(images=images, return_tensors="pt").to(device)


class ImageTeacher:
    """
    An image classifier and its image processor, evaluated without gradients.

    Args:
        name: the teacher's name in the corpus (its column is `teacher_{name}`).
        model_id: Hub id or local folder, recorded in the corpus card.
        model: an `AutoModelForImageClassification` instance.
        processor: its `AutoImageProcessor`.
    """

    kind = "classifier"

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

    def teacher_info(self) -> TeacherInfo:
        """The corpus card's entry for this teacher."""
        return TeacherInfo(self.name, self.model_id, self.num_classes, self.labels)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """
        Args:
            frames (`torch.ByteTensor` of shape `(num_frames, 3, height, width)`): RGB frames.

        Returns:
            `np.ndarray` of shape `(num_frames, num_classes)`, float32: the softmax of each frame's logits.
        """
        logits = self.model(**image_inputs(self.processor, frames, self.model.device)).logits
        return logits.float().softmax(-1).cpu().numpy()


def load_teachers(
    specs: list[str],
    device: torch.device | str = "cpu",
    embedding_specs: list[str] | None = None,
    zero_shot_specs: list[str] | None = None,
    zero_shot_labels: list[str] | None = None,
    zero_shot_prompt: str | None = None,
) -> list:
    """
    The teachers of a corpus build, loaded on `device`, in order: the image classifiers of `--teachers` (each spec
    `NAME=MODEL` or `MODEL`, [`parse_teacher_spec`]), then the image-text embedding teachers of `embedding_specs`
    (unnamed: `embedding`, `embedding1`, ...), then the zero-shot classifiers of `zero_shot_specs` (unnamed:
    `zero_shot`, `zero_shot1`, ...) over `zero_shot_labels` with the prompt `zero_shot_prompt` (see
    `image_text_teachers`).

    Raises:
        `TeacherLoadError`: no teacher, two teachers with the same name, zero-shot teachers without labels, or a
            model that does not load as its kind of teacher.
    """
    from .image_text_teachers import DEFAULT_PROMPT, ImageEmbeddingTeacher, ZeroShotImageTeacher

    named = [("classifier", *parse_teacher_spec(spec, i)) for i, spec in enumerate(specs)]
    named += [
        ("embedding", *parse_teacher_spec(spec, i, ("embedding",), "embedding"))
        for i, spec in enumerate(embedding_specs or [])
    ]
    named += [
        ("zero_shot", *parse_teacher_spec(spec, i, ("zero_shot",), "zero_shot"))
        for i, spec in enumerate(zero_shot_specs or [])
    ]
    if not named:
        raise TeacherLoadError("No teacher: give --teachers, --embedding_teachers or --zero_shot_teachers.")
    names = [name for _, name, _ in named]
    if len(set(names)) != len(names):
        raise TeacherLoadError(f"Teacher names must be unique, got {names}; name them with NAME=MODEL.")
    if zero_shot_specs and not zero_shot_labels:
        raise TeacherLoadError("--zero_shot_teachers needs --zero_shot_labels (labels, or a file of one per line).")
    teachers = []
    for kind, name, model in named:
        if kind == "classifier":
            teachers.append(ImageTeacher.from_pretrained(model, name, device=device))
        elif kind == "embedding":
            teachers.append(ImageEmbeddingTeacher.from_pretrained(model, name, device=device))
        else:
            prompt = zero_shot_prompt or DEFAULT_PROMPT
            teachers.append(ZeroShotImageTeacher.from_pretrained(model, name, zero_shot_labels, prompt, device=device))
    return teachers


__all__ = [
    "DEFAULT_TEACHER_NAMES",
    "ImageTeacher",
    "TeacherLoadError",
    "image_inputs",
    "load_teachers",
    "parse_teacher_spec",
]
