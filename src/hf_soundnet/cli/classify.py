"""Recognise objects and scenes in recordings with the released SoundNet heads.

Writes one JSON object per file (JSON Lines): `path`, `duration_s`, the top `objects` and `scenes`
(`label`, `probability`: each head's per-step softmax averaged over the clip, exactly
`SoundNetForAudioClassification.clip_probabilities`, with clips shorter than 10 s repeated as the feature
extractor does), and a `timeline` with, per conv8 step (2.97 s for SoundNet-8), its `start_s` and top object and
scene. A file that fails gives `{"path": ..., "error": ...}` (also on stderr).

Each successful record also names the `model`, its `weights_sha256`, `top_k` and `precision`.

Resumable: with --output-file, files that already have a successful line are skipped; failed ones are retried; a
run killed even with kill -9 loses only the records it had not yet written. One run at a time writes an output (a
lock beside it, `<output>.lock`): a second one is refused with exit status 2, as is resuming into a file written with
another model, --top-k or --precision, or into a file that holds anything but this command's records.

Example:
    soundnet classify ../shared/audio recordings.txt --output-file predictions.jsonl --top-k 3
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..exit_status import EXIT_FAILED_FILES, EXIT_OK
from ..inference.classify import classify_files
from .common import (
    InferenceOptions,
    InputFile,
    UsageError,
    add_common_arguments,
    check_common_arguments,
    collect_inputs,
    load_model,
)
from .jsonl_output import OutputLock, check_output_path, read_records, resume, weights_sha256
from .options import add_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_option(
        parser,
        "output_file",
        type=Path,
        deprecated=["--output"],
        help="JSON Lines file (appended to, resumable); stdout when unset.",
    )
    add_option(parser, "top_k", type=int, default=5, help="Objects and scenes per file (default: %(default)s).")


def read_done(output: Path, settings: dict) -> set[str]:
    """
    Absolute paths with a successful line made with `settings` in `output` (see `jsonl_output.resume`: error lines
    and a torn last line are dropped; foreign lines and other settings are usage errors). Call under `OutputLock`.
    """
    return resume(output, settings)


def run(args: argparse.Namespace) -> int:
    options = check_common_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}.")
    inputs = collect_inputs(args.paths)
    if not args.output_file:
        return classify_into(args, options, inputs)
    check_output_path(args.output_file)
    with OutputLock(args.output_file):  # held until every record is written: one writer per output file
        read_records(args.output_file)  # refuse someone else's file before loading the model
        return classify_into(args, options, inputs)


def classify_into(args: argparse.Namespace, options: InferenceOptions, inputs: list[InputFile]) -> int:
    """Classifies the `inputs` not yet in `args.output_file` (stdout when unset) and appends their records."""
    model_name, model, extractor = load_model(args.model, device=options.device, quiet=args.quiet)
    settings = {"weights_sha256": weights_sha256(model), "top_k": args.top_k, "precision": options.precision}
    done = read_done(args.output_file, settings) if args.output_file else set()
    pending = [item for item in inputs if os.path.abspath(item.path) not in done]
    if args.output_file and len(pending) < len(inputs) and not args.quiet:
        print(
            f"soundnet classify: {len(inputs) - len(pending)} files already in {args.output_file}; skipped.",
            file=sys.stderr,
        )
    if not pending:
        return EXIT_OK

    try:
        records = classify_files(
            model, extractor, [str(item.path) for item in pending], top_k=args.top_k, **options.library_arguments()
        )
    except ValueError as err:  # a model without the object/scene heads
        raise UsageError(f"{model_name}: {err}") from err
    failures, audio_seconds, started = 0, 0.0, time.perf_counter()
    sink = args.output_file.open("a", encoding="utf-8") if args.output_file else sys.stdout
    try:
        with tqdm(total=len(pending), unit="file", desc="classify", disable=args.quiet, file=sys.stderr) as bar:
            for record in records:
                if "error" in record:
                    failures += 1
                    tqdm.write(f"soundnet classify: {record['error']}", file=sys.stderr)
                else:
                    audio_seconds += record["duration_s"]
                if "error" not in record:
                    record = {**record, "model": str(model_name), **settings}
                sink.write(json.dumps(record) + "\n")
                sink.flush()  # a killed run resumes from what is on disk
                bar.update(1)
    finally:
        if sink is not sys.stdout:
            sink.close()
    elapsed = time.perf_counter() - started
    if not args.quiet:
        print(
            f"soundnet classify: {len(pending) - failures} files, {audio_seconds:.1f} s of audio in {elapsed:.2f} s "
            f"({audio_seconds / max(elapsed, 1e-9):.0f} audio s/s after start-up)",
            file=sys.stderr,
        )
    if failures:
        print(
            f"soundnet classify: {failures} of {len(pending)} files failed (listed above); fix or remove them and run again.",
            file=sys.stderr,
        )
    return EXIT_FAILED_FILES if failures else EXIT_OK


__all__ = ["add_arguments", "read_done", "run"]
