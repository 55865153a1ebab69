"""The one model forward of batched inference, and the engine that runs it.

Every model call of the `soundnet` CLI and of the linear probe goes through [`forward_batch`], which runs either the
transformers model or the equivalent [`FastSoundNet`] that [`inference_engine`] builds from it, over the padded
batches of `hf_soundnet.audio.batches`.
"""

import os
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..audio.batches import AudioBatch
from ..fast_forward_soundnet import FastSoundNet, SoundNetIntermediatesOutput


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def inference_engine(model: torch.nn.Module, fast: bool = True, precision: str = "fp32") -> torch.nn.Module:
    """
    What [`forward_batch`] runs: the model itself as the eager stack (`fast=False`, fp32 only), a [`FastSoundNet`]
    given as `model` (as `hf_soundnet.inference.light_loading` builds it, in `precision`) as it is, or a [`FastSoundNet`]
    built from its weights (BN folded, GEMM first convolutions; equal to the eager model to 1e-4 in fp32), in
    `precision` (`"fp32"`, `"bf16"` or `"fp16"`; the reduced ones agree to about 1e-2 and 2e-3 and pay off mostly on
    GPUs).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}.")
    if isinstance(model, FastSoundNet):  # built by `light_loading` for these options: run as it is
        if not fast or model.compute_dtype != PRECISIONS[precision]:
            raise ValueError(
                f"This FastSoundNet computes in {model.compute_dtype}; the eager stack or another precision needs "
                "the transformers model (load_model_and_extractor)."
            )
        return model
    if not fast:
        if precision != "fp32":
            raise ValueError("Reduced precision needs the fast forward (drop fast=False / --eager).")
        return model
    return FastSoundNet.from_model(model, compute_dtype=PRECISIONS[precision]).eval()


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a SoundNet model's parameters, or a [`FastSoundNet`]'s weight buffers, live."""
    return next(iter(model.buffers() if isinstance(model, FastSoundNet) else model.parameters())).device


@torch.inference_mode()
def forward_batch(
    model: torch.nn.Module,
    input_values: torch.Tensor,
    attention_mask: torch.Tensor | None,
    num_blocks: int | None = None,
) -> SoundNetIntermediatesOutput:
    """
    The model forward of batched inference: `forward_intermediates` of the transformers model or of its
    [`FastSoundNet`], the same call and output for both.

    Args:
        model: a SoundNet model in eval mode (`SoundNetModel`, `SoundNetForPreTraining` or
            `SoundNetForAudioClassification`), or the [`FastSoundNet`] that [`inference_engine`] built from one; the
            conv8 heads run when it has them and all blocks run.
        input_values: `torch.FloatTensor` of shape `(batch_size, num_samples)`, scaled waveforms.
        attention_mask: `torch.LongTensor` of shape `(batch_size, num_samples)`, or None for an unpadded batch.
        num_blocks: run only the first `num_blocks` blocks (and no heads).

    Returns:
        [`SoundNetIntermediatesOutput`]: every block's output and the per-step head logits, with their valid lengths.
    """
    device = model_device(model)
    input_values = input_values.to(device)
    attention_mask = attention_mask.to(device) if attention_mask is not None else None
    partial = num_blocks is not None and num_blocks < model.config.num_blocks
    # The transformers model as the engine means the eager stack (`--eager`), not its own fast path.
    eager = nullcontext() if isinstance(model, FastSoundNet) else model.forward_implementation("eager")
    with eager:
        return model.forward_intermediates(
            input_values,
            attention_mask=attention_mask,
            indices=[num_blocks - 1] if partial else None,
            stop_early=partial,
        )


def run_batches(
    model: torch.nn.Module,
    loader: DataLoader,
    *,
    num_blocks: int | None = None,
    fast: bool = True,
    precision: str = "fp32",
    engine: torch.nn.Module | None = None,
) -> Iterator[tuple[AudioBatch, SoundNetIntermediatesOutput | None]]:
    """
    Yields each loader batch with its [`forward_batch`] output (None when every item of the batch failed), run by
    `engine` when given (an engine already built from `model`), else by [`inference_engine`]`(model, fast, precision)`.
    """
    batches = iter(loader)  # worker processes start decoding while the engine is built
    if engine is None:
        engine = inference_engine(model, fast=fast, precision=precision)
    for batch in batches:
        output = None
        if batch.items:
            mask = batch.attention_mask if batch.is_padded else None  # an unpadded batch needs no mask
            output = forward_batch(engine, batch.input_values, mask, num_blocks=num_blocks)
        yield batch, output


def load_model_and_extractor(name_or_path: str | os.PathLike, device: str = "cpu") -> tuple[Any, Any]:
    """
    Loads a SoundNet checkpoint (a directory or a Hub id) for inference through transformers' Auto classes.

    Returns:
        `(model, feature_extractor)`, the model in eval mode on `device`.
    """
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from .. import register

    register()  # deferred in the `soundnet` command (hf_soundnet.__init__); the Auto classes need it
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path).count("/") != 1:
        raise FileNotFoundError(
            f"{name_or_path}: no such checkpoint directory. Convert the released weights with "
            "`soundnet convert --output-dir soundnet8`, or pass a Hub id."
        )
    model = AutoModelForAudioClassification.from_pretrained(str(name_or_path)).eval().to(device)
    extractor = AutoFeatureExtractor.from_pretrained(str(name_or_path))
    return model, extractor


__all__ = [
    "PRECISIONS",
    "forward_batch",
    "inference_engine",
    "load_model_and_extractor",
    "model_device",
    "run_batches",
]
