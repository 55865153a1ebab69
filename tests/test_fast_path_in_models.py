"""The transformers classes run `FastSoundNet` by themselves where no gradient is needed (`forward_implementation`
"fast", the default), the eager stack otherwise; both agree within the fast path's tolerance.

That the fast path really ran is checked by making the eager blocks raise; values are compared with the same model
forced to "eager" (`model.forward_implementation("eager")`), an independent code path (no BN folding, no GEMMs).
"""

import pytest
import torch
from conftest import TINY_CONFIG

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification, SoundNetForPreTraining, SoundNetModel
from hf_soundnet.modeling_soundnet import SoundNetConvBlock


def _with_batch_norm_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BN running statistics and affine parameters, so that folding them is exercised."""
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) * 2 - 1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def _padded_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(5)
    lengths = [3000, 2200]
    values = torch.randn(2, max(lengths)) * 100
    mask = (torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]).long()
    return values * mask, mask


def _assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor) -> None:
    # float32 sums of at most C*k = 32 terms per output in the tiny model (and BN folded in float64): 1e-4 of the
    # tensor's scale bounds any summation order a CPU kernel may choose.
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-4 * float(expected.abs().max()))


class _EagerBlocksRaise:
    """While active, any eager block call raises: the forward must have taken the fast path."""

    def __enter__(self):
        self.original = SoundNetConvBlock.forward

        def refuse(*args, **kwargs):
            raise AssertionError("the eager stack ran")

        SoundNetConvBlock.forward = refuse

    def __exit__(self, *exc):
        SoundNetConvBlock.forward = self.original


@pytest.mark.numeric
@pytest.mark.parametrize(
    "model_class, overrides",
    [
        (SoundNetModel, {}),
        (SoundNetForPreTraining, {}),
        (SoundNetForAudioClassification, {"classifier_type": "pretrained_heads"}),
        (SoundNetForAudioClassification, {"num_labels": 4, "classifier_layer": "pool1"}),
    ],
)
def test_eval_without_gradient_runs_the_fast_path_with_eager_outputs(model_class, overrides):
    config = SoundNetConfig(**{**TINY_CONFIG, **overrides})
    model = _with_batch_norm_statistics(model_class(config))
    values, mask = _padded_inputs()
    with torch.no_grad():
        with model.forward_implementation("eager"):
            eager = model(values, attention_mask=mask, output_hidden_states=True)
        with _EagerBlocksRaise():
            fast = model(values, attention_mask=mask, output_hidden_states=True)
    assert model.config.forward_implementation == "fast"  # restored by the context manager
    for key in eager:
        expected, actual = eager[key], fast[key]
        if isinstance(expected, tuple):
            for a, e in zip(actual, expected):
                _assert_close_to_scale(a, e)
        elif key == "logits" and config.classifier_type == "pretrained_heads":
            _assert_close_to_scale(actual.sigmoid(), expected.sigmoid())  # probabilities; logit(p) amplifies near 0
        else:
            _assert_close_to_scale(actual, expected)


def test_training_and_gradients_use_the_eager_stack(tiny_config):
    model = SoundNetForPreTraining(tiny_config)
    values, mask = _padded_inputs()
    assert model.training and not model.soundnet.uses_fast_forward()
    model.eval()
    assert not model.soundnet.uses_fast_forward()  # gradients are being recorded
    outputs = model(values, attention_mask=mask)
    outputs.object_logits.sum().backward()
    assert all(p.grad is not None for p in model.soundnet.parameters())
    with torch.no_grad():
        assert model.soundnet.uses_fast_forward()
        model.set_forward_implementation("eager")
        assert not model.soundnet.uses_fast_forward()
        assert not model.double().soundnet.uses_fast_forward()  # FastSoundNet computes in float32


@pytest.mark.numeric
def test_the_fast_path_follows_weight_updates(tiny_config):
    model = _with_batch_norm_statistics(SoundNetModel(tiny_config))
    values, _ = _padded_inputs()
    with torch.no_grad():
        before = model(values).last_hidden_state
        other = _with_batch_norm_statistics(SoundNetModel(tiny_config))
        model.load_state_dict(other.state_dict())  # in place: the cached FastSoundNet is stale
        after = model(values).last_hidden_state
        with model.forward_implementation("eager"):
            expected = model(values).last_hidden_state
    assert not torch.allclose(before, after)
    _assert_close_to_scale(after, expected)


def test_forward_implementation_is_a_config_and_from_pretrained_option(tiny_config, tmp_path):
    SoundNetModel(tiny_config).save_pretrained(tmp_path)
    model = SoundNetModel.from_pretrained(tmp_path, forward_implementation="eager")
    assert model.config.forward_implementation == "eager"
    with pytest.raises(Exception, match="forward_implementation"):
        SoundNetConfig(forward_implementation="compiled")


@pytest.mark.slow
@pytest.mark.numeric
def test_released_weights_fast_path_matches_eager(released_checkpoint, audio_dir):
    import soundfile
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    railroad = soundfile.read(audio_dir / "railroad.wav", dtype="float32", always_2d=True)[0][:, 0]
    model = AutoModelForAudioClassification.from_pretrained(released_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(released_checkpoint)
    inputs = extractor(railroad[: 22050 * 30], sampling_rate=22050, return_tensors="pt")
    with torch.no_grad():
        with model.forward_implementation("eager"):
            eager = model(**inputs, output_hidden_states=True)
        with _EagerBlocksRaise():
            fast = model(**inputs, output_hidden_states=True)
    for a, e in zip(fast.hidden_states, eager.hidden_states):
        _assert_close_to_scale(a, e)
    # Probabilities of the released heads: within 1e-4 of the largest (they sum to 1 per head).
    torch.testing.assert_close(fast.logits.sigmoid(), eager.logits.sigmoid(), rtol=0, atol=1e-4)
