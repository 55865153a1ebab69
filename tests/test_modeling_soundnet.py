import pytest
import torch
from torch.nn import functional as F

from hf_soundnet import (
    SoundNetConfig,
    SoundNetForAudioClassification,
    SoundNetForPreTraining,
    SoundNetModel,
)


def conv_len(n, k, s, p):
    return (n + 2 * p - k) // s + 1


@pytest.mark.parametrize("variant", ["soundnet8", "soundnet5"])
def test_block_shapes_match_output_lengths_and_channels(variant):
    config = SoundNetConfig.from_variant(variant)
    model = SoundNetModel(config).eval()
    num_samples = 22050 * 20
    with torch.no_grad():
        outputs = model(torch.randn(1, num_samples), output_hidden_states=True)
    lengths = model.get_output_lengths(num_samples)
    assert len(outputs.hidden_states) == config.num_blocks
    for hidden, length, channels in zip(outputs.hidden_states, lengths, config.conv_channels):
        assert hidden.shape == (1, channels, int(length))
    assert outputs.last_hidden_state is outputs.hidden_states[-1]


def test_soundnet8_lengths_by_hand():
    # Frame counts for 20 s written out with the floor formulas, independently of the model's length code.
    n, expected = 441000, []
    for k, p, pool in zip([64, 32, 16, 8, 4, 4, 4], [32, 16, 8, 4, 2, 2, 2], [8, 8, 1, 1, 4, 1, 1]):
        n = conv_len(n, k, 2, p) // pool
        expected.append(n)
    model = SoundNetForPreTraining(SoundNetConfig())
    assert [int(v) for v in model.get_output_lengths(441000)] == expected
    # The brief: 4 distributions per 20 s; conv8 needs at least 209,374 samples.
    assert int(model.get_head_lengths(441000)) == 4
    assert int(model.get_head_lengths(209374)) == 1 and int(model.get_head_lengths(209373)) == 0
    assert model._min_head_samples() == 209374


def test_pretraining_heads_shapes_both_variants():
    for variant in ("soundnet8", "soundnet5"):
        config = SoundNetConfig.from_variant(variant)
        model = SoundNetForPreTraining(config).eval()
        with torch.no_grad():
            out = model(torch.randn(2, 441000))
        steps = int(model.get_head_lengths(441000))
        assert out.object_logits.shape == (2, steps, 1000)
        assert out.scene_logits.shape == (2, steps, 401)
        assert out.loss is None


def test_too_short_input_for_heads_raises(tiny_config):
    model = SoundNetForPreTraining(tiny_config).eval()
    with pytest.raises(ValueError, match="need at least"):
        model(torch.randn(1, 64))


def _config_with(config: SoundNetConfig, **overrides) -> SoundNetConfig:
    """`config` with `overrides`; its labels are dropped so that a `pretrained_heads` config derives its own."""
    base = {k: v for k, v in config.to_dict().items() if k not in ("id2label", "label2id")}
    return SoundNetConfig(**{**base, **overrides})


@pytest.mark.parametrize(
    "model_class, config_overrides",
    [
        (SoundNetModel, {}),
        (SoundNetForPreTraining, {}),
        (SoundNetForAudioClassification, {"classifier_type": "linear", "num_labels": 3}),
        (SoundNetForAudioClassification, {"classifier_type": "pretrained_heads"}),
    ],
    ids=["model", "pretraining", "linear", "pretrained_heads"],
)
@pytest.mark.parametrize("via", ["argument", "config"])
def test_tuple_and_dict_outputs_are_equal(tiny_config, model_class, config_overrides, via):
    """`return_dict=False` (argument or `config.return_dict`) gives `to_tuple()` of the dict output, every class."""
    config = _config_with(tiny_config, **config_overrides)
    torch.manual_seed(0)
    model = model_class(config).eval()
    x = torch.randn(2, 4000)
    mask = torch.ones(2, 4000, dtype=torch.long)
    mask[1, 3000:] = 0
    with torch.no_grad():
        as_dict = model(x, attention_mask=mask, output_hidden_states=True, return_dict=True)
        if via == "config":
            model.config.return_dict = False
            as_tuple = model(x, attention_mask=mask, output_hidden_states=True)
        else:
            as_tuple = model(x, attention_mask=mask, output_hidden_states=True, return_dict=False)
    assert isinstance(as_tuple, tuple)
    expected = as_dict.to_tuple()
    assert len(as_tuple) == len(expected) >= 2
    for a, b in zip(as_tuple, expected):
        if isinstance(b, tuple):
            assert len(a) == len(b) == config.num_blocks
            for x_a, x_b in zip(a, b):
                torch.testing.assert_close(x_a, x_b, rtol=0, atol=0)
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("classifier_type", ["linear", "pretrained_heads"])
def test_clip_too_short_in_a_padded_batch_is_reported(tiny_config, classifier_type):
    """A clip with no valid frame at the pooled layer raises in eager mode instead of pooling zeros."""
    config = _config_with(tiny_config, classifier_type=classifier_type)
    model = SoundNetForAudioClassification(config).eval()
    x = torch.randn(2, 4000)
    mask = torch.ones(2, 4000, dtype=torch.long)
    mask[1, 1:] = 0  # 1 valid sample: conv1 gives 1 frame, its pool of 2 none
    with pytest.raises(ValueError, match="no valid frame"):
        model(x, attention_mask=mask)


