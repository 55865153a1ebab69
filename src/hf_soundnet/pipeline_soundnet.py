"""The audio-classification pipeline of SoundNet checkpoints.

Importing `hf_soundnet` registers [`SoundNetAudioClassificationPipeline`] as the implementation of the
`"audio-classification"` task, so `pipeline("audio-classification", model=<SoundNet checkpoint>)` returns it. For any
other model it behaves exactly as transformers' [`AudioClassificationPipeline`] (every method defers to it).

With a SoundNet model it differs from upstream in what it accepts and what it answers:

- Paths and bytes are decoded in-process by `load_audio` (torchcodec, then soxr) rather than piped through an
  `ffmpeg` subprocess: a container whose index is at its end (an MP4 with `moov` last) is read by seeking, the channels
  are reduced by the feature extractor's saved `channel_mode` (the original SoundNet took the first channel), and a
  file that cannot be decoded (empty, random bytes, text, video without audio) raises `AudioLoadError` naming it.
- Files longer than `stream_longer_than` seconds (default 600) are not decoded whole (with the plugin installed; see
  below for remote code): they are streamed through `hf_soundnet.inference.streaming` in chunks of 60 s with exact
  context, so memory stays bounded (a few chunks of audio and the model's activations of one chunk) whatever the
  length, and the answer equals the whole-file forward up to the fast forward's float error (1e-4).
- `datasets` Audio values (`ds[i]["audio"]`, a torchcodec `AudioDecoder`; `{"array", "sampling_rate"}` dicts at any
  rate; `KeyDataset(ds, "audio")`) go through the feature extractor, which resamples and applies `channel_mode`.
- Lists, datasets and generators are decoded in the pipeline's own DataLoader workers (`num_workers`, upstream's
  call argument): each worker runs `preprocess` (decoding, channel policy, resampling, repetition of short clips) and
  pads a batch of `batch_size` clips ([`PipelineBatchCollator`]); the model runs once per padded batch with an
  attention mask, which makes each answer equal to the single call on that input (to float32 summation order), on
  the cores the workers leave ([`threads_beside_workers`], as `hf_soundnet.inference.parallelism` splits them).
  Answers come in input order. A file over `stream_longer_than` is streamed by the process that holds the model, not
  by a worker.
- An input of a list that cannot be classified never loses the others: every input is tried, then
  [`AudioBatchError`] (an `AudioLoadError`) names each failed input and its problem and holds every answer in its
  `results` (None where an input failed). A dataset or generator gives an iterator whose `next()` raises the failed
  input's own error at its position and then continues. A single input raises its own error at once.
- Without `top_k`, the released model (`classifier_type="pretrained_heads"`) answers with its top
  `top_k_per_head` (5) objects followed by its top 5 scenes, each list sorted by probability: the two heads are
  separate softmaxes, so one ranking across both means little. An explicit `top_k` (an int, or None for every label)
  gives transformers' single ranking of all 1,401 labels.

How a checkpoint selects its pipeline. A checkpoint saved with code (`save_pretrained` with hf_soundnet imported)
carries this module and the root-level modules it imports (`decoding_soundnet.py`, `errors.py`, beside the model's
files), and its config.json declares it in `custom_pipelines` ([`SOUNDNET_PIPELINES`]: "audio-classification" ->
`pipeline_soundnet.SoundNetAudioClassificationPipeline` on `AutoModelForAudioClassification`). transformers'
`pipeline()` reads `config.custom_pipelines` before its registry and refuses a declared task without
`trust_remote_code=True`, so [`SoundNetConfig.custom_pipelines`] leaves out each task whose registry implementation is
already the declared class:

- with the plugin imported, `import hf_soundnet` has made this class the registry's "audio-classification"
  implementation (`hf_soundnet._register_pipeline`), the config shows no declaration, and the plain
  `pipeline("audio-classification", model=<checkpoint>)` returns this class without `trust_remote_code` (and
  with it);
- without the plugin, the config loaded from the checkpoint's code shows the declaration, and
  `pipeline(..., trust_remote_code=True)` returns this class from the checkpoint's `pipeline_soundnet.py`, with the
  model and feature extractor from its code: the same in-process decoding, saved `channel_mode`, per-head answer,
  and `num_workers`/`batch_size` batching. One difference: `hf_soundnet.inference.streaming` is not uploaded (code
  upload copies only `from .name import ...` siblings of the checkpoint folder), so there every file is decoded whole
  and `stream_longer_than` has no effect ([`streaming`] is None).

Either way the pipeline reads its decoding policy (rate, `channel_mode`) from the checkpoint's
`preprocessor_config.json`. A checkpoint saved without code (no `auto_map`) declares nothing and needs the plugin.
This module therefore imports root-level siblings only, and the streaming module by name ([`streaming`]).
"""

