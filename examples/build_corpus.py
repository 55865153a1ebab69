#!/usr/bin/env python
"""Build a SoundNet pre-training corpus from a folder of videos.

For every video: the audio at 22,050 Hz (mono, stored encoded), one frame per teacher step (5 s by default, the
original's 4 frames per 20 s), and each image teacher's softmax over that frame. Records go to Parquet shards that
`datasets.load_dataset(OUTPUT, streaming=True)` reads; a dataset card (README.md) documents the schema.

Runs on one process or many: under `accelerate launch`, each process takes its own part of the videos and writes its
own shards (on GPUs, each process runs the teachers on its own GPU). Resumable: re-running the same command skips the
videos already in a shard and those listed as bad in failures/ (unless --retry-failed). Bad videos are skipped and
reported (--strict makes the first one fatal).

Examples:
    python examples/build_corpus.py --videos videos/ --output corpus/ \\
        --teacher objects=microsoft/resnet-50 --teacher scenes=path/to/places365-classifier
    accelerate launch --num_processes 4 examples/build_corpus.py --videos videos/ --output corpus/ --teacher ...

Exit status: 0 when every pending video was processed (bad ones skipped and listed), 1 on a fatal error
(bad arguments, a teacher that does not load, a corpus built with other settings, --strict and a bad video).
"""

import argparse
import sys
from pathlib import Path

import torch
from accelerate import PartialState
from tqdm.auto import tqdm

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.corpus import (
    CORPUS_INFO_FILE,
    CorpusError,
    CorpusInfo,
    TeacherInfo,
    load_corpus_info,
    save_corpus_info,
)
from hf_soundnet.corpus_builder import (
    VIDEO_EXTENSIONS,
    CorpusBuilder,
    find_videos,
    finished_keys,
    read_failures,
    set_aside_unreadable_shards,
)
from hf_soundnet.corpus_card import write_dataset_card
from hf_soundnet.teachers import ImageTeacher, TeacherLoadError, parse_teacher_spec


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, required=True, help="Folder of videos (searched recursively).")
    parser.add_argument("--output", type=Path, required=True, help="Corpus folder (created; resumed if it exists).")
    parser.add_argument(
        "--teacher",
        action="append",
        required=True,
        metavar="[NAME=]MODEL",
        help="An image classifier (Hub id or local folder) loaded with AutoModelForImageClassification and "
        "AutoImageProcessor. Repeat for several teachers. Unnamed teachers are called objects, scenes, teacher2, ...",
    )
    parser.add_argument("--step-seconds", type=float, default=5.0, help="Seconds per teacher step/frame (5).")
    parser.add_argument("--sampling-rate", type=int, default=22050, help="Audio rate in Hz (22050, SoundNet's).")
    parser.add_argument("--audio-format", choices=("flac", "mp3", "wav"), default="flac", help="Audio codec.")
    parser.add_argument(
        "--channel-mode",
        choices=SoundNetFeatureExtractor.channel_modes,
        default="first",
        help="Stereo to mono (first: the original).",
    )
    parser.add_argument("--shard-size", type=int, default=64, help="Videos per shard (64).")
    parser.add_argument("--extensions", nargs="+", default=list(VIDEO_EXTENSIONS), help="Video file extensions.")
    parser.add_argument("--retry-failed", action="store_true", help="Try again the videos listed in failures/.")
    parser.add_argument("--strict", action="store_true", help="Stop at the first bad video (exit status 1).")
    parser.add_argument("--cpu", action="store_true", help="Run the teachers on CPU even when GPUs are there.")
    return parser.parse_args(argv)


def load_teachers(specs: list[str], device) -> list[ImageTeacher]:
    named = [parse_teacher_spec(spec, i) for i, spec in enumerate(specs)]
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise TeacherLoadError(f"Teacher names must be unique, got {names}; name them with NAME=MODEL.")
    return [ImageTeacher.from_pretrained(model, name, device=device) for name, model in named]


def prepare_corpus(args: argparse.Namespace, teachers: list[ImageTeacher]) -> CorpusInfo:
    """The corpus settings; on a resumed build, checks they equal those the corpus was started with."""
    info = CorpusInfo(
        teachers=[TeacherInfo(t.name, t.model_id, t.num_classes, t.labels) for t in teachers],
        sampling_rate=args.sampling_rate,
        step_seconds=args.step_seconds,
        audio_format=args.audio_format,
        channel_mode=args.channel_mode,
    )
    if (args.output / CORPUS_INFO_FILE).exists():
        existing = load_corpus_info(args.output)
        if existing.settings() != info.settings():
            raise CorpusError(
                f"{args.output}: this corpus was started with other settings or teachers:\n  on disk: "
                f"{existing.settings()}\n  asked:   {info.settings()}\nUse the same options to resume, or another "
                "--output for a new corpus."
            )
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On a machine without GPUs, cpu=True makes `accelerate launch --multi_gpu` processes a gloo group (else each
    # would think it is alone).
    state = PartialState(cpu=args.cpu or not torch.cuda.is_available())
    try:
        teachers = load_teachers(args.teacher, state.device)
        info = prepare_corpus(args, teachers)
        keys = find_videos(args.videos, args.extensions)
    except (TeacherLoadError, CorpusError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if state.is_main_process:
        save_corpus_info(args.output, info)
        set_aside_unreadable_shards(args.output)  # e.g. truncated by a copy: warns naming it, rebuilds its videos
    state.wait_for_everyone()  # every process sees the same finished shards before any writes a new one

    done = finished_keys(args.output)
    failed = {} if args.retry_failed else read_failures(args.output)
    pending = [key for key in keys if key not in done and key not in failed]
    mine = pending[state.process_index :: state.num_processes]
    if state.is_main_process:
        print(
            f"{len(keys)} videos: {len(done)} already in the corpus, {len(failed)} known bad, {len(pending)} to do "
            f"on {state.num_processes} process(es)."
        )
    builder = CorpusBuilder(args.output, info, teachers, state.process_index, args.shard_size, args.strict)
    with tqdm(total=len(mine), desc=f"rank {state.process_index}", unit="video", position=state.process_index) as bar:
        try:
            stats = builder.run(args.videos, mine, progress=bar)
        except Exception as err:  # only --strict lets a bad video out of the builder
            print(f"error (--strict): {err}", file=sys.stderr)
            return 1
    print(f"rank {state.process_index}: wrote {stats.written} records in {len(stats.shards)} shard(s)", end="")
    print(f", skipped {len(stats.failed)} bad video(s):" if stats.failed else ".")
    for key, error in stats.failed.items():
        print(f"  skipped {key}: {error}")

    state.wait_for_everyone()
    if state.is_main_process:
        card = write_dataset_card(args.output, info)
        print(f"Corpus card: {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
