"""Recognise objects and scenes in recordings with the released SoundNet heads.

Writes one JSON object per file (JSON Lines): `path`, `duration_s`, the top `objects` and `scenes`
(`label`, `probability`: each head's per-step softmax averaged over the clip, exactly
`SoundNetForAudioClassification.clip_probabilities`, with clips shorter than 10 s repeated as the feature
extractor does), and a `timeline` with, per conv8 step (2.97 s for SoundNet-8), its `start_s` and top object and
scene. A file that fails gives `{"path": ..., "error": ...}` (also on stderr).

Resumable: with --output, files that already have a successful line are skipped; failed ones are retried.

Example:
    soundnet classify ../shared/audio recordings.txt --output predictions.jsonl --top-k 3
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..batch_inference import AudioFileDataset, has_heads, make_loader, run_batches
from ..categories import OBJECT_PREFIX, SCENE_PREFIX
from ..layer_features import clip_step_probabilities
from .common import (
    EXIT_FAILED_FILES,
    EXIT_OK,
    UsageError,
    add_common_arguments,
    check_common_arguments,
    collect_inputs,
    load_model,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--output", type=Path, help="JSON Lines file (appended to, resumable); stdout when unset.")
    parser.add_argument("--top-k", type=int, default=5, help="Objects and scenes per file (default: %(default)s).")


def head_labels(config) -> tuple[list[str], list[str]]:
    """Object and scene names from the checkpoint's `id2label` (objects first), without their prefixes."""
    names = [config.id2label[i] for i in range(config.num_object_classes + config.num_scene_classes)]
    strip = [
        name[len(prefix) :] if name.startswith(prefix) else name
        for name, prefix in zip(
            names, [OBJECT_PREFIX] * config.num_object_classes + [SCENE_PREFIX] * config.num_scene_classes
        )
    ]
    return strip[: config.num_object_classes], strip[config.num_object_classes :]


def top_k(probabilities: np.ndarray, labels: list[str], k: int) -> list[dict]:
    """The `k` most probable labels of `probabilities` `(num_classes,)`, most probable first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"label": labels[i], "probability": float(probabilities[i])} for i in order]


def classification_record(
    path: str,
    duration_s: float,
    object_steps: np.ndarray,
    scene_steps: np.ndarray,
    labels: tuple[list[str], list[str]],
    k: int,
    step_seconds: float,
) -> dict:
    """The JSON object of one file from its per-step probabilities `(steps, classes)` of both heads."""
    objects, scenes = labels
    timeline = [
        {
            "start_s": round(step * step_seconds, 6),
            "object": top_k(object_steps[step], objects, 1)[0],
            "scene": top_k(scene_steps[step], scenes, 1)[0],
        }
        for step in range(object_steps.shape[0])
    ]
    return {
        "path": path,
        "duration_s": round(duration_s, 6),
        "objects": top_k(object_steps.mean(axis=0), objects, k),
        "scenes": top_k(scene_steps.mean(axis=0), scenes, k),
        "timeline": timeline,
    }


def read_done(output: Path) -> set[str]:
    """
    Absolute paths with a successful line in `output`, after rewriting it without its error lines and any torn last
    line (so failed files are retried and the file holds one line per file).
    """
    if not output.is_file():
        return set()
    kept, done = [], set()
    for line in output.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "path" in record and "error" not in record:
            kept.append(line)
            done.add(os.path.abspath(record["path"]))
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    temporary.replace(output)
    return done


def run(args: argparse.Namespace) -> int:
    check_common_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}.")
    inputs = collect_inputs(args.paths)
    done = read_done(args.output) if args.output else set()
    pending = [item for item in inputs if os.path.abspath(item.path) not in done]
    if args.output and len(pending) < len(inputs):
        print(
            f"soundnet classify: {len(inputs) - len(pending)} files already in {args.output}; skipped.",
            file=sys.stderr,
        )
    if not pending:
        return EXIT_OK

    model, extractor = load_model(args)
    if not has_heads(model):
        raise UsageError(f"{args.model} has no object/scene heads (classifier_type={model.config.classifier_type!r}).")
    labels = head_labels(model.config)
    step_seconds = model.config.head_hop / extractor.sampling_rate
    dataset = AudioFileDataset([str(item.path) for item in pending], extractor)
    loader = make_loader(
        dataset,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        pin_memory=next(model.parameters()).device.type == "cuda",
    )

    failures, audio_seconds, started = 0, 0.0, time.perf_counter()
    sink = args.output.open("a", encoding="utf-8") if args.output else sys.stdout
    try:
        with tqdm(total=len(pending), unit="file", desc="classify", disable=args.quiet, file=sys.stderr) as bar:
            for batch, output in run_batches(model, loader, fast=not args.eager, precision=args.precision):
                for item in batch.failures:
                    failures += 1
                    tqdm.write(f"soundnet classify: {item.error}", file=sys.stderr)
                    sink.write(json.dumps({"path": item.name, "error": item.error}) + "\n")
                if output is not None:
                    for item, (objects, scenes) in zip(batch.items, clip_step_probabilities(model, batch, output)):
                        record = classification_record(
                            item.name, item.duration_s, objects, scenes, labels, args.top_k, step_seconds
                        )
                        sink.write(json.dumps(record) + "\n")
                        audio_seconds += item.duration_s
                sink.flush()
                bar.update(len(batch.items) + len(batch.failures))
    finally:
        if sink is not sys.stdout:
            sink.close()
    elapsed = time.perf_counter() - started
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


__all__ = ["add_arguments", "classification_record", "head_labels", "read_done", "run", "top_k"]
