"""The original SoundNet label lists, shipped in `hf_soundnet/categories/` (one label per line, line = class id)."""

from collections import Counter
from importlib import resources


OBJECT_CATEGORIES_FILE = "categories_imagenet.txt"
SCENE_CATEGORIES_FILE = "categories_places2.txt"
OBJECT_PREFIX = "object: "
SCENE_PREFIX = "scene: "


def _read_lines(filename: str) -> list[str]:
    text = resources.files("hf_soundnet").joinpath("categories", filename).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def object_labels() -> list[str]:
    """
    The 1000 ImageNet names, wordnet id dropped: `n01440764 tench, Tinca tinca` -> `tench, Tinca tinca`.

    ImageNet names two classes `crane` (the bird n02012849 and the machine n03126707); a repeated name keeps its
    wordnet id, `crane (n03126707)`, so that every label is unique (the pipeline returns labels, not ids).
    """
    entries = [
        line.split(" ", 1) if line[:1] == "n" and " " in line else ("", line)
        for line in _read_lines(OBJECT_CATEGORIES_FILE)
    ]
    counts = Counter(name for _, name in entries)
    return [f"{name} ({wnid})" if counts[name] > 1 and wnid else name for wnid, name in entries]


def scene_labels() -> list[str]:
    """The 401 Places names, letter folder dropped: `/t/train_station/platform` -> `train_station/platform`."""
    return [line.split("/", 2)[2] if line.startswith("/") else line for line in _read_lines(SCENE_CATEGORIES_FILE)]


def pretrained_id2label() -> dict[int, str]:
    """Label map of the released heads: `object: <name>` for ids 0..999, then `scene: <name>` for 1000..1400."""
    names = [OBJECT_PREFIX + name for name in object_labels()] + [SCENE_PREFIX + name for name in scene_labels()]
    return dict(enumerate(names))


__all__ = ["OBJECT_PREFIX", "SCENE_PREFIX", "object_labels", "pretrained_id2label", "scene_labels"]
