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
`torch.compile` (inductor, CPU) keeps conv1 a one-channel strided convolution. Measured on 8 x 30 s, 2 threads: eager
681 audio s/s, `torch.compile(model)` 971 audio s/s after 24 s of compilation, this module 2,272 audio s/s with no
compilation (a CLI pays compile time on every run, so it is not used here).

Outputs match [`SoundNetModel`] with `output_hidden_states=True`, including `attention_mask` semantics (input and
every block's frames past each clip's valid length are zeroed), and the conv8 heads match
`SoundNetForPreTraining`'s `object_logits`/`scene_logits`, within 1e-4 relative to each layer's scale
(`tests/test_fast_forward.py`).
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers.utils import ModelOutput

from .configuration_soundnet import SoundNetConfig
from .modeling_soundnet import SoundNetModel, block_output_lengths, conv_output_length, has_heads, trunk_of


# Bytes of one tile's GEMM input and output on CPU (rows x (K + N) floats): 4,096 rows of conv1 (80 inputs, 8 x 16
# outputs) are 3.4 MB, the fastest on a 2-core EPYC with 1 MB of L2 per core and a shared L3 (8 x 30 s of conv1:
# 1,024 rows 66 ms, 4,096 rows 59 ms, 16,384 rows 70 ms, untiled 156 ms).
DEFAULT_TILE_BYTES = 4096 * (80 + 128) * 4


