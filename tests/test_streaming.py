"""Exact streaming: receptive fields, chunked frames equal to a full forward, progressive file decoding."""

import subprocess

import numpy as np
import pytest
import torch
from _helpers_parity import assert_scaled_close

from hf_soundnet import (
    AudioLoadError,
    SoundNetConfig,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
    load_audio,
)
from hf_soundnet.fast_forward_soundnet import FastSoundNet
from hf_soundnet.inference.streaming import (
    extract_streaming,
    iter_file_waveform,
    stream_file,
    stream_layers,
)


def test_receptive_fields_of_soundnet8_match_the_config_hops():
    config = SoundNetConfig()
    fields = config.layer_table
    assert [f.name for f in fields] == config.layer_names + ["conv8"]
    assert [f.hop for f in fields] == config.block_hops + [config.head_hop]
    # conv1 + pool1: 8 conv frames 2 samples apart, each 64 samples wide, padded by 32.
    assert (fields[0].receptive_field, fields[0].offset) == (7 * 2 + 64, -32)
    assert all(b.receptive_field > a.receptive_field and b.offset <= a.offset for a, b in zip(fields, fields[1:]))


def test_receptive_fields_bound_the_gradient_support(tiny_config):
    """Every frame depends only on its field; the union over frames and channels fills the field exactly."""
    model = SoundNetForPreTraining(tiny_config).eval()
    num_samples = 3000
    input_values = torch.randn(1, num_samples, requires_grad=True)
    outputs = model(input_values, output_hidden_states=True)
    tensors = list(outputs.hidden_states) + [outputs.object_logits.transpose(1, 2)]
    for field, tensor in zip(tiny_config.layer_table, tensors):
        relative = set()
        for q in range(tensor.shape[-1]):
            (grad,) = torch.autograd.grad(tensor[0, :, q].sum(), input_values, retain_graph=True)
            support = grad[0].nonzero().flatten().tolist()
            start = q * field.hop + field.offset
            assert all(start <= j < start + field.receptive_field for j in support), f"{field.name} frame {q}"
            if start >= 0 and start + field.receptive_field <= num_samples:
                relative.update(j - start for j in support)
        if relative:
            assert min(relative) == 0 and max(relative) == field.receptive_field - 1, field.name


def _pieces(waveform: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """Consecutive pieces of random lengths (1 to 3,000 samples)."""
    generator = np.random.default_rng(seed)
    cuts, position = [], 0
    while position < waveform.shape[0]:
        step = int(generator.integers(1, 3000))
        cuts.append(waveform[position : position + step])
        position += step
    return cuts


@pytest.mark.numeric
@pytest.mark.parametrize("num_samples", [40_001, 65_536, 99_999])
@pytest.mark.parametrize("chunk_seconds", [0.05, 0.4])
def test_streaming_equals_full_forward_tiny(tiny_config, num_samples, chunk_seconds):
    tiny_config.sampling_rate = 22050
    model = SoundNetForPreTraining(tiny_config).eval()
    fast = FastSoundNet.from_model(model)
    waveform = torch.randn(num_samples) * 100
    layers = ["conv1", "conv2", "conv3", "conv8"]
    streamed = extract_streaming(fast, _pieces(waveform, num_samples), layers, chunk_seconds=chunk_seconds)
    with torch.inference_mode():
        full = model(waveform[None], output_hidden_states=True)
    for i, name in enumerate(layers[:-1]):
        assert_scaled_close(streamed[name], full.hidden_states[i][0], what=name)
    assert_scaled_close(streamed["object_logits"], full.object_logits[0], what="object logits")
    assert_scaled_close(streamed["scene_logits"], full.scene_logits[0], what="scene logits")


def test_streaming_chunks_are_ordered_and_disjoint(tiny_config):
    fast = FastSoundNet.from_model(SoundNetForPreTraining(tiny_config).eval())
    chunks = list(stream_layers(fast, [torch.randn(30_000)], ["conv2"], chunk_seconds=0.01))
    assert len(chunks) > 5
    expected_first = 0
    for chunk in chunks:
        assert chunk.first_frame["conv2"] == expected_first
        expected_first += chunk.values["conv2"].shape[1]


def test_streaming_errors(tiny_config):
    fast = FastSoundNet.from_model(SoundNetForPreTraining(tiny_config).eval())
    with pytest.raises(ValueError, match="Unknown layer "):
        extract_streaming(fast, torch.randn(5000), ["conv9"])
    with pytest.raises(ValueError, match="too short"):
        extract_streaming(fast, torch.randn(40), ["conv8"])
    with pytest.raises(ValueError, match="no samples"):
        extract_streaming(fast, [], ["conv1"])
    trunk_only = FastSoundNet.from_model(SoundNetForAudioClassification(tiny_config).eval())
    with pytest.raises(ValueError, match="needs the released object/scene heads"):
        extract_streaming(trunk_only, torch.randn(5000), ["conv8"])
    with pytest.raises(AudioLoadError, match="no such file"):
        next(iter_file_waveform("/nonexistent/file.mp3"))


@pytest.fixture(scope="module")
def mp3_at_22k(audio_dir, tmp_path_factory):
    """railroad.wav encoded by FFmpeg as a 22,050 Hz MP3: no resampling, and a stream starting at 25 ms (the encoder
    delay), where ranges counted from 0 s used to end the stream after its first piece."""
    path = tmp_path_factory.mktemp("mp3") / "railroad_22k.mp3"
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(audio_dir / "railroad.wav"), "-t", "20", str(path)]
    subprocess.run(command, check=True)
    return path


