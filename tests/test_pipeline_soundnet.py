"""transformers' audio-classification pipeline serving the released model: inputs of every kind, batches, errors."""

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from transformers import pipeline

import hf_soundnet
from hf_soundnet import SoundNetAudioClassificationPipeline


def top(predictions: list[dict], prefix: str) -> str:
    return max((p for p in predictions if p["label"].startswith(prefix)), key=lambda p: p["score"])["label"]


def as_dict(predictions: list[dict]) -> dict[str, float]:
    return {p["label"]: p["score"] for p in predictions}


@pytest.fixture(scope="module")
def classifier(released_checkpoint):
    return pipeline("audio-classification", model=str(released_checkpoint))


@pytest.fixture(scope="module")
def railroad(audio_dir) -> np.ndarray:
    waveform, rate = soundfile.read(audio_dir / "railroad.wav", dtype="float32")
    assert rate == 22050
    return waveform


def test_file_path_top_scenes_of_the_real_recordings(classifier, audio_dir):
    assert top(classifier(str(audio_dir / "railroad.wav"), top_k=None), "scene: ") == "scene: railroad_track"
    assert top(classifier(str(audio_dir / "forest_track.mp3"), top_k=None), "scene: ") == "scene: forest_path"


def test_top_k_returns_named_categories_sorted(classifier, audio_dir):
    predictions = classifier(str(audio_dir / "railroad.wav"), top_k=5)
    assert len(predictions) == 5
    scores = [p["score"] for p in predictions]
    assert scores == sorted(scores, reverse=True)
    assert all(p["label"].startswith(("object: ", "scene: ")) for p in predictions)


@pytest.mark.numeric
def test_array_equals_file(classifier, audio_dir, railroad):
    from_file = as_dict(classifier(str(audio_dir / "railroad.wav"), top_k=None))
    from_array = as_dict(classifier(railroad, top_k=None))
    for label, score in from_file.items():
        assert from_array[label] == pytest.approx(score, abs=1e-5)


def test_dict_at_another_sampling_rate_is_resampled(classifier, railroad):
    at_44k = torchaudio.functional.resample(torch.from_numpy(railroad), 22050, 44100).numpy()
    native = as_dict(classifier(railroad, top_k=None))
    resampled = as_dict(classifier({"array": at_44k, "sampling_rate": 44100}, top_k=None))
    assert top(classifier({"array": at_44k, "sampling_rate": 44100}, top_k=None), "scene: ") == "scene: railroad_track"
    # Up- then down-sampling is not the identity, so the agreement is close, not exact.
    assert max(abs(native[label] - resampled[label]) for label in native) < 5e-3


def test_batch_equals_single_calls(classifier, audio_dir, railroad):
    inputs = [str(audio_dir / "forest_track.mp3"), railroad[: 5 * 22050], railroad]
    singles = [as_dict(classifier(x, top_k=None)) for x in inputs]
    batched = classifier(inputs, top_k=None, batch_size=3)
    assert len(batched) == 3
    for single, got in zip(singles, batched):
        got = as_dict(got)
        assert max(abs(single[label] - got[label]) for label in single) < 1e-4


def test_short_clip_is_repeated_to_ten_seconds(classifier, railroad):
    """A 3 s clip is repeated whole up to at least 10 s (4 copies, 12 s), as the original did."""
    clip = railroad[: 3 * 22050]
    tiled = np.concatenate([clip] * 4)
    short = as_dict(classifier(clip, top_k=None))
    long = as_dict(classifier(tiled, top_k=None))
    assert max(abs(short[label] - long[label]) for label in short) < 1e-5


