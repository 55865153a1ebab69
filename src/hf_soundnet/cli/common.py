"""What both subcommands share: input discovery, the common options, model loading and exit statuses.

The exit statuses below are those of every command and example of the package (documented in `hf_soundnet.cli`).
"""

import argparse
import os
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..errors import SoundNetError
from ..exit_status import EXIT_FAILED_FILES, EXIT_OK, EXIT_PUSH_FAILED, EXIT_USAGE
from ..inference.parallelism import available_cores, default_parallelism
from ..inference.sharding import ProcessGroup
from .options import add_option, add_quiet_argument


# Files found in folders are those with these suffixes (anything FFmpeg decodes may also be named explicitly).
AUDIO_EXTENSIONS = frozenset(
    [
        ".wav",
        ".wave",
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".aac",
        ".aif",
        ".aiff",
        ".au",
        ".wma",
        ".webm",
        ".mka",
        ".mp4",
        ".caf",
    ]
)
# An argument with one of these suffixes is a list of paths, one per line (relative ones from the list's folder).
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list"})

# `--decoder auto` decodes with the `ffmpeg` program up to this many input files, else with torchcodec. The program
# spares torchcodec's import (about 0.9 s of start-up, mostly `torch._dynamo`) but costs a process start per file
# (about 85 ms against torchcodec's 27 ms for a 30 s MP3): it breaks even near 15 files. Half of that keeps auto on
# the winning side when the machine is loaded or the measurement is off by a few tens of milliseconds per file.
AUTO_FFMPEG_MAX_FILES = 8
DECODER_CHOICES = ("auto", "torchcodec", "ffmpeg")


class UsageError(SoundNetError):
    """A problem with the command line or its environment (exit status 2), not with one input file."""


@dataclass(frozen=True)
class InputFile:
    """An input `path` and `relative`, its path below the inputs' common folder (mirrored in outputs)."""

    path: Path
    relative: Path


def _expand(argument: str) -> list[Path]:
    path = Path(argument)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        entries = [Path(line) for line in lines if line and not line.startswith("#")]
        return [entry if entry.is_absolute() else path.parent / entry for entry in entries]
    return [path]  # a file, or a missing path: reported as that file's error


