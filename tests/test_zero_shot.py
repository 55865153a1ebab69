"""Zero-shot audio classification: a tiny SoundNet student with an embedding head and the text tower of a tiny random
CLIP or SigLIP teacher, built in the test. The pipeline's scores equal softmax(exp(logit_scale) * cos) computed by
hand, from the model's feature methods and independently from the student checkpoint and the teacher itself; the
per-step scores follow the layer table; the checkpoint saves, loads and answers the same in a fresh process without
the plugin (`trust_remote_code`); a bad file names itself; and (slow) after a short distillation the student's
zero-shot choice on held-out clips agrees with the teacher's image zero-shot choice."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_corpus import SR, tiny_student_config
from _helpers_image_text import MAX_TEXT_LENGTH, make_tiny_image_text_model
from conftest import REPO_ROOT
from transformers import AutoConfig, AutoModel, AutoProcessor, pipeline
from transformers.modeling_outputs import BaseModelOutputWithPooling

from hf_soundnet import SoundNetFeatureExtractor, SoundNetForPreTraining
from hf_soundnet.errors import SoundNetError
from hf_soundnet.zero_shot import (
    SoundNetTextAudioModel,
    SoundNetTextAudioProcessor,
    SoundNetZeroShotAudioClassificationPipeline,
    ZeroShotModelError,
    save_zero_shot_checkpoint,
)


LABELS = ["dog", "cat", "train", "sea"]
TEMPLATE = "a photo of a {}."
EMBEDDING_DIM = {"clip": 8, "siglip": 16}  # CLIP's projection_dim, SigLIP's text hidden size (its head's output)


def make_checkpoint(root: Path, family: str) -> dict[str, Path]:
    """The teacher, a student distilled (here: random) into its space, and the zero-shot checkpoint saved with code."""
    teacher = make_tiny_image_text_model(root / "teacher", family)
    config = tiny_student_config()
    config.embedding_dim = EMBEDDING_DIM[family]
    torch.manual_seed(1)
    student = SoundNetForPreTraining(config).eval()
    with torch.no_grad():  # larger head weights than the default init, for scores far from uniform
        student.embedding_head.projection.weight.normal_(0, 0.5)
    student.save_pretrained(root / "student")
    checkpoint = save_zero_shot_checkpoint(root / "student", teacher, root / "zero_shot")
    return {"teacher": teacher, "student": root / "student", "checkpoint": checkpoint}


@pytest.fixture(scope="module", params=["clip", "siglip"])
def family(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def paths(family, tmp_path_factory) -> dict[str, Path]:
    return make_checkpoint(tmp_path_factory.mktemp(family), family)


def decoded(path: Path) -> np.ndarray:
    """The file's samples by torchcodec at its own rate (railroad.wav is 22,050 Hz mono: no resampling)."""
    from torchcodec.decoders import AudioDecoder

    samples = AudioDecoder(str(path)).get_all_samples()
    assert samples.sample_rate == SR and samples.data.shape[0] == 1
    return samples.data[0].numpy()