def test_stereo_48k_file_with_the_torchcodec_pipeline(classifier, audio_dir):
    """The SoundNet pipeline decodes in-process and keeps the original's first channel."""
    path = audio_dir / "short_stereo_48k.wav"
    stereo, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == 48000 and stereo.shape[1] == 2
    first = torchaudio.functional.resample(torch.from_numpy(stereo[:, 0].copy()), 48000, 22050).numpy()
    expected = as_dict(classifier(first, top_k=None))
    got = as_dict(classifier(str(path), top_k=None))
    assert max(abs(expected[label] - got[label]) for label in expected) < 2e-3


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.wav", b"", "empty file"),
        ("broken.wav", b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 10, "cannot decode audio"),
        ("random.mp3", np.random.default_rng(0).bytes(50_000), "cannot decode audio"),
        ("notes.wav", b"These are not samples.\n" * 200, "cannot decode audio"),
    ],
)
def test_bad_file_names_the_file_and_the_problem(classifier, tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(hf_soundnet.AudioLoadError, match=problem) as error:
        classifier(str(path))
    assert str(path) in str(error.value)


def test_nan_waveform_is_a_clear_error(classifier, railroad):
    bad = railroad.copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        classifier(bad)


# The plugin's pipeline is what `pipeline("audio-classification", ...)` gives for SoundNet, and only for SoundNet.


def test_plain_pipeline_call_is_served_by_the_soundnet_pipeline(classifier):
    assert type(classifier) is SoundNetAudioClassificationPipeline


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    """A tiny random Wav2Vec2 audio classifier saved to disk: a non-SoundNet model the plugin must leave alone."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_labels=3,
        id2label={0: "a", 1: "b", 2: "c"},
        label2id={"a": 0, "b": 1, "c": 2},
    )
    path = tmp_path_factory.mktemp("tiny_wav2vec2")
    Wav2Vec2ForSequenceClassification(config).eval().save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(path)
    return path


def test_other_models_keep_transformers_pipeline_behaviour(tiny_wav2vec2, tmp_path):
    from transformers import AudioClassificationPipeline, AutoFeatureExtractor, AutoModelForAudioClassification

    served = pipeline("audio-classification", model=str(tiny_wav2vec2))
    upstream = AudioClassificationPipeline(
        model=AutoModelForAudioClassification.from_pretrained(tiny_wav2vec2),
        feature_extractor=AutoFeatureExtractor.from_pretrained(tiny_wav2vec2),
    )
    assert type(upstream) is AudioClassificationPipeline
    clip = np.random.default_rng(0).uniform(-0.5, 0.5, 16000).astype(np.float32)
    for kwargs in ({}, {"top_k": 2}, {"top_k": None}, {"function_to_apply": "none"}):
        assert served(clip, **kwargs) == upstream(clip, **kwargs)
    assert len(served(clip)) == 3  # upstream's default: every label, one ranking
    at_8k = {"array": clip[::2].copy(), "sampling_rate": 8000}
    assert served(at_8k) == upstream(at_8k)
    # Upstream's own errors, unchanged.
    with pytest.raises(ValueError, match="single channel"):
        served(np.stack([clip, clip]))
    with pytest.raises(TypeError, match="SoundNet checkpoints only"):
        served(clip, top_k_per_head=3)
    # Saving it does not turn it into a custom (trust_remote_code) pipeline.
    served.save_pretrained(tmp_path)
    config = (tmp_path / "config.json").read_text()
    assert "custom_pipelines" not in config


# The default answer of the released model: top objects, then top scenes, each head ranked on its own.


def expected_per_head(released_checkpoint, waveform: np.ndarray, k: int) -> list[tuple[str, float]]:
    """Independent of the pipeline: the model's `clip_probabilities`, each head sorted with numpy."""
    from transformers import AutoFeatureExtractor

    model = hf_soundnet.SoundNetForAudioClassification.from_pretrained(released_checkpoint).eval()
    inputs = AutoFeatureExtractor.from_pretrained(released_checkpoint)(
        waveform, sampling_rate=22050, return_tensors="pt"
    )
    with torch.no_grad():
        objects, scenes = model.clip_probabilities(inputs["input_values"], inputs["attention_mask"])
    answer = []
    for offset, probabilities in ((0, objects[0].numpy()), (model.config.num_object_classes, scenes[0].numpy())):
        order = np.argsort(-probabilities, kind="stable")[:k]
        answer += [(model.config.id2label[offset + int(i)], float(probabilities[i])) for i in order]
    return answer


@pytest.mark.parametrize("k", [None, 3])
def test_default_answer_is_top_objects_then_top_scenes(classifier, released_checkpoint, railroad, k):
    got = classifier(railroad) if k is None else classifier(railroad, top_k_per_head=k)
    expected = expected_per_head(released_checkpoint, railroad, k or 5)
    assert [p["label"] for p in got] == [label for label, _ in expected]
    # Probabilities about 1e-1 to 1e-3 compared in float32 after logit -> sigmoid: 1e-5 is ~100 ulps of 0.1.
    np.testing.assert_allclose([p["score"] for p in got], [score for _, score in expected], rtol=0, atol=1e-5)
    half = len(got) // 2
    assert all(p["label"].startswith("object: ") for p in got[:half])
    assert all(p["label"].startswith("scene: ") for p in got[half:])
    for part in (got[:half], got[half:]):
        assert [p["score"] for p in part] == sorted((p["score"] for p in part), reverse=True)
    assert set(got[0]) == {"label", "score"}


def test_explicit_top_k_keeps_transformers_single_ranking(classifier, railroad, released_checkpoint):
    everything = classifier(railroad, top_k=None)
    assert len(everything) == 1401
    three = classifier(railroad, top_k=3)
    assert three == everything[:3]
    # The pipeline-level default can be set too.
    assert len(pipeline("audio-classification", model=str(released_checkpoint), top_k=4)(railroad)) == 4


# `datasets` Audio values, KeyDataset: real Datasets over the shared recordings.


@pytest.fixture(scope="module")
def audio_dataset(audio_dir):
    datasets = pytest.importorskip("datasets")
    names = ["railroad.wav", "forest_track.mp3", "short_stereo_48k.wav"]
    return datasets.Dataset.from_dict({"audio": [str(audio_dir / n) for n in names]}).cast_column(
        "audio", datasets.Audio()
    )


def test_dataset_audio_value_equals_the_file(classifier, audio_dataset, audio_dir):
    for i, name in enumerate(["railroad.wav", "forest_track.mp3", "short_stereo_48k.wav"]):
        from_file = as_dict(classifier(str(audio_dir / name), top_k=None))
        from_dataset = as_dict(classifier(audio_dataset[i]["audio"], top_k=None))
        # The same FFmpeg decode, channel choice and soxr resampling on both paths.
        assert max(abs(from_file[label] - from_dataset[label]) for label in from_file) < 1e-6


def test_key_dataset_through_the_pipeline(classifier, audio_dataset, audio_dir):
    from transformers.pipelines.pt_utils import KeyDataset

    answers = list(classifier(KeyDataset(audio_dataset, "audio")))
    assert len(answers) == 3
    for answer, name in zip(answers, ["railroad.wav", "forest_track.mp3", "short_stereo_48k.wav"]):
        assert answer == classifier(str(audio_dir / name))


def test_datasets_dict_value_at_any_rate(classifier, audio_dataset):
    value = audio_dataset[1]["audio"]  # 44.1 kHz stereo MP3
    samples = value.get_all_samples()
    as_dict_value = {"array": samples.data.numpy(), "sampling_rate": samples.sample_rate, "path": None}
    assert as_dict(classifier(as_dict_value, top_k=None)) == as_dict(classifier(value, top_k=None))


# Files that transformers' ffmpeg pipe could not read, and long files.


def ffmpeg(*arguments: str) -> None:
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg program is needed to make the test file")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)


def test_mp4_with_its_index_at_the_end(classifier, audio_dir, tmp_path):
    path = tmp_path / "moov_last.mp4"
    ffmpeg("-i", str(audio_dir / "railroad.wav"), "-c:a", "aac", "-b:a", "128k", str(path))
    data = path.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0  # the mp4 muxer's default: index after the media
    got = classifier(str(path))
    assert got[5]["label"] == "scene: railroad_track"
    # AAC at 128 kb/s is lossy: the answer is close to the WAV's, not equal.
    wav = as_dict(classifier(str(audio_dir / "railroad.wav"), top_k=None))
    mp4 = as_dict(classifier(str(path), top_k=None))
    assert max(abs(wav[label] - mp4[label]) for label in wav) < 0.02


def test_video_without_audio_names_the_file(classifier, tmp_path):
    path = tmp_path / "silent_film.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=5", "-c:v", "mpeg4", str(path))
    with pytest.raises(hf_soundnet.AudioLoadError) as error:
        classifier(str(path))
    assert str(path) in str(error.value)