@pytest.mark.parametrize("name", ["railroad.wav", "forest_track.mp3", "short_stereo_48k.wav", "railroad_22k.mp3"])
def test_progressive_decoding_equals_whole_file_decoding(audio_dir, mp3_at_22k, name):
    path = mp3_at_22k if name == "railroad_22k.mp3" else audio_dir / name
    every_channel = load_audio(path, sampling_rate=22050)
    for channel_mode in ("first", "mean"):
        whole = load_audio(path, sampling_rate=22050, channel_mode=channel_mode)[0]
        pieces = list(iter_file_waveform(path, 22050, piece_seconds=3.3, channel_mode=channel_mode))
        assert len(pieces) >= 1
        np.testing.assert_array_equal(np.concatenate(pieces), whole)
        # Reducing to mono before resampling = after it (resampling is linear): exactly for the first channel.
        reduced_after = every_channel[0] if channel_mode == "first" else every_channel.mean(axis=0)
        np.testing.assert_allclose(whole, reduced_after, rtol=0, atol=1e-6 if channel_mode == "mean" else 0)


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioLoadError, match="bad.mp3"):
        list(iter_file_waveform(bad))


@pytest.mark.numeric
def test_streaming_equals_full_forward_released_weights(released_checkpoint, audio_dir):
    """2.4 minutes of a real recording (looped), 30 s chunks, every layer and both heads within 1e-4."""
    model = SoundNetForAudioClassification.from_pretrained(released_checkpoint).eval()
    fast = FastSoundNet.from_model(model)
    waveform = torch.from_numpy(load_audio(audio_dir / "railroad.wav")[0] * 256.0)
    waveform = waveform.repeat(8)[: 22050 * 145 + 4321]
    layers = model.config.layer_names + ["conv8"]
    streamed = extract_streaming(fast, [waveform[:1_000_003], waveform[1_000_003:]], layers, 30.0)
    eager = SoundNetForPreTraining(model.config).eval()
    eager.load_state_dict(model.state_dict(), strict=False)
    with torch.inference_mode():
        full = eager(waveform[None], output_hidden_states=True)
    for i, name in enumerate(layers[:-1]):
        assert_scaled_close(streamed[name], full.hidden_states[i][0], what=name)
    assert_scaled_close(streamed["object_logits"], full.object_logits[0], what="object logits")
    assert_scaled_close(streamed["scene_logits"], full.scene_logits[0], what="scene logits")


@pytest.mark.numeric
def test_stream_file_equals_full_forward_on_the_decoded_file(released_checkpoint, audio_dir):
    model = SoundNetForAudioClassification.from_pretrained(released_checkpoint).eval()
    fast = FastSoundNet.from_model(model)
    path = audio_dir / "forest_track.mp3"
    parts = {}
    for chunk in stream_file(fast, path, ["pool5", "conv8"], chunk_seconds=6.0):
        for key, value in chunk.values.items():
            parts.setdefault(key, []).append(value)
    eager = SoundNetForPreTraining(model.config).eval()  # the reference is the transformers model, not FastSoundNet
    eager.load_state_dict(model.state_dict(), strict=False)
    with torch.inference_mode():
        full = eager(torch.from_numpy(load_audio(path)[0] * 256.0)[None], output_hidden_states=True)
    assert_scaled_close(torch.cat(parts["pool5"], 1), full.hidden_states[4][0], what="pool5")
    assert_scaled_close(torch.cat(parts["object_logits"]), full.object_logits[0], what="object logits")
    assert_scaled_close(torch.cat(parts["scene_logits"]), full.scene_logits[0], what="scene logits")
