"""Inference-only SoundNet forward: the same numbers as the eager model, several times faster on CPU.

[`FastSoundNet.from_model`] takes the weights of any SoundNet model and rewrites each block
`Conv1d -> BatchNorm1d -> ReLU -> MaxPool1d(m)` as:

1. **BN folded** into the convolution (`w * gamma / sqrt(var + eps)`, bias likewise), in float64 before the cast.
2. **Time-major layout** `(batch, frames, channels)`: the im2col window of a convolution is then one contiguous run of
   `span * channels` values, so the "unfold" is an `as_strided` view and the convolution a single GEMM.
3. **Polyphase pooled GEMM**: the `m` conv frames under one pooling window are computed by ONE row of a GEMM whose
   weight matrix holds the kernel at `m` shifted offsets (a block-Toeplitz matrix of `span = (m - 1) * stride + k`
   rows per channel), so conv1 (k=64, stride 2, pool 8, one channel) becomes `(frames, 80) @ (80, 8 * 16)` (78 taps
   rounded up to 80, see `FastBlockSpec.span`), a GEMM a BLAS runs at near peak, instead of a one-channel convolution
   that oneDNN runs at a fraction of it. conv2 computes 2 conv frames per row (`default_group`).
4. **Max-pool before bias and ReLU**: max commutes with adding a per-channel constant and with ReLU (both monotone),
   so the bias and ReLU touch `m` times fewer values.
5. **Cache-sized tiles**: rows are processed in tiles of `tile_rows` so that the `m`-times larger pre-pool GEMM output
   stays in cache and is reduced by the max before it would be written to memory.
6. From 32 input channels on (conv3..conv7), oneDNN convolutions on channels-first tensors (`default_method`); the
   heads are one GEMM.

Hand-written because no library does this: oneDNN has no fused conv+maxpool for 1-D convolutions and
`torch.compile` (inductor, CPU) keeps conv1 a one-channel strided convolution, and a CLI would pay its compilation on
every run (README, "Benchmarks", compares the three).

Outputs ([`SoundNetIntermediatesOutput`], the type of the models' `forward_intermediates`, lengths included) match
[`SoundNetModel`] with `output_hidden_states=True`, including `attention_mask` semantics (input and
every block's frames past each clip's valid length are zeroed), and the conv8 heads match
`SoundNetForPreTraining`'s `object_logits`/`scene_logits`, within 1e-4 relative to each layer's scale
(`tests/test_fast_forward.py`).
"""

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers.utils import ModelOutput

from .configuration_soundnet import SoundNetConfig, SoundNetLayerInfo


# ------------------------------------------------------------------------------------- the forward_intermediates contract
# The output type, the mixin and the length arithmetic that the transformers models (`modeling_soundnet`, which
# imports them from here) and `FastSoundNet` share. They live in this module, not in `modeling_soundnet`, so that the
# fast forward needs only torch and the config: `soundnet classify` builds it without importing
# `transformers.modeling_utils` (about 0.7 s of its start-up; `hf_soundnet.inference.light_loading`).


@dataclass
class SoundNetIntermediatesOutput(ModelOutput):
    """
    What [`SoundNetPreTrainedModel.forward_intermediates`] and `FastSoundNet` return: every block's output with its
    valid lengths, and the conv8 logits with theirs.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, frames)`):
            Output of the last block that ran.
        hidden_states (`tuple(torch.FloatTensor)`):
            Every block that ran, in order, each `(batch_size, channels_i, frames_i)`, indexed as
            `SoundNetModelOutput.hidden_states` (so a layer's `SoundNetLayerInfo.index` picks it).
        output_lengths (`torch.LongTensor` of shape `(batch_size,)`):
            Valid frames of `last_hidden_state` per clip.
        hidden_state_lengths (`tuple(torch.LongTensor)`):
            Valid frames per clip of each of `hidden_states`, each of shape `(batch_size,)`.
        object_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_object_classes)`, *optional*):
            conv8 object logits, when the heads were asked for and the model has them.
        scene_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_scene_classes)`, *optional*):
            conv8_2 scene logits, likewise.
        step_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Valid conv8 steps per clip, with the logits.
    """

    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    output_lengths: torch.LongTensor | None = None
    hidden_state_lengths: tuple[torch.LongTensor, ...] | None = None
    object_logits: torch.FloatTensor | None = None
    scene_logits: torch.FloatTensor | None = None
    step_lengths: torch.LongTensor | None = None