def test_eval_is_deterministic(tiny_config):
    model = SoundNetModel(tiny_config).eval()
    x = torch.randn(3, 5000)
    with torch.no_grad():
        torch.testing.assert_close(model(x).last_hidden_state, model(x).last_hidden_state, rtol=0, atol=0)


@pytest.mark.parametrize("model_class", [SoundNetModel, SoundNetForPreTraining])
@pytest.mark.numeric
def test_padded_batch_equals_singles(tiny_config, model_class):
    # In float64: a test of masking, so the batched and single forwards must agree to float64 rounding (~1e-15
    # relative); float32 would add kernel-dependent rounding of ~1e-6 that says nothing about the masks.
    torch.manual_seed(1)
    model = model_class(tiny_config).eval().double()
    # Randomise BN statistics so that padding would leak through BN bias if frames were not masked.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    lengths = [5000, 3777, 2100]
    clips = [torch.randn(n, dtype=torch.float64) for n in lengths]
    batch = torch.zeros(3, max(lengths), dtype=torch.float64)
    mask = torch.zeros(3, max(lengths), dtype=torch.long)
    for i, clip in enumerate(clips):
        batch[i, : len(clip)] = clip
        mask[i, : len(clip)] = 1
    with torch.no_grad():
        batched = model(batch, attention_mask=mask, output_hidden_states=True)
        for i, clip in enumerate(clips):
            single = model(clip[None], output_hidden_states=True)
            for b_hidden, s_hidden in zip(batched.hidden_states, single.hidden_states):
                frames = s_hidden.shape[-1]
                torch.testing.assert_close(b_hidden[i, :, :frames], s_hidden[0], atol=1e-10, rtol=1e-10)
            if model_class is SoundNetForPreTraining:
                steps = single.object_logits.shape[1]
                assert int(batched.step_mask[i].sum()) == steps
                torch.testing.assert_close(
                    batched.object_logits[i, :steps], single.object_logits[0], atol=1e-10, rtol=1e-10
                )


def test_every_parameter_gets_a_gradient(tiny_config):
    model = SoundNetForPreTraining(tiny_config).train()
    out = model(
        torch.randn(2, 4000),
        teacher_object_probs=torch.softmax(torch.randn(2, 3, 5), -1),
        teacher_scene_probs=torch.softmax(torch.randn(2, 3, 3), -1),
    )
    out.loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"Some parameters are missing gradients: {missing}"


