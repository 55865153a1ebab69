"""The public seams that inference uses instead of private model parts: the config's layer table and its one resolver,
`forward_intermediates` / `forward_head` on every SoundNet model, and the same call and output on `FastSoundNet`.

Lengths are checked against each clip run alone (the frames its own forward has), not against the formulas that
compute them; values against the models' own `forward` (a separate code path) and against `FastSoundNet`.
"""

import pytest
import torch

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification, SoundNetForPreTraining, SoundNetModel
from hf_soundnet.fast_forward_soundnet import FastSoundNet


def test_layer_table_rows_follow_the_config_lists():
    config = SoundNetConfig()
    table = config.layer_table
    assert [layer.name for layer in table] == [f"conv{i}" for i in range(1, 9)]
    assert [layer.kernel_size for layer in table] == [64, 32, 16, 8, 4, 4, 4, 8]
    assert [layer.padding for layer in table] == [32, 16, 8, 4, 2, 2, 2, 0]
    assert [layer.pool for layer in table] == [8, 8, 1, 1, 4, 1, 1, 1]
    assert [layer.in_channels for layer in table] == [1, 16, 32, 64, 128, 256, 512, 1024]
    assert table[-1].is_head and table[-1].channels == 1401 and table[-1].num_blocks == 7
    assert [layer.aliases for layer in table if layer.aliases] == [("pool1",), ("pool2",), ("pool5",)]


def test_get_layer_is_the_one_resolver():
    config = SoundNetConfig()
    pool5 = config.get_layer("pool5")
    assert (pool5.name, pool5.index, pool5.num_blocks, pool5.channels) == ("pool5", 4, 5, 256)
    assert config.get_layer(7).is_head and config.get_layer("conv8").name == "conv8"
    with pytest.raises(ValueError, match=r"Unknown layer 'pool3'; choose one of \['conv1', 'pool1'"):
        config.get_layer("pool3")
    with pytest.raises(ValueError, match="needs the released object/scene heads"):
        config.get_layer("conv8", heads_available=False)
    assert config.layers_to_run(["pool2"], stop_early=True) == (2, False)
    assert config.layers_to_run(["pool2", "conv8"], stop_early=True) == (7, True)
    assert config.layers_to_run(None, heads_available=False) == (7, False)


def _padded_batch(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(1)
    clips = [torch.randn(n) * 100 for n in lengths]
    width = max(lengths)
    values = torch.stack([torch.nn.functional.pad(c, (0, width - c.shape[0])) for c in clips])
    mask = (torch.arange(width)[None] < torch.tensor(lengths)[:, None]).long()
    return values, mask, clips


@pytest.mark.numeric
@pytest.mark.parametrize("model_class", [SoundNetModel, SoundNetForPreTraining])
def test_forward_intermediates_lengths_are_each_clips_own_frames(tiny_config, model_class):
    model = model_class(tiny_config).double().eval()
    values, mask, clips = _padded_batch([3000, 2100, 1500])
    with torch.no_grad():
        batch = model.forward_intermediates(values.double(), attention_mask=mask)
        for row, clip in enumerate(clips):
            alone = model.forward_intermediates(clip[None].double())
            for block, hidden in enumerate(alone.hidden_states):
                frames = hidden.shape[-1]
                assert int(batch.hidden_state_lengths[block][row]) == frames
                torch.testing.assert_close(
                    batch.hidden_states[block][row, :, :frames], hidden[0], rtol=1e-10, atol=1e-10
                )
            if model.has_heads:
                steps = alone.object_logits.shape[1]
                assert int(batch.step_lengths[row]) == steps
                torch.testing.assert_close(
                    batch.object_logits[row, :steps], alone.object_logits[0], rtol=1e-10, atol=1e-10
                )
    assert torch.equal(batch.output_lengths, batch.hidden_state_lengths[-1])


@pytest.mark.numeric
def test_forward_intermediates_equal_forward_and_stop_early(tiny_config):
    model = SoundNetForPreTraining(tiny_config).double().eval()
    values = torch.randn(2, 2500, dtype=torch.float64) * 100
    with torch.no_grad():
        full = model(values, output_hidden_states=True)
        outputs = model.forward_intermediates(values)
        partial = model.forward_intermediates(values, indices=["pool1"], stop_early=True)
    for got, expected in zip(outputs.hidden_states, full.hidden_states):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(outputs.object_logits, full.object_logits, rtol=0, atol=0)
    torch.testing.assert_close(outputs.scene_logits, full.scene_logits, rtol=0, atol=0)
    assert len(partial.hidden_states) == 1 and partial.object_logits is None
    torch.testing.assert_close(partial.hidden_states[0], full.hidden_states[0], rtol=0, atol=0)


def test_heads_are_a_property_and_forward_head_needs_them(tiny_config):
    classifier = SoundNetForAudioClassification(tiny_config)
    assert not classifier.has_heads and SoundNetForPreTraining(tiny_config).has_heads
    assert classifier.base_model is classifier.soundnet
    with pytest.raises(ValueError, match="no conv8 heads"):
        classifier.forward_head(torch.randn(1, tiny_config.conv_channels[-1], 20))
    with pytest.raises(ValueError, match="needs the released object/scene heads"):
        classifier.forward_intermediates(torch.randn(1, 3000), indices=["conv8"])


@pytest.mark.numeric
def test_fast_forward_intermediates_match_the_eager_model(tiny_config):
    model = SoundNetForPreTraining(tiny_config).eval()
    for module in model.modules():  # non-trivial BN statistics, so folding them is exercised
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    fast = FastSoundNet.from_model(model).eval()
    values, mask, _ = _padded_batch([3000, 2100, 1500])
    with torch.no_grad():
        eager = model.forward_intermediates(values, attention_mask=mask)
    got = fast.forward_intermediates(values, attention_mask=mask)
    for a, b, la, lb in zip(
        got.hidden_states, eager.hidden_states, got.hidden_state_lengths, eager.hidden_state_lengths
    ):
        assert torch.equal(la, lb)
        # float32 sums of at most C*k = 32 terms per layer: 1e-4 of the layer's scale covers any kernel's order.
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4 * float(b.abs().max()))
    assert torch.equal(got.step_lengths, eager.step_lengths)
    torch.testing.assert_close(
        got.object_logits, eager.object_logits, rtol=0, atol=1e-4 * float(eager.object_logits.abs().max())
    )
    partial = fast.forward_intermediates(values, indices=["conv2"], stop_early=True)
    assert len(partial.hidden_states) == 2 and partial.object_logits is None