def block_output_lengths(config: SoundNetConfig, input_lengths: torch.Tensor | int) -> list[torch.Tensor]:
    """
    Valid frames of every block's output (after its pool) for clips of `input_lengths` samples, from the config's
    layer table.

    Args:
        input_lengths (`torch.LongTensor` of shape `(batch_size,)` or `int`): samples per clip.

    Returns:
        `list[torch.LongTensor]`: one tensor of shape `(batch_size,)` per block, in order.
    """
    lengths = torch.as_tensor(input_lengths, dtype=torch.long)
    per_block = []
    for layer in config.layer_table[:-1]:
        lengths = layer.output_length(lengths)
        per_block.append(lengths)
    return per_block


class SoundNetIntermediatesMixin:
    """
    `forward_intermediates` of every SoundNet forward (the transformers models and `FastSoundNet`): the wanted layers
    are resolved once on `self.config`'s layer table, then `self._intermediates` computes them.
    """

    def forward_intermediates(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        indices: Sequence[str | int] | None = None,
        stop_early: bool = False,
    ) -> SoundNetIntermediatesOutput:
        r"""
        The outputs of named layers with their valid lengths, in the spirit of timm's `forward_intermediates`: what
        feature extraction and batched inference need from one forward, without calling private parts.

        Args:
            input_values (`torch.FloatTensor` of shape `(batch_size, num_samples)`):
                Scaled waveform, see [`SoundNetModel.forward`].
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_samples)`, *optional*):
                1 for real samples, 0 for padding at the end.
            indices (`Sequence[str | int]`, *optional*):
                Layers wanted, by name (`conv3`, `pool5`, `conv8` for the heads) or row of `config.layer_table`; all
                blocks, and the heads when the model has them, by default.
            stop_early (`bool`, *optional*, defaults to `False`):
                Run only as far as the deepest wanted layer.

        Returns:
            [`SoundNetIntermediatesOutput`]: every block that ran, the lengths, and the conv8 logits when `conv8` is
            wanted (or `indices` is None and the model has heads).
        """
        num_blocks, heads = self.config.layers_to_run(indices, stop_early=stop_early, heads_available=self.has_heads)
        return self._intermediates(input_values, attention_mask, num_blocks=num_blocks, heads=heads)


# Bytes of one tile's GEMM input and output on CPU (rows x (K + N) floats): 4,096 rows of conv1 (80 inputs, 8 x 16
# outputs), small enough that the pre-pool output stays in a core's L2 cache before the max reduces it (README,
# "Benchmarks", has the tile sizes compared).
DEFAULT_TILE_BYTES = 4096 * (80 + 128) * 4


@dataclass(frozen=True)
class FastBlockSpec:
    """
    How the fast path computes one row of the config's layer table (see the module docstring).

    Args:
        layer: the row ([`SoundNetLayerInfo`]).
        group: conv frames computed per GEMM row (divides the pool): the pool = polyphase, 1 = plain im2col.
        method: `"gemm"` (time-major tiled GEMM) or `"conv"` (oneDNN convolution, channels first).
    """

    layer: SoundNetLayerInfo
    group: int
    method: str = "gemm"

    @property
    def span(self) -> int:
        """
        Input frames one GEMM row reads: `(group - 1) * stride + kernel`, rounded up (by at most 15 frames of zero
        weights) so that a row holds a multiple of 16 floats, which PyTorch copies as strided windows far faster than
        an odd width.
        """
        layer = self.layer
        span = (self.group - 1) * layer.stride + layer.kernel_size
        for extra in range(16):
            if (span + extra) * layer.in_channels % 16 == 0:
                return span + extra
        return span

    @property
    def right_padding(self) -> int:
        """Zero frames after the input: the convolution's padding plus the frames added by `span`'s rounding."""
        layer = self.layer
        return layer.padding + self.span - ((self.group - 1) * layer.stride + layer.kernel_size)