def collect_inputs(arguments: list[str]) -> list[InputFile]:
    """
    Files named by `arguments` (files, folders searched recursively for audio suffixes, or list files), without
    duplicates, in order, each with its path relative to the deepest folder that holds them all.
    """
    seen, paths = set(), []
    for argument in arguments:
        for path in _expand(argument):
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                paths.append(path)
    if not paths:
        raise UsageError(
            f"no audio files found in {arguments} (searched suffixes: {' '.join(sorted(AUDIO_EXTENSIONS))})."
        )
    absolute = [Path(os.path.abspath(p)) for p in paths]
    root = Path(os.path.commonpath([p.parent for p in absolute]))
    return [InputFile(path, a.relative_to(root)) for path, a in zip(paths, absolute)]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Audio files, folders (searched recursively) or list files (.txt, one path per line).",
    )
    add_option(
        parser,
        "model",
        help="Checkpoint directory or Hub id (default: the released SoundNet-8: ./soundnet8 when that folder exists, "
        "else a copy converted once into $HF_SOUNDNET_CACHE, default ~/.cache/hf_soundnet).",
    )
    add_option(parser, "batch_size", type=int, default=8, help="Clips per forward pass (default: %(default)s).")
    add_option(
        parser,
        "num_workers",
        type=int,
        help="Decoding processes (0 decodes in the main process; default: on CPU half the cores, rounded down, "
        "plus one, beside the model's threads on the other half; all but one core with a GPU).",
    )
    add_option(parser, "use_cpu", action="store_true", help="Run on CPU even when a GPU is available.")
    # The old `--device auto|cpu|cuda`: cpu means --use-cpu, auto and cuda are the default.
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), action=_DeviceAlias, help=argparse.SUPPRESS)
    add_option(
        parser,
        "precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="Compute precision of the fast forward (default: %(default)s, equal to the eager model to 1e-4; bf16 "
        "and fp16 agree to about 1e-2 and 2e-3 and pay off on GPUs).",
    )
    add_option(
        parser,
        "eager",
        action="store_true",
        help="Run the transformers model as it is instead of the fast forward (BN folded, GEMM convolutions).",
    )
    add_option(
        parser,
        "threads",
        type=int,
        help="torch threads of the main process (default: the cores that the decoding processes leave, at least 1).",
    )
    add_option(
        parser,
        "decoder",
        choices=DECODER_CHOICES,
        default="auto",
        help="What decodes the audio: torchcodec, or the ffmpeg program (a process per file); the samples are the "
        "same. auto (default): ffmpeg for at most "
        f"{AUTO_FFMPEG_MAX_FILES} input files when the program is on PATH (it spares torchcodec's import, about 1 s "
        "of start-up), torchcodec otherwise (quicker per file).",
    )
    add_quiet_argument(parser)


class _DeviceAlias(argparse.Action):
    """The deprecated `--device`: `cpu` sets `use_cpu`; `auto` and `cuda` were the default (a GPU when there is one)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, "use_cpu", **{**kwargs, "default": argparse.SUPPRESS})

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(
            "--device is deprecated and will be removed; use --use-cpu for CPU (a GPU is used when there is one).",
            FutureWarning,
            stacklevel=2,
        )
        if values == "cpu":
            namespace.use_cpu = True


@dataclass(frozen=True)
class InferenceOptions:
    """
    The checked common options of `soundnet classify` and `soundnet extract`.

    Args:
        device: `"cuda"`, or `"cpu"` with `--use-cpu` or without a GPU.
        batch_size: clips per forward.
        num_workers: decoding processes, or None for the library's split (`hf_soundnet.inference.parallelism`).
        num_threads: torch threads, or None likewise.
        fast: the fast forward (False with `--eager`).
        precision: `"fp32"`, `"bf16"` or `"fp16"`.
        decoder: `"torchcodec"` or `"ffmpeg"`, the decoder that `--decoder` chose ([`with_decoder`]; torchcodec
            until then).
    """

    device: str
    batch_size: int
    num_workers: int | None
    num_threads: int | None
    fast: bool
    precision: str
    decoder: str = "torchcodec"

    def library_arguments(self) -> dict:
        """The keyword arguments of `classify_files` and `extract_files` that these options give."""
        return {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "num_threads": self.num_threads,
            "fast": self.fast,
            "precision": self.precision,
            "decoder": self.decoder,
        }

    def model_arguments(self) -> dict:
        """The keyword arguments of [`load_model`] that these options give."""
        return {"device": self.device, "fast": self.fast, "precision": self.precision, "decoder": self.decoder}


def check_common_arguments(args: argparse.Namespace) -> InferenceOptions:
    """The common options of `args`, checked (a `UsageError` names the option); `args` is not modified."""
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}.")
    if args.num_workers is not None and args.num_workers < 0:
        raise UsageError(f"--num-workers must be >= 0, got {args.num_workers}.")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}.")
    if args.eager and args.precision != "fp32":
        raise UsageError("--precision bf16/fp16 needs the fast forward; drop --eager.")
    return InferenceOptions(
        device="cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda",
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        num_threads=args.threads,
        fast=not args.eager,
        precision=args.precision,
    )


def choose_decoder(choice: str, num_files: int) -> str:
    """
    The decoder of `--decoder` `choice` for a command over `num_files` input files: `"ffmpeg"` (the program) or
    `"torchcodec"`. `auto` takes the program for at most `AUTO_FFMPEG_MAX_FILES` files when `ffmpeg` is on PATH,
    else torchcodec; an explicit `ffmpeg` without the program on PATH is a usage error.
    """
    if choice not in DECODER_CHOICES:
        raise UsageError(f"--decoder must be one of {', '.join(DECODER_CHOICES)}, got {choice!r}.")
    has_program = shutil.which("ffmpeg") is not None
    if choice == "auto":
        return "ffmpeg" if has_program and num_files <= AUTO_FFMPEG_MAX_FILES else "torchcodec"
    if choice == "ffmpeg" and not has_program:
        raise UsageError(
            "--decoder ffmpeg needs the ffmpeg program on PATH (apt-get install ffmpeg); or use --decoder torchcodec."
        )
    return choice


def with_decoder(options: InferenceOptions, args: argparse.Namespace, num_files: int) -> InferenceOptions:
    """`options` with the decoder that `args.decoder` gives for `num_files` input files ([`choose_decoder`]); call it
    before [`load_model`], which loads torchcodec in the background only when torchcodec will decode."""
    return replace(options, decoder=choose_decoder(args.decoder, num_files))


def options_for_process(options: InferenceOptions, group: ProcessGroup, use_cpu: bool) -> InferenceOptions:
    """
    `options` as one process of `group` uses them: unchanged in one process; among several, its own GPU
    (`cuda:LOCAL_RANK`) or the CPU, and the library's split of the cores (`default_parallelism`) applied to its
    part of this machine's cores (`cores // LOCAL_WORLD_SIZE`) for what `--num-workers` / `--threads` leave unset,
    so that the processes of one machine do not oversubscribe it.
    """
    if not group.is_distributed:
        return options
    device = group.device(use_cpu)
    workers, threads = default_parallelism(device, group.cores(available_cores()), options.num_workers)
    return replace(options, device=device, num_workers=workers, num_threads=options.num_threads or threads)


def agree(group: ProcessGroup, problem: str | None, value: Any = None) -> Any:
    """
    Process 0's `value` in every process, when process 0 found no `problem` (the message of a usage error met in
    a step that only process 0 takes: the output's lock, the settings file); else a `UsageError` in every process
    (process 0's message there, a pointer to it in the others). In one process: `value`, or the `UsageError`.
    """
    problem, value = group.broadcast((problem, value))
    if problem is not None:
        raise UsageError(problem if group.is_main else f"stopped: process 0 of {group.world_size} met a usage error.")
    return value


def default_model(quiet: bool = False) -> str:
    """The checkpoint used without `--model`: `./soundnet8` when it holds a config, else the released weights
    converted into the user cache on first use (`hf_soundnet.conversion.released_checkpoint`, which says on stderr
    what it fetches and where it caches, unless `quiet`)."""
    if (Path("soundnet8") / "config.json").is_file():
        return "soundnet8"
    from ..conversion import ConversionError, released_checkpoint

    try:
        return str(released_checkpoint("soundnet8", quiet=quiet))
    except (ConversionError, OSError) as err:
        raise UsageError(
            f"no --model given and the released weights could not be made ready: {err} Pass --model with a "
            "checkpoint folder or Hub id."
        ) from err


def load_model(
    name: str | None,
    *,
    device: str,
    quiet: bool = False,
    fast: bool = True,
    precision: str = "fp32",
    decoder: str = "torchcodec",
) -> tuple[str, Any, Any]:
    """`(name, model, feature_extractor)` for `--model` `name` (resolved with [`default_model`] when None) on
    `device`; a missing or broken checkpoint is a usage error.

    With `fast` (no `--eager`), a checkpoint folder that `hf_soundnet.inference.light_loading` reads gives its
    `FastSoundNet` in `precision` straight from `model.safetensors`, without transformers' model classes (the command's
    start-up); anything else registers SoundNet with transformers (`hf_soundnet.register`, deferred in the command) and
    loads the transformers model as before. When the `decoder` is torchcodec, its import starts in a background thread
    while the checkpoint is read; the `ffmpeg` program needs none."""
    from ..inference.light_loading import load_fast_classifier, readable_checkpoint

    if name is None:
        name = default_model(quiet=quiet)
    try:
        if decoder == "torchcodec" and fast and readable_checkpoint(name):
            from ..audio.decoding import preload_decoder_in_background

            preload_decoder_in_background()  # FFmpeg's libraries load while the checkpoint is read
        light = load_fast_classifier(name, device=device, precision=precision) if fast else None
        if light is not None:
            return name, *light
        from .. import register
        from ..inference.engine import load_model_and_extractor

        register()
        model, extractor = load_model_and_extractor(name, device=device)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot load the model {name!r}: {err}") from err
    return name, model, extractor


__all__ = [
    "agree",
    "AUDIO_EXTENSIONS",
    "EXIT_FAILED_FILES",
    "EXIT_OK",
    "EXIT_PUSH_FAILED",
    "EXIT_USAGE",
    "InputFile",
    "LIST_EXTENSIONS",
    "UsageError",
    "add_common_arguments",
    "AUTO_FFMPEG_MAX_FILES",
    "DECODER_CHOICES",
    "InferenceOptions",
    "check_common_arguments",
    "choose_decoder",
    "collect_inputs",
    "default_model",
    "load_model",
    "options_for_process",
    "with_decoder",
]
