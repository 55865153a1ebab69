"""The start-up path of `soundnet classify`: `FastSoundNet` straight from a checkpoint folder
(`hf_soundnet.inference.light_loading`), the records it gives against the transformers model's, and the modules the
command no longer imports (transformers' model and pipeline machinery)."""

import json
import re
import sys

import numpy as np
import pytest
import torch
from _helpers_downstream import run_script
from conftest import released_style_tiny_config, save_tiny_checkpoint
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from hf_soundnet import (
    SoundNetConfig,
    SoundNetFeatureExtractor,
    SoundNetModel,
    _started_as_cli,
    load_audio,
)
from hf_soundnet.cli.jsonl_output import weights_sha256
from hf_soundnet.fast_forward_soundnet import FastSoundNet
from hf_soundnet.inference.classify import classify_files
from hf_soundnet.inference.light_loading import load_fast_classifier


# The model classes (their module imports `transformers.modeling_utils`, which `-X importtime` does not list when
# transformers' lazy module imports it) and the pipeline registry: what registration imports.
HEAVY_MODULES = ("hf_soundnet.modeling_soundnet", "transformers.pipelines")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def eager_logits(model, input_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """conv8 object and scene logits of the transformers model's eager stack (the independent computation)."""
    with torch.inference_mode(), model.forward_implementation("eager"):
        output = model.forward_intermediates(input_values)
    return output.object_logits, output.scene_logits


@pytest.mark.numeric
def test_tiny_checkpoint_gives_the_fast_forward_of_the_automodel(tiny_checkpoint):
    fast, extractor = load_fast_classifier(tiny_checkpoint)
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    assert isinstance(fast, FastSoundNet) and fast.has_heads and fast.config.to_dict() == model.config.to_dict()
    assert extractor.to_dict() == AutoFeatureExtractor.from_pretrained(tiny_checkpoint).to_dict()
    assert weights_sha256(fast) == weights_sha256(model)  # the same digest as records made through transformers

    input_values = torch.randn(2, 6000) * 100
    with torch.inference_mode():
        light = fast.forward_intermediates(input_values)
        built = FastSoundNet.from_model(model).forward_intermediates(input_values)
    objects, scenes = eager_logits(model, input_values)
    for mine, theirs, eager in (
        (light.object_logits, built.object_logits, objects),
        (light.scene_logits, built.scene_logits, scenes),
    ):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)  # the same folding of the same tensors
        torch.testing.assert_close(mine, eager, rtol=1e-4, atol=1e-4 * eager.abs().max().item())
    for mine, eager in zip(
        light.hidden_states, model.base_model(input_values, output_hidden_states=True).hidden_states
    ):
        torch.testing.assert_close(mine, eager.detach(), rtol=1e-4, atol=1e-4 * eager.abs().max().item())


@pytest.mark.numeric
def test_reduced_precision_is_built_in_that_precision(tiny_checkpoint):
    fast, _ = load_fast_classifier(tiny_checkpoint, precision="bf16")
    assert fast.compute_dtype == torch.bfloat16
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    input_values = torch.randn(1, 6000) * 100
    with torch.inference_mode():
        light = fast.forward_intermediates(input_values).scene_logits
    _, eager = eager_logits(model, input_values)
    torch.testing.assert_close(light, eager, rtol=5e-2, atol=5e-2 * eager.abs().max().item())


def test_checkpoints_it_does_not_read_exactly_give_none(tmp_path, tiny_checkpoint):
    assert load_fast_classifier("someone/soundnet8") is None  # a Hub id: transformers' loader and its cache
    assert load_fast_classifier(tmp_path / "missing") is None
    linear = save_tiny_checkpoint(
        tmp_path / "linear", SoundNetConfig(**released_style_tiny_config().to_dict() | {"classifier_type": "linear"})
    )
    assert load_fast_classifier(linear) is None  # no released heads
    trunk = tmp_path / "trunk"
    SoundNetModel(released_style_tiny_config()).save_pretrained(trunk)  # config says heads, weights have none
    SoundNetFeatureExtractor().save_pretrained(trunk)
    assert load_fast_classifier(trunk) is None
    half = tmp_path / "half"
    AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).half().save_pretrained(half)
    SoundNetFeatureExtractor().save_pretrained(half)
    assert load_fast_classifier(half) is None


