"""examples/build_corpus.py with image-text teachers (tiny random CLIP and SigLIP built here) on videos made with
ffmpeg from the real recordings: the stored embeddings equal an independent computation from the frames, the
zero-shot distributions equal softmax(logit_scale * cos) by hand and the models' own logits, the card and schema
say what is stored, and corpora of the earlier format still read and resume."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _helpers_corpus import make_tiny_teacher, make_video
from _helpers_image_text import make_tiny_image_text_model
from conftest import REPO_ROOT, shared_dir

from hf_soundnet.pretraining.corpus import CorpusInfo, list_shards, load_corpus_info, teacher_array


SCRIPT = str(REPO_ROOT / "examples" / "build_corpus.py")
LABELS = ["dog", "cat", "train", "sea"]
# One frame per whole 5 s step at the step's centre (see test_corpus_builder.py).
FRAME_TIMES = {"rail.mp4": [2.5, 7.5], "forest.mkv": [2.5]}


@pytest.fixture(scope="module")
def built_corpus(tmp_path_factory):
    """A corpus built by the script with a classifier, two embedding teachers and two zero-shot teachers."""
    root = tmp_path_factory.mktemp("image_text")
    audio = shared_dir() / "audio"
    if not audio.is_dir():
        pytest.skip(f"real recordings not found at {audio}")
    videos = root / "videos"
    videos.mkdir()
    make_video(videos / "rail.mp4", audio / "railroad.wav", 12, "red")
    make_video(videos / "forest.mkv", audio / "forest_track.mp3", 7, "blue", start=3)
    clip = make_tiny_image_text_model(root / "clip", "clip", seed=0)
    siglip = make_tiny_image_text_model(root / "siglip", "siglip", seed=1)
    objects = make_tiny_teacher(root / "objects", 5, seed=0)
    corpus = root / "corpus"
    command = [sys.executable, SCRIPT, "--videos", str(videos), "--output_dir", str(corpus), "--quiet"]
    command += ["--teachers", f"objects={objects}", "--embedding_teachers", f"clip={clip}", f"siglip={siglip}"]
    command += ["--zero_shot_teachers", f"zs_clip={clip}", f"zs_siglip={siglip}", "--zero_shot_labels", *LABELS]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    from datasets import load_dataset

    records = {r["key"]: r for r in load_dataset(str(corpus), split="train", streaming=True)}
    return videos, corpus, records


def decoded_frames(path, times) -> list[np.ndarray]:
    """The frames shown at `times`, decoded with torchcodec as the builder documents, as `(H, W, 3)` arrays."""
    from torchcodec.decoders import VideoDecoder

    return [frame.permute(1, 2, 0).numpy() for frame in VideoDecoder(str(path)).get_frames_played_at(times).data]


def load_reference(model_dir):
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    return (
        AutoModel.from_pretrained(model_dir).eval(),
        AutoImageProcessor.from_pretrained(model_dir),
        AutoTokenizer.from_pretrained(model_dir),
    )


def test_card_and_schema_describe_the_teachers(built_corpus):
    import pyarrow.parquet as pq

    _, corpus, records = built_corpus
    info = load_corpus_info(corpus)
    kinds = {t.name: (t.kind, t.num_classes) for t in info.teachers}
    assert kinds == {
        "objects": ("classifier", 5),
        "clip": ("embedding", 8),
        "siglip": ("embedding", 16),
        "zs_clip": ("zero_shot", 4),
        "zs_siglip": ("zero_shot", 4),
    }
    zero_shot = info.teacher("zs_clip")
    assert zero_shot.labels == LABELS and zero_shot.prompt == "a photo of a {label}."
    schema = pq.read_schema(list_shards(corpus)[0])
    # Array2D columns are extension types over nested lists: the storage type holds the element type.
    assert "halffloat" in str(schema.field("teacher_clip").type.storage_type)  # float16 on disk
    assert "halffloat" not in str(schema.field("teacher_zs_clip").type.storage_type)
    assert "float" in str(schema.field("teacher_zs_clip").type.storage_type)
    card = (corpus / "README.md").read_text()
    for text in ("`teacher_clip`", "dimension 8", "dimension 16", "float16", "zero-shot", "a photo of a {label}."):
        assert text in card, text
    assert json.loads((corpus / "soundnet_corpus.json").read_text())["teachers"][1]["kind"] == "embedding"
    assert set(records) == set(FRAME_TIMES)


@pytest.mark.numeric
@pytest.mark.parametrize("teacher_name", ["clip", "siglip"])
def test_stored_embeddings_equal_independent_computation(built_corpus, teacher_name):
    videos, corpus, records = built_corpus
    teacher = load_corpus_info(corpus).teacher(teacher_name)
    model, processor, _ = load_reference(teacher.model)
    stored_by_key = {}
    for key, times in FRAME_TIMES.items():
        with torch.no_grad():
            pixels = processor(images=decoded_frames(videos / key, times), return_tensors="pt")
            features = model.get_image_features(pixel_values=pixels["pixel_values"]).pooler_output.numpy()
        expected = features / np.linalg.norm(features, axis=-1, keepdims=True)
        stored = teacher_array(records[key], teacher)
        assert stored.shape == expected.shape == (len(times), teacher.num_classes)
        # float16 keeps 11 significant bits: within half a unit of the last place of a value below 1 (2^-12), plus
        # float32 noise between processes.
        assert np.abs(stored - expected).max() <= 2**-11, np.abs(stored - expected).max()
        stored_by_key[key] = stored
    # The red and the blue video embed differently, so the comparison above tells frames apart.
    assert np.abs(stored_by_key["rail.mp4"][0] - stored_by_key["forest.mkv"][0]).max() > 0.02


@pytest.mark.numeric
@pytest.mark.parametrize("teacher_name", ["zs_clip", "zs_siglip"])
def test_zero_shot_distributions_equal_softmax_of_scaled_cosine(built_corpus, teacher_name):
    videos, corpus, records = built_corpus
    teacher = load_corpus_info(corpus).teacher(teacher_name)
    model, processor, tokenizer = load_reference(teacher.model)
    prompts = [f"a photo of a {label}." for label in LABELS]
    max_length = model.config.text_config.max_position_embeddings
    tokens = tokenizer(prompts, padding="max_length", max_length=max_length, return_tensors="pt")
    for key, times in FRAME_TIMES.items():
        with torch.no_grad():
            pixels = processor(images=decoded_frames(videos / key, times), return_tensors="pt")["pixel_values"]
            image = model.get_image_features(pixel_values=pixels).pooler_output.numpy().astype(np.float64)
            text = model.get_text_features(**tokens).pooler_output.numpy().astype(np.float64)
            forward = model(**tokens, pixel_values=pixels).logits_per_image.softmax(-1).numpy()
        image /= np.linalg.norm(image, axis=-1, keepdims=True)
        text /= np.linalg.norm(text, axis=-1, keepdims=True)
        logits = np.exp(float(model.logit_scale.detach())) * image @ text.T  # exp(logit_scale) = 10, set by the helper
        by_hand = np.exp(logits - logits.max(-1, keepdims=True))
        by_hand /= by_hand.sum(-1, keepdims=True)
        stored = teacher_array(records[key], teacher)
        np.testing.assert_allclose(stored, by_hand, atol=1e-5)
        # The model's own forward agrees (for SigLIP its logit_bias, the same for every label, drops out).
        np.testing.assert_allclose(stored, forward, atol=1e-5)
        assert (stored.max(-1) - stored.min(-1)).min() > 0.01  # not uniform: the labels are told apart


def test_wrong_teachers_are_named_errors(tmp_path, built_corpus):
    from hf_soundnet.pretraining.teachers import TeacherLoadError, load_teachers

    _, corpus, _ = built_corpus
    vit = str(make_tiny_teacher(tmp_path / "vit", 3))
    with pytest.raises(TeacherLoadError, match=r"'embedding'.*ViTModel.*get_image_features"):
        load_teachers([], embedding_specs=[vit])
    clip = load_corpus_info(corpus).teacher("clip").model
    with pytest.raises(TeacherLoadError, match="--zero_shot_labels"):
        load_teachers([], zero_shot_specs=[clip])
    with pytest.raises(TeacherLoadError, match="2 or more distinct labels"):
        load_teachers([], zero_shot_specs=[clip], zero_shot_labels=["dog", "dog"])
    with pytest.raises(TeacherLoadError, match="No teacher"):
        load_teachers([])
    with pytest.raises(TeacherLoadError, match="unique"):
        load_teachers([], embedding_specs=[f"x={clip}"], zero_shot_specs=[f"x={clip}"], zero_shot_labels=LABELS)


def test_corpus_info_of_the_earlier_format_reads_and_resumes():
    # soundnet_corpus.json as written before teacher kinds existed: no `kind`, no `prompt`.
    old = {
        "teachers": [{"name": "objects", "model": "m", "num_classes": 3, "labels": ["a", "b", "c"]}],
        "sampling_rate": 22050,
        "step_seconds": 5.0,
        "frame_position": "centre",
        "audio_format": "flac",
        "channel_mode": "first",
        "format_version": 1,
    }
    info = CorpusInfo.from_dict(old)
    assert info.teachers[0].kind == "classifier" and info.teachers[0].dtype == "float32"
    # A resumed build compares settings: those of the old card equal what the same options give today.
    expected = dict(old)
    expected["teachers"] = [{"name": "objects", "model": "m", "num_classes": 3}]
    assert info.settings() == expected
    assert str(info.features()["teacher_objects"].dtype) == "float32"
