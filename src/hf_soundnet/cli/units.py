"""Hear what a layer's units respond to: the segments of a collection that most activate each unit, as an HTML gallery.

The paper's "hearing the hidden representation". Every file is streamed through the model (decoded progressively, run
in chunks with exact context: bounded memory however many and long the files), keeping per unit its best segments.
The score of unit c at frame t is the layer's output there (after the block's ReLU and max-pool; a class logit for
conv8); a segment is one (file, frame), its clip the frame's receptive field (the layer table's offset and
receptive_field around frame * hop; 4.13 s for conv7), clamped to the file. Each unit keeps its --top-k best segments
over all files, at most --per-file of them from one file (0: no limit), ties to the earlier file and frame. Only
frames whose whole field lies inside the file are scored (--edge-frames adds those that read the zero padding past
the file's start or end, which win for nearly every conv7 unit); a file shorter than one field is skipped and counted.

Writes into --output-dir: index.html (per unit, its segments best first: an audio player, the score, the file and
times), clips/ (cut with ffmpeg, one per distinct segment), units.json (the same, for programs) and, with --filters,
conv1_filters.png (the checkpoint's first-layer filters, also shown at the top of the page; needs matplotlib, the
`viz` extra). Files that cannot be read are reported, listed on the page and exit 1; the others are kept.

Example:
    soundnet units ../shared/audio --layer conv7 --units 0-15 --top-k 9 --output-dir gallery/
    soundnet units recordings/ --layer conv5 --per-file 0 --filters --output-dir gallery/
"""

import argparse
import os
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from ..exit_status import EXIT_FAILED_FILES, EXIT_OK
from ..inference.extract import STREAM_ERRORS
from ..inference.parallelism import torch_threads
from .common import UsageError, collect_inputs, load_model
from .options import add_option, add_quiet_argument


FILTERS_IMAGE = "conv1_filters.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Audio files, folders (searched recursively) or list files (.txt, one path per line).",
    )
    add_option(parser, "output_dir", type=Path, required=True, help="Folder of the gallery (created).")
    add_option(
        parser,
        "model",
        help="Checkpoint directory or Hub id (default: the released SoundNet-8, as for `soundnet classify`).",
    )
    add_option(parser, "layer", default="conv7", help="conv1..conv7, pool1/pool2/pool5, or conv8 (class logits).")
    add_option(parser, "units", metavar="LIST", help="Units to show, e.g. 0-15,42 (default: all of the layer's).")
    parser.add_argument(
        "--top-k",
        "--top_k",
        "--top",
        dest="top_k",
        type=int,
        default=9,
        help="Segments per unit (default: %(default)s).",
    )
    add_option(
        parser,
        "per_file",
        type=int,
        default=1,
        help="At most this many segments of one file per unit; 0: no limit (default: %(default)s).",
    )
    add_option(
        parser,
        "clip_format",
        choices=("ogg", "wav"),
        default="ogg",
        help="Clips as Ogg Opus (small) or WAV (default: %(default)s).",
    )
    add_option(
        parser,
        "edge_frames",
        action="store_true",
        help="Also score frames whose receptive field reaches past the file's start or end (zero padding).",
    )
    add_option(parser, "filters", action="store_true", help=f"Also draw the conv1 filters ({FILTERS_IMAGE}).")
    add_option(parser, "use_cpu", action="store_true", help="Run on CPU even when a GPU is available.")
    add_option(parser, "threads", type=int, help="torch threads (default: torch's).")
    add_option(
        parser,
        "chunk_seconds",
        type=float,
        default=60.0,
        help="Audio per streamed chunk; memory grows with it (default: %(default)s).",
    )
    add_quiet_argument(parser)