import collections.abc
import contextlib
import functools
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, default_collate
from transformers import AudioClassificationPipeline, BatchFeature
from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator
from transformers.utils import ModelOutput

# Root-level siblings only (see "How a checkpoint selects its pipeline"): code upload carries them with this file.
from .decoding_soundnet import AudioLoadError, load_audio, preload_decoder


# Seconds above which a file is streamed in chunks rather than decoded whole (as `soundnet extract` does).
STREAM_LONGER_THAN = 600.0
# Core length of a streamed chunk, in seconds of audio.
STREAM_CHUNK_SECONDS = 60.0
# Labels per head in the default answer of a model with the pretrained heads.
TOP_K_PER_HEAD = 5
# Probabilities are clamped to [eps, 1 - eps] before `logit`, as the model's forward does.
_PROB_EPS = 1e-7

_UNSET = object()


class SoundNetAudioClassificationPipeline(AudioClassificationPipeline):
    """
    [`AudioClassificationPipeline`] for SoundNet checkpoints (see the module docstring); unchanged upstream behaviour
    for other models.

    Call arguments beyond upstream's (SoundNet models only):
        top_k_per_head (`int`, *optional*, defaults to 5): labels per head in the default answer (no `top_k`).
        stream_longer_than (`float`, *optional*, defaults to 600): files longer than this many seconds are streamed
            in chunks; 0 or None decodes every file whole.
    """

    def __init__(self, *args, **kwargs):
        top_k_given = "top_k" in kwargs
        super().__init__(*args, **kwargs)
        if self.is_soundnet and not top_k_given:
            # Upstream's __init__ injects top_k=5; the SoundNet default is the per-head answer instead.
            self._postprocess_params.pop("top_k", None)

    @property
    def is_soundnet(self) -> bool:
        return getattr(self.model.config, "model_type", None) == "soundnet"

    @property
    def has_pretrained_heads(self) -> bool:
        return self.is_soundnet and getattr(self.model.config, "classifier_type", None) == "pretrained_heads"

    def _sanitize_parameters(
        self,
        top_k=_UNSET,
        function_to_apply=None,
        top_k_per_head: int | None = None,
        stream_longer_than: float | None | object = _UNSET,
        **kwargs,
    ):
        if not self.is_soundnet:
            unexpected = {"top_k_per_head": top_k_per_head, "stream_longer_than": stream_longer_than}
            given = [name for name, value in unexpected.items() if value is not None and value is not _UNSET]
            if given:
                raise TypeError(f"{given} apply to SoundNet checkpoints only.")
            return super()._sanitize_parameters(
                top_k=None if top_k is _UNSET else top_k, function_to_apply=function_to_apply, **kwargs
            )
        preprocess_params, forward_params, postprocess_params = {}, {}, {}
        if top_k is not _UNSET:
            postprocess_params = super()._sanitize_parameters(top_k=top_k, function_to_apply=function_to_apply)[2]
        elif function_to_apply is not None:
            postprocess_params = super()._sanitize_parameters(function_to_apply=function_to_apply)[2]
            postprocess_params.pop("top_k")
        if top_k_per_head is not None:
            if top_k_per_head < 1:
                raise ValueError(f"`top_k_per_head` must be at least 1, got {top_k_per_head}.")
            postprocess_params["top_k_per_head"] = top_k_per_head
        if stream_longer_than is not _UNSET:
            preprocess_params["stream_longer_than"] = stream_longer_than
        return preprocess_params, forward_params, postprocess_params

    def preprocess(self, inputs, stream_longer_than: float | None = STREAM_LONGER_THAN):
        if not self.is_soundnet:
            return super().preprocess(inputs)
        extractor = self.feature_extractor
        rate, mode = extractor.sampling_rate, extractor.channel_mode
        if isinstance(inputs, os.PathLike):
            inputs = os.fspath(inputs)
        name = None  # of a decoded file or byte string
        if isinstance(inputs, str) and inputs.startswith(("http://", "https://")):
            import httpx

            name = inputs
            inputs = load_audio(httpx.get(inputs, follow_redirects=True).content, rate, name=name, channel_mode=mode)
        elif isinstance(inputs, str):
            if stream_longer_than and streaming() and (header_duration(inputs) or 0.0) > stream_longer_than:
                # Streamed by `_forward`, in the process that holds the model (not in a decoding worker).
                return {"stream_path": inputs}
            name = inputs
            inputs = load_audio(inputs, sampling_rate=rate, channel_mode=mode)
        elif isinstance(inputs, (bytes, bytearray)):
            name = "<bytes>"
            inputs = load_audio(bytes(inputs), sampling_rate=rate, channel_mode=mode)
        if name is not None and hasattr(extractor, "clip_input_values"):
            # One mono clip at the extractor's rate: its row, as the extractor's call makes it, without the batch
            # (padding one clip, an all-ones mask) that cost a decoding worker about 6% of its time per 30 s file.
            values = torch.from_numpy(extractor.clip_input_values(inputs[0], source=name))[None]
            processed = BatchFeature({"input_values": values})
            return processed.to(dtype=self.dtype) if self.dtype is not None else processed
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2 and inputs.shape[0] == 1:
            inputs = inputs[0]  # load_audio's (1, num_samples)
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.cpu().numpy()
        # One clip, wrapped so that a 2-D array is read as one multi-channel clip: the feature extractor applies its
        # `channel_mode`, resamples decoders and dicts, and checks the values.
        processed = extractor([inputs], sampling_rate=rate, return_tensors="pt")
        return processed.to(dtype=self.dtype) if self.dtype is not None else processed

    def _forward(self, model_inputs, num_threads: int | None = None):
        if "rows" in model_inputs:
            if num_threads is None:
                return self._forward_batch(model_inputs)
            with torch_threads(num_threads):
                return self._forward_batch(model_inputs)
        if "stream_path" in model_inputs:
            from .modeling_soundnet import SoundNetAudioClassifierOutput

            return SoundNetAudioClassifierOutput(logits=self._streamed_logits(model_inputs["stream_path"]))
        return super()._forward(model_inputs)

    def __call__(self, inputs, *args, **kwargs):
        """
        Upstream's call; with a SoundNet model, an input of a list (or a dataset or generator) that cannot be
        classified does not lose the others. A list is classified whole, then [`AudioBatchError`] is raised if any
        input failed, naming each one, with every answer in its `results`. A dataset or generator gives an iterator
        whose `next()` raises that input's own error at its position and can be called again for the next answer.
        A single input raises its error at once, as upstream does.
        """
        outputs = super().__call__(inputs, *args, **kwargs)
        if not self.is_soundnet:
            return outputs
        if isinstance(inputs, list):
            failures = {i: output.error for i, output in enumerate(outputs) if isinstance(output, InputFailure)}
            if failures:
                results = [None if i in failures else output for i, output in enumerate(outputs)]
                raise AudioBatchError(failures, results=results)
            return outputs
        if isinstance(outputs, PipelineIterator):
            return FailureRaisingIterator(outputs)
        return outputs

    def get_iterator(
        self, inputs, num_workers: int, batch_size: int, preprocess_params, forward_params, postprocess_params
    ):
        """
        Upstream's iterator (a DataLoader over `preprocess`, `forward`, then `postprocess` per input, in input
        order) with SoundNet's own steps: `preprocess` runs in the DataLoader's `num_workers` processes (decoding,
        channel policy, resampling, repetition of short clips) and keeps an input's error instead of raising it; the
        workers pad each batch of `batch_size` clips ([`PipelineBatchCollator`], sent with their lengths, not an int64
        mask); and `_forward` runs the model once per batch with an attention mask, and streams long files in this
        process. While workers decode, the model runs on the cores they leave ([`threads_beside_workers`]: torch's
        thread count is lowered for each batch's forward and restored after it).
        """
        if not self.is_soundnet:
            return super().get_iterator(
                inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params
            )
        if isinstance(inputs, collections.abc.Sized):
            dataset = PipelineDataset(inputs, self._preprocess_keeping_errors, preprocess_params)
        else:  # a generator cannot be shared between workers (upstream makes the same choice)
            num_workers = min(num_workers, 1)
            dataset = PipelineIterator(inputs, self._preprocess_keeping_errors, preprocess_params)
        if num_workers > 0:
            preload_decoder()  # forked workers inherit FFmpeg's libraries instead of each loading them
            forward_params = {**forward_params, "num_threads": threads_beside_workers(num_workers)}
        loader = DataLoader(
            dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=PipelineBatchCollator(self)
        )
        # loader_batch_size=2 or more makes PipelineIterator split each batch's outputs per input.
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=max(batch_size, 2))
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)

    def _preprocess_keeping_errors(self, inputs, **preprocess_params) -> dict:
        """`preprocess` of one input of a batch: `{"input_values"}` `(1, num_samples)`, `{"stream_path"}`, or
        `{"error"}` with the exception that input raised (one bad input never loses the batch)."""
        try:
            processed = self.preprocess(inputs, **preprocess_params)
        except Exception as error:  # reported at the input's position by __call__
            return {"error": error}
        return dict(processed)

    def _forward_batch(self, batch: dict) -> ModelOutput:
        """
        The logits of one collated batch, in input order.

        Args:
            batch: [`PipelineBatchCollator`]'s output: `input_values` `(num_clips, max_num_samples)` padded at the
                end, or None; `num_samples` `(num_clips,)`; `rows`, one `("clip", index)`, `("stream", path)` or
                `("error", exception)` per input.

        Returns:
            `logits` `(num_inputs, num_labels)` (NaN rows for failed inputs) and `errors`, the exception or None per
            input.
        """
        num_labels = self.model.config.num_labels
        logits = torch.full((len(batch["rows"]), num_labels), float("nan"))
        input_values = batch["input_values"]
        if input_values is not None:
            if self.dtype is not None:
                input_values = input_values.to(self.dtype)
            num_samples = batch["num_samples"]
            attention_mask = None
            if bool((num_samples < input_values.shape[1]).any()):
                frames = torch.arange(input_values.shape[1], device=input_values.device)
                attention_mask = (frames[None, :] < num_samples[:, None]).long()
            clip_logits = self.model(input_values=input_values, attention_mask=attention_mask).logits.float().cpu()
        errors = []
        for row, (kind, value) in enumerate(batch["rows"]):
            errors.append(value if kind == "error" else None)
            if kind == "clip":
                logits[row] = clip_logits[value]
            elif kind == "stream":
                try:
                    logits[row] = self._streamed_logits(value)[0].float()
                except Exception as error:  # a long file that fails while streamed: its own error, the batch kept
                    errors[-1] = error
        return ModelOutput(logits=logits, errors=errors)

    def postprocess(self, model_outputs, top_k=None, function_to_apply=None, top_k_per_head=TOP_K_PER_HEAD):
        error = model_outputs.get("errors") if self.is_soundnet else None
        if isinstance(error, list):  # a batch of one (the pipeline unbatches only batches of two or more)
            error = error[0]
        if error is not None:
            return InputFailure(error)
        if not self.has_pretrained_heads or top_k is not None or function_to_apply is not None:
            if top_k is None:
                top_k = self.model.config.num_labels
            return super().postprocess(model_outputs, top_k=top_k, function_to_apply=function_to_apply)
        # The per-head answer: sigmoid(logits) are each head's clip probabilities (see SoundNetForAudioClassification).
        probabilities = model_outputs.logits[0].float().sigmoid()
        num_objects = self.model.config.num_object_classes
        answer = []
        for start, stop in ((0, num_objects), (num_objects, probabilities.shape[0])):
            scores, ids = probabilities[start:stop].topk(min(top_k_per_head, stop - start))
            answer += [
                {"score": score, "label": self.model.config.id2label[start + i]}
                for score, i in zip(scores.tolist(), ids.tolist())
            ]
        return answer

    @torch.inference_mode()
    def _streamed_logits(self, path: str) -> torch.Tensor:
        """
        The clip logits `(1, num_labels)` of a long file, streamed in chunks with exact context: each head's softmax
        per step summed as chunks arrive (pretrained heads), or the classifier layer's frames summed (linear
        classifier), so memory does not grow with the file's length.
        """
        from .fast_forward_soundnet import FastSoundNet

        iter_file_waveform, stream_layers = streaming().iter_file_waveform, streaming().stream_layers
        model, extractor = self.model, self.feature_extractor
        fast = FastSoundNet.from_model(model).eval()
        if self.has_pretrained_heads:
            layer, keys = "conv8", ("object_logits", "scene_logits")
        else:
            layer = model.config.layer_names[model.layer_index]
            keys = (layer,)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        pieces = iter_file_waveform(
            path, extractor.sampling_rate, STREAM_CHUNK_SECONDS, channel_mode=extractor.channel_mode
        )
        scaled = (piece * np.float32(extractor.input_scale) for piece in continued(pieces, extractor))
        chunks = stream_layers(fast, scaled, [layer], chunk_seconds=STREAM_CHUNK_SECONDS)
        for chunk in chunks:
            if keys[0] not in chunk.values:
                continue
            for key in keys:
                value = chunk.values[key].float()
                # heads: (steps, classes) -> softmax over classes; a block: (channels, frames) -> frames last
                part = value.softmax(-1).sum(0) if layer == "conv8" else value.sum(-1)
                sums[key] = sums[key] + part if key in sums else part
            count += chunk.values[keys[0]].shape[0 if layer == "conv8" else -1]
        if count == 0:
            raise AudioLoadError(f"{path}: decoded to too few samples for one {layer} step.")
        if layer == "conv8":
            probabilities = (torch.cat([sums[key] for key in keys]) / count).clamp(_PROB_EPS, 1 - _PROB_EPS)
            logits = torch.log(probabilities) - torch.log1p(-probabilities)
        else:
            pooled = (sums[layer] / count).to(next(model.parameters()).device)
            logits = model.classifier(model.dropout(pooled))
        return logits[None].cpu()


