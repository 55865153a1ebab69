"""FastSoundNet agrees with the eager models: every block, the heads, padding masks, partial trunks, tiles, threads."""

import pytest
import torch
from _helpers_parity import assert_scaled_close

from hf_soundnet import SoundNetForAudioClassification, SoundNetForPreTraining, SoundNetModel
from hf_soundnet.fast_forward_soundnet import FastSoundNet


pytestmark = pytest.mark.numeric


def _randomize_batch_norm(model: torch.nn.Module) -> None:
    """Non-trivial running statistics and affine parameters, so that BN folding is really tested."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(channels, generator=generator))  # negative scales included
            module.bias.data.copy_(torch.randn(channels, generator=generator))


def _eager(model, input_values, attention_mask=None):
    """Eager hidden states and (when the model has heads) logits."""
    with torch.inference_mode():
        if isinstance(model, SoundNetModel):
            outputs = model(input_values, attention_mask=attention_mask, output_hidden_states=True)
            return outputs.hidden_states, None, None
        pretraining = SoundNetForPreTraining(model.config).eval()
        pretraining.load_state_dict(model.state_dict(), strict=False)
        outputs = pretraining(input_values, attention_mask=attention_mask, output_hidden_states=True)
        return outputs.hidden_states, outputs.object_logits, outputs.scene_logits


def _check(fast_outputs, eager_hidden, eager_object, eager_scene, tolerance=1e-4):
    assert len(fast_outputs.hidden_states) == len(eager_hidden)
    for i, (fast, eager) in enumerate(zip(fast_outputs.hidden_states, eager_hidden)):
        assert_scaled_close(fast, eager, tolerance, f"block {i}")
    if eager_object is not None:
        assert_scaled_close(fast_outputs.object_logits, eager_object, tolerance, "object logits")
        assert_scaled_close(fast_outputs.scene_logits, eager_scene, tolerance, "scene logits")


@pytest.mark.parametrize("model_class", [SoundNetModel, SoundNetForPreTraining, SoundNetForAudioClassification])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tile_rows": 7},  # many tiles
        {"tile_rows": 5, "groups": [1, 1, 1]},  # plain im2col everywhere
        {"groups": [2, 1, 2]},  # polyphase everywhere a pool exists
        {"methods": ["gemm", "conv", "gemm"]},  # layout switches both ways
        {"methods": ["conv", "conv", "conv"], "tile_rows": 9},  # oneDNN convolutions only
    ],
)
def test_matches_eager_tiny(tiny_config, model_class, options):
    if model_class is SoundNetForAudioClassification:
        tiny_config.classifier_type = "pretrained_heads"
        tiny_config.num_labels = tiny_config.num_pretrained_labels
    model = model_class(tiny_config).eval()
    _randomize_batch_norm(model)
    fast = FastSoundNet.from_model(model, **options)
    input_values = torch.randn(3, 3001) * 100
    attention_mask = torch.ones(3, 3001, dtype=torch.long)
    attention_mask[1, 2000:] = 0
    attention_mask[2, 1313:] = 0
    for mask in (None, attention_mask):
        _check(fast(input_values, attention_mask=mask), *_eager(model, input_values, mask))
    masked = fast(input_values, attention_mask=attention_mask)
    assert torch.equal(masked.output_lengths, model.get_output_lengths(attention_mask.sum(-1))[-1])
    if fast.has_heads:
        assert masked.step_lengths.tolist() == model.get_head_lengths(attention_mask.sum(-1)).tolist()


def test_num_blocks_runs_a_partial_trunk(tiny_config):
    model = SoundNetForPreTraining(tiny_config).eval()
    fast = FastSoundNet.from_model(model)
    input_values = torch.randn(2, 2500) * 50
    outputs = fast(input_values, num_blocks=2)
    assert len(outputs.hidden_states) == 2 and outputs.object_logits is None
    eager_hidden, _, _ = _eager(model, input_values)
    _check(outputs, eager_hidden[:2], None, None)
    with pytest.raises(ValueError, match="num_blocks"):
        fast(input_values, num_blocks=4)


def test_linear_classifier_model_gives_the_trunk(tiny_config):
    model = SoundNetForAudioClassification(tiny_config).eval()
    fast = FastSoundNet.from_model(model)
    assert not fast.has_heads
    outputs = fast(torch.randn(2, 1500))
    assert len(outputs.hidden_states) == tiny_config.num_blocks
    assert outputs.object_logits is None and outputs.scene_logits is None


@pytest.mark.parametrize("dtype,tolerance", [(torch.bfloat16, 5e-2), (torch.float16, 1e-2)])
def test_mixed_precision_is_close_and_returns_float32(tiny_config, dtype, tolerance):
    model = SoundNetForPreTraining(tiny_config).eval()
    fast = FastSoundNet.from_model(model, compute_dtype=dtype)
    input_values = torch.randn(2, 4000) * 100
    outputs = fast(input_values)
    assert all(h.dtype == torch.float32 for h in outputs.hidden_states)
    assert outputs.object_logits.dtype == torch.float32
    _check(outputs, *_eager(model, input_values), tolerance=tolerance)


def test_errors(tiny_config):
    with pytest.raises(TypeError, match="SoundNet"):
        FastSoundNet.from_model(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="divide"):
        FastSoundNet.from_model(SoundNetModel(tiny_config), groups=[3, 1, 1])
    with pytest.raises(ValueError, match="choose 'gemm' or 'conv'"):
        FastSoundNet.from_model(SoundNetModel(tiny_config), methods=["gemm", "fft", "gemm"])
    fast = FastSoundNet.from_model(SoundNetForPreTraining(tiny_config).eval())
    with pytest.raises(ValueError, match="heads need more input"):
        fast(torch.randn(1, 40))
    with pytest.raises(ValueError, match="batch_size, num_samples"):
        fast(torch.randn(300))


def test_matches_eager_released_weights(released_checkpoint):
    model = SoundNetForAudioClassification.from_pretrained(released_checkpoint).eval()
    fast = FastSoundNet.from_model(model)
    generator = torch.Generator().manual_seed(0)
    input_values = torch.randn(2, 22050 * 12 + 321, generator=generator) * 60
    attention_mask = torch.ones_like(input_values, dtype=torch.long)
    attention_mask[1, 22050 * 10 + 5 :] = 0
    _check(fast(input_values, attention_mask=attention_mask), *_eager(model, input_values, attention_mask))
