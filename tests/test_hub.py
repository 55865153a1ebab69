"""Publishing: model cards, code upload, and push -> load round trips over a loopback Hub (`_hub_server.py`).

Every Hub client runs in a fresh interpreter with `HF_ENDPOINT` set before huggingface_hub is imported, online, with an
empty `HF_HOME`; the server runs in this process. Outputs loaded from the Hub, with the plugin and without it
(`trust_remote_code=True`, hf_soundnet made unimportable), are compared with the local folder loaded here.
"""

import ast
import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_hub import describe, describe_in_fresh_process, hub_env, run_client
from _hub_server import LoopbackHub
from conftest import REPO_ROOT
from huggingface_hub import ModelCard, metadata_load

from hf_soundnet import SoundNetConfig, SoundNetFeatureExtractor, SoundNetForAudioClassification
from hf_soundnet.conversion.convert import MODEL_CARDS
from hf_soundnet.hub import HubPushError, check_checkpoint_folder, render_model_card


CONVERTER = REPO_ROOT / "conversion" / "convert_soundnet_original_to_hf.py"
# The plugin files: the models import FastSoundNet (their fast path) from fast_forward_soundnet.py and the
# embedding head from embedding_head.py; the config declares the pipeline (`custom_pipelines`), whose module decodes
# with decoding_soundnet.py (errors from errors.py).
CODE_FILES = {
    "configuration_soundnet.py",
    "modeling_soundnet.py",
    "losses.py",
    "embedding_head.py",
    "feature_extraction_soundnet.py",
    "fast_forward_soundnet.py",
    "pipeline_soundnet.py",
    "decoding_soundnet.py",
    "errors.py",
}
MODEL_AUTO_CLASSES = {"AutoConfig", "AutoModel", "AutoModelForPreTraining", "AutoModelForAudioClassification"}


@pytest.fixture
def hub(tmp_path):
    server = LoopbackHub(tmp_path / "hub").start()
    yield server
    server.stop()


def closed_port_endpoint() -> str:
    """An endpoint nothing listens on: a port the OS just handed out and that was closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def head_files(hub: LoopbackHub, repo_id: str) -> dict[str, str]:
    """sha256 of every file at the head of `repo_id` on the loopback Hub, by path."""
    head = hub.store.commit_at(repo_id, "main")
    return {path: hashlib.sha256(hub.store.blob(blob)).hexdigest() for path, blob in head["files"].items()}


def assert_same_outputs(got: dict, expected: dict) -> None:
    """The Hub copy gives the local folder's outputs: features, trunk, logits, labels and pipeline predictions."""
    for key in ("input_values", "hidden", "logits"):
        torch.testing.assert_close(torch.tensor(got[key]), torch.tensor(expected[key]), rtol=1e-5, atol=1e-5)
    assert got["id2label"] == expected["id2label"]
    assert [p["label"] for p in got["predictions"]] == [p["label"] for p in expected["predictions"]]
    torch.testing.assert_close(
        torch.tensor([p["score"] for p in got["predictions"]]),
        torch.tensor([p["score"] for p in expected["predictions"]]),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_config) -> Path:
    """A tiny random fine-tuned-style classifier (3 named labels) with its feature extractor, saved with code."""
    labels = ["dog bark", "rain", "engine"]
    config = SoundNetConfig(
        **{
            **tiny_config.to_dict(),
            "id2label": dict(enumerate(labels)),
            "label2id": {k: i for i, k in enumerate(labels)},
        }
    )
    torch.manual_seed(0)
    model = SoundNetForAudioClassification(config).eval()
    with torch.no_grad():  # a non-trivial classifier so the labels get distinct scores
        model.classifier.weight.normal_(0, 1.0)
    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    SoundNetFeatureExtractor(repeat_to_seconds=0.5, input_scale=64.0).save_pretrained(folder)
    return folder


@pytest.fixture
def noise_file(tmp_path) -> Path:
    path = tmp_path / "noise.npy"
    np.save(path, np.random.default_rng(0).uniform(-1, 1, 20_000).astype(np.float32))
    return path


