"""Crops aligned to the teacher steps (with the original's repetition of short clips) and the corrupt-record filter."""

import numpy as np
import pytest
import torch

from hf_soundnet.pretraining.corpus import CorpusInfo, TeacherInfo
from hf_soundnet.pretraining.corpus_builder import encode_audio
from hf_soundnet.pretraining.data import CorruptRecordError, PretrainingExampleDecoder, crop_record, crop_steps_for


STEP = 10  # samples per teacher step in these tests


def test_crop_of_a_long_clip_is_whole_steps():
    waveform = np.arange(6 * STEP + 3, dtype=np.float32)  # 6 steps and a partial one
    teachers = [np.arange(6)[:, None] * np.ones((1, 3)), np.arange(6)[:, None] * np.ones((1, 2)) + 100]
    audio, (objects, scenes) = crop_record(waveform, teachers, STEP, 4, start_step=2)
    np.testing.assert_array_equal(audio, np.arange(2 * STEP, 6 * STEP))
    np.testing.assert_array_equal(objects[:, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(scenes[:, 0], [102, 103, 104, 105])
    starts = set()
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        audio, (rows, _) = crop_record(waveform, teachers, STEP, 4, generator=generator)
        start = int(rows[0, 0])
        np.testing.assert_array_equal(audio, waveform[start * STEP : (start + 4) * STEP])  # steps stay aligned
        starts.add(start)
    assert starts == {0, 1, 2}


def test_short_clips_are_repeated_whole_with_their_teacher_steps():
    waveform = np.arange(2 * STEP, dtype=np.float32)  # 2 steps, crop of 4
    teachers = [np.array([[1.0, 0.0], [0.0, 1.0]])]
    audio, (rows,) = crop_record(waveform, teachers, STEP, 4)
    np.testing.assert_array_equal(audio, np.concatenate([waveform, waveform]))
    np.testing.assert_array_equal(rows.argmax(-1), [0, 1, 0, 1])

    tiny = np.arange(7, dtype=np.float32)  # shorter than one step: one teacher step, tiled
    audio, (rows,) = crop_record(tiny, [np.array([[0.2, 0.8]])], STEP, 4)
    np.testing.assert_array_equal(audio, np.tile(tiny, 6)[: 4 * STEP])
    np.testing.assert_array_equal(rows, np.array([[0.2, 0.8]] * 4))


def test_crop_must_be_whole_steps():
    assert crop_steps_for(20.0, 5.0) == 4
    with pytest.raises(ValueError, match="whole number"):
        crop_steps_for(12.0, 5.0)


def test_decoder_skips_counts_and_strict_raises():
    info = CorpusInfo(teachers=[TeacherInfo("objects", "m", 3)], sampling_rate=1000, step_seconds=0.5)
    decoder = PretrainingExampleDecoder(info, crop_steps=2, head_teachers={"object": "objects"})
    good = {
        "key": "good",
        "audio": encode_audio(np.zeros(1000, np.float32) + 0.25, 1000, "wav"),
        "teacher_objects": np.full((2, 3), 1 / 3, np.float32),
    }
    bad_audio = {**good, "key": "bad-audio", "audio": b"junk" * 20}
    bad_probs = {**good, "key": "nan-probs", "teacher_objects": np.full((2, 3), np.nan, np.float32)}
    batch = {name: [r[name] for r in (bad_audio, bad_probs, good)] for name in good}
    out = decoder(batch)
    assert out["key"] == ["good"] and out["num_corrupt"] == [2] and out["num_corrupt_shards"] == [0]
    np.testing.assert_allclose(out["input_values"][0], 0.25 * 256, rtol=1e-3)
    assert out["teacher_object_probs"][0].shape == (2, 3)

    # The reader's marker for an unreadable shard (key None) is counted apart, on the next good example.
    marker = dict.fromkeys(good) | {"source": "data/shard-r000-00003.parquet: unreadable Parquet shard"}
    out = decoder({name: [r[name] for r in (marker, bad_audio, good)] for name in good})
    assert out["key"] == ["good"] and out["num_corrupt"] == [1] and out["num_corrupt_shards"] == [1]

    strict = PretrainingExampleDecoder(info, crop_steps=2, head_teachers={"object": "objects"}, strict=True)
    with pytest.raises(CorruptRecordError, match="record bad-audio"):
        strict(batch)