def _max_pool_rows(products: torch.Tensor, out: torch.Tensor) -> None:
    """
    `out = products.amax(1)` for `products` `(frames, pool, channels)` and `out` `(frames, channels)`, written as a
    chain of elementwise maxima, which read each row once in order: several times faster than `amax` over the middle
    dimension.
    """
    pool = products.shape[1]
    if pool == 1:
        out.copy_(products[:, 0])
        return
    torch.maximum(products[:, 0], products[:, 1], out=out)
    for j in range(2, pool):
        torch.maximum(out, products[:, j], out=out)


def run_tiles(run: Callable[[tuple[int, int, int]], None], jobs: list[tuple[int, int, int]]) -> None:
    """
    Runs the independent tile `jobs` of a block on torch's intra-op thread count, each tile single-threaded, in a
    pool of Python threads (torch releases the GIL inside its kernels).

    Why not torch's own threads on each tile: a tile is a few small operations, and each one parallelised over the
    cores ends in a barrier where every core waits for the slowest. When another process holds a core, every barrier
    waits for the operating system to give it back, and the fast path became several times slower than the eager
    one (README, "Benchmarks"). Independent tiles need no barrier: a thread that is descheduled delays only its own
    tile while the others take the remaining ones.
    """
    intra_op = torch.get_num_threads()
    threads = min(intra_op, len(jobs))
    if threads <= 1:
        for job in jobs:
            run(job)
        return
    # Grad and inference modes are per thread: the pool's threads take the caller's.
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def run_in_callers_mode(job: tuple[int, int, int]) -> None:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            run(job)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(run_in_callers_mode, jobs):
                pass
    finally:
        torch.set_num_threads(intra_op)


def default_group(in_channels: int, pool: int) -> int:
    """
    Conv frames per GEMM row. Polyphase (`group = pool`) pays off when the input is narrow (conv1: one channel, the
    Toeplitz zeros cost 22% extra FLOPs but turn a memory-bound convolution into a GEMM); for wider inputs two frames
    per row (when the pool is even) widen the GEMM and halve the im2col copy for 6% extra FLOPs, the fastest of one,
    two and eight frames per row on conv2.
    """
    if in_channels == 1:
        return pool
    return 2 if pool % 2 == 0 else 1


def default_method(in_channels: int) -> str:
    """
    How a block is computed. The tiled GEMM wins where the input is narrow (conv1, conv2: 1 and 16 channels, most of
    the FLOPs); from 32 input channels on, oneDNN's convolution on channels-first input needs no im2col copy and is
    faster.
    """
    return "gemm" if in_channels < 32 else "conv"


def block_weight_matrix(weight: torch.Tensor, spec: FastBlockSpec) -> torch.Tensor:
    """
    The GEMM weight of a block for time-major input.

    Args:
        weight: folded convolution weight of shape `(out_channels, in_channels, kernel)`.

    Returns:
        `(span * in_channels, group * out_channels)`: row `pos * in_channels + c`, column `j * out_channels + o`
        holds `weight[o, c, pos - j * stride]` (zero outside the kernel), so one row computes `group` conv frames.
    """
    out_c, in_c, kernel = weight.shape
    matrix = weight.new_zeros(spec.span, in_c, spec.group, out_c)
    taps = weight.permute(2, 1, 0)  # (kernel, in_channels, out_channels)
    for j in range(spec.group):
        matrix[j * spec.layer.stride : j * spec.layer.stride + kernel, :, j, :] = taps
    return matrix.reshape(spec.span * in_c, spec.group * out_c)


# The tensors of one block in a SoundNet state dict, in the order [`fold_batch_norm_tensors`] takes them.
BLOCK_TENSORS = ("conv.weight", "conv.bias", "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var")
HEAD_TENSORS = ("object_head.weight", "object_head.bias", "scene_head.weight", "scene_head.bias")


