"""Short clips: repeated so that no conv8 step is computed from padding, and answered like the long recording."""

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

import hf_soundnet  # noqa: F401  (registers the Auto classes)
from hf_soundnet import SoundNetConfig, SoundNetFeatureExtractor
from hf_soundnet.audio.decoding import load_audio
from hf_soundnet.configuration_soundnet import conv_output_length
from hf_soundnet.modeling_soundnet import block_output_lengths


RATE = 22050
GARAGE = "scene: parking_garage/outdoor"
# Clip lengths in samples: every short length that tiles to exactly 10 s (0.1, 1, 2, 2.5, 5 s), odd ones, the edges of
# the heads' minimum (209,374) and of `repeat_to_seconds`, and long clips sweeping several conv8 hops.
LENGTHS = [1, 7, 2205, 22050, 30000, 44100, 55125, 66150, 110250, 154350, 209373, 209374, 220499, 220500, 240000]
LENGTHS += list(range(250000, 700000, 1237))


def step_padding(config: SoundNetConfig, num_samples: int) -> tuple[int, int, float]:
    """
    For a clip of `num_samples` samples, with the model's own length arithmetic and the layer table (not the
    extractor's code): the number of conv8 steps, how many positions of the last block's zero padding (past the
    previous block's valid frames) the last step reads, and the largest fraction of any step's receptive field that
    lies outside the clip.
    """
    lengths = [int(length) for length in block_output_lengths(config, num_samples)]
    steps = int(conv_output_length(lengths[-1], config.head_kernel_size, config.head_stride, config.head_padding))
    last = steps - 1
    # last step -> the last block's output frames it reads -> the last block's conv frames -> their input positions
    first_frame = last * config.head_stride - config.head_padding
    last_frame = first_frame + config.head_kernel_size - 1
    kernel, stride, padding, pool = (
        config.conv_kernel_sizes[-1],
        config.conv_strides[-1],
        config.conv_paddings[-1],
        config.pool_kernel_sizes[-1],
    )
    last_position = (last_frame * pool + pool - 1) * stride - padding + kernel - 1
    padded_positions = max(0, last_position + 1 - lengths[-2])
    field = config.layer_table[-1]
    outside = max(
        (
            max(0, -(q * field.hop + field.offset))
            + max(0, q * field.hop + field.offset + field.receptive_field - num_samples)
        )
        / field.receptive_field
        for q in range(steps)
    )
    return steps, padded_positions, outside


def test_defaults_are_derived_from_the_layer_table():
    fields = SoundNetConfig().layer_table
    head, feeding_block = fields[-1], fields[-3]  # conv8, and conv6: the input of conv7, the heads' input block
    extractor = SoundNetFeatureExtractor()
    assert extractor.head_field == [head.hop, head.receptive_field, head.offset]
    assert extractor.max_head_padding == -feeding_block.offset


@pytest.mark.parametrize("num_samples", LENGTHS)
def test_no_conv8_step_reads_the_padding_of_its_input_block(num_samples):
    config = SoundNetConfig()
    clip = np.random.default_rng(num_samples).uniform(-1, 1, num_samples).astype(np.float32)
    covered = SoundNetFeatureExtractor().repeat_short(clip).shape[0]
    steps, padded_positions, outside = step_padding(config, covered)
    assert steps >= 1
    assert padded_positions == 0, f"{num_samples} -> {covered} samples: the last step reads conv7 zero padding"
    assert outside < 0.5  # no step's receptive field is mostly padding (the first step's left side: 17 %)


def test_the_old_rule_fails_the_padding_criterion():
    """The check above can fail: repeating to 10 s only (the original's rule) leaves the last step on padding."""
    old = SoundNetFeatureExtractor(head_field=None)
    config = SoundNetConfig()
    failing = [n for n in LENGTHS if step_padding(config, old.repeat_short(np.ones(n, np.float32)).shape[0])[1]]
    assert 2205 in failing and 220500 in failing  # 0.1 s and 10 s clips: tiled to exactly 10 s
    assert len(failing) > len(LENGTHS) // 3


def test_continuation_is_cyclic_and_long_clips_that_need_none_are_unchanged():
    extractor = SoundNetFeatureExtractor()
    clip = np.random.default_rng(0).uniform(-1, 1, 30000).astype(np.float32)  # 1.36 s: 8 copies = 240,000 samples
    out = extractor.repeat_short(clip)
    hop, size, offset = extractor.head_field
    assert out.shape == (offset + size,)  # the end of the first step's field: 264,958 samples, 12.02 s
    for start in range(0, out.shape[0], 30000):
        np.testing.assert_array_equal(out[start : start + 30000], clip[: out.shape[0] - start])
    ten_seconds = np.random.default_rng(1).uniform(-1, 1, 10 * RATE).astype(np.float32)
    out = extractor.repeat_short(ten_seconds)  # not shorter than 10 s, still continued: its start follows its end
    np.testing.assert_array_equal(out, np.concatenate([ten_seconds, ten_seconds[: out.shape[0] - 10 * RATE]]))
    for seconds in (12, 15, 19.93, 30, 60):  # last step's field within conv6's offset of the end: left as it is
        long = np.zeros(int(seconds * RATE), np.float32)
        assert extractor.repeat_short(long) is long
    for disabled in (SoundNetFeatureExtractor(repeat_to_seconds=None), SoundNetFeatureExtractor(repeat_to_seconds=0)):
        assert disabled.repeat_short(ten_seconds) is ten_seconds
    short_only = SoundNetFeatureExtractor(continue_long_clips=False)  # what `soundnet extract` uses
    assert short_only.repeat_short(ten_seconds) is ten_seconds
    assert short_only.repeat_short(clip).shape == (offset + size,)