# -- model cards ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("template", ["soundnet8.md", "soundnet5.md"])
def test_model_card_templates_render_to_valid_metadata(tmp_path, template):
    card = render_model_card(MODEL_CARDS / template, repo_id="someone/soundnet")
    card.save(tmp_path / "README.md")
    metadata = metadata_load(tmp_path / "README.md")
    assert metadata["license"] == "mit"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert metadata["library_name"] == "transformers"
    assert {"audio", "soundnet", "custom_code"} <= set(metadata["tags"])
    text = ModelCard.load(tmp_path / "README.md").text
    for section in ("## Usage", "## Preprocessing", "## Limitations", "## Citation"):
        assert section in text
    assert "@inproceedings{aytar2016soundnet" in text
    assert 'model="someone/soundnet"' in text or 'from_pretrained("someone/soundnet")' in text
    assert "trust_remote_code=True" in text and "{{" not in text and "{%" not in text


def test_soundnet8_card_attributes_the_papers_results_to_the_paper():
    card = render_model_card(MODEL_CARDS / "soundnet8.md", verification_error=4.4e-8)
    results = {(r.dataset_name, r.metric_value) for r in card.data.eval_results}
    assert results == {("ESC-50", 74.2), ("ESC-10", 92.2), ("DCASE 2013 scene classification", 88)}
    assert all("Aytar" in r.source_name and "not re-measured" in r.source_name for r in card.data.eval_results)
    assert all(r.source_url == "https://arxiv.org/abs/1610.09001" for r in card.data.eval_results)
    assert "(largest difference of any probability:\n4.4e-08)" in card.text


def test_soundnet5_card_renders_training_facts_and_measured_results():
    card = render_model_card(
        MODEL_CARDS / "soundnet5.md",
        datasets=["someone/videos"],
        training={"max_steps": 1000},
        results=[{"task": "ESC-50 linear probe", "dataset": "esc50", "metric": "accuracy", "value": 0.61}],
    )
    assert card.data.datasets == ["someone/videos"]
    assert "| max_steps | 1000 |" in card.text
    assert "| ESC-50 linear probe | esc50 | accuracy | 0.61 |" in card.text
    assert "None measured" in render_model_card(MODEL_CARDS / "soundnet5.md").text