@dataclass(frozen=True)
class FastBlockSpec:
    """One row of the layer table as the fast path computes it (see the module docstring)."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    pool: int
    group: int  # conv frames computed per GEMM row (divides `pool`): `pool` = polyphase, 1 = plain im2col
    method: str = "gemm"  # "gemm": time-major tiled GEMM; "conv": oneDNN convolution, channels first

    @property
    def span(self) -> int:
        """
        Input frames one GEMM row reads: `(group - 1) * stride + kernel`, rounded up (by at most 15 frames of zero
        weights) so that a row holds a multiple of 16 floats: PyTorch copies such strided windows about 25x faster
        (measured: conv1 windows of 78 samples 516 us per 4,096 rows, of 80 samples 18 us).
        """
        span = (self.group - 1) * self.stride + self.kernel
        for extra in range(16):
            if (span + extra) * self.in_channels % 16 == 0:
                return span + extra
        return span

    @property
    def right_padding(self) -> int:
        """Zero frames after the input: the convolution's padding plus the frames added by `span`'s rounding."""
        return self.padding + self.span - ((self.group - 1) * self.stride + self.kernel)

    def output_length(self, length: int) -> int:
        """Frames out of the block (after its pool) for `length` frames in."""
        return conv_output_length(length, self.kernel, self.stride, self.padding) // self.pool


@dataclass
class FastSoundNetOutput(ModelOutput):
    """
    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, frames)`):
            Output of the last block computed.
        hidden_states (`tuple(torch.FloatTensor)`):
            Every computed block's output `(batch_size, channels_i, frames_i)`, indexed as
            `SoundNetModel(..., output_hidden_states=True).hidden_states` (views of time-major tensors, so not
            contiguous; call `.contiguous()` if needed).
        object_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_object_classes)`, *optional*):
            conv8 object logits, as `SoundNetForPreTraining`; only when the model has heads and all blocks ran.
        scene_logits (`torch.FloatTensor` of shape `(batch_size, num_steps, num_scene_classes)`, *optional*):
            conv8_2 scene logits.
        output_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Valid frames of `last_hidden_state` per clip (with an `attention_mask`).
        step_lengths (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Valid head steps per clip (with an `attention_mask` and heads).
    """

    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    object_logits: torch.FloatTensor | None = None
    scene_logits: torch.FloatTensor | None = None
    output_lengths: torch.LongTensor | None = None
    step_lengths: torch.LongTensor | None = None


def _max_pool_rows(products: torch.Tensor, out: torch.Tensor) -> None:
    """
    `out = products.amax(1)` for `products` `(frames, pool, channels)` and `out` `(frames, channels)`, written as a
    chain of elementwise maxima: 6x faster than `amax` over the middle dimension (measured 73 us vs 449 us for
    4,096 x 8 x 16 floats on one core).
    """
    pool = products.shape[1]
    if pool == 1:
        out.copy_(products[:, 0])
        return
    torch.maximum(products[:, 0], products[:, 1], out=out)
    for j in range(2, pool):
        torch.maximum(out, products[:, j], out=out)


def default_group(in_channels: int, pool: int) -> int:
    """
    Conv frames per GEMM row. Polyphase (`group = pool`) pays off when the input is narrow (conv1: one channel, the
    Toeplitz zeros cost 22% extra FLOPs but turn a memory-bound convolution into a GEMM); for wider inputs two frames
    per row (when the pool is even) widen the GEMM and halve the im2col copy for 6% extra FLOPs (measured on conv2,
    4,096 conv frames on one core: 1,930 us with one frame per row, 1,617 us with two, 2,003 us with eight).
    """
    if in_channels == 1:
        return pool
    return 2 if pool % 2 == 0 else 1


def default_method(in_channels: int) -> str:
    """
    How a block is computed. The tiled GEMM wins where the input is narrow (conv1, conv2: 1 and 16 channels, most of
    the FLOPs); from 32 input channels on, oneDNN's convolution on channels-first input needs no im2col copy and is
    faster (measured on 8 x 30 s, 2 threads: conv3..conv7 33 ms as GEMMs, about 20 ms as oneDNN convolutions).
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
        matrix[j * spec.stride : j * spec.stride + kernel, :, j, :] = taps
    return matrix.reshape(spec.span * in_c, spec.group * out_c)


def fold_batch_norm(conv: nn.Conv1d, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN folded into the convolution, computed in float64: returns weight `(O, C, k)` and bias `(O,)`."""
    scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
    weight = conv.weight.double() * scale[:, None, None]
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    bias = (bias - norm.running_mean.double()) * scale + norm.bias.double()
    return weight, bias


class FastSoundNet(nn.Module):
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
        head: tuple[torch.Tensor, torch.Tensor] | None = None,
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
        self.has_heads = head is not None
        if head is not None:
            self.register_buffer("head_weight", head[0].to(compute_dtype).contiguous())
            self.register_buffer("head_bias", head[1].to(compute_dtype).contiguous())

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
        trunk = trunk_of(model)
        if not isinstance(trunk, SoundNetModel):
            raise TypeError(f"Expected a SoundNet model, got {type(model).__name__}.")
        config = trunk.config
        device = torch.device(device) if device is not None else next(trunk.parameters()).device
        blocks = []
        for i, block in enumerate(trunk.blocks):
            in_c, out_c, kernel = block.conv.in_channels, block.conv.out_channels, block.conv.kernel_size[0]
            pool = config.pool_kernel_sizes[i]
            group = groups[i] if groups is not None else default_group(in_c, pool)
            if pool % group:
                raise ValueError(f"groups[{i}]={group} must divide the block's pool {pool}.")
            method = methods[i] if methods is not None else default_method(in_c)
            if method not in ("gemm", "conv"):
                raise ValueError(f"methods[{i}]={method!r}: choose 'gemm' or 'conv'.")
            stride, padding = block.conv.stride[0], block.conv.padding[0]
            spec = FastBlockSpec(in_c, out_c, kernel, stride, padding, pool, group if method == "gemm" else 1, method)
            weight, bias = fold_batch_norm(block.conv, block.norm)
            weight = block_weight_matrix(weight, spec) if method == "gemm" else weight
            blocks.append((spec, weight.float(), bias.float()))
        head = None
        if has_heads(model):
            weight = torch.cat([model.object_head.weight, model.scene_head.weight]).float()  # (classes, C, k)
            bias = torch.cat([model.object_head.bias, model.scene_head.bias]).float()
            head = (weight.permute(2, 1, 0).reshape(-1, weight.shape[0]), bias)  # (kernel * C, classes)
        fast = cls(config, blocks, head, compute_dtype=compute_dtype, tile_rows=tile_rows)
        return fast.to(device)

    def _tile_rows(self, device: torch.device, row_floats: int) -> int | None:
        """GEMM rows per tile: `tile_rows`, else `DEFAULT_TILE_BYTES` worth of rows on CPU, else untiled."""
        if self.tile_rows is not None:
            return self.tile_rows
        return max(16, DEFAULT_TILE_BYTES // (4 * row_floats)) if device.type == "cpu" else None

    def _conv_block(self, hidden: torch.Tensor, index: int) -> torch.Tensor:
        """One block on channels-first `hidden` `(batch, in_channels, frames)` -> `(batch, out_channels, frames')`."""
        spec = self.specs[index]
        weight, bias = getattr(self, f"weight_{index}"), getattr(self, f"bias_{index}")

        out = F.conv1d(hidden, weight, None, stride=spec.stride, padding=spec.padding)
        if spec.pool > 1:
            out = F.max_pool1d(out, spec.pool)
        return out.add_(bias[:, None]).relu_()

    def _block(self, hidden: torch.Tensor, index: int) -> torch.Tensor:
        """One block on time-major `hidden` `(batch, frames, in_channels)` -> `(batch, out_frames, out_channels)`."""
        spec = self.specs[index]
        weight, bias = getattr(self, f"weight_{index}"), getattr(self, f"bias_{index}")
        batch, length, channels = hidden.shape
        frames = spec.output_length(length)
        out = hidden.new_empty(batch, max(frames, 0), spec.out_channels)
        if frames <= 0:
            return out
        units = spec.pool // spec.group  # GEMM rows per output frame
        padded = F.pad(hidden, (0, 0, spec.padding, spec.right_padding))
        # Row r reads `span` consecutive frames starting at frame r * group * stride: a strided view, no copy.
        windows = padded.as_strided(
            (batch, frames * units, spec.span * channels), (padded.stride(0), spec.group * spec.stride * channels, 1)
        )
        tile = self._tile_rows(hidden.device, weight.shape[0] + weight.shape[1])
        if tile is None:  # accelerators: one GEMM for the whole batch
            products = windows.reshape(batch * frames * units, -1) @ weight
            _max_pool_rows(
                products.view(batch * frames, spec.pool, spec.out_channels), out.view(-1, spec.out_channels)
            )
            return out.add_(bias).relu_()

        def run(job: tuple[int, int, int]) -> None:
            b, start, stop = job
            products = windows[b, start * units : stop * units].contiguous() @ weight
            _max_pool_rows(products.view(stop - start, spec.pool, spec.out_channels), out[b, start:stop])
            out[b, start:stop].add_(bias).relu_()

        tile_frames = max(1, tile // units)
        for b in range(batch):
            for start in range(0, frames, tile_frames):
                run((b, start, min(frames, start + tile_frames)))
        return out

    def _heads(self, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """conv8 on channels-first `last` `(batch, channels, frames)` -> object and scene logits `(batch, steps, n)`."""
        config = self.config
        kernel, stride, padding = config.head_kernel_size, config.head_stride, config.head_padding
        batch, channels, length = last.shape
        steps = (length + 2 * padding - kernel) // stride + 1
        if steps < 1:
            raise ValueError(
                f"The conv8 heads need more input: the last block has {length} frames, the heads' kernel "
                f"{kernel}. SoundNetFeatureExtractor repeats short clips to 10 s as the original did."
            )
        padded = F.pad(last.transpose(1, 2), (0, 0, padding, padding)).contiguous()  # time-major
        windows = padded.as_strided((batch, steps, kernel * channels), (padded.stride(0), stride * channels, 1))
        windows = windows.reshape(batch * steps, -1)
        # A GEMM: oneDNN's convolution is 2x slower on these few frames (measured 36 ms vs 16 ms, 8 x 30 s, 1 thread).
        logits = torch.addmm(self.head_bias, windows, self.head_weight).float().view(batch, steps, -1)
        return logits[..., : config.num_object_classes], logits[..., config.num_object_classes :]

    def output_lengths(self, input_lengths: torch.Tensor | int) -> list[torch.Tensor]:
        """Valid frames per block for clips of `input_lengths` samples (the eager model's floor formulas)."""
        return block_output_lengths(self.config, input_lengths)

    @torch.inference_mode()
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        num_blocks: int | None = None,
        compute_heads: bool = True,
    ) -> FastSoundNetOutput:
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
    ) -> FastSoundNetOutput:
        device = self.weight_0.device
        hidden = input_values.to(device=device, dtype=self.compute_dtype, non_blocking=True)
        block_lengths = None
        if attention_mask is not None:
            attention_mask = attention_mask.to(device, non_blocking=True)
            block_lengths = [n.to(device) for n in self.output_lengths(attention_mask.sum(-1).long().cpu())]
            hidden = hidden * attention_mask.to(hidden.dtype)
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
            if block_lengths is not None:
                frames = torch.arange(channels_first.shape[-1], device=device)
                channels_first.masked_fill_((frames[None, :] >= block_lengths[i][:, None]).unsqueeze(1), 0)
            hidden_states.append(channels_first)

        object_logits = scene_logits = step_lengths = None
        if compute_heads and self.has_heads and num_blocks == len(self.specs):
            object_logits, scene_logits = self._heads(hidden_states[-1])
            if block_lengths is not None:
                config = self.config
                step_lengths = conv_output_length(
                    block_lengths[-1], config.head_kernel_size, config.head_stride, config.head_padding
                )
        hidden_states = tuple(h.float() for h in hidden_states)
        return FastSoundNetOutput(
            last_hidden_state=hidden_states[-1],
            hidden_states=hidden_states,
            object_logits=object_logits,
            scene_logits=scene_logits,
            output_lengths=block_lengths[num_blocks - 1] if block_lengths is not None else None,
            step_lengths=step_lengths,
        )


__all__ = [
    "DEFAULT_TILE_BYTES",
    "FastBlockSpec",
    "FastSoundNet",
    "FastSoundNetOutput",
    "block_weight_matrix",
    "default_group",
    "fold_batch_norm",
]
