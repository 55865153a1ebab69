"""The conversion table is complete and strict, and the converted model matches the independent NumPy reference."""

import numpy as np
import pytest
import torch
from convert_soundnet_original_to_hf import (
    ConversionError,
    build_model,
    convert_state_dict,
    main,
)
from reference_numpy import TORCH7_SOUNDNET8, clip_probabilities, load_sound8

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification


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
    checkpoint = tmp_path / "broken.npy"
    np.save(checkpoint, np.array(params, dtype=object), allow_pickle=True)
    output = tmp_path / "out"
    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint)]) == 1
    assert "scene_head.bias" in capsys.readouterr().err
    assert not output.exists()


def test_cli_reports_an_unreadable_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "garbage.npy"
    checkpoint.write_bytes(b"not numpy at all")
    assert main(["--output-dir", str(tmp_path / "out"), "--checkpoint", str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert str(checkpoint) in err and "not a readable sound8.npy" in err


def test_cli_converts_a_valid_checkpoint(tmp_path):
    params = fake_sound8(seed=3)
    checkpoint = tmp_path / "sound8.npy"
    with open(checkpoint, "wb") as handle:
        np.save(handle, np.array(params, dtype=object), allow_pickle=True)
    assert load_sound8(str(checkpoint)).keys() == params.keys()
    output = tmp_path / "out"
    assert main(["--output-dir", str(output), "--checkpoint", str(checkpoint)]) == 0
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"):
        assert (output / name).is_file(), name
    assert len((output / "categories" / "categories_places2.txt").read_text().splitlines()) == 401


def test_every_key_of_the_released_file_is_consumed(sound8_npy):
    params = load_sound8(str(sound8_npy))
    assert set(convert_state_dict(params)) == set(build_model(params, "soundnet8").state_dict())