# -- code upload -----------------------------------------------------------------------------------------------------
def test_saved_checkpoint_carries_self_contained_code_and_a_full_auto_map(tiny_checkpoint):
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert set(config["auto_map"]) == MODEL_AUTO_CLASSES
    preprocessor = json.loads((tiny_checkpoint / "preprocessor_config.json").read_text())
    assert preprocessor["auto_map"] == {"AutoFeatureExtractor": "feature_extraction_soundnet.SoundNetFeatureExtractor"}
    code_files = {path.name for path in tiny_checkpoint.glob("*.py")}
    assert code_files == CODE_FILES
    for reference in [*config["auto_map"].values(), *preprocessor["auto_map"].values()]:
        assert f"{reference.split('.')[0]}.py" in code_files
    for name in code_files:
        tree = ast.parse((tiny_checkpoint / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                assert f"{node.module}.py" in code_files, f"{name} imports .{node.module}, which is not copied"
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            modules += [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            assert not any(m.split(".")[0] == "hf_soundnet" for m in modules), f"{name} imports hf_soundnet"


def test_check_checkpoint_folder_names_what_is_missing(tmp_path, tiny_checkpoint):
    assert check_checkpoint_folder(tiny_checkpoint) == tiny_checkpoint
    (tiny_checkpoint / "preprocessor_config.json").unlink()
    with pytest.raises(HubPushError, match="preprocessor_config.json"):
        check_checkpoint_folder(tiny_checkpoint)
    with pytest.raises(HubPushError, match="no such checkpoint folder"):
        check_checkpoint_folder(tmp_path / "absent")


# -- push and load over the loopback Hub -------------------------------------------------------------------------------
def test_push_then_load_in_fresh_processes_with_and_without_the_plugin(hub, tmp_path, tiny_checkpoint, noise_file):
    push = run_client(
        ["-m", "hf_soundnet.cli", "push", str(tiny_checkpoint), "someone/tiny"], hub_env(hub.endpoint, tmp_path / "h0")
    )
    assert push.returncode == 0, push.stderr[-3000:]
    assert head_files(hub, "someone/tiny") == folder_digest(tiny_checkpoint)

    expected = describe(str(tiny_checkpoint), str(noise_file), trust_remote_code=False)
    with_plugin = describe_in_fresh_process("someone/tiny", noise_file, hub_env(hub.endpoint, tmp_path / "h1"), False)
    without = describe_in_fresh_process("someone/tiny", noise_file, hub_env(hub.endpoint, tmp_path / "h2"), True)

    assert all(c.startswith("hf_soundnet.") for c in with_plugin["classes"].values()), with_plugin["classes"]
    assert not without["plugin_importable"] and without["loaded_modules"] == []
    assert all(c.startswith("transformers_modules.") for c in without["classes"].values()), without["classes"]
    assert without["classes"]["trunk"].endswith("modeling_soundnet.SoundNetModel")
    assert without["pipeline_model"] == "SoundNetForAudioClassification"
    assert_same_outputs(with_plugin, expected)
    assert_same_outputs(without, expected)
    assert {p["label"] for p in without["predictions"]} == {"dog bark", "rain", "engine"}
    fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path}
    assert fetched >= CODE_FILES  # the code came from the Hub


def test_repush_is_idempotent_and_a_change_makes_one_commit(hub, tmp_path, tiny_checkpoint):
    env = hub_env(hub.endpoint, tmp_path / "hf")
    command = ["-m", "hf_soundnet.cli", "push", str(tiny_checkpoint), "someone/tiny", "--hub-private-repo"]
    first, second = run_client(command, env), run_client(command, env)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-3000:]
    assert hub.store.repo("someone/tiny")["private"]
    commits = hub.store.repo("someone/tiny")["commits"]
    assert len(commits) == 2  # the repo's initial commit and one upload
    assert (
        first.stdout.split()[-1]
        == second.stdout.split()[-1]
        == f"{hub.endpoint}/someone/tiny/commit/{commits[-1]['oid']}"
    )
    assert "No files have been modified since last commit" in second.stderr
    assert head_files(hub, "someone/tiny") == folder_digest(tiny_checkpoint)

    (tiny_checkpoint / "README.md").write_text("---\nlicense: mit\n---\n# changed\n")
    assert run_client(command, env).returncode == 0
    commits = hub.store.repo("someone/tiny")["commits"]
    assert len(commits) == 3
    changed = {p for p in commits[-1]["files"] if commits[-1]["files"][p] != commits[-2]["files"].get(p)}
    assert changed == {"README.md"}


def test_failed_push_names_repo_and_endpoint_and_leaves_the_folder(tmp_path, tiny_checkpoint):
    before = folder_digest(tiny_checkpoint)
    endpoint = closed_port_endpoint()
    result = run_client(
        ["-m", "hf_soundnet.cli", "push", str(tiny_checkpoint), "someone/tiny"], hub_env(endpoint, tmp_path / "hf")
    )
    assert result.returncode == 3  # EXIT_PUSH_FAILED
    assert "someone/tiny" in result.stderr and endpoint in result.stderr and "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert folder_digest(tiny_checkpoint) == before


# -- the released weights ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_converter_pushes_the_released_weights_loadable_without_the_plugin(hub, tmp_path, sound8_npy, audio_dir):
    from hf_soundnet import load_audio

    output = tmp_path / "soundnet8"
    convert = ["--checkpoint", str(sound8_npy), "--output-dir", str(output), "--push-to-hub"]
    convert += ["--hub-model-id", "someone/soundnet8"]

    # 1. The Hub is unreachable: exit 3, a message naming the repo, and a complete local checkpoint.
    failed = run_client([str(CONVERTER), *convert], hub_env(closed_port_endpoint(), tmp_path / "h0"))
    assert failed.returncode == 3, failed.stderr[-3000:]
    assert "someone/soundnet8" in failed.stderr and "is complete" in failed.stderr
    expected_files = {"config.json", "model.safetensors", "preprocessor_config.json", "README.md", *CODE_FILES}
    assert expected_files <= set(folder_digest(output)) and len(list((output / "categories").glob("*.txt"))) == 2
    local = folder_digest(output)

    # 2. Converting and pushing again, now reachable: the repo holds exactly the local files.
    pushed = run_client([str(CONVERTER), *convert], hub_env(hub.endpoint, tmp_path / "h1"))
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    assert folder_digest(output) == local  # the conversion is deterministic
    assert head_files(hub, "someone/soundnet8") == local
    card = ModelCard(hub.store.blob(hub.store.commit_at("someone/soundnet8", "main")["files"]["README.md"]).decode())
    assert card.data.license == "mit" and 'model="someone/soundnet8"' in card.text

    # 3. A third conversion and push makes no new commit.
    again = run_client([str(CONVERTER), *convert], hub_env(hub.endpoint, tmp_path / "h1"))
    assert again.returncode == 0 and len(hub.store.repo("someone/soundnet8")["commits"]) == 2

    # 4. A fresh process without hf_soundnet gives the local folder's outputs on a real recording.
    clip = tmp_path / "railroad.npy"
    np.save(clip, load_audio(audio_dir / "railroad.wav")[0][: 22050 * 12])
    expected = describe(str(output), str(clip), trust_remote_code=False)
    without = describe_in_fresh_process("someone/soundnet8", clip, hub_env(hub.endpoint, tmp_path / "h2"), True)
    assert not without["plugin_importable"]
    assert_same_outputs(without, expected)
    assert without["predictions"][0]["label"].startswith(("scene: ", "object: "))


# -- training scripts' --push_to_hub ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_pretrain_pushes_the_final_model_with_its_card(hub, tmp_path, audio_dir):
    """`examples/pretrain.py --push_to_hub --hub_model_id REPO_ID`: the saved model, its code and a card with the
    run's facts."""
    from _helpers_corpus import sound_sources, tiny_student_config, write_sound_corpus

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_sound_corpus(corpus, sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=2)
    tiny_student_config().save_pretrained(tmp_path / "tiny")
    args = [str(REPO_ROOT / "examples" / "pretrain.py"), "--corpus", str(corpus), "--output_dir", str(out)]
    args += ["--model", str(tmp_path / "tiny"), "--crop_seconds", "2", "--per_device_train_batch_size", "4"]
    args += ["--dataloader_num_workers", "0", "--shuffle_buffer", "0", "--max_steps", "2", "--save_steps", "2"]
    args += ["--push_to_hub", "--hub_model_id", "someone/pretrained"]
    result = run_client(args, hub_env(hub.endpoint, tmp_path / "hf"))
    assert result.returncode == 0, result.stderr[-4000:]
    on_hub = head_files(hub, "someone/pretrained")
    local = folder_digest(out)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md", "modeling_soundnet.py"):
        assert on_hub[name] == local[name], name
    assert not any(path.startswith("checkpoint-") for path in on_hub)
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "audio-classification" and "| steps | 2 |" in card.text
    assert (
        "A 5-layer SoundNet" in card.text and "4 conv blocks (8, 16, 16, 32 channels" in card.text
    )  # the run's architecture, not the soundnet5 default


@pytest.mark.slow
def test_pretrain_push_failure_keeps_the_model_and_exits_3(tmp_path, audio_dir):
    from _helpers_corpus import sound_sources, tiny_student_config, write_sound_corpus

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_sound_corpus(corpus, sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=2)
    tiny_student_config().save_pretrained(tmp_path / "tiny")
    args = [str(REPO_ROOT / "examples" / "pretrain.py"), "--corpus", str(corpus), "--output_dir", str(out)]
    args += ["--model", str(tmp_path / "tiny"), "--crop_seconds", "2", "--per_device_train_batch_size", "4"]
    args += ["--dataloader_num_workers", "0", "--shuffle_buffer", "0", "--max_steps", "1"]
    args += ["--push_to_hub", "--hub_model_id", "someone/pretrained"]
    result = run_client(args, hub_env(closed_port_endpoint(), tmp_path / "hf"))
    assert result.returncode == 3, result.stderr[-4000:]
    assert "someone/pretrained" in result.stderr and "push it later" in result.stderr
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()


@pytest.mark.slow
def test_finetune_bare_push_to_hub_flag_and_push_failure_exits_3(tmp_path, audio_dir, tiny_checkpoint):
    """`examples/finetune.py --push-to-hub` (TrainingArguments' flag, once a usage error) with --hub_model_id: the
    model is trained and saved, the push to an unreachable Hub fails, and the exit status is 3."""
    from _helpers_downstream import make_esc50_folder

    data = make_esc50_folder(tmp_path / "esc50", audio_dir, clips_per_class=5, seconds=1.0)
    out = tmp_path / "run"
    args = [str(REPO_ROOT / "examples" / "finetune.py"), "--data", str(data), "--model", str(tiny_checkpoint)]
    args += ["--classifier_layer", "pool3", "--output_dir", str(out), "--max_steps", "1", "--save_strategy", "no"]
    args += ["--per_device_train_batch_size", "4", "--num_workers", "0", "--crop_seconds", "0.5", "--quiet"]
    args += ["--push-to-hub", "--hub_model_id", "someone/finetuned"]
    result = run_client(args, hub_env(closed_port_endpoint(), tmp_path / "hf"))
    assert result.returncode == 3, result.stderr[-4000:]
    assert "someone/finetuned" in result.stderr and "push it later" in result.stderr
    assert (out / "model.safetensors").is_file() and (out / "eval_results.json").is_file()
    assert "Traceback" not in result.stderr and result.stdout == ""  # --quiet: nothing but the error
