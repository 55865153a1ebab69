#!/usr/bin/env python
"""The SoundNet paper's linear-probe evaluation: a linear SVM on one layer's features, cross-validated over folds.

Each frame of the chosen layer is a segment: the SVM (scikit-learn LinearSVC, C=0.01 by default) trains on every
segment with its clip's label, a clip's score is the mean of its segments' scores, and accuracy is computed per
held-out fold. Prints per-fold and mean accuracy; corrupt clips are skipped and counted.

Data: a local folder in the ESC-50 release layout (meta/esc50.csv + audio/), or a `datasets` id (or local dataset
folder) with an Audio column, a label column and a `fold` column (else --num_folds stratified folds).
Exit status as every command's (see `soundnet --help`): 0 done, 1 done but some clips were skipped, 2 usage error
(options, or --data / --model that cannot be loaded).

Examples:
    python examples/linear_probe.py --data ESC-50-master --layer pool5
    python examples/linear_probe.py --data ashraq/esc50 --label_column target --layer conv6 --c 0.01
"""

import json
import sys
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm
from transformers import HfArgumentParser

from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK, EXIT_USAGE
from hf_soundnet.cli.options import QUIET_HELP, HelpFormatter, parse_dataclasses, silenced
from hf_soundnet.downstream.labelled_audio import LabelledAudioArguments
from hf_soundnet.downstream.linear_probe import cross_validate, extract_segments, make_folds
from hf_soundnet.inference.engine import load_model_and_extractor


@dataclass(kw_only=True)
class ProbeArguments(LabelledAudioArguments):
    model: str = field(default="soundnet8", metadata={"help": "Checkpoint directory or Hub id."})
    layer: str = field(
        default="pool5", metadata={"help": "Layer whose frames are the segments (conv1..conv7, pool5...)."}
    )
    c: float = field(default=0.01, metadata={"help": "LinearSVC regularisation C (the paper: 0.01)."})
    standardize: bool = field(
        default=False, metadata={"help": "Standardize features before the SVM (not in the paper)."}
    )
    num_folds: int | None = field(
        default=None,
        metadata={"help": "Stratified folds to make when the data has no fold column (default 5), or to override it."},
    )
    batch_size: int = field(default=8, metadata={"help": "Clips per forward pass."})
    num_workers: int = field(default=2, metadata={"help": "Decoding processes."})
    use_cpu: bool = field(default=False, metadata={"help": "Run on CPU even when a GPU is available."})
    seed: int = field(default=0, metadata={"help": "Seed of the SVM and of stratified folds."})
    output_file: str | None = field(default=None, metadata={"help": "Also write the results to this JSON file."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP + " The accuracies are still printed."})


def parse_args(argv: list[str] | None = None) -> ProbeArguments:
    """The options; usage errors exit 2."""
    parser = HfArgumentParser(ProbeArguments, description=__doc__, formatter_class=HelpFormatter)
    (args,) = parse_dataclasses(parser, argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with silenced(args.quiet):
        return probe(args)


def probe(args: ProbeArguments) -> int:
    """Extracts the features, cross-validates the SVM and prints the accuracies; the exit status."""
    import torch

    device = "cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda"
    try:
        data = args.load_labelled_audio()
        model, extractor = load_model_and_extractor(args.model, device=device)
    except (OSError, ValueError) as err:
        print(f"linear_probe: error: {err}", file=sys.stderr)
        return EXIT_USAGE

    with tqdm(
        total=len(data.labels), unit="clip", desc=f"features {args.layer}", file=sys.stderr, disable=args.quiet
    ) as bar:
        features, skipped = extract_segments(
            model, extractor, data.sources, args.layer, data.names, args.batch_size, args.num_workers, bar.update
        )
    for name, error in skipped:
        print(f"linear_probe: skipped {name}: {error}", file=sys.stderr)
    folds = make_folds(data.labels, data.folds, args.num_folds, seed=args.seed)
    accuracy, size = cross_validate(
        features, data.labels, folds, C=args.c, standardize=args.standardize, seed=args.seed
    )

    print(
        f"linear probe: layer {args.layer}, LinearSVC C={args.c}, {len(data.label_names)} classes, "
        f"{len(features)} clips, {len(skipped)} skipped"
    )
    for fold, value in accuracy.items():
        print(f"fold {fold}: accuracy {value:.4f} ({size[fold]} clips)")
    values = np.array(list(accuracy.values()))
    print(f"mean accuracy: {values.mean():.4f} +- {values.std():.4f} over {len(values)} folds")
    if args.output_file:
        result = {
            "layer": args.layer,
            "C": args.c,
            "fold_accuracy": accuracy,
            "mean_accuracy": float(values.mean()),
            "skipped": [name for name, _ in skipped],
        }
        with open(args.output_file, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return EXIT_FAILED_FILES if skipped else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