def test_long_file_is_streamed_and_equals_the_whole_file_answer(classifier, audio_dir, monkeypatch):
    """Files over `stream_longer_than` seconds are streamed in chunks (never decoded whole); the answer equals the
    whole-file forward to the fast forward's float32 error (1e-4 on probabilities)."""
    import hf_soundnet.pipeline_soundnet as module

    path = str(audio_dir / "forest_track.mp3")  # 29 s
    whole = as_dict(classifier(path, top_k=None, stream_longer_than=0))

    def whole_decode_forbidden(*args, **kwargs):
        raise AssertionError("a long file was decoded whole")

    monkeypatch.setattr(module, "load_audio", whole_decode_forbidden)
    streamed = as_dict(classifier(path, top_k=None, stream_longer_than=20))
    assert max(abs(whole[label] - streamed[label]) for label in whole) < 1e-4
    # Several chunks (7 s cores over 29 s): the per-step sums carried across chunks give the same answer.
    monkeypatch.setattr(module, "STREAM_CHUNK_SECONDS", 7.0)
    chunked = as_dict(classifier(path, top_k=None, stream_longer_than=20))
    assert max(abs(whole[label] - chunked[label]) for label in whole) < 1e-4


def test_function_to_apply_without_top_k_is_transformers_answer(classifier, railroad):
    raw = classifier(railroad, function_to_apply="none")
    assert len(raw) == 1401
    assert [p["score"] for p in raw] == sorted((p["score"] for p in raw), reverse=True)