def check_arguments(args: argparse.Namespace) -> None:
    """Usage errors that need no model: numbers out of range, ffmpeg or matplotlib missing."""
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}.")
    if args.per_file < 0:
        raise UsageError(f"--per-file must be >= 0, got {args.per_file}.")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}.")
    if args.chunk_seconds <= 0:
        raise UsageError(f"--chunk-seconds must be > 0, got {args.chunk_seconds}.")
    from ..visualization.clips import ClipError, ffmpeg_program

    try:
        ffmpeg_program()
    except ClipError as err:
        raise UsageError(str(err)) from err
    if args.filters:
        from .timeline_plots import check_plot_dependency

        check_plot_dependency()


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    inputs = collect_inputs(args.paths)
    import torch

    from ..fast_forward_soundnet import FastSoundNet
    from ..visualization.gallery import write_gallery
    from ..visualization.units import TooShortForLayer, UnitSearch, parse_units

    device = "cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda"
    # The model itself, not the light FastSoundNet: the gallery reads its layers and conv1 weights (--filters).
    model_name, model, extractor = load_model(args.model, device=device, quiet=args.quiet, fast=False)
    fast = FastSoundNet.from_model(model).eval()
    try:
        layer = model.config.get_layer(args.layer, heads_available=fast.has_heads)
        units = parse_units(args.units, layer.channels) if args.units else None
    except ValueError as err:
        raise UsageError(f"--layer/--units: {err}") from err
    search = UnitSearch(
        fast,
        layer,
        units,
        top_k=args.top_k,
        per_file=args.per_file,
        edge_frames=args.edge_frames,
        input_scale=extractor.input_scale,
        channel_mode=extractor.channel_mode,
        chunk_seconds=args.chunk_seconds,
    )
    started = time.perf_counter()
    failures, too_short, audio_seconds, names = [], [], 0.0, []
    with (
        torch_threads(args.threads or torch.get_num_threads()),
        tqdm(total=len(inputs), unit="file", desc=f"units {layer.name}", disable=args.quiet, file=sys.stderr) as bar,
    ):
        for item in inputs:
            try:
                audio_seconds += search.add_file(item.path)
                names.append(item.relative.as_posix())
            except TooShortForLayer as err:
                too_short.append(str(err))
            except STREAM_ERRORS as err:
                message = str(err) if str(item.path) in str(err) else f"{item.path}: {err}"
                failures.append(message)
                tqdm.write(f"soundnet units: {message}", file=sys.stderr)
            bar.update(1)
    if too_short and not args.quiet:
        print(
            f"soundnet units: {len(too_short)} files shorter than one {layer.name} receptive field "
            f"({layer.receptive_field / extractor.sampling_rate:.2f} s) skipped, e.g. {too_short[0]}",
            file=sys.stderr,
        )
    if not search.paths:
        print(f"soundnet units: none of the {len(inputs)} files gave a frame; no gallery written.", file=sys.stderr)
        return EXIT_FAILED_FILES

    output = args.output_dir
    output.mkdir(parents=True, exist_ok=True)
    filters_image = None
    if args.filters:
        from ..visualization.filters import plot_conv1_filters

        plot_conv1_filters(model).savefig(output / FILTERS_IMAGE, dpi=90)
        filters_image = FILTERS_IMAGE
    distinct = {(s.file_index, s.frame) for segments in search.segments().values() for s in segments}
    with tqdm(total=len(distinct), unit="clip", desc="clips", disable=args.quiet, file=sys.stderr) as bar:
        report = write_gallery(
            search,
            output,
            names=names,
            clip_format=args.clip_format,
            filters_image=filters_image,
            failures=failures,
            skipped=too_short,
            progress=bar.update,
        )
    for message in report.failures:
        print(f"soundnet units: {message}", file=sys.stderr)
    if not args.quiet:
        print(
            f"soundnet units: {len(search.units)} {layer.name} units over {len(search.paths)} files "
            f"({audio_seconds:.1f} s of audio) in {time.perf_counter() - started:.1f} s; "
            f"{len(report.clips)} clips; open {os.fspath(report.index)}",
            file=sys.stderr,
        )
    if failures or report.failures:
        print(
            f"soundnet units: {len(failures)} of {len(inputs)} files and {len(report.failures)} clips failed "
            "(listed above).",
            file=sys.stderr,
        )
        return EXIT_FAILED_FILES
    return EXIT_OK


__all__ = ["FILTERS_IMAGE", "add_arguments", "check_arguments", "run"]