def test_settings_are_saved_and_validated(tmp_path):
    SoundNetFeatureExtractor(head_field=[4096, 20000, -3000], max_head_padding=100).save_pretrained(tmp_path)
    loaded = SoundNetFeatureExtractor.from_pretrained(tmp_path)
    assert loaded.head_field == [4096, 20000, -3000] and loaded.max_head_padding == 100
    with pytest.raises(ValueError, match="head_field"):
        SoundNetFeatureExtractor(head_field=[100, 5000, -200])  # hop <= -offset: lengthening would add steps
    with pytest.raises(ValueError, match="max_head_padding"):
        SoundNetFeatureExtractor(max_head_padding=-1)


# -- the released weights on real recordings -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def released(released_checkpoint):
    model = AutoModelForAudioClassification.from_pretrained(released_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(released_checkpoint)  # a config saved before these settings
    assert extractor.head_field == list(SoundNetFeatureExtractor().head_field)
    return model, extractor


@pytest.fixture(scope="module")
def recordings(audio_dir, released) -> dict[str, np.ndarray]:
    mode = released[1].channel_mode
    return {
        name: load_audio(audio_dir / name, RATE, channel_mode=mode)[0] for name in ("railroad.wav", "forest_track.mp3")
    }


def scene_probabilities(released, waveform: np.ndarray) -> dict[str, float]:
    model, extractor = released
    inputs = extractor(waveform, sampling_rate=RATE, return_tensors="pt")
    with torch.no_grad():
        scenes = model.clip_probabilities(inputs["input_values"])[1][0]
    offset = model.config.num_object_classes
    return {model.config.id2label[offset + i]: float(p) for i, p in enumerate(scenes)}


def ranked(probabilities: dict[str, float]) -> list[str]:
    return sorted(probabilities, key=probabilities.get, reverse=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "start_s"), [("railroad.wav", 5.0), ("forest_track.mp3", 5.0), ("forest_track.mp3", 15.0)]
)
@pytest.mark.parametrize("seconds", [1.0, 2.0, 2.5, 3.0, 5.0, 7.0, 10.0])
def test_short_piece_answers_like_the_whole_recording(released, recordings, name, start_s, seconds):
    """
    The top scene of a piece is among the whole recording's top 3 (railroad_track / forest_path, measured 1st for
    every piece here), where repeating to 10 s only answered parking_garage/outdoor with p ~ 1 for 1, 2, 2.5, 5, 10 s.
    """
    recording = recordings[name]
    start = int(start_s * RATE)
    piece = recording[start : start + int(seconds * RATE)]
    whole = ranked(scene_probabilities(released, recording))
    short = scene_probabilities(released, piece)
    assert ranked(short)[0] in whole[:3], f"{name} {seconds} s at {start_s} s: {ranked(short)[:3]} vs {whole[:3]}"
    assert short[GARAGE] < 0.5


def synthetic(kind: str, num_samples: int) -> np.ndarray:
    if kind == "silence":
        return np.zeros(num_samples, np.float32)
    return (0.1 * np.random.default_rng(0).standard_normal(num_samples)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silence", "white noise"])
@pytest.mark.parametrize("seconds", [0.1, 1.0, 2.0, 2.5, 5.0, 10.0])
def test_silence_and_noise_no_longer_answer_parking_garage(released, kind, seconds):
    """Repeated to 10 s only, each of these answered parking_garage/outdoor with p > 0.99; measured now <= 0.1."""
    scenes = scene_probabilities(released, synthetic(kind, int(seconds * RATE)))
    assert scenes[GARAGE] < 0.5 and max(scenes.values()) < 0.5, ranked(scenes)[:3]


@pytest.mark.slow
def test_a_tenth_of_a_second_of_a_recording_does_not_collapse(released, recordings):
    """0.1 s looped is a buzz, not a scene (forest gives aquarium): only the collapse is ruled out."""
    for recording in recordings.values():
        scenes = scene_probabilities(released, recording[5 * RATE : 5 * RATE + RATE // 10])
        assert scenes[GARAGE] < 0.5 and max(scenes.values()) < 0.5, ranked(scenes)[:3]