def test_long_file_streaming_with_a_linear_classifier(tmp_path, monkeypatch):
    """A fine-tuned (linear classifier) SoundNet streams its classifier layer's frames: the same logits as the
    whole-file forward, over several chunks."""
    from conftest import TINY_CONFIG

    import hf_soundnet.pipeline_soundnet as module

    torch.manual_seed(0)
    config = hf_soundnet.SoundNetConfig(**TINY_CONFIG, num_labels=3, id2label={0: "a", 1: "b", 2: "c"})
    model = hf_soundnet.SoundNetForAudioClassification(config).eval()
    model.save_pretrained(tmp_path / "model")
    hf_soundnet.SoundNetFeatureExtractor().save_pretrained(tmp_path / "model")
    clip = np.random.default_rng(0).uniform(-0.5, 0.5, 22050 * 12).astype(np.float32)
    soundfile.write(tmp_path / "noise.wav", clip, 22050, subtype="FLOAT")
    classifier = pipeline("audio-classification", model=str(tmp_path / "model"))
    kwargs = {"top_k": None, "function_to_apply": "none"}
    whole = as_dict(classifier(str(tmp_path / "noise.wav"), stream_longer_than=0, **kwargs))
    monkeypatch.setattr(module, "STREAM_CHUNK_SECONDS", 0.5)
    monkeypatch.setattr(module, "load_audio", None)  # the streamed path never decodes the file whole
    streamed = as_dict(classifier(str(tmp_path / "noise.wav"), stream_longer_than=5, **kwargs))
    assert set(streamed) == {"a", "b", "c"}
    # Logits of order 1 from a float32 forward, summed over frames in another order: 1e-4.
    assert max(abs(whole[label] - streamed[label]) for label in whole) < 1e-4