def independent_scores(paths: dict[str, Path], waveform: np.ndarray, labels: list[str]) -> np.ndarray:
    """softmax(exp(logit_scale) * cos(audio, prompt)) from the student checkpoint (its own `get_audio_features`) and
    the teacher model (its `get_text_features` and `logit_scale`), not from the zero-shot model."""
    from transformers import AutoTokenizer

    student = SoundNetForPreTraining.from_pretrained(paths["student"]).eval()
    teacher = AutoModel.from_pretrained(paths["teacher"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(paths["teacher"])
    inputs = SoundNetFeatureExtractor()(waveform, sampling_rate=SR, return_tensors="pt")
    tokens = tokenizer(
        [TEMPLATE.format(label) for label in labels],
        padding="max_length",
        max_length=MAX_TEXT_LENGTH,
        truncation=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        audio = student.get_audio_features(inputs["input_values"], inputs["attention_mask"]).pooler_output[0].double()
        text = teacher.get_text_features(**tokens)
        text = (text if isinstance(text, torch.Tensor) else text.pooler_output).double()
        scale = teacher.logit_scale.exp().double()
    cosine = (audio / audio.norm()) @ (text / text.norm(dim=-1, keepdim=True)).T
    return (scale * cosine).softmax(-1).numpy()


def as_scores(answer: list[dict], labels: list[str]) -> np.ndarray:
    by_label = {item["label"]: item["score"] for item in answer}
    assert sorted(by_label) == sorted(labels)
    return np.array([by_label[label] for label in labels])


@pytest.mark.numeric
def test_pipeline_scores_are_softmax_of_scaled_cosines(paths, audio_dir):
    classify = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    assert type(classify) is SoundNetZeroShotAudioClassificationPipeline
    answer = classify(str(audio_dir / "railroad.wav"), candidate_labels=LABELS)
    scores = [item["score"] for item in answer]
    assert scores == sorted(scores, reverse=True)
    got = as_scores(answer, LABELS)
    expected = independent_scores(paths, decoded(audio_dir / "railroad.wav"), LABELS)
    assert expected.max() - expected.min() > 0.05, "the test cannot tell labels apart"
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)

    # By hand from the model's CLAP-style feature methods.
    model, processor = classify.model, AutoProcessor.from_pretrained(paths["checkpoint"])
    inputs = processor(
        text=[TEMPLATE.format(label) for label in LABELS], audio=decoded(audio_dir / "railroad.wav"), sampling_rate=SR
    )
    with torch.no_grad():
        audio = model.get_audio_features(inputs["input_values"], inputs["audio_attention_mask"])
        text = model.get_text_features(inputs["input_ids"], inputs["attention_mask"])
    assert isinstance(audio, BaseModelOutputWithPooling) and isinstance(text, BaseModelOutputWithPooling)
    a, t = audio.pooler_output.double(), text.pooler_output.double()
    np.testing.assert_allclose(a.norm(dim=-1).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(t.norm(dim=-1).numpy(), 1.0, rtol=1e-6)
    by_hand = (model.logit_scale.detach().exp().double() * a @ t.T)[0].softmax(-1).numpy()
    np.testing.assert_allclose(got, by_hand, rtol=1e-4, atol=1e-5)


@pytest.mark.numeric
def test_forward_follows_clap_output_conventions(paths, family, audio_dir):
    model = AutoModel.from_pretrained(paths["checkpoint"]).eval()
    teacher = AutoModel.from_pretrained(paths["teacher"])
    processor = AutoProcessor.from_pretrained(paths["checkpoint"])
    waveform = decoded(audio_dir / "railroad.wav")
    inputs = processor(
        text=[TEMPLATE.format(label) for label in LABELS[:3]],
        audio=[waveform[: 3 * SR], waveform[-5 * SR :]],
        sampling_rate=SR,
    )
    with torch.no_grad():
        output = model(**inputs)
    assert output.logits_per_audio.shape == (2, 3) and output.logits_per_text.shape == (3, 2)
    torch.testing.assert_close(output.logits_per_text, output.logits_per_audio.T)
    cosine = output.audio_embeds.double() @ output.text_embeds.double().T
    scale = float(teacher.logit_scale.detach().exp())
    bias = float(teacher.logit_bias.detach()) if family == "siglip" else 0.0
    assert (family == "siglip") == (model.logit_bias is not None)
    np.testing.assert_allclose(output.logits_per_audio.double().numpy(), (scale * cosine + bias).numpy(), rtol=1e-5)
    # Padding the shorter clip in the batch does not change its embedding (the clip alone gives the same).
    alone = processor(audio=waveform[: 3 * SR], sampling_rate=SR)
    with torch.no_grad():
        single = model.get_audio_features(alone["input_values"], alone["audio_attention_mask"]).pooler_output
    torch.testing.assert_close(single[0], output.audio_embeds[0], rtol=1e-4, atol=1e-5)
    # The contrastive loss pairs clip i with text i: symmetric cross-entropy, by hand on a 2 x 2 batch.
    paired = processor(text=[TEMPLATE.format(label) for label in LABELS[:2]])
    two_by_two = {**inputs, "input_ids": paired["input_ids"], "attention_mask": paired["attention_mask"]}
    with torch.no_grad():
        result = model(**two_by_two, return_loss=True)
    logits = result.logits_per_audio.double()
    hand_loss = -(logits.log_softmax(-1).diagonal().mean() + logits.T.log_softmax(-1).diagonal().mean()) / 2
    loss = result.loss
    assert float(loss) == pytest.approx(float(hand_loss), rel=1e-5)
    with pytest.raises(ValueError, match="pairs audio i with text i"):
        model(**inputs, return_loss=True)


def hand_num_steps(config, num_samples: int) -> int:
    """conv8 steps of `num_samples` samples, by the conv formula over the config's per-layer lists."""
    length = num_samples
    for kernel, stride, padding, pool in zip(
        config.conv_kernel_sizes, config.conv_strides, config.conv_paddings, config.pool_kernel_sizes
    ):
        length = (length + 2 * padding - kernel) // stride + 1
        length //= pool
    return (length + 2 * config.head_padding - config.head_kernel_size) // config.head_stride + 1


@pytest.mark.numeric
def test_per_step_scores_follow_the_layer_table(paths, audio_dir):
    classify = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    audio_config = classify.model.config.audio_config
    waveform = decoded(audio_dir / "railroad.wav")
    answer = classify(waveform, candidate_labels=LABELS[:3], timeline=True)
    timeline = answer["timeline"]
    num_samples = int(SoundNetFeatureExtractor()(waveform, sampling_rate=SR)["attention_mask"][0].sum())
    num_steps = hand_num_steps(audio_config, num_samples)
    hop = math.prod(s * p for s, p in zip(audio_config.conv_strides, audio_config.pool_kernel_sizes))
    hop *= audio_config.head_stride
    assert timeline["labels"] == LABELS[:3]
    assert len(timeline["times"]) == len(timeline["scores"]) == num_steps
    np.testing.assert_allclose(timeline["times"], np.arange(num_steps) * hop / SR)
    np.testing.assert_allclose(np.sum(timeline["scores"], axis=-1), 1.0, rtol=1e-5)
    # Each step's scores by hand from the step embeddings; the clip's answer is unchanged by `timeline`.
    model, processor = classify.model, AutoProcessor.from_pretrained(paths["checkpoint"])
    inputs = processor(text=[TEMPLATE.format(label) for label in LABELS[:3]], audio=waveform, sampling_rate=SR)
    with torch.no_grad():
        steps, mask = model.get_audio_step_features(inputs["input_values"], inputs["audio_attention_mask"])
        text = model.get_text_features(inputs["input_ids"], inputs["attention_mask"]).pooler_output
    assert int(mask.sum()) == num_steps
    scale = model.logit_scale.detach().exp().double()
    by_hand = (scale * steps[0, :num_steps].double() @ text.double().T).softmax(-1)
    np.testing.assert_allclose(timeline["scores"], by_hand.numpy(), rtol=1e-4, atol=1e-5)
    plain = classify(waveform, candidate_labels=LABELS[:3])
    np.testing.assert_allclose(as_scores(answer["scores"], LABELS[:3]), as_scores(plain, LABELS[:3]), rtol=1e-6)


@pytest.mark.numeric
def test_save_and_load_round_trip(paths, tmp_path, audio_dir):
    model = SoundNetTextAudioModel.from_pretrained(paths["checkpoint"]).eval()
    config = AutoConfig.from_pretrained(paths["checkpoint"])
    assert config.custom_pipelines == {}  # the plugin's registry implements the declared pipeline
    saved = json.loads((paths["checkpoint"] / "config.json").read_text())
    assert "zero-shot-audio-classification" in saved["custom_pipelines"]
    with torch.no_grad():  # a trained scale (not the config's initial value) survives the round trip
        model.logit_scale.add_(0.5)
    model.save_pretrained(tmp_path / "again")
    AutoProcessor.from_pretrained(paths["checkpoint"]).save_pretrained(tmp_path / "again")
    reloaded = AutoModel.from_pretrained(tmp_path / "again").eval()
    assert type(reloaded) is SoundNetTextAudioModel
    processor = AutoProcessor.from_pretrained(tmp_path / "again")
    inputs = processor(
        text=["a photo of a dog.", "a photo of a cat."], audio=decoded(audio_dir / "railroad.wav"), sampling_rate=SR
    )
    assert inputs["input_ids"].shape == (2, MAX_TEXT_LENGTH)
    with torch.no_grad():
        first, second = model(**inputs), reloaded(**inputs)
    torch.testing.assert_close(first.logits_per_audio, second.logits_per_audio, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first.logits_per_audio_step, second.logits_per_audio_step, rtol=1e-5, atol=1e-6)
    assert float(reloaded.logit_scale) == pytest.approx(float(model.logit_scale))
    assert float(reloaded.logit_scale) != pytest.approx(reloaded.config.logit_scale_init_value)


def test_bad_file_raises_an_error_naming_it(paths, tmp_path):
    classify = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SoundNetError, match="not_audio.wav"):
        classify(str(bad), candidate_labels=LABELS)
    with pytest.raises(ValueError, match="candidate_labels"):
        classify(str(bad))


def test_student_without_head_or_other_dimension_is_refused(tmp_path):
    teacher = make_tiny_image_text_model(tmp_path / "teacher", "clip")
    config = tiny_student_config()
    SoundNetForPreTraining(config).save_pretrained(tmp_path / "no_head")
    with pytest.raises(ZeroShotModelError, match="no embedding head"):
        SoundNetTextAudioModel.from_student_and_teacher(tmp_path / "no_head", teacher)
    config.embedding_dim = 5
    SoundNetForPreTraining(config).save_pretrained(tmp_path / "other_dim")
    with pytest.raises(ZeroShotModelError, match="8 dimensions"):
        SoundNetTextAudioModel.from_student_and_teacher(tmp_path / "other_dim", teacher)


# A fresh interpreter where hf_soundnet cannot be imported: the pipeline from the checkpoint's own code.
REMOTE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from _helpers_hub import block_plugin
block_plugin()
from transformers import pipeline

classify = pipeline("zero-shot-audio-classification", model=sys.argv[2], trust_remote_code=True)
labels = sys.argv[4:]
print(json.dumps({
    "class": f"{type(classify).__module__}.{type(classify).__name__}",
    "model_class": f"{type(classify.model).__module__}.{type(classify.model).__name__}",
    "answer": classify(sys.argv[3], candidate_labels=labels),
    "num_steps": len(classify(sys.argv[3], candidate_labels=labels, timeline=True)["timeline"]["times"]),
    "plugin_modules": sorted(name for name in sys.modules if name.split(".")[0] == "hf_soundnet"),
}))
"""


@pytest.mark.numeric
@pytest.mark.slow
def test_remote_code_without_the_plugin_gives_the_same_scores(paths, audio_dir, tmp_path):
    railroad = audio_dir / "railroad.wav"
    plugin = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    expected = plugin(str(railroad), candidate_labels=LABELS)
    expected_steps = len(plugin(str(railroad), candidate_labels=LABELS, timeline=True)["timeline"]["times"])
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
    }
    args = [str(REPO_ROOT / "tests"), str(paths["checkpoint"]), str(railroad), *LABELS]
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    assert remote["plugin_modules"] == []
    assert remote["class"].startswith("transformers_modules.")
    assert remote["class"].endswith("pipeline_soundnet_zero_shot.SoundNetZeroShotAudioClassificationPipeline")
    assert remote["model_class"].endswith("modeling_soundnet_text_audio.SoundNetTextAudioModel")
    assert [item["label"] for item in remote["answer"]] == [item["label"] for item in expected]
    np.testing.assert_allclose(as_scores(remote["answer"], LABELS), as_scores(expected, LABELS), rtol=1e-4, atol=1e-5)
    assert remote["num_steps"] == expected_steps


def teacher_prompt_embeddings(teacher: Path, labels: list[str]) -> torch.Tensor:
    """`(num_labels, dim)` the teacher's normalised text embeddings of the labels' prompts (its zero-shot classes)."""
    from hf_soundnet.pretraining.image_text_teachers import ZeroShotImageTeacher

    return ZeroShotImageTeacher.from_pretrained(str(teacher), "zero_shot", labels, prompt="a photo of a {label}.")


@pytest.mark.slow
def test_distilled_student_chooses_like_the_teacher_on_held_out_clips(tmp_path, audio_dir):
    """A corpus whose image embeddings are, per sound source, the teacher's text embedding of one label's prompt plus
    noise (so the teacher's image zero-shot choice of a clip is a property of its sound); after a short distillation
    the zero-shot pipeline's choice on held-out clips agrees with the teacher's choice on their frames."""
    from _helpers_corpus import sound_sources
    from _helpers_image_text import write_embedding_corpus
    from test_embedding_student import make_embedding_trainer

    teacher_dir = make_tiny_image_text_model(tmp_path / "teacher", "clip", seed=2)
    # Three labels whose prompts the random teacher embeds furthest apart (its prompts differ by one word).
    candidates = ["dog", "cat", "train", "forest", "tone", "sea"]
    text = teacher_prompt_embeddings(teacher_dir, candidates).text_embeddings
    triples = [(i, j, k) for i in range(6) for j in range(i + 1, 6) for k in range(j + 1, 6)]
    best = min(triples, key=lambda t: max(float(text[a] @ text[b]) for a in t for b in t if a < b))
    labels = [candidates[i] for i in best]
    teacher = teacher_prompt_embeddings(teacher_dir, labels)
    directions = teacher.text_embeddings.numpy()
    sources = sound_sources(audio_dir)
    write_embedding_corpus(tmp_path / "train", sources, 2.0, 1.0, part=(0.0, 0.7), noise=0.1, directions=directions)
    held_out = write_embedding_corpus(
        tmp_path / "held_out", sources, 2.0, 1.0, part=(0.7, 1.0), noise=0.1, directions=directions
    )
    # The teacher's image zero-shot choice of a clip: its mean zero-shot distribution over the clip's frames.
    scale = teacher.logit_scale
    teacher_choice = [
        int(
            (scale * torch.from_numpy(r["teacher_clip"].astype(np.float32)) @ teacher.text_embeddings.T)
            .softmax(-1)
            .mean(0)
            .argmax()
        )
        for r in held_out
    ]
    assert len(set(teacher_choice)) == 3, "the teacher must tell the sources apart for the test to mean anything"

    def agreement(student) -> float:
        student.save_pretrained(tmp_path / "student")
        model = SoundNetTextAudioModel.from_student_and_teacher(tmp_path / "student", teacher_dir)
        processor = SoundNetTextAudioProcessor.from_student_and_teacher(tmp_path / "student", teacher_dir)
        classify = pipeline(
            "zero-shot-audio-classification",
            model=model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
        )
        answers = [classify(r["audio"], candidate_labels=labels)[0]["label"] for r in held_out]
        return float(np.mean([labels.index(a) == c for a, c in zip(answers, teacher_choice)]))

    trainer = make_embedding_trainer(tmp_path, tmp_path / "train", max_steps=60)
    before = agreement(trainer.model)
    trainer.train()
    after = agreement(trainer.model.eval())
    print(f"labels {labels}: held-out zero-shot agreement with the teacher {before:.2f} -> {after:.2f} (chance 0.33)")
    assert after >= 0.8, f"held-out agreement {after:.2f} (chance 1/3); before training {before:.2f}"


# A fresh client of the loopback Hub, with the plugin or without it (blocked, `trust_remote_code=True`).
HUB_CLIENT = """
import json, sys
sys.path.insert(0, sys.argv[1])
block = sys.argv[2] == "block"
if block:
    from _helpers_hub import block_plugin
    block_plugin()
else:
    import hf_soundnet
from transformers import pipeline

classify = pipeline("zero-shot-audio-classification", model=sys.argv[3], trust_remote_code=block)
print(json.dumps({
    "class": f"{type(classify).__module__}.{type(classify).__name__}",
    "answer": classify(sys.argv[4], candidate_labels=sys.argv[5:]),
    "plugin_modules": sorted(name for name in sys.modules if name.split(".")[0] == "hf_soundnet"),
}))
"""


@pytest.mark.numeric
@pytest.mark.slow
def test_push_then_zero_shot_from_the_hub_with_and_without_the_plugin(tmp_path, audio_dir):
    from _helpers_hub import hub_env, run_client
    from _hub_server import LoopbackHub

    paths = make_checkpoint(tmp_path / "local", "siglip")
    railroad = audio_dir / "railroad.wav"
    local = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    expected = as_scores(local(str(railroad), candidate_labels=LABELS), LABELS)
    hub = LoopbackHub(tmp_path / "hub").start()
    try:
        push = run_client(
            ["-m", "hf_soundnet.cli", "push", str(paths["checkpoint"]), "someone/zero-shot"],
            hub_env(hub.endpoint, tmp_path / "h0"),
        )
        assert push.returncode == 0, push.stderr[-3000:]
        for mode in ("plugin", "block"):
            args = [str(REPO_ROOT / "tests"), mode, "someone/zero-shot", str(railroad), *LABELS]
            result = run_client(["-c", HUB_CLIENT, *args], hub_env(hub.endpoint, tmp_path / mode))
            assert result.returncode == 0, result.stderr[-4000:]
            got = json.loads(result.stdout.strip().splitlines()[-1])
            expected_module = "transformers_modules." if mode == "block" else "hf_soundnet."
            assert got["class"].startswith(expected_module), got["class"]
            assert (got["plugin_modules"] == []) == (mode == "block")
            np.testing.assert_allclose(as_scores(got["answer"], LABELS), expected, rtol=1e-4, atol=1e-5)
    finally:
        hub.stop()


def test_zero_shot_eval_script_answers_like_the_pipeline_and_counts_bad_clips(paths, tmp_path, audio_dir):
    from _helpers_downstream import make_esc50_folder, run_script

    esc = make_esc50_folder(tmp_path / "esc", audio_dir, clips_per_class=3, seconds=2.0)
    rows = (esc / "meta" / "esc50.csv").read_text().splitlines()
    bad = rows[1].split(",")[0]
    (esc / "audio" / bad).write_bytes(np.random.default_rng(1).bytes(3000))
    result = run_script(
        [
            str(REPO_ROOT / "examples" / "zero_shot_eval.py"),
            "--data", str(esc),
            "--model", str(paths["checkpoint"]),
            "--output_file", str(tmp_path / "result.json"),
            "--quiet",
        ]
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]  # done, one clip skipped
    assert bad in result.stderr
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["skipped"] == [str(esc / "audio" / bad)]
    labels = ["railroad", "forest track", "short stereo 48k"]
    assert saved["labels"] == labels
    classify = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    targets = {row.split(",")[0]: int(row.split(",")[2]) for row in rows[1:]}
    correct = []
    for name, predicted in saved["predictions"].items():
        expected = classify(name, candidate_labels=labels)[0]["label"]
        assert predicted == expected, name
        correct.append(labels.index(predicted) == targets[Path(name).name])
    assert len(correct) == 8
    assert saved["accuracy"] == pytest.approx(np.mean(correct))
    assert f"accuracy: {np.mean(correct):.4f} over 8 clips" in result.stdout


@pytest.mark.numeric
def test_lists_and_batch_size_give_the_single_answers(paths, audio_dir):
    classify = pipeline("zero-shot-audio-classification", model=str(paths["checkpoint"]))
    files = [str(audio_dir / "railroad.wav"), str(audio_dir / "forest_track.mp3")]
    singles = [as_scores(classify(f, candidate_labels=LABELS), LABELS) for f in files]
    for answers in (classify(files, candidate_labels=LABELS), classify(files, candidate_labels=LABELS, batch_size=2)):
        assert len(answers) == 2
        for answer, single in zip(answers, singles):
            np.testing.assert_allclose(as_scores(answer, LABELS), single, rtol=1e-5, atol=1e-6)
    assert not np.allclose(singles[0], singles[1], atol=1e-3)  # the two files get different answers