@dataclass
class InputFailure:
    """What `postprocess` gives for an input of a batch that could not be classified: the exception it raised."""

    error: Exception


class AudioBatchError(AudioLoadError):
    """
    Some inputs of a list could not be classified; the others were. Raised by a SoundNet pipeline called on a list,
    after every input was tried.

    Args:
        failures: the exception of each failed input, by position in the list (each names its file and problem).
        results: the answer of every input, None at a failed position.
    """

    def __init__(self, failures: dict[int, Exception], results: list):
        self.failures = failures
        self.results = results
        lines = [f"input {i}: {error}" for i, error in failures.items()]
        super().__init__(
            f"{len(failures)} of {len(results)} inputs could not be classified:\n  "
            + "\n  ".join(lines)
            + "\nThe answers of the other inputs are in this error's `results` (None at a failed position); fix or"
            " drop the failed inputs and call again for them."
        )

    def __reduce__(self):
        return type(self), (self.failures, self.results)


class FailureRaisingIterator:
    """The lazy answers of a dataset or generator: `next()` raises a failed input's own error at its position, and
    the next call continues with the following input."""

    def __init__(self, answers: PipelineIterator):
        self.answers = answers
        self.started = False  # the DataLoader (and its workers) starts at the first answer asked for, as upstream's

    def __iter__(self) -> "FailureRaisingIterator":
        if not self.started:
            iter(self.answers)
            self.started = True
        return self

    def __next__(self):
        iter(self)
        answer = next(self.answers)
        if isinstance(answer, InputFailure):
            raise answer.error
        return answer

    def __len__(self) -> int:
        return len(self.answers)


