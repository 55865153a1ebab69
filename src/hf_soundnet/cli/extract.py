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

Decoding (--decoder): with auto, up to 8 files are decoded by the `ffmpeg` program, a child process per file, and
their durations read by `ffprobe`, which spares importing torchcodec (about 1 s of start-up); more files are decoded
by torchcodec. The samples are the same (streamed files are always decoded as above).

Resumable: files whose output exists are skipped. Failed files are listed on stderr and in OUT/errors.jsonl.

Example:
    soundnet extract ../shared/audio --layer pool5 --output-dir features/ --format safetensors
"""

import argparse
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from ..exit_status import EXIT_FAILED_FILES, EXIT_OK
from ..inference.extract import ExtractedFeatures, ExtractionFailure, extract_files, extraction_feature_extractor
from ..inference.features import HEAD_OUTPUTS, resolve_layer
from ..inference.sharding import ProcessGroup, my_share
from . import common
from .common import InputFile, UsageError, add_common_arguments, check_common_arguments, collect_inputs, load_model
from .feature_writers import DATASET_FORMAT, WRITERS, FeatureSink, FileSink, ParquetDatasetSink
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
    options = check_common_arguments(args)
    if args.format in ("parquet", DATASET_FORMAT) and importlib.util.find_spec("pyarrow") is None:
        raise UsageError(f"--format {args.format} needs pyarrow: pip install 'hf-soundnet[train]' (or pyarrow).")
    inputs = collect_inputs(args.paths)
    options = common.with_decoder(options, args, len(inputs))
    group = ProcessGroup.from_environment()
    try:
        return extract_into(args, common.options_for_process(options, group, args.use_cpu), inputs, group)
    finally:
        group.close()


def extract_into(
    args: argparse.Namespace, options: common.InferenceOptions, inputs: list[InputFile], group: ProcessGroup
) -> int:
    """
    Extracts the `inputs` not yet in `args.output_dir`. In a multi-process `group`, process 0 checks and writes the
    settings, every process extracts its share (`my_share`) into its own files or dataset shards and its own
    errors part, and process 0 merges the errors and prints the summary; every process returns the run's status.
    """
    model_name, model, extractor = load_model(args.model, quiet=args.quiet, **options.model_arguments())
    try:
        spec = resolve_layer(model, args.layer)
    except ValueError as err:
        raise UsageError(str(err)) from err
    settings = {
        "model": str(model_name),
        "layer": spec.name,
        "format": args.format,
        "head_output": args.head_output if spec.is_head else None,
        "shape": "(channels, frames)",
        "channels": spec.channels,
        "hop_samples": spec.hop,
        "sampling_rate": extractor.sampling_rate,
        "hop_seconds": spec.hop / extractor.sampling_rate,
        "repeat_to_seconds": extraction_feature_extractor(extractor, not args.no_repeat).repeat_to_seconds,
    }
    problem = None
    if group.is_main:
        try:
            check_settings(args.output_dir, settings)
        except UsageError as err:
            problem = str(err)
    common.agree(group, problem)
    errors_path = args.output_dir / ERRORS_FILE
    if args.format == DATASET_FORMAT:
        prefix = f"train-rank{group.rank:03d}" if group.is_distributed else "train"
        sink = ParquetDatasetSink(args.output_dir, settings, prefix=prefix)
    else:
        sink = FileSink(args.output_dir, WRITERS[args.format])
    try:
        pending = [item for item in inputs if not sink.is_done(item.relative)]
        if len(pending) < len(inputs) and group.is_main and not args.quiet:
            print(f"soundnet extract: {len(inputs) - len(pending)} files already extracted; skipped.", file=sys.stderr)
        if group.is_main:
            errors_path.unlink(missing_ok=True)
            for part in errors_path.parent.glob(f"{ERRORS_FILE}.part-*"):  # left by a stopped multi-process run
                part.unlink()
        group.barrier()  # every process has seen what is done before any writes
        mine = [pending[i] for i in my_share([str(item.path) for item in pending], group)]
        failures = []
        if mine:
            results = extract_files(
                model,
                extractor,
                [str(item.path) for item in mine],
                layer=spec.name,
                head_output=args.head_output,
                stream_longer_than=args.stream_longer_than,
                repeat_short_clips=not args.no_repeat,
                **options.library_arguments(),
            )
            failures = write_results(
                results, sink, settings=settings, pending=mine, quiet=args.quiet or not group.is_main
            )
    finally:
        sink.close()
    if not group.is_distributed:
        return report(failures, len(pending), errors_path) if pending else EXIT_OK
    if failures:
        part = errors_path.with_name(f"{ERRORS_FILE}.part-{group.rank}-of-{group.world_size}")
        part.write_text("".join(json.dumps(f) + "\n" for f in failures), encoding="utf-8")
    everyone = group.all_gather(failures)  # also waits for every process's files
    status = EXIT_OK
    if group.is_main and pending:
        status = report([failure for part in everyone for failure in part], len(pending), errors_path)
        for part in errors_path.parent.glob(f"{ERRORS_FILE}.part-*"):
            part.unlink()
    group.barrier()  # the others exit after the merge: the launcher stops every process when one exits non-zero
    return EXIT_FAILED_FILES if any(everyone) else status


def write_results(
    results: Iterable[ExtractedFeatures | ExtractionFailure],
    sink: FeatureSink,
    *,
    settings: dict,
    pending: list[InputFile],
    quiet: bool,
) -> list[dict]:
    """Saves each result of `extract_files` over `pending` to `sink` with its metadata and reports each failure on
    stderr; the failures, as `errors.jsonl` lines."""
    inputs = {str(item.path): item for item in pending}
    failures = []
    layer = settings["layer"]
    with tqdm(total=len(pending), unit="file", desc=f"extract {layer}", disable=quiet, file=sys.stderr) as bar:
        for result in results:
            if isinstance(result, ExtractionFailure):
                failures.append({"path": result.name, "error": result.error})
                tqdm.write(f"soundnet extract: {result.error}", file=sys.stderr)
            else:
                metadata = {**settings, "source": result.name, "duration_s": result.duration_s}
                if result.streamed:
                    metadata["streamed"] = True
                sink.save(inputs[result.name].relative, result.features, metadata)
            bar.update(1)
    return failures


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


__all__ = ["add_arguments", "check_settings", "run"]
