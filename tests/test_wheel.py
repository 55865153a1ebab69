"""The built wheel works where a user installs it: a fresh venv, an empty folder, weights made on first use.

The wheel is built from this checkout (hatchling, no build isolation, no network) and installed with `--no-deps` into
a fresh venv that reuses the pinned dependencies of the running environment through a `.pth` line (its site-packages
as a plain path, so that environment's editable hf_soundnet is not seen). `soundnet classify` then runs from an empty
folder, with no `--model`, against a cache seeded only with the verified `sound8.npy`, and an unreachable package
index, so the conversion on first use runs from the wheel's own converter, model card and categories.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from packaging.requirements import Requirement

from hf_soundnet.conversion import RELEASED_VARIANTS


pytestmark = pytest.mark.slow


def run(command: list, env: dict, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> dict:
    """`{"venv", "python", "soundnet", "site_packages", "env"}` of a fresh venv with the built wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1")
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", REPO_ROOT],
        env,
        root,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    (wheel,) = (root / "dist").glob("hf_soundnet-*.whl")

    venv = root / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv], env, root)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    site_packages = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env, root).stdout.strip()
    )
    # The pinned dependencies, reused without downloading: the running environment's site-packages as a plain path.
    (site_packages / "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel], env, root)
    assert installed.returncode == 0, installed.stderr[-4000:]
    return {"venv": venv, "python": python, "soundnet": venv / "bin" / "soundnet", "site_packages": site_packages,
            "env": env}  # fmt: skip


def test_the_wheel_carries_the_converter_model_cards_and_categories(installed_wheel, tmp_path):
    package = installed_wheel["site_packages"] / "hf_soundnet"
    for name in ("model_cards/soundnet8.md", "model_cards/soundnet5.md", "categories/categories_places2.txt",
                 "categories/categories_imagenet.txt", "conversion/convert.py", "conversion/reference_numpy.py"):  # fmt: skip
        assert (package / name).is_file(), name
    where = run([installed_wheel["python"], "-c", "import hf_soundnet; print(hf_soundnet.__file__)"],
                installed_wheel["env"], tmp_path)  # fmt: skip
    assert where.returncode == 0 and Path(where.stdout.strip()).parent == package, where.stdout + where.stderr
    helped = run([installed_wheel["soundnet"], "convert", "--help"], installed_wheel["env"], tmp_path)
    assert helped.returncode == 0 and "--output-dir" in helped.stdout and "--allow-unverified" in helped.stdout


def test_the_wheel_pins_the_torch_set_that_loads_together(installed_wheel, tmp_path):
    code = "import importlib.metadata as m, json; print(json.dumps(m.requires('hf-soundnet')))"
    result = run([installed_wheel["python"], "-c", code], installed_wheel["env"], tmp_path)
    assert result.returncode == 0, result.stderr
    requirements = {r.name: r for r in map(Requirement, json.loads(result.stdout)) if not r.marker}
    for name, working, refused in (
        ("torch", "2.11.0", ("2.12.0", "2.14.1", "2.10.0")),
        ("torchaudio", "2.11.0", ("2.12.0", "2.10.0")),
        ("torchcodec", "0.11.1", ("0.12.0", "0.17.0", "0.10.0")),
    ):
        specifier = requirements[name].specifier
        assert specifier.contains(working), (name, str(specifier))
        assert not any(specifier.contains(version) for version in refused), (name, str(specifier))


def test_installed_command_classifies_from_an_empty_folder_with_weights_made_on_first_use(
    installed_wheel, tmp_path, sound8_npy, audio_dir
):
    cache = tmp_path / "cache"
    seeded = cache / RELEASED_VARIANTS["soundnet8"].sha256 / "sound8.npy"
    seeded.parent.mkdir(parents=True)
    shutil.copyfile(sound8_npy, seeded)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**installed_wheel["env"], "HF_SOUNDNET_CACHE": str(cache),
           "PIP_INDEX_URL": f"http://127.0.0.1:{closed_port()}/simple"}  # fmt: skip
    command = [installed_wheel["soundnet"], "classify", audio_dir / "railroad.wav", "--num-workers", "0"]
    result = run(command, env, empty)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "converting the released soundnet8" in result.stderr and str(cache) in result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["scenes"][0]["label"] == "railroad_track", record["scenes"][:3]
    assert os.listdir(empty) == []  # nothing written into the working folder
    converted = cache / "converted"
    (folder,) = converted.iterdir()
    assert (folder / "model.safetensors").is_file() and (folder / "README.md").is_file()
