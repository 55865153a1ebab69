"""Recognise objects and scenes in recordings with the released SoundNet heads.

Writes one JSON object per file (JSON Lines): `path`, `duration_s`, the top `objects` and `scenes`
(`label`, `probability`: each head's per-step softmax averaged over the clip, exactly
`SoundNetForAudioClassification.clip_probabilities`, with clips shorter than 10 s repeated as the feature
extractor does), and a `timeline` with, per conv8 step (2.97 s for SoundNet-8), its `start_s` and top object and
scene. A file that fails gives `{"path": ..., "error": ...}` (also on stderr).

Each successful record also names the `model`, its `weights_sha256`, `top_k` and `precision`.

Decoding (--decoder): with auto, up to 8 files are decoded by the `ffmpeg` program, a child process per file, which
spares importing torchcodec (about 1 s of start-up); more files are decoded by torchcodec, quicker per file. The
samples, hence the records, are the same.

With --plot DIR, each classified file also gets a timeline picture, `DIR/<path below the inputs' folder>.png`
(waveform, then the object and scene heat strips per conv8 step), drawn from the probabilities of the same forward
(needs matplotlib: pip install "hf-soundnet[viz]"). A picture that cannot be written is reported and exits 1.
Files skipped because --output-file already has them get no new picture.

Resumable: with --output-file, files that already have a successful line are skipped; failed ones are retried; a
run killed even with kill -9 loses only the records it had not yet written. One run at a time writes an output (a
lock beside it, `<output>.lock`): a second one is refused with exit status 2, as is resuming into a file written with
another model, --top-k or --precision, or into a file that holds anything but this command's records.

Under `accelerate launch` (or `torchrun`) with several processes, each process classifies its own share of the
files (balanced by audio duration, `hf_soundnet.inference.sharding`) on its own GPU or part of the cores, appending to
its own part `<output>.part-<rank>-of-<world_size>`; at the end process 0 merges the parts into --output-file (this
run's records in input order, after those already there) and deletes them. The set of records is the one a single
process writes (which writes them in batch order). --output-file is required then (without it, exit status 2). A
stopped run leaves its parts: the next run, with any number of processes, merges them first and skips their files.
When one process dies the launcher stops the others; each loses only the records it had not yet written.

Example:
    soundnet classify ../shared/audio recordings.txt --output-file predictions.jsonl --top-k 3
    soundnet classify ../shared/audio --plot plots/
    accelerate launch --multi_gpu --num_processes 4 -m hf_soundnet.cli classify audio/ --output-file predictions.jsonl
"""

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from ..exit_status import EXIT_FAILED_FILES, EXIT_OK
from ..inference.classify import classify_files
from ..inference.sharding import ProcessGroup, my_share
from .common import (
    InferenceOptions,
    InputFile,
    UsageError,
    add_common_arguments,
    agree,
    check_common_arguments,
    collect_inputs,
    load_model,
    options_for_process,
    with_decoder,
)
from .jsonl_output import (
    OutputLock,
    check_output_path,
    merge_parts,
    part_path,
    part_paths,
    read_records,
    resume,
    weights_sha256,
)
from .options import add_option
from .timeline_plots import TimelinePlotter, check_plot_dependency


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_option(
        parser,
        "output_file",
        type=Path,
        deprecated=["--output"],
        help="JSON Lines file (appended to, resumable); stdout when unset. Required with several processes.",
    )
    add_option(parser, "top_k", type=int, default=5, help="Objects and scenes per file (default: %(default)s).")
    add_option(
        parser,
        "plot",
        type=Path,
        metavar="DIR",
        help="Also write one timeline PNG per classified file into DIR (needs matplotlib, the `viz` extra).",
    )


def read_done(output: Path, settings: dict) -> set[str]:
    """
    Absolute paths with a successful line made with `settings` in `output` or in parts left by a multi-process run
    (merged into `output` first; see `jsonl_output.resume`: error lines and a torn last line are dropped; foreign
    lines and other settings are usage errors). Call under `OutputLock`.
    """
    return resume(output, settings, part_paths(output))


