#!/usr/bin/env python
"""Build a SoundNet pre-training corpus from a folder of videos.

For every video: the audio at 22,050 Hz (mono, stored encoded), one frame per teacher step (5 s by default, the
original's 4 frames per 20 s), and each image teacher's softmax over that frame. Besides image classifiers
(--teachers), an image-text model (CLIPModel, SiglipModel, ...) is a teacher two ways: --embedding_teachers stores
its L2-normalised image embedding per step (float16), for a student in the teacher's space (pretrain.py
--embedding_teacher); --zero_shot_teachers with --zero_shot_labels stores its zero-shot softmax over the prompts
"a photo of a {label}." per step, distilled by the KL heads like the original's teachers. Records go to Parquet shards that
`datasets.load_dataset(OUTPUT, streaming=True)` reads; a dataset card (README.md) documents the schema.

Runs on one process or many: under `accelerate launch`, each process takes its own part of the videos and writes its
own shards (on GPUs, each process runs the teachers on its own GPU). Resumable: re-running the same command skips the
videos already in a shard and those listed as bad in failures/ (unless --retry_failed). Bad videos are skipped and
reported (--strict makes the first one fatal).

Examples:
    python examples/build_corpus.py --videos videos/ --output_dir corpus/ \\
        --teachers objects=microsoft/resnet-50 scenes=path/to/places365-classifier
    python examples/build_corpus.py --videos videos/ --output_dir corpus/ \
        --embedding_teachers clip=openai/clip-vit-base-patch32 \
        --zero_shot_teachers esc=openai/clip-vit-base-patch32 --zero_shot_labels esc50_labels.txt
    accelerate launch --num_processes 4 examples/build_corpus.py --videos videos/ --output_dir corpus/ --teachers ...

Exit status as every command's (see `soundnet --help`): 0 every video is in the corpus, 1 done but bad videos were
skipped (now or, listed in failures/, by an earlier run), or --strict and a bad video, 2 usage error (options, a teacher that does not
load, a missing videos folder, a corpus built with other settings).
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import PartialState
from tqdm.auto import tqdm
from transformers import HfArgumentParser

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK, EXIT_USAGE
from hf_soundnet.cli.options import QUIET_HELP, HelpFormatter, parse_dataclasses, silenced
from hf_soundnet.pretraining.corpus import CorpusError, save_corpus_info
from hf_soundnet.pretraining.corpus_builder import (
    VIDEO_EXTENSIONS,
    CorpusBuilder,
    corpus_info_for_build,
    find_videos,
    finished_keys,
    read_failures,
    set_aside_unreadable_shards,
)
from hf_soundnet.pretraining.corpus_card import write_dataset_card
from hf_soundnet.pretraining.image_text_teachers import read_labels
from hf_soundnet.pretraining.teachers import TeacherLoadError, load_teachers


@dataclass
class CorpusArguments:
    videos: Path = field(metadata={"help": "Folder of videos (searched recursively)."})
    output_dir: Path = field(metadata={"help": "Corpus folder (created; resumed if it exists)."})
    teachers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Image classifiers as [NAME=]MODEL (Hub id or local folder), loaded with "
            "AutoModelForImageClassification and AutoImageProcessor. Unnamed teachers are called objects, scenes, "
            "teacher2, ...",
            "metavar": "[NAME=]MODEL",
        },
    )
    embedding_teachers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Image-text models (CLIPModel, SiglipModel: AutoModel with get_image_features) as [NAME=]MODEL: "
            "one L2-normalised image embedding per step, stored as float16. Unnamed: embedding, embedding1, ...",
            "metavar": "[NAME=]MODEL",
        },
    )
    zero_shot_teachers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Image-text models as [NAME=]MODEL made classifiers over --zero_shot_labels: per step the softmax "
            "of exp(logit_scale) * cos(image, prompt). Unnamed: zero_shot, zero_shot1, ...",
            "metavar": "[NAME=]MODEL",
        },
    )
    zero_shot_labels: list[str] = field(
        default_factory=list,
        metadata={"help": "Labels of the zero-shot teachers, or one text file with one label per line."},
    )
    zero_shot_prompt: str = field(
        default="a photo of a {label}.", metadata={"help": "Prompt template of the zero-shot teachers."}
    )
    step_seconds: float = field(default=5.0, metadata={"help": "Seconds per teacher step/frame."})
    sampling_rate: int = field(default=22050, metadata={"help": "Audio rate in Hz (SoundNet's)."})
    audio_format: str = field(default="flac", metadata={"help": "Audio codec.", "choices": ("flac", "mp3", "wav")})
    channel_mode: str = field(
        default="first",
        metadata={"help": "Stereo to mono (first: the original).", "choices": SoundNetFeatureExtractor.channel_modes},
    )
    shard_size: int = field(default=64, metadata={"help": "Videos per shard."})
    extensions: list[str] = field(default_factory=lambda: list(VIDEO_EXTENSIONS), metadata={"help": "Video suffixes."})
    retry_failed: bool = field(default=False, metadata={"help": "Try again the videos listed in failures/."})
    strict: bool = field(default=False, metadata={"help": "Stop at the first bad video (exit status 1)."})
    use_cpu: bool = field(default=False, metadata={"help": "Run the teachers on CPU even when GPUs are there."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP})


def parse_args(argv: list[str] | None = None) -> CorpusArguments:
    """The options; usage errors exit 2."""
    parser = HfArgumentParser(CorpusArguments, description=__doc__, formatter_class=HelpFormatter)
    (args,) = parse_dataclasses(parser, argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with silenced(args.quiet):
        return build(args)


def build(args: CorpusArguments) -> int:
    """Builds (or resumes) the corpus on this process's share of the videos; the exit status."""
    # On a machine without GPUs, cpu=True makes `accelerate launch --multi_gpu` processes a gloo group (else each
    # would think it is alone).
    state = PartialState(cpu=args.use_cpu or not torch.cuda.is_available())
    try:
        teachers = load_teachers(
            args.teachers,
            device=state.device,
            embedding_specs=args.embedding_teachers,
            zero_shot_specs=args.zero_shot_teachers,
            zero_shot_labels=read_labels(args.zero_shot_labels),
            zero_shot_prompt=args.zero_shot_prompt,
        )
        info = corpus_info_for_build(
            args.output_dir,
            teachers,
            sampling_rate=args.sampling_rate,
            step_seconds=args.step_seconds,
            audio_format=args.audio_format,
            channel_mode=args.channel_mode,
        )
        keys = find_videos(args.videos, args.extensions)
    except (TeacherLoadError, CorpusError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if state.is_main_process:
        save_corpus_info(args.output_dir, info)
        set_aside_unreadable_shards(args.output_dir)  # e.g. truncated by a copy: warns naming it, rebuilds its videos
    state.wait_for_everyone()  # every process sees the same finished shards before any writes a new one

    done = finished_keys(args.output_dir)
    failed = {} if args.retry_failed else read_failures(args.output_dir)
    pending = [key for key in keys if key not in done and key not in failed]
    mine = pending[state.process_index :: state.num_processes]
    if state.is_main_process and not args.quiet:
        print(
            f"{len(keys)} videos: {len(done)} already in the corpus, {len(failed)} known bad, {len(pending)} to do "
            f"on {state.num_processes} process(es)."
        )
    builder = CorpusBuilder(args.output_dir, info, teachers, state.process_index, args.shard_size, args.strict)
    with tqdm(
        total=len(mine),
        desc=f"rank {state.process_index}",
        unit="video",
        position=state.process_index,
        disable=args.quiet,
    ) as bar:
        try:
            stats = builder.run(args.videos, mine, progress=bar)
        except Exception as err:  # only --strict lets a bad video out of the builder
            print(f"error (--strict): {err}", file=sys.stderr)
            return EXIT_FAILED_FILES
    if not args.quiet:
        print(f"rank {state.process_index}: wrote {stats.written} records in {len(stats.shards)} shard(s)", end="")
        print(f", skipped {len(stats.failed)} bad video(s) (listed on stderr)." if stats.failed else ".")
    for key, error in stats.failed.items():  # errors: shown with --quiet too
        print(f"build_corpus: skipped {key}: {error}", file=sys.stderr)
    if failed and state.is_main_process:
        print(
            f"build_corpus: {len(failed)} videos listed as bad in {args.output_dir / 'failures'} were skipped; "
            "--retry_failed tries them again.",
            file=sys.stderr,
        )

    state.wait_for_everyone()
    if state.is_main_process:
        card = write_dataset_card(args.output_dir, info)
        if not args.quiet:
            print(f"Corpus card: {card}")
    return EXIT_FAILED_FILES if stats.failed or failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
