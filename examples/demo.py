#!/usr/bin/env python
"""Classify recordings with the released SoundNet-8 through transformers' audio-classification pipeline.

Prints, per file, the top objects (ImageNet) and scenes (Places) with the original model's probabilities.
Exit status as every command's (see `soundnet --help`): 0 done, 1 some files failed, 2 usage error.

Example:
    python examples/demo.py ../shared/audio/railroad.wav --model soundnet8 --top_k 5
"""

import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser, pipeline

import hf_soundnet  # noqa: F401  (registers SoundNet with the Auto classes)
from hf_soundnet.categories import OBJECT_PREFIX, SCENE_PREFIX
from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK
from hf_soundnet.cli.options import QUIET_HELP, HelpFormatter, parse_dataclasses, silenced


@dataclass
class DemoArguments:
    model: str = field(default="soundnet8", metadata={"help": "Checkpoint directory or Hub id."})
    top_k: int = field(default=5, metadata={"help": "How many objects and scenes to print."})
    use_cpu: bool = field(default=False, metadata={"help": "Run on CPU even when a GPU is available."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP})


def parse_args(argv: list[str] | None = None) -> tuple[DemoArguments, list[str]]:
    """`(arguments, paths)`; usage errors exit 2."""
    parser = HfArgumentParser(DemoArguments, description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Audio files (any format ffmpeg reads).")
    args, rest = parse_dataclasses(parser, argv)
    return args, rest.paths


def main(argv: list[str] | None = None) -> int:
    args, paths = parse_args(argv)
    with silenced(args.quiet):
        return classify(args, paths)


def classify(args: DemoArguments, paths: list[str]) -> int:
    """Prints the top objects and scenes of each file; the exit status."""
    import torch

    device = "cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda"
    classifier = pipeline("audio-classification", model=args.model, device=device)
    failures = 0
    for path in paths:
        try:
            predictions = classifier(str(path), top_k=None)
        except Exception as err:  # a bad file is reported and the others still run
            print(f"{path}: error: {err}", file=sys.stderr)
            failures += 1
            continue
        print(f"\n{path}")
        for prefix, title in ((SCENE_PREFIX, "scenes"), (OBJECT_PREFIX, "objects")):
            top = [p for p in predictions if p["label"].startswith(prefix)][: args.top_k]
            print(f"  top {title}: " + ", ".join(f"{p['label'][len(prefix) :]} ({p['score']:.3f})" for p in top))
    return EXIT_FAILED_FILES if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