def run(args: argparse.Namespace) -> int:
    options = check_common_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}.")
    if args.plot:
        check_plot_dependency()
    inputs = collect_inputs(args.paths)
    options = with_decoder(options, args, len(inputs))
    world_size = ProcessGroup.launched_world_size()
    if world_size > 1 and not args.output_file:
        raise UsageError(
            f"{world_size} processes need --output-file: each writes a part that process 0 merges into it."
        )
    group = ProcessGroup.from_environment()
    try:
        if group.is_distributed:
            return classify_shared(args, options_for_process(options, group, args.use_cpu), inputs, group)
    finally:
        group.close()
    if not args.output_file:
        return classify_into(args, options, inputs)
    check_output_path(args.output_file)
    with OutputLock(args.output_file):  # held until every record is written: one writer per output file
        read_records(args.output_file)  # refuse someone else's file before loading the model
        return classify_into(args, options, inputs)


def classify_into(args: argparse.Namespace, options: InferenceOptions, inputs: list[InputFile]) -> int:
    """Classifies the `inputs` not yet in `args.output_file` (stdout when unset) and appends their records."""
    model_name, model, extractor = load_model(args.model, quiet=args.quiet, **options.model_arguments())
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

    started = time.perf_counter()
    plotter = timeline_plotter(args, model, extractor, pending)
    records = records_of(args, options, model_name, model, extractor, pending, settings, plotter)
    sink = args.output_file.open("a", encoding="utf-8") if args.output_file else sys.stdout
    try:
        failures, audio_seconds = write_records(records, sink, total=len(pending), quiet=args.quiet)
    finally:
        if sink is not sys.stdout:
            sink.close()
    status = summarise(args, num_files=len(pending), failures=failures, audio_seconds=audio_seconds, started=started)
    return plot_status(status, plotter)


def timeline_plotter(args: argparse.Namespace, model, extractor, inputs: list[InputFile]) -> TimelinePlotter | None:
    """The [`TimelinePlotter`] of `--plot`, or None without it."""
    if not args.plot:
        return None
    return TimelinePlotter(args.plot, inputs, model.config, extractor.sampling_rate)


def plot_status(status: int, plotter: TimelinePlotter | None) -> int:
    """`status`, or `EXIT_FAILED_FILES` when a picture could not be written (said on stderr)."""
    if plotter is None or not plotter.failures:
        return status
    print(f"soundnet classify: {plotter.failures} plots could not be written (listed above).", file=sys.stderr)
    return EXIT_FAILED_FILES


def records_of(
    args: argparse.Namespace,
    options: InferenceOptions,
    model_name: str,
    model,
    extractor,
    pending: list[InputFile],
    settings: dict,
    plotter: TimelinePlotter | None = None,
) -> Iterable[dict]:
    """The records of `pending` from `classify_files`, each successful one with the model name and `settings`
    (and its picture written by `plotter`, when given)."""
    try:
        records = classify_files(
            model,
            extractor,
            [str(item.path) for item in pending],
            top_k=args.top_k,
            with_arrays=plotter is not None,
            **options.library_arguments(),
        )
    except ValueError as err:  # a model without the object/scene heads: raised here, before anything is written
        raise UsageError(f"{model_name}: {err}") from err
    if plotter is not None:
        records = plotter.plotted(records)
    return (record if "error" in record else {**record, "model": str(model_name), **settings} for record in records)


def write_records(
    records: Iterable[dict], sink: TextIO, *, total: int, quiet: bool, description: str = "classify"
) -> tuple[int, float]:
    """Writes each record to `sink` as one JSON line, flushed (a killed run resumes from what is on disk), and each
    failure on stderr; `(failures, audio seconds classified)`."""
    failures, audio_seconds = 0, 0.0
    with tqdm(total=total, unit="file", desc=description, disable=quiet, file=sys.stderr) as bar:
        for record in records:
            if "error" in record:
                failures += 1
                tqdm.write(f"soundnet classify: {record['error']}", file=sys.stderr)
            else:
                audio_seconds += record["duration_s"]
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            bar.update(1)
    return failures, audio_seconds