def test_streamed_long_file_is_continued_like_the_whole_file(classifier, audio_dir, tmp_path, monkeypatch):
    """A length whose last conv8 step would read padding: the extractor continues the whole clip cyclically, and
    the streamed path appends the same start samples, so both answers agree."""
    import hf_soundnet.pipeline_soundnet as module

    extractor = classifier.feature_extractor
    waveform = load_audio_first_channel(audio_dir / "forest_track.mp3")
    num_samples = next(n for n in range(22050 * 21, waveform.shape[0]) if extractor.covered_num_samples(n) > n)
    assert extractor.covered_num_samples(num_samples) - num_samples > 22050  # over a second is continued
    path = tmp_path / "continued.wav"
    soundfile.write(path, waveform[:num_samples], 22050, subtype="FLOAT")
    whole = as_dict(classifier(str(path), top_k=None, stream_longer_than=0))
    monkeypatch.setattr(module, "STREAM_CHUNK_SECONDS", 7.0)
    monkeypatch.setattr(module, "load_audio", None)  # the streamed path never decodes the file whole
    streamed = as_dict(classifier(str(path), top_k=None, stream_longer_than=20))
    assert max(abs(whole[label] - streamed[label]) for label in whole) < 1e-4


def load_audio_first_channel(path) -> np.ndarray:
    return hf_soundnet.load_audio(path, 22050, channel_mode="first")[0]


# Batches: decoding in the pipeline's own DataLoader workers, padded batches, bad inputs, long files.


@pytest.fixture(scope="module")
def mixed_files(audio_dir, tmp_path_factory, railroad) -> list[str]:
    """Files of four lengths (20 s mono WAV, 29 s stereo MP3, a 4 s WAV, a 3 s stereo 48 kHz WAV), so that every
    batch of two or more is padded."""
    folder = tmp_path_factory.mktemp("mixed")
    soundfile.write(folder / "four_seconds.wav", railroad[: 4 * 22050], 22050)
    names = [audio_dir / "railroad.wav", audio_dir / "forest_track.mp3", folder / "four_seconds.wav"]
    return [str(path) for path in [*names, audio_dir / "short_stereo_48k.wav"]]


