"""Extract features of one layer of SoundNet for each audio file.

Writes one file per input under --output-dir, mirroring the inputs' folders, named after the input file plus the format's
suffix (`a/dog.wav` -> `OUT/a/dog.wav.npy`). Each holds a float32 array of shape `(channels, frames)`: the valid
frames of the layer (after BN, ReLU and the block's pool; clips shorter than 10 s are repeated first, as the feature
extractor does, unless --no-repeat). Frame `t` starts at `t * hop_samples / sampling_rate` seconds;
`OUT/extraction.json` records the layer, channels, hop and rate (also inside safetensors/parquet files).

Layers: conv1..conv7 and the pooled names pool1, pool2, pool5 (SoundNet-8), and conv8: the released heads' object
then scene logits (1000 + 401 channels; --head-output probabilities for each head's softmax).
Formats: npy (np.load), safetensors (tensor "features"), parquet (one row per frame: frame, time_s, features).
parquet-dataset writes one dataset instead of a file per input: Parquet shards OUT/data/train-NNNNN.parquet, one row
per frame with `path` (relative to the inputs' common folder, never absolute), `frame`, `time_s` and `features`,
loadable with `datasets.load_dataset("parquet", data_dir=OUT)` and publishable with its `.push_to_hub`.

Long files (over --stream-longer-than seconds, default 600) are streamed: decoded progressively and run in chunks
with exact context (`hf_soundnet.inference.streaming`), so hours of audio take bounded memory and give the same frames as a
whole-file forward.

Resumable: files whose output exists are skipped. Failed files are listed on stderr and in OUT/errors.jsonl.

Example:
    soundnet extract ../shared/audio --layer pool5 --output-dir features/ --format safetensors
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio.batches import AudioFileDataset, make_loader
from ..audio.decoding import AudioLoadError
from ..configuration_soundnet import SoundNetLayerInfo
from ..inference.engine import inference_engine, run_batches
from ..inference.features import HEAD_OUTPUTS, clip_layer_features, head_channels, resolve_layer
from ..inference.streaming import concatenate_chunks, stream_file
from .common import (
    EXIT_FAILED_FILES,
    EXIT_OK,
    UsageError,
    add_common_arguments,
    check_common_arguments,
    collect_inputs,
    load_model,
)
from .feature_writers import DATASET_FORMAT, WRITERS, ParquetDatasetWriter, write_features
from .options import add_option


SETTINGS_FILE = "extraction.json"
ERRORS_FILE = "errors.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_option(parser, "layer", required=True, help="conv1..conv7, pool1/pool2/pool5, or conv8 (the heads).")
    add_option(parser, "output_dir", type=Path, required=True, deprecated=["--output"], help="Output folder.")
    add_option(
        parser,
        "format",
        choices=[*sorted(WRITERS), DATASET_FORMAT],
        default="npy",
        help=f"File format, or {DATASET_FORMAT} for one dataset of Parquet shards (default: %(default)s).",
    )
    add_option(
        parser, "head_output", choices=HEAD_OUTPUTS, default="logits", help="conv8 only (default: %(default)s)."
    )
    add_option(parser, "no_repeat", action="store_true", help="Do not repeat clips shorter than 10 s.")
    add_option(
        parser,
        "stream_longer_than",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="Stream files longer than this in chunks with exact context, in bounded memory (default: %(default)s; "
        "0 streams none).",
    )


def check_settings(output: Path, settings: dict) -> None:
    """Refuses to resume into a folder extracted with other settings; records the settings otherwise."""
    path = output / SETTINGS_FILE
    if output.exists() and not output.is_dir():
        raise UsageError(
            f"--output-dir {output} is a file, not a folder; choose a folder (new or from an earlier run)."
        )
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise UsageError(
                f"{path} is unreadable or not JSON ({err}); restore it, delete it to resume with the current "
                "settings, or choose another --output-dir."
            ) from err
        if not isinstance(previous, dict):
            raise UsageError(f"{path} is not a settings object; delete it or choose another --output-dir.")
        keys = ("layer", "format", "head_output", "repeat_to_seconds", "model")
        changed = {key: (previous.get(key), settings[key]) for key in keys if previous.get(key) != settings[key]}
        if changed:
            raise UsageError(
                f"{output} holds features extracted with other settings {changed} (old, new); "
                "choose another --output-dir or the same settings to resume."
            )
    try:
        output.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot write to --output-dir {output} ({err}); fix its permissions or choose another."
        ) from err


def run(args: argparse.Namespace) -> int:
    check_common_arguments(args)
    if args.format in ("parquet", DATASET_FORMAT) and importlib.util.find_spec("pyarrow") is None:
        raise UsageError(f"--format {args.format} needs pyarrow: pip install 'hf-soundnet[train]' (or pyarrow).")
    inputs = collect_inputs(args.paths)
    relative = {str(item.path): item.relative for item in inputs}

    model, extractor = load_model(args)
    if args.no_repeat:
        extractor.repeat_to_seconds = 0
    extractor.continue_long_clips = False  # a long file's frames are its own audio's, streamed or not
    try:
        spec = resolve_layer(model, args.layer)
    except ValueError as err:
        raise UsageError(str(err)) from err
    settings = {
        "model": str(args.model),
        "layer": spec.name,
        "format": args.format,
        "head_output": args.head_output if spec.is_head else None,
        "shape": "(channels, frames)",
        "channels": spec.channels,
        "hop_samples": spec.hop,
        "sampling_rate": extractor.sampling_rate,
        "hop_seconds": spec.hop / extractor.sampling_rate,
        "repeat_to_seconds": extractor.repeat_to_seconds,
    }
    check_settings(args.output_dir, settings)
    if args.format == DATASET_FORMAT:
        dataset_writer = ParquetDatasetWriter(args.output_dir, settings)
        done = dataset_writer.done_paths()
        pending = [item for item in inputs if item.relative.as_posix() not in done]

        def save(path: str, array: np.ndarray, metadata: dict) -> None:
            dataset_writer.add(relative[path], array)

    else:
        writer = WRITERS[args.format]
        targets = {path: args.output_dir / rel.with_name(rel.name + writer.suffix) for path, rel in relative.items()}
        pending = [item for item in inputs if not targets[str(item.path)].exists()]

        def save(path: str, array: np.ndarray, metadata: dict) -> None:
            write_features(writer, targets[path], array, metadata)

    try:
        return extract_pending(args, model, extractor, spec, settings, inputs, pending, save)
    finally:
        if args.format == DATASET_FORMAT:
            dataset_writer.close()


def extract_pending(args, model, extractor, spec: SoundNetLayerInfo, settings: dict, inputs, pending, save) -> int:
    """Extracts the `pending` inputs, handing each file's `(channels, frames)` array to `save(path, array,
    metadata)`; the exit status."""
    if len(pending) < len(inputs) and not args.quiet:
        print(f"soundnet extract: {len(inputs) - len(pending)} files already extracted; skipped.", file=sys.stderr)
    errors_path = args.output_dir / ERRORS_FILE
    errors_path.unlink(missing_ok=True)
    if not pending:
        return EXIT_OK

    failures = []
    durations = {str(item.path): probe_duration(item.path) for item in pending} if args.stream_longer_than > 0 else {}
    streamed = {str(item.path) for item in pending if (durations.get(str(item.path)) or 0.0) > args.stream_longer_than}
    long_files = [item for item in pending if str(item.path) in streamed]
    pending = [item for item in pending if str(item.path) not in streamed]
    if long_files:  # decoded progressively in this process: no workers, so the model takes every core
        torch.set_num_threads(args.solo_threads)
        engine = inference_engine(model, fast=True, precision=args.precision)
        for item in tqdm(long_files, unit="file", desc=f"stream {spec.name}", disable=args.quiet, file=sys.stderr):
            try:
                array = streamed_features(engine, item.path, spec, args.head_output, extractor)
            except (AudioLoadError, OSError, RuntimeError, ValueError) as err:
                failures.append({"path": str(item.path), "error": f"{item.path}: {err}"})
                tqdm.write(f"soundnet extract: {item.path}: {err}", file=sys.stderr)
                continue
            duration = durations[str(item.path)]
            metadata = {**settings, "source": str(item.path), "duration_s": duration, "streamed": True}
            save(str(item.path), array, metadata)
        if not pending:
            return report(failures, len(long_files), errors_path)
        torch.set_num_threads(args.threads)

    dataset = AudioFileDataset([str(item.path) for item in pending], extractor)
    loader = make_loader(
        dataset,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        pin_memory=next(model.parameters()).device.type == "cuda",
    )
    with tqdm(
        total=len(pending), unit="file", desc=f"extract {spec.name}", disable=args.quiet, file=sys.stderr
    ) as bar:
        for batch, output in run_batches(
            model, loader, num_blocks=spec.num_blocks, fast=not args.eager, precision=args.precision
        ):
            for item in batch.failures:
                failures.append({"path": item.name, "error": item.error})
                tqdm.write(f"soundnet extract: {item.error}", file=sys.stderr)
            if output is not None:
                features = clip_layer_features(output, spec, head_output=args.head_output)
                for item, array in zip(batch.items, features):
                    metadata = {**settings, "source": item.name, "duration_s": item.duration_s}
                    save(item.name, array, metadata)
            bar.update(len(batch.items) + len(batch.failures))
    return report(failures, len(pending) + len(long_files), errors_path)


def report(failures: list[dict], num_files: int, errors_path: Path) -> int:
    """Writes errors.jsonl and the summary; the exit status."""
    if failures:
        errors_path.write_text("".join(json.dumps(f) + "\n" for f in failures), encoding="utf-8")
        print(
            f"soundnet extract: {len(failures)} of {num_files} files failed (listed above and in {errors_path}); "
            "fix or remove them and run again to extract only those.",
            file=sys.stderr,
        )
    return EXIT_FAILED_FILES if failures else EXIT_OK


def probe_duration(path: Path) -> float | None:
    """The duration in seconds that the container's header states, or None when unknown or unreadable (the batch
    path then decodes the file and reports any error)."""
    try:
        from torchcodec.decoders import AudioDecoder

        return AudioDecoder(str(path)).metadata.duration_seconds_from_header
    except Exception:  # a corrupt file: left to the batch path, which names the problem
        return None


def streamed_features(engine, path: Path, spec: SoundNetLayerInfo, head_output: str, extractor) -> np.ndarray:
    """Layer `spec` of a whole file by exact chunked streaming: `(channels, frames)` float32, as the batch path
    writes it."""
    chunks = stream_file(
        engine, path, [spec.name], input_scale=extractor.input_scale, channel_mode=extractor.channel_mode
    )
    values = concatenate_chunks(chunks, [spec.name])
    if spec.is_head:
        features = head_channels(values["object_logits"], values["scene_logits"], head_output)
    else:
        features = values[spec.name]
    return np.ascontiguousarray(features.float().numpy())


__all__ = ["add_arguments", "check_settings", "run"]