@pytest.mark.numeric
def test_distillation_loss_matches_hand_computed_kl(tiny_config):
    torch.manual_seed(0)
    model = SoundNetForPreTraining(tiny_config).eval()
    x = torch.randn(2, 4000)
    with torch.no_grad():
        plain = model(x)
    steps = plain.object_logits.shape[1]
    teacher_obj = torch.softmax(torch.randn(2, steps, 5), -1)
    teacher_scene = torch.softmax(torch.randn(2, steps, 3), -1)
    with torch.no_grad():
        out = model(x, teacher_object_probs=teacher_obj, teacher_scene_probs=teacher_scene)

    def kl(teacher, logits):  # explicit double loop over batch and steps
        total = 0.0
        for b in range(teacher.shape[0]):
            for t in range(teacher.shape[1]):
                p = teacher[b, t].double()
                q = torch.softmax(logits[b, t].double(), -1)
                total += float((p * (p.log() - q.log())).sum())
        return total / (teacher.shape[0] * teacher.shape[1])

    expected_obj = kl(teacher_obj, plain.object_logits)
    expected_scene = kl(teacher_scene, plain.scene_logits)
    # float32 loss against a float64 KL of the same float32 logits: log-softmax and a mean of <= 1,000 terms of
    # magnitude ~1 in float32 give a relative error of a few 2^-24 per term, well below 1e-5 on any kernel.
    assert out.object_loss.item() == pytest.approx(expected_obj, rel=1e-5)
    assert out.scene_loss.item() == pytest.approx(expected_scene, rel=1e-5)
    assert out.loss.item() == pytest.approx(250 * (expected_obj + expected_scene) / 2, rel=1e-5)


@pytest.mark.numeric
def test_linear_classifier_pools_the_chosen_layer_with_mask(tiny_config):
    config = SoundNetConfig(**{**tiny_config.to_dict(), "classifier_layer": "pool1", "num_labels": 4})
    model = SoundNetForAudioClassification(config).eval().double()  # float64: a test of the pooling, not of rounding
    trunk = model.soundnet
    x = torch.randn(2, 3000, dtype=torch.float64)
    mask = torch.ones(2, 3000, dtype=torch.long)
    mask[1, 2000:] = 0
    with torch.no_grad():
        logits = model(x, attention_mask=mask).logits
        # Independent pooling: run each clip alone, take block 0, average its frames, apply the linear layer.
        for i, n in enumerate([3000, 2000]):
            pool1 = trunk(x[i : i + 1, :n], output_hidden_states=True).hidden_states[0]
            expected = model.classifier(pool1.mean(-1))
            torch.testing.assert_close(logits[i], expected[0], atol=1e-10, rtol=1e-10)
    labels = torch.tensor([0, 3])
    loss = model(x, labels=labels).loss
    torch.testing.assert_close(loss, F.cross_entropy(model(x).logits, labels))


@pytest.mark.numeric
def test_pretrained_heads_view_returns_mean_step_probabilities(tiny_config):
    config = SoundNetConfig(
        **{
            **tiny_config.to_dict(),
            "classifier_type": "pretrained_heads",
            "num_labels": 8,
            "problem_type": "multi_label_classification",
        }
    )
    model = SoundNetForAudioClassification(config).eval().double()  # float64: a test of the view, not of rounding
    pretraining = SoundNetForPreTraining(config).eval().double()
    pretraining.load_state_dict(model.state_dict())
    x = torch.randn(1, 6000, dtype=torch.float64)
    with torch.no_grad():
        probs = model(x).logits.sigmoid()[0]
        heads = pretraining(x)
    expected = torch.cat([heads.object_logits.softmax(-1).mean(1)[0], heads.scene_logits.softmax(-1).mean(1)[0]])
    torch.testing.assert_close(probs, expected, atol=1e-12, rtol=1e-10)
    assert probs[:5].sum().item() == pytest.approx(1.0, abs=1e-12)
    assert probs[5:].sum().item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.numeric
def test_distillation_aligns_student_steps_to_teacher_step_centres():
    """S=8 student steps against T=4 teacher steps: teacher step t matches student step 2t+1 (its centre);
    a clip with 4 valid student steps and 2 valid teacher steps matches 1 and 3, and padded steps are ignored."""
    from hf_soundnet.losses import distillation_loss

    torch.manual_seed(0)
    student = torch.randn(2, 8, 5)
    teacher = torch.softmax(torch.randn(2, 4, 5), dim=-1)
    student_mask = torch.tensor([[True] * 8, [True] * 4 + [False] * 4])
    teacher_mask = torch.tensor([[True] * 4, [True] * 2 + [False] * 2])

    def kl(p, logits):
        q = torch.softmax(logits, dim=-1)
        return float((p * (p / q).log()).sum())

    pairs = [(0, t, 2 * t + 1) for t in range(4)] + [(1, 0, 1), (1, 1, 3)]
    expected = sum(kl(teacher[b, t], student[b, s]) for b, t, s in pairs) / len(pairs)
    got = distillation_loss(student, teacher, student_mask, teacher_mask)
    assert got.item() == pytest.approx(expected, rel=1e-5)