def record_pids(monkeypatch, tmp_path, name: str):
    """Wraps `pipeline_soundnet.<name>` so that each call appends its process id to a file (worker processes
    forked after the patch inherit it), and returns a reader of the ids."""
    import os

    import hf_soundnet.pipeline_soundnet as module

    log, original = tmp_path / f"{name}.pids", getattr(module, name)

    def wrapped(*args, **kwargs):
        with open(log, "a") as file:
            file.write(f"{os.getpid()}\n")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return lambda: [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.mark.parametrize(("batch_size", "num_workers"), [(8, 2), (3, 1), (1, 2)])
def test_workers_decode_and_padded_batches_equal_single_calls(
    classifier, mixed_files, monkeypatch, tmp_path, batch_size, num_workers
):
    """`batch_size`/`num_workers`: each file decoded in a DataLoader worker, the model run once per padded batch with
    an attention mask, and each answer equal to the single call on that file."""
    import os

    singles = [classifier(path) for path in mixed_files]
    singles_all = [as_dict(classifier(path, top_k=None)) for path in mixed_files]
    pids = record_pids(monkeypatch, tmp_path, "load_audio")
    batched = classifier(mixed_files, batch_size=batch_size, num_workers=num_workers)
    decoded_in = pids()
    assert len(decoded_in) == len(mixed_files)
    assert os.getpid() not in decoded_in  # decoded in the workers, not in this process
    batched_all = classifier(mixed_files, top_k=None, batch_size=batch_size, num_workers=num_workers)
    assert len(batched) == len(batched_all) == len(mixed_files)
    for single, got, single_all, got_all in zip(singles, batched, singles_all, batched_all):
        assert [p["label"] for p in got] == [p["label"] for p in single]
        # Probabilities (<= 1) of the same float32 forward, the padded rows zeroed by the mask: only the kernels'
        # summation order differs with the batch shape, so 1e-4 (the fast forward's documented tolerance) is wide.
        assert max(abs(single_all[label] - as_dict(got_all)[label]) for label in single_all) < 1e-4


def test_model_runs_on_the_cores_the_workers_leave(classifier, mixed_files):
    """With decoding workers, each batch's forward runs with torch's threads lowered to the cores the workers leave
    (at least one), and the user's thread count is back after the call; without workers it is left alone."""
    import os

    cores = len(os.sched_getaffinity(0))
    seen: list[int] = []
    hook = classifier.model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(cores)
    try:
        classifier(mixed_files[:4], batch_size=2, num_workers=1)
        assert seen == [max(1, cores - 1)] * 2
        assert torch.get_num_threads() == cores
        seen.clear()
        classifier(mixed_files[:2], batch_size=2, num_workers=0)
        assert seen == [cores]
    finally:
        hook.remove()
        torch.set_num_threads(before)


def test_bad_file_in_a_batch_keeps_the_others(classifier, mixed_files, tmp_path):
    """A list with undecodable files: every other file is classified, then one error names each failed input and
    its problem, and carries every answer (None where an input failed)."""
    from hf_soundnet.pipeline_soundnet import AudioBatchError

    empty, notes = tmp_path / "empty.wav", tmp_path / "notes.wav"
    empty.write_bytes(b"")
    notes.write_bytes(b"These are not samples.\n" * 200)
    inputs = [mixed_files[0], str(empty), mixed_files[2], str(notes), mixed_files[3]]
    with pytest.raises(AudioBatchError) as error:
        classifier(inputs, batch_size=2, num_workers=1)
    message = str(error.value)
    assert "2 of 5 inputs could not be classified" in message
    assert f"input 1: {empty}: empty file" in message
    assert f"input 3: {notes}: cannot decode audio" in message
    assert isinstance(error.value, hf_soundnet.AudioLoadError)  # `except AudioLoadError` still catches it
    assert set(error.value.failures) == {1, 3}
    assert all(isinstance(e, hf_soundnet.AudioLoadError) for e in error.value.failures.values())
    results = error.value.results
    assert results[1] is None and results[3] is None
    for i in (0, 2, 4):
        expected = as_dict(classifier(inputs[i]))
        got = as_dict(results[i])
        assert expected.keys() == got.keys()
        assert max(abs(expected[label] - got[label]) for label in expected) < 1e-4


def test_generator_with_a_bad_file_raises_at_its_position_and_continues(classifier, mixed_files, tmp_path):
    """A generator (or dataset) gives a lazy iterator: the failed input's own error at its position, then the next
    answers."""
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    answers = classifier((path for path in [mixed_files[2], str(empty), mixed_files[3]]), batch_size=2)
    got = [as_dict(next(answers))]
    with pytest.raises(hf_soundnet.AudioLoadError, match="empty file") as error:
        next(answers)
    assert str(empty) in str(error.value)
    got += [as_dict(answer) for answer in answers]
    assert len(got) == 2
    for path, answer in zip([mixed_files[2], mixed_files[3]], got):
        expected = as_dict(classifier(path))
        assert expected.keys() == answer.keys()
        assert max(abs(expected[label] - answer[label]) for label in expected) < 1e-4


def test_long_file_in_a_batch_is_streamed_in_the_main_process(classifier, mixed_files, monkeypatch):
    """A file over `stream_longer_than` in a batch decoded by workers: streamed by the process that holds the model
    (not in a worker), beside the decoded clips of its batch, each answer equal to its single call."""
    import os

    kwargs = {"top_k": None, "stream_longer_than": 25}  # streams the 29 s MP3 only
    singles = [as_dict(classifier(path, **kwargs)) for path in mixed_files]
    streamed_in = []
    original = SoundNetAudioClassificationPipeline._streamed_logits

    def recorded(self, path):
        streamed_in.append(os.getpid())  # a worker's list would not come back here
        return original(self, path)

    monkeypatch.setattr(SoundNetAudioClassificationPipeline, "_streamed_logits", recorded)
    batched = classifier(mixed_files, batch_size=4, num_workers=1, **kwargs)
    assert streamed_in == [os.getpid()]
    for single, got in zip(singles, batched):
        got = as_dict(got)
        assert max(abs(single[label] - got[label]) for label in single) < 1e-4