@pytest.mark.numeric
def test_released_weights_give_the_records_of_the_automodel_path(released_checkpoint, audio_dir):
    """Real recordings and the real weights: `classify_files` on the light FastSoundNet against the same call on the
    model that `AutoModelForAudioClassification` loads (the command's path before), and against the eager stack."""
    files = [str(audio_dir / name) for name in ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav")]
    fast, extractor = load_fast_classifier(released_checkpoint)
    model = AutoModelForAudioClassification.from_pretrained(released_checkpoint).eval()
    reference = AutoFeatureExtractor.from_pretrained(released_checkpoint)
    light = {r["path"]: r for r in classify_files(fast, extractor, files, top_k=5, num_workers=0)}
    before = {r["path"]: r for r in classify_files(model, reference, files, top_k=5, num_workers=0)}
    assert light.keys() == before.keys() == set(files)
    for path in files:
        for head in ("objects", "scenes"):
            assert [e["label"] for e in light[path][head]] == [e["label"] for e in before[path][head]]
            np.testing.assert_allclose(
                [e["probability"] for e in light[path][head]],
                [e["probability"] for e in before[path][head]],
                atol=1e-5,
            )
        assert [t["scene"]["label"] for t in light[path]["timeline"]] == [
            t["scene"]["label"] for t in before[path]["timeline"]
        ]
        # Against the eager stack (independent of the fast forward): the clip's object and scene probabilities.
        inputs = reference([load_audio(path, 22050)], sampling_rate=22050, return_tensors="pt")
        with torch.inference_mode(), model.forward_implementation("eager"):
            objects, scenes = (p[0].numpy() for p in model.clip_probabilities(**inputs))
        assert light[path]["scenes"][0]["label"] == model.config.id2label[1000 + int(scenes.argmax())].removeprefix(
            "scene: "
        )
        assert light[path]["objects"][0]["probability"] == pytest.approx(float(objects.max()), abs=1e-4)
    assert weights_sha256(fast) == weights_sha256(model)


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.MULTILINE)}


def test_classify_imports_no_model_or_pipeline_machinery(tiny_checkpoint, audio_dir, tmp_path):
    """`python -m hf_soundnet.cli classify` on a folder checkpoint (the light path) imports neither transformers'
    model classes nor its pipelines; with `--eager` (the transformers model) it does, and the records agree."""
    audio = str(audio_dir / "railroad.wav")
    command = ["-X", "importtime", "-m", "hf_soundnet.cli", "classify", audio, "--model", str(tiny_checkpoint)]
    command += ["--num-workers", "0", "--quiet"]
    light = run_script(command)
    assert light.returncode == 0, light.stderr[-3000:]
    modules = imported_modules(light.stderr)
    assert "torch" in modules and "hf_soundnet.inference.light_loading" in modules  # the parse sees imports
    assert not modules & set(HEAVY_MODULES), sorted(modules & set(HEAVY_MODULES))

    eager = run_script([*command, "--eager"])
    assert eager.returncode == 0, eager.stderr[-3000:]
    assert set(HEAVY_MODULES) <= imported_modules(eager.stderr)  # registration happened on this path
    fast_record, eager_record = json.loads(light.stdout), json.loads(eager.stdout)
    assert fast_record["weights_sha256"] == eager_record["weights_sha256"]
    assert [e["label"] for e in fast_record["scenes"]] == [e["label"] for e in eager_record["scenes"]]


def test_import_registers_except_in_the_command(tiny_checkpoint):
    """`import hf_soundnet` in a program registers with transformers at once; the command defers it."""
    script = (
        "import sys, hf_soundnet; from transformers import AutoConfig; "
        f"print(type(AutoConfig.from_pretrained({str(tiny_checkpoint)!r})).__name__, "
        "'transformers.modeling_utils' in sys.modules)"
    )
    done = run_script(["-c", script])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["SoundNetConfig", "True"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["python", "-m", "hf_soundnet.cli", "classify", "a.mp3"], True),
        (["python", "-X", "importtime", "-m", "hf_soundnet.cli", "classify"], True),
        (["/venv/bin/python", "/venv/bin/soundnet", "classify", "a.mp3"], True),
        (["python", "-m", "pytest", "-q"], False),
        (["python", "-m", "hf_soundnet.cli.classify"], False),
        (["python", "-c", "import hf_soundnet", "-m", "hf_soundnet.cli"], False),
        (["python", "train.py", "--model", "soundnet"], False),
        (["python", "/home/user/soundnet.py", "classify"], False),  # a user's script registers at import
        (["python"], False),
    ],
)
def test_started_as_cli(argv, expected):
    assert _started_as_cli(argv) is expected


def test_this_process_registered():
    """pytest is not the command: the import registered SoundNet (the other tests rely on it)."""
    import hf_soundnet

    assert not _started_as_cli() and hf_soundnet._registered
    assert "transformers.pipelines" in sys.modules
