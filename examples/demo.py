#!/usr/bin/env python
"""Classify recordings with the released SoundNet-8 through transformers' audio-classification pipeline.

Prints, per file, the top objects (ImageNet) and scenes (Places) with the original model's probabilities.

Example:
    python examples/demo.py ../shared/audio/railroad.wav --model soundnet8 --top-k 5
"""

import argparse
import sys
from pathlib import Path

from transformers import pipeline

import hf_soundnet  # noqa: F401  (registers SoundNet with the Auto classes)
from hf_soundnet.categories import OBJECT_PREFIX, SCENE_PREFIX


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="Audio files (any format ffmpeg reads).")
    parser.add_argument("--model", default="soundnet8", help="Checkpoint directory or Hub id (default: soundnet8).")
    parser.add_argument("--top-k", type=int, default=5, help="How many objects and scenes to print.")
    args = parser.parse_args(argv)

    classifier = pipeline("audio-classification", model=args.model)
    failures = 0
    for path in args.paths:
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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