def summarise(args: argparse.Namespace, *, num_files: int, failures: int, audio_seconds: float, started: float) -> int:
    """Prints the summary (unless quiet) and the failure count; the exit status."""
    elapsed = time.perf_counter() - started
    if not args.quiet:
        print(
            f"soundnet classify: {num_files - failures} files, {audio_seconds:.1f} s of audio in {elapsed:.2f} s "
            f"({audio_seconds / max(elapsed, 1e-9):.0f} audio s/s after start-up)",
            file=sys.stderr,
        )
    if failures:
        print(
            f"soundnet classify: {failures} of {num_files} files failed (listed above); fix or remove them and run again.",
            file=sys.stderr,
        )
    return EXIT_FAILED_FILES if failures else EXIT_OK


def classify_shared(
    args: argparse.Namespace, options: InferenceOptions, inputs: list[InputFile], group: ProcessGroup
) -> int:
    """
    One process of a multi-process run: process 0 takes the output's lock and merges what an earlier run left;
    every process classifies its share into its part; process 0 merges the parts and prints the summary. Every
    process returns the run's exit status (1 when any file failed in any process).
    """
    check_output_path(args.output_file)
    with contextlib.ExitStack() as lock:
        problem = None
        if group.is_main:
            try:
                lock.enter_context(OutputLock(args.output_file))
                read_records(args.output_file)  # refuse someone else's file before loading the model
            except UsageError as err:
                problem = str(err)
        agree(group, problem)
        model_name, model, extractor = load_model(args.model, quiet=args.quiet, **options.model_arguments())
        settings = {"weights_sha256": weights_sha256(model), "top_k": args.top_k, "precision": options.precision}
        done, problem = set(), None
        if group.is_main:
            try:
                done = read_done(args.output_file, settings)
            except UsageError as err:
                problem = str(err)
        done = agree(group, problem, done)
        pending = [item for item in inputs if os.path.abspath(item.path) not in done]
        if len(pending) < len(inputs) and group.is_main and not args.quiet:
            print(
                f"soundnet classify: {len(inputs) - len(pending)} files already in {args.output_file}; skipped.",
                file=sys.stderr,
            )
        started = time.perf_counter()
        mine = [pending[i] for i in my_share([str(item.path) for item in pending], group)]
        failures, audio_seconds = 0, 0.0
        plotter = timeline_plotter(args, model, extractor, mine)
        if mine:
            records = records_of(args, options, model_name, model, extractor, mine, settings, plotter)
            with part_path(args.output_file, group.rank, group.world_size).open("a", encoding="utf-8") as sink:
                failures, audio_seconds = write_records(
                    records,
                    sink,
                    total=len(mine),
                    quiet=args.quiet or not group.is_main,
                    description=f"classify (process 0 of {group.world_size})",
                )
        failures += plotter.failures if plotter is not None else 0
        counts = group.all_gather((failures, audio_seconds))  # also waits for every process's part
        if group.is_main:
            order = {os.path.abspath(item.path): position for position, item in enumerate(inputs)}
            merge_parts(args.output_file, part_paths(args.output_file), order)
    group.barrier()  # the others exit after the merge: the launcher stops every process when one exits non-zero
    failures = sum(count for count, _ in counts)
    if not pending:
        return EXIT_OK
    if not group.is_main:
        return EXIT_FAILED_FILES if failures else EXIT_OK
    return summarise(
        args, num_files=len(pending), failures=failures, audio_seconds=sum(s for _, s in counts), started=started
    )


__all__ = ["add_arguments", "read_done", "run"]
