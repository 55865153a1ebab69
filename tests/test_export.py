"""Exporting SoundNet: `torch.export` with a mask and a dynamic length, `torch.compile(fullgraph=True)`, ONNX.

The exported length is a multiple of `config.head_hop` (a dynamic number of hops): the pooling layers' floor
divisions then have one parity for every length, so no shape guard is left (an arbitrary length would leave
parity guards that only hold for the traced length's class). Any clip runs through it exactly by padding it to the
next multiple with an `attention_mask`: padded frames are masked, so each clip's output equals the clip run alone
(`test_padded_batch_equals_singles`). The reference below is eager on each clip alone, without padding or mask.

Tolerance: the programs run the same float32 convolutions in another order or kernel, so results differ by float32
rounding accumulated over a few thousand products (relative 1e-7 per operation): 1e-4 relative / 1e-5 absolute on
outputs of order 1 is two orders of magnitude above that and far below any real error (a wrong mask changes them at
the first decimal).
"""

import math

import pytest
import torch
from conftest import TINY_CONFIG

from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification, SoundNetForPreTraining, SoundNetModel


TINY = TINY_CONFIG  # the tiny architecture of conftest's `tiny_config`
RTOL, ATOL = 1e-4, 1e-5


def _model(kind: str):
    torch.manual_seed(0)
    if kind == "model":
        model = SoundNetModel(SoundNetConfig(**TINY))
    elif kind == "linear":
        model = SoundNetForAudioClassification(SoundNetConfig(**TINY, num_labels=3))
    else:
        model = SoundNetForAudioClassification(SoundNetConfig(**TINY, classifier_type="pretrained_heads"))
    for module in model.modules():  # non-trivial BN statistics, so unmasked padding would change the outputs
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    return model.eval()


def _padded_batch(lengths: list[int], hop: int, seed: int):
    """Clips of `lengths` samples, zero-padded together to a multiple of `hop`, with their mask."""
    generator = torch.Generator().manual_seed(seed)
    clips = [torch.randn(n, generator=generator) for n in lengths]
    total = hop * math.ceil(max(lengths) / hop)
    batch = torch.zeros(len(clips), total)
    mask = torch.zeros(len(clips), total, dtype=torch.long)
    for i, clip in enumerate(clips):
        batch[i, : len(clip)] = clip
        mask[i, : len(clip)] = 1
    return clips, batch, mask


def _first_output(outputs) -> torch.Tensor:
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs.logits


def _assert_matches_clips_alone(model, kind, outputs, clips):
    """`outputs` of the padded batch against eager on each clip alone."""
    with torch.no_grad():
        for i, clip in enumerate(clips):
            alone = model(clip[None], return_dict=True)
            if kind == "model":
                frames = alone.last_hidden_state.shape[-1]
                torch.testing.assert_close(outputs[i, :, :frames], alone.last_hidden_state[0], rtol=RTOL, atol=ATOL)
            else:
                torch.testing.assert_close(outputs[i], alone.logits[0], rtol=RTOL, atol=ATOL)


def _dynamic_shapes(hop: int):
    batch = torch.export.Dim("batch", min=1, max=256)
    num_samples = hop * torch.export.Dim("num_hops", min=1, max=1 << 16)
    return {"input_values": {0: batch, 1: num_samples}, "attention_mask": {0: batch, 1: num_samples}}


@pytest.mark.parametrize("kind", ["model", "linear", "pretrained_heads"])
def test_torch_export_with_mask_and_dynamic_length(kind):
    model = _model(kind)
    hop = model.config.head_hop
    _, example, example_mask = _padded_batch([20 * hop, 15 * hop + 7], hop, seed=0)
    program = torch.export.export(
        model,
        (example,),
        {"attention_mask": example_mask, "return_dict": False},
        dynamic_shapes={**_dynamic_shapes(hop), "return_dict": None},
        strict=False,
    )
    # Another batch size and length than traced; clips of any length, one of them odd.
    clips, batch, mask = _padded_batch([31 * hop + 5, 24 * hop + 1, 30 * hop], hop, seed=1)
    with torch.no_grad():
        outputs = program.module()(batch, attention_mask=mask, return_dict=False)
    _assert_matches_clips_alone(model, kind, outputs[0], clips)


@pytest.mark.parametrize("model_class", [SoundNetModel, SoundNetForPreTraining, SoundNetForAudioClassification])
def test_torch_compile_fullgraph_with_mask(model_class):
    torch.manual_seed(0)
    config = SoundNetConfig(**TINY, num_labels=3)
    model = model_class(config).eval()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    _, batch, mask = _padded_batch([2100, 1700], 64, seed=2)
    with torch.no_grad():
        expected = model(batch, attention_mask=mask, return_dict=False)
        actual = compiled(batch, attention_mask=mask, return_dict=False)
    for a, b in zip(actual, expected):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["linear", "pretrained_heads"])
def test_onnx_export_runs_in_onnxruntime_like_eager(kind, tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export needs the [export] extra")
    onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX export needs the [export] extra")
    model = _model(kind)
    hop = model.config.head_hop
    _, example, example_mask = _padded_batch([20 * hop, 15 * hop + 7], hop, seed=0)
    path = tmp_path / "soundnet.onnx"
    torch.onnx.export(
        model,
        (example,),
        str(path),
        kwargs={"attention_mask": example_mask, "return_dict": False},
        input_names=["input_values", "attention_mask"],
        output_names=["logits"],
        dynamic_shapes={**_dynamic_shapes(hop), "return_dict": None},
        dynamo=True,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    clips, batch, mask = _padded_batch([31 * hop + 5, 24 * hop + 1, 30 * hop], hop, seed=1)
    (logits,) = session.run(["logits"], {"input_values": batch.numpy(), "attention_mask": mask.numpy()})
    assert logits.shape == (3, model.config.num_labels)
    _assert_matches_clips_alone(model, kind, torch.from_numpy(logits), clips)