class PipelineBatchCollator:
    """
    The `collate_fn` of a SoundNet pipeline's DataLoader (runs in its workers): pads the decoded clips of a batch at
    the end with the feature extractor's `padding_value` (as `hf_soundnet.audio.batches.AudioBatchCollator` does:
    stacked by torch's `default_collate`, which in a worker writes straight into shared memory) and keeps, per
    input, whether it is a clip (its row), a long file to stream (its path) or a failure (its exception).
    """

    def __init__(self, pipeline: "SoundNetAudioClassificationPipeline"):
        self.padding_value = float(pipeline.feature_extractor.padding_value)

    def __call__(self, items: list[dict]) -> dict:
        """`input_values` `(num_clips, max_num_samples)` float32 or None, `num_samples` `(num_clips,)` int64 or
        None, and `rows`, one `("clip", index)`, `("stream", path)` or `("error", exception)` per item."""
        clips, rows = [], []
        for item in items:
            if "error" in item:
                rows.append(("error", item["error"]))
            elif "stream_path" in item:
                rows.append(("stream", item["stream_path"]))
            else:
                rows.append(("clip", len(clips)))
                clips.append(item["input_values"][0].float())  # (num_samples,), extracted and scaled
        if not clips:
            return {"input_values": None, "num_samples": None, "rows": rows}
        lengths = [clip.shape[0] for clip in clips]
        width = max(lengths)
        padded = [F.pad(clip, (0, width - clip.shape[0]), value=self.padding_value) for clip in clips]
        return {
            "input_values": default_collate(padded),
            "num_samples": torch.tensor(lengths, dtype=torch.long),
            "rows": rows,
        }


