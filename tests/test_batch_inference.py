"""Batches of decoded files: padding, what a worker sends, the CLI's automatic parallelism, and `classify_files`."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG

from hf_soundnet import SoundNetConfig, SoundNetFeatureExtractor, SoundNetForAudioClassification, load_audio
from hf_soundnet.audio.batches import AudioBatchCollator, AudioFileDataset, AudioItem, make_loader
from hf_soundnet.cli import main
from hf_soundnet.inference.classify import classify_files
from hf_soundnet.inference.parallelism import available_cores, default_parallelism, resolve_parallelism


def test_collator_pads_with_the_extractors_value_and_keeps_lengths():
    extractor = SoundNetFeatureExtractor(padding_value=-7.0)
    long, short = np.arange(1, 6, dtype=np.float32), np.array([9.0, 8.0, 7.0], dtype=np.float32)
    items = [
        AudioItem(0, "a", input_values=long.copy()),
        AudioItem(1, "bad", error="bad: cannot decode"),
        AudioItem(2, "b", input_values=short.copy()),
    ]
    batch = AudioBatchCollator(extractor)(items)
    assert [item.name for item in batch.items] == ["a", "b"]
    assert [item.name for item in batch.failures] == ["bad"]
    expected = np.array([[1, 2, 3, 4, 5], [9, 8, 7, -7, -7]], dtype=np.float32)
    np.testing.assert_array_equal(batch.input_values.numpy(), expected)
    assert batch.num_samples.tolist() == [5, 3]
    np.testing.assert_array_equal(batch.attention_mask.numpy(), [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert batch.is_padded
    assert all(item.input_values is None for item in batch.items)  # the batch holds the audio once

    same = AudioBatchCollator(extractor)([AudioItem(0, "a", input_values=long.copy())])
    assert not same.is_padded
    failed = AudioBatchCollator(extractor)([AudioItem(0, "bad", error="x")])
    assert failed.input_values is None and failed.attention_mask is None and not failed.is_padded


def test_worker_batches_arrive_in_shared_memory_and_equal_in_process_decoding(audio_dir):
    """A worker's batch is mapped from shared memory (not piped), and equals decoding in this process."""
    extractor = SoundNetFeatureExtractor()
    paths = [str(audio_dir / name) for name in ("railroad.wav", "short_stereo_48k.wav", "forest_track.mp3")]
    dataset = AudioFileDataset(paths, extractor)
    in_process = list(make_loader(dataset, batch_size=2, num_workers=0))
    in_worker = list(make_loader(dataset, batch_size=2, num_workers=1))
    assert len(in_process) == len(in_worker) == 2
    for local, remote in zip(in_process, in_worker):
        assert remote.input_values.is_shared()
        assert [item.name for item in local.items] == [item.name for item in remote.items]
        torch.testing.assert_close(remote.input_values, local.input_values, rtol=0, atol=0)
        assert remote.num_samples.tolist() == local.num_samples.tolist()
        for row, item in enumerate(local.items):  # independent: load_audio, first channel, repeat, x256
            mono = load_audio(item.name, extractor.sampling_rate)[0]
            expected = extractor.repeat_short(mono) * 256.0
            assert local.num_samples[row] == expected.shape[0]
            np.testing.assert_array_equal(local.input_values[row, : expected.shape[0]].numpy(), expected)


@pytest.mark.parametrize(
    ("device", "cores", "expected"),
    [("cpu", 1, (1, 1)), ("cpu", 2, (2, 1)), ("cpu", 16, (9, 8)), ("cpu", 3, (2, 2)), ("cuda", 16, (15, 1))],
)
def test_default_parallelism_splits_the_cores(device, cores, expected):
    assert default_parallelism(device, cores) == expected


@pytest.mark.numeric
def test_classify_files_equals_the_cli(audio_dir, tmp_path):
    torch.manual_seed(0)
    labels = [f"object: o{i}" for i in range(5)] + [f"scene: s{i}" for i in range(3)]
    config = SoundNetConfig(**TINY_CONFIG, classifier_type="pretrained_heads", id2label=dict(enumerate(labels)))
    model = SoundNetForAudioClassification(config).eval()
    extractor = SoundNetFeatureExtractor()
    model.save_pretrained(tmp_path / "tiny")
    extractor.save_pretrained(tmp_path / "tiny")
    paths = [audio_dir / "railroad.wav", audio_dir / "short_stereo_48k.wav", tmp_path / "missing.wav"]

    records = {r["path"]: r for r in classify_files(model, extractor, paths, top_k=2, batch_size=2, num_workers=1)}
    output = tmp_path / "cli.jsonl"
    cli = [
        "classify",
        *map(str, paths),
        "--model",
        str(tmp_path / "tiny"),
        "--output-file",
        str(output),
        "--top-k",
        "2",
    ]
    assert main([*cli, "--quiet", "--num-workers", "0"]) == 1  # the missing file
    from_cli = {r["path"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert set(records) == set(from_cli) == {str(p) for p in paths}
    assert "no such file" in records[str(paths[2])]["error"]
    for path in map(str, paths[:2]):
        for head in ("objects", "scenes"):
            assert [r["label"] for r in records[path][head]] == [r["label"] for r in from_cli[path][head]]
            np.testing.assert_allclose(
                [r["probability"] for r in records[path][head]],
                [r["probability"] for r in from_cli[path][head]],
                atol=1e-6,
            )
        # the per-clip mean of the per-step softmax: transformers' own clip_probabilities on the same input
        inputs = extractor([load_audio(path, 22050)], sampling_rate=22050, return_tensors="pt")
        with torch.no_grad():
            _, scenes = model.clip_probabilities(inputs["input_values"])
        top = scenes[0].topk(2)
        assert [r["label"] for r in records[path]["scenes"]] == [f"s{i}" for i in top.indices.tolist()]
        np.testing.assert_allclose([r["probability"] for r in records[path]["scenes"]], top.values, atol=1e-5)


def test_common_arguments_fill_the_split_and_respect_explicit_values():
    from hf_soundnet.cli import build_parser
    from hf_soundnet.cli.common import check_common_arguments

    def split(*options: str):
        args = build_parser().parse_args(["classify", "x.wav", "--use-cpu", *options])
        before = vars(args).copy()
        checked = check_common_arguments(args)
        assert vars(args) == before  # the options are returned, not written into args
        return resolve_parallelism(checked.device, num_workers=checked.num_workers, num_threads=checked.num_threads)

    plan = split()
    assert (plan.num_workers, plan.num_threads) == default_parallelism("cpu", available_cores())
    assert plan.solo_threads == available_cores()  # streamed files have no workers beside the model
    plan = split("--num-workers", "0", "--threads", "3")
    assert (plan.num_workers, plan.num_threads, plan.solo_threads) == (0, 3, 3)
    plan = split("--num-workers", "0")
    assert plan.num_threads == available_cores()  # no decoding processes: the model takes every core