def head_tensors(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The conv8 heads' tensors of a model's `state_dict` (`HEAD_TENSORS`)."""
    return {name: state_dict[name] for name in HEAD_TENSORS}


def fold_batch_norm(conv: nn.Conv1d, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN folded into the convolution, computed in float64: returns weight `(O, C, k)` and bias `(O,)`."""
    return fold_batch_norm_tensors(
        conv.weight, conv.bias, norm.weight, norm.bias, norm.running_mean, norm.running_var, norm.eps
    )


def fold_batch_norm_tensors(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[`fold_batch_norm`] on the tensors of a block's state dict: conv `weight` `(O, C, k)` and `bias` `(O,)` (or
    None), BN `gamma`, `beta`, `running_mean`, `running_var` `(O,)`; float64 weight `(O, C, k)` and bias `(O,)`."""
    scale = gamma.double() / torch.sqrt(running_var.double() + eps)
    folded = weight.double() * scale[:, None, None]
    shift = bias.double() if bias is not None else torch.zeros_like(scale)
    return folded, (shift - running_mean.double()) * scale + beta.double()


class FastHeads(nn.Module):
    """
    The conv8 object and scene heads as one GEMM over time-major windows of the last block's output (oneDNN's
    convolution is slower on these few wide frames).

    Args:
        config: the model's [`SoundNetConfig`] (its layer table's last row is the heads').
        weight: `(head_kernel * channels, num_object_classes + num_scene_classes)`: both heads' kernels, objects first.
        bias: `(num_object_classes + num_scene_classes,)`.
        compute_dtype: dtype of the GEMM (logits are returned in float32).
    """

    def __init__(
        self,
        config: SoundNetConfig,
        weight: torch.Tensor,
        bias: torch.Tensor,
        compute_dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.config = config
        self.register_buffer("weight", weight.to(compute_dtype).contiguous())
        self.register_buffer("bias", bias.to(compute_dtype).contiguous())

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: nn.Module, compute_dtype: torch.dtype = torch.float32) -> "FastHeads":
        """The heads of a SoundNet model that has them (`model.has_heads`), on the model's device."""
        heads = cls.from_state_dict(model.config, head_tensors(model.state_dict()), compute_dtype=compute_dtype)
        return heads.to(model.object_head.weight.device)

    @classmethod
    @torch.no_grad()
    def from_state_dict(
        cls, config: SoundNetConfig, state_dict: Mapping[str, torch.Tensor], compute_dtype: torch.dtype = torch.float32
    ) -> "FastHeads":
        """The heads from `object_head.weight` `(objects, C, k)`, `object_head.bias`, `scene_head.weight` and
        `scene_head.bias` of `state_dict` (the names of the models' state dicts), on their device."""
        weight = torch.cat([state_dict["object_head.weight"], state_dict["scene_head.weight"]]).float()
        bias = torch.cat([state_dict["object_head.bias"], state_dict["scene_head.bias"]]).float()
        matrix = weight.permute(2, 1, 0).reshape(-1, weight.shape[0])  # (kernel * C, classes)
        return cls(config, matrix, bias, compute_dtype=compute_dtype)

    @torch.no_grad()
    def forward(self, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """conv8 on channels-first `last` `(batch, channels, frames)` -> object and scene logits `(batch, steps, n)`."""
        config = self.config
        head = config.layer_table[-1]
        kernel, stride, padding = head.kernel_size, head.stride, head.padding
        batch, channels, length = last.shape
        steps = head.output_length(length)
        if steps < 1:
            raise ValueError(
                f"The conv8 heads need more input: the last block has {length} frames, the heads' kernel "
                f"{kernel}. SoundNetFeatureExtractor repeats short clips to 10 s as the original did."
            )
        padded = F.pad(last.to(self.weight.dtype).transpose(1, 2), (0, 0, padding, padding)).contiguous()
        windows = padded.as_strided((batch, steps, kernel * channels), (padded.stride(0), stride * channels, 1))
        logits = torch.addmm(self.bias, windows.reshape(batch * steps, -1), self.weight).float().view(batch, steps, -1)
        return logits[..., : config.num_object_classes], logits[..., config.num_object_classes :]


class FastSoundNet(SoundNetIntermediatesMixin, nn.Module):
    """
    Inference-only SoundNet trunk (and conv8 heads) built from a trained model's weights; see the module docstring.

    Args:
        config: the model's [`SoundNetConfig`].
        blocks: per block, `(spec, weight_matrix, bias)` as built by [`FastSoundNet.from_model`].
        head: `(weight_matrix (head_kernel * channels, objects + scenes), bias)` of both heads, or None.
        compute_dtype: dtype of the GEMMs and intermediate tensors (`torch.float32`; `torch.bfloat16` or
            `torch.float16` for mixed precision, outputs are returned in float32).
        tile_rows: GEMM rows per tile (None: `DEFAULT_TILE_BYTES` worth on CPU, untiled on accelerators).
    """

    def __init__(
        self,
        config: SoundNetConfig,
        blocks: list[tuple[FastBlockSpec, torch.Tensor, torch.Tensor]],
        heads: FastHeads | None = None,
        compute_dtype: torch.dtype = torch.float32,
        tile_rows: int | None = None,
    ):
        super().__init__()
        self.config = config
        self.specs = [spec for spec, _, _ in blocks]
        self.compute_dtype = compute_dtype
        self.tile_rows = tile_rows
        for i, (_, matrix, bias) in enumerate(blocks):
            self.register_buffer(f"weight_{i}", matrix.to(compute_dtype).contiguous())
            self.register_buffer(f"bias_{i}", bias.to(compute_dtype).contiguous())
        self.heads = heads
        self.has_heads = heads is not None

    @classmethod
    @torch.no_grad()
    def from_model(
        cls,
        model: nn.Module,
        compute_dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        tile_rows: int | None = None,
        groups: list[int] | None = None,
        methods: list[str] | None = None,
    ) -> "FastSoundNet":
        """
        Builds the fast module from `SoundNetModel`, `SoundNetForPreTraining` or `SoundNetForAudioClassification`
        (the conv8 heads are kept when the model has them, i.e. pre-training or `classifier_type="pretrained_heads"`).

        Args:
            model: a SoundNet model; its BN running statistics are used (as in eval mode), the model is not changed.
            compute_dtype: `torch.float32`, or `torch.bfloat16`/`torch.float16` for mixed precision.
            device: where the weights live (defaults to the model's device).
            tile_rows: GEMM rows per tile, see the class docstring.
            groups: conv frames per GEMM row for each block (defaults to `default_group`); each must divide the pool.
            methods: `"gemm"` or `"conv"` for each block (defaults to `default_method`).
        """
        from .modeling_soundnet import SoundNetModel  # here: building from a state dict needs no transformers model

        if not isinstance(getattr(model, "base_model", None), SoundNetModel):
            raise TypeError(f"Expected a SoundNet model, got {type(model).__name__}.")
        trunk = model.base_model
        device = torch.device(device) if device is not None else next(trunk.parameters()).device
        return cls.from_state_dict(
            trunk.config,
            trunk.state_dict(),
            heads=head_tensors(model.state_dict()) if model.has_heads else None,
            compute_dtype=compute_dtype,
            device=device,
            tile_rows=tile_rows,
            groups=groups,
            methods=methods,
        )

    @classmethod
    @torch.no_grad()
    def from_state_dict(
        cls,
        config: SoundNetConfig,
        state_dict: Mapping[str, torch.Tensor],
        heads: Mapping[str, torch.Tensor] | None = None,
        compute_dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        tile_rows: int | None = None,
        groups: list[int] | None = None,
        methods: list[str] | None = None,
    ) -> "FastSoundNet":
        """
        Builds the fast module from weights alone: what [`FastSoundNet.from_model`] does with a model's, and what
        `hf_soundnet.inference.light_loading` does with a checkpoint's `model.safetensors` (no transformers model).

        Args:
            config: the checkpoint's [`SoundNetConfig`].
            state_dict: the trunk's tensors as `SoundNetModel.state_dict()` names them (`blocks.{i}.conv.weight`,
                `blocks.{i}.conv.bias`, `blocks.{i}.norm.weight` / `bias` / `running_mean` / `running_var`).
            heads: `object_head.weight`, `object_head.bias`, `scene_head.weight` and `scene_head.bias`, or None for a
                trunk without the conv8 heads.
            compute_dtype, device, tile_rows, groups, methods: as for [`FastSoundNet.from_model`] (`device`
                defaults to that of the tensors).
        """
        blocks = []
        for i, layer in enumerate(config.layer_table[: config.num_blocks]):
            group = groups[i] if groups is not None else default_group(layer.in_channels, layer.pool)
            if layer.pool % group:
                raise ValueError(f"groups[{i}]={group} must divide the block's pool {layer.pool}.")
            method = methods[i] if methods is not None else default_method(layer.in_channels)
            if method not in ("gemm", "conv"):
                raise ValueError(f"methods[{i}]={method!r}: choose 'gemm' or 'conv'.")
            spec = FastBlockSpec(layer, group if method == "gemm" else 1, method)
            weight, bias = fold_batch_norm_tensors(
                *(state_dict[f"blocks.{i}.{name}"] for name in BLOCK_TENSORS), config.batch_norm_eps
            )
            weight = block_weight_matrix(weight, spec) if method == "gemm" else weight
            blocks.append((spec, weight.float(), bias.float()))
        fast_heads = FastHeads.from_state_dict(config, heads, compute_dtype=compute_dtype) if heads else None
        fast = cls(config, blocks, fast_heads, compute_dtype=compute_dtype, tile_rows=tile_rows)
        return fast.to(device) if device is not None else fast

    def _tile_rows(self, device: torch.device, row_floats: int) -> int | None:
        """GEMM rows per tile: `tile_rows`, else `DEFAULT_TILE_BYTES` worth of rows on CPU, else untiled."""
        if self.tile_rows is not None:
            return self.tile_rows
        return max(16, DEFAULT_TILE_BYTES // (4 * row_floats)) if device.type == "cpu" else None

    def _conv_block(self, hidden: torch.Tensor, index: int) -> torch.Tensor:
        """One block on channels-first `hidden` `(batch, in_channels, frames)` -> `(batch, out_channels, frames')`."""
        spec = self.specs[index]
        weight, bias = getattr(self, f"weight_{index}"), getattr(self, f"bias_{index}")

        out = F.conv1d(hidden, weight, None, stride=spec.layer.stride, padding=spec.layer.padding)
        if spec.layer.pool > 1:
            out = F.max_pool1d(out, spec.layer.pool)
        return out.add_(bias[:, None]).relu_()

    def _block(self, hidden: torch.Tensor, index: int) -> torch.Tensor:
        """One block on time-major `hidden` `(batch, frames, in_channels)` -> `(batch, out_frames, out_channels)`."""
        spec = self.specs[index]
        weight, bias = getattr(self, f"weight_{index}"), getattr(self, f"bias_{index}")
        batch, length, channels = hidden.shape
        frames = spec.layer.output_length(length)
        out = hidden.new_empty(batch, max(frames, 0), spec.layer.channels)
        if frames <= 0:
            return out
        units = spec.layer.pool // spec.group  # GEMM rows per output frame
        padded = F.pad(hidden, (0, 0, spec.layer.padding, spec.right_padding))
        # Row r reads `span` consecutive frames starting at frame r * group * stride: a strided view, no copy.
        windows = padded.as_strided(
            (batch, frames * units, spec.span * channels),
            (padded.stride(0), spec.group * spec.layer.stride * channels, 1),
        )
        tile = self._tile_rows(hidden.device, weight.shape[0] + weight.shape[1])
        if tile is None:  # accelerators: one GEMM for the whole batch
            products = windows.reshape(batch * frames * units, -1) @ weight
            _max_pool_rows(
                products.view(batch * frames, spec.layer.pool, spec.layer.channels), out.view(-1, spec.layer.channels)
            )
            return out.add_(bias).relu_()

        def run(job: tuple[int, int, int]) -> None:
            b, start, stop = job
            products = windows[b, start * units : stop * units].contiguous() @ weight
            _max_pool_rows(products.view(stop - start, spec.layer.pool, spec.layer.channels), out[b, start:stop])
            out[b, start:stop].add_(bias).relu_()

        tile_frames = max(1, tile // units)
        jobs = [
            (b, start, min(frames, start + tile_frames))
            for b in range(batch)
            for start in range(0, frames, tile_frames)
        ]
        run_tiles(run, jobs)
        return out

    def output_lengths(self, input_lengths: torch.Tensor | int) -> list[torch.Tensor]:
        """Valid frames per block for clips of `input_lengths` samples (the eager model's floor formulas)."""
        return block_output_lengths(self.config, input_lengths)

    def _intermediates(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None, num_blocks: int, heads: bool
    ) -> SoundNetIntermediatesOutput:
        """`forward_intermediates` once the layers are resolved ([`SoundNetIntermediatesMixin`]): this forward."""
        return self(input_values, attention_mask=attention_mask, num_blocks=num_blocks, compute_heads=heads)

    @torch.no_grad()
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        num_blocks: int | None = None,
        compute_heads: bool = True,
    ) -> SoundNetIntermediatesOutput:
        r"""
        Args:
            input_values (`torch.FloatTensor` of shape `(batch_size, num_samples)`):
                Scaled waveform at `config.sampling_rate`, as for [`SoundNetModel`].
            attention_mask (`torch.LongTensor` of shape `(batch_size, num_samples)`, *optional*):
                1 for real samples, 0 for padding at the end.
            num_blocks (`int`, *optional*):
                Run only the first `num_blocks` blocks (pool5 needs 5 of SoundNet-8's 7); no heads then.
            compute_heads (`bool`, *optional*, defaults to `True`):
                Compute the conv8 logits when the model has heads and every block ran.
        """
        if input_values.dim() != 2:
            raise ValueError(
                f"`input_values` must be (batch_size, num_samples), got shape {tuple(input_values.shape)}."
            )
        num_blocks = len(self.specs) if num_blocks is None else num_blocks
        if not 1 <= num_blocks <= len(self.specs):
            raise ValueError(f"`num_blocks` must be in 1..{len(self.specs)}, got {num_blocks}.")
        return self._forward(input_values, attention_mask, num_blocks, compute_heads)

    def _forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None,
        num_blocks: int,
        compute_heads: bool,
    ) -> SoundNetIntermediatesOutput:
        device = self.weight_0.device
        hidden = input_values.to(device=device, dtype=self.compute_dtype, non_blocking=True)
        if attention_mask is not None:
            input_lengths = attention_mask.sum(-1).long().cpu()
            attention_mask = attention_mask.to(device, non_blocking=True)
            hidden = hidden * attention_mask.to(hidden.dtype)
        else:
            input_lengths = torch.full((input_values.shape[0],), input_values.shape[-1], dtype=torch.long)
        block_lengths = [n.to(device) for n in self.output_lengths(input_lengths)[:num_blocks]]
        hidden = hidden.unsqueeze(-1)  # (batch, samples, 1): time-major
        time_major = True
        hidden_states = []  # channels-first views, (batch, channels, frames)
        for i in range(num_blocks):
            if self.specs[i].method == "conv":
                if time_major:
                    hidden, time_major = hidden.transpose(1, 2).contiguous(), False
                hidden = self._conv_block(hidden, i)
            else:
                if not time_major:
                    hidden, time_major = hidden.transpose(1, 2).contiguous(), True
                hidden = self._block(hidden, i)
            channels_first = hidden.transpose(1, 2) if time_major else hidden
            if attention_mask is not None:
                frames = torch.arange(channels_first.shape[-1], device=device)
                channels_first.masked_fill_((frames[None, :] >= block_lengths[i][:, None]).unsqueeze(1), 0)
            hidden_states.append(channels_first)

        object_logits = scene_logits = step_lengths = None
        if compute_heads and self.has_heads and num_blocks == len(self.specs):
            object_logits, scene_logits = self.heads(hidden_states[-1])
            step_lengths = self.config.layer_table[-1].output_length(block_lengths[-1])
        hidden_states = tuple(h.float() for h in hidden_states)
        return SoundNetIntermediatesOutput(
            last_hidden_state=hidden_states[-1],
            hidden_states=hidden_states,
            output_lengths=block_lengths[-1],
            hidden_state_lengths=tuple(block_lengths),
            object_logits=object_logits,
            scene_logits=scene_logits,
            step_lengths=step_lengths,
        )


__all__ = [
    "BLOCK_TENSORS",
    "DEFAULT_TILE_BYTES",
    "HEAD_TENSORS",
    "FastBlockSpec",
    "FastHeads",
    "FastSoundNet",
    "block_weight_matrix",
    "default_group",
    "fold_batch_norm",
    "fold_batch_norm_tensors",
    "head_tensors",
    "SoundNetIntermediatesMixin",
    "SoundNetIntermediatesOutput",
    "block_output_lengths",
]