def threads_beside_workers(num_workers: int) -> int:
    """
    torch threads for the model while `num_workers` decoding processes run beside it: the cores they leave, at least
    one, and never more than torch's current count (a lower count the user set is kept). Decoding a file costs more
    CPU than its fast forward (README, "Benchmarks"), so with every core running torch threads the model's threads
    and the workers take turns on the cores and the pipeline slows down (the split of
    `hf_soundnet.inference.parallelism`, computed here because this module imports root-level siblings only).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cores - num_workers))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to `count` inside the block, and restored after it."""
    before = torch.get_num_threads()
    if count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.cache
def streaming() -> ModuleType | None:
    """
    `hf_soundnet.inference.streaming` (chunked decoding and forward of long files), or None where this module runs
    as a checkpoint's code under `trust_remote_code=True`: code upload carries root-level modules only, so there
    every file is decoded whole (`stream_longer_than` has no effect). Imported by name, not by a
    `from .inference.streaming import`, which code upload would try to copy as `inference.streaming.py`.
    """
    try:
        return importlib.import_module(".inference.streaming", __package__)
    except ImportError:
        return None


def continued(pieces: Iterator[np.ndarray], extractor) -> Iterator[np.ndarray]:
    """
    The consecutive 1-D `pieces` of a long waveform, followed by what `extractor.repeat_short` appends to the whole
    waveform (its start, continued cyclically up to `covered_num_samples`), so that streaming gives the whole-file
    answer. Keeps at most the first `head_field` size samples (14.5 s for SoundNet-8) besides the current piece.
    """
    head_field = getattr(extractor, "head_field", None)
    if head_field is None or not extractor.min_num_samples or not getattr(extractor, "continue_long_clips", False):
        yield from pieces
        return
    keep = int(head_field[1])
    start: list[np.ndarray] = []
    kept = total = 0
    for piece in pieces:
        if kept < keep:
            start.append(piece[: keep - kept].copy())
            kept += start[-1].shape[0]
        total += piece.shape[0]
        yield piece
    if total == 0:
        return
    beginning = np.concatenate(start)
    target = extractor.covered_num_samples(max(total, extractor.min_num_samples))
    if total < extractor.min_num_samples or target - total > beginning.shape[0]:
        raise ValueError("Streaming is for long files; a short one is decoded whole (lower stream_longer_than).")
    if target > total:
        yield beginning[: target - total]


def header_duration(path: str) -> float | None:
    """The duration in seconds that a file's header states, or None when unknown or unreadable (the whole-file decode
    then reports the problem, naming the file)."""
    try:
        from torchcodec.decoders import AudioDecoder

        return AudioDecoder(path).metadata.duration_seconds_from_header
    except Exception:  # a corrupt or missing file: load_audio names the problem
        return None


__all__ = [
    "AudioBatchError",
    "FailureRaisingIterator",
    "InputFailure",
    "PipelineBatchCollator",
    "STREAM_CHUNK_SECONDS",
    "STREAM_LONGER_THAN",
    "TOP_K_PER_HEAD",
    "SoundNetAudioClassificationPipeline",
    "header_duration",
    "streaming",
    "threads_beside_workers",
]
