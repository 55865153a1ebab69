#!/usr/bin/env python
"""Zero-shot evaluation of a SoundNet text-audio checkpoint: each clip's label is the candidate whose prompt scores
highest (the zero-shot pipeline's answer), with no training; accuracy is printed per fold and over all clips.

The labels are the set's class names with underscores as spaces ("pouring_water" -> "pouring water"), each put in
the checkpoint's prompt template (`config.hypothesis_template`, "a photo of a {}.": the text tower is an image-text
teacher's) or --hypothesis_template. The prompts are embedded once; each clip is decoded in-process (`load_audio`)
and scored as `pipeline("zero-shot-audio-classification")` scores it. Corrupt clips are skipped and counted.

Data: as examples/linear_probe.py, a folder in the ESC-50 release layout (meta/esc50.csv + audio/) or a `datasets`
id with an Audio column and a label column. Folds are reported for comparison with the linear probe (nothing is
trained on them). Exit status as every command's (see `soundnet --help`): 0 done, 1 done but some clips were skipped,
2 usage error (options, or --data / --model that cannot be loaded).

Example:
    python examples/zero_shot_eval.py --data ESC-50-master --model runs/sn8-clip-zero-shot
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


@dataclass(kw_only=True)
class ZeroShotArguments(LabelledAudioArguments):
    model: str = field(metadata={"help": "Zero-shot checkpoint (SoundNetTextAudioModel) directory or Hub id."})
    hypothesis_template: str | None = field(
        default=None, metadata={"help": "Prompt of a label, with {} for it (default: the checkpoint's)."}
    )
    use_cpu: bool = field(default=False, metadata={"help": "Run on CPU even when a GPU is available."})
    output_file: str | None = field(default=None, metadata={"help": "Also write the results to this JSON file."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP + " The accuracies are still printed."})


def parse_args(argv: list[str] | None = None) -> ZeroShotArguments:
    """The options; usage errors exit 2."""
    parser = HfArgumentParser(ZeroShotArguments, description=__doc__, formatter_class=HelpFormatter)
    (args,) = parse_dataclasses(parser, argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with silenced(args.quiet):
        return evaluate(args)


def evaluate(args: ZeroShotArguments) -> int:
    """Scores every clip against every label's prompt, prints the accuracies; the exit status."""
    import torch
    from transformers import AutoModel, AutoProcessor

    from hf_soundnet import load_audio
    from hf_soundnet.errors import SoundNetError
    from hf_soundnet.zero_shot import label_embeddings, zero_shot_probabilities

    device = "cpu" if args.use_cpu or not torch.cuda.is_available() else "cuda"
    try:
        data = args.load_labelled_audio()
        model = AutoModel.from_pretrained(args.model).to(device).eval()
        processor = AutoProcessor.from_pretrained(args.model)
        if getattr(model.config, "model_type", None) != "soundnet_text_audio":
            raise ValueError(f"{args.model} is a {type(model).__name__}, not a zero-shot SoundNet checkpoint.")
        labels = [name.replace("_", " ") for name in data.label_names]
        text_embeds = label_embeddings(model, processor, labels, args.hypothesis_template)
    except (OSError, ValueError) as err:
        print(f"zero_shot_eval: error: {err}", file=sys.stderr)
        return EXIT_USAGE

    extractor = processor.feature_extractor
    predictions, skipped = {}, []
    names = data.names or [f"record {i}" for i in range(len(data.labels))]
    for index in tqdm(range(len(data.labels)), unit="clip", desc="zero-shot", file=sys.stderr, disable=args.quiet):
        source = data.sources[index]
        try:
            if isinstance(source, dict):
                source = source.get("bytes") or source["path"]
            waveform = load_audio(source, extractor.sampling_rate, channel_mode=extractor.channel_mode)[0]
            probabilities = zero_shot_probabilities(model, processor, waveform, text_embeds)
        except SoundNetError as err:
            skipped.append((names[index], err))
            continue
        predictions[index] = int(probabilities.argmax())
    for name, error in skipped:
        print(f"zero_shot_eval: skipped {name}: {error}", file=sys.stderr)

    scored = np.array(sorted(predictions))
    correct = np.array([predictions[i] == data.labels[i] for i in scored], dtype=bool)
    fold_accuracy = {}
    if data.folds is not None and len(scored):
        for fold in sorted(set(data.folds[scored].tolist())):
            in_fold = data.folds[scored] == fold
            fold_accuracy[int(fold)] = float(correct[in_fold].mean())
    accuracy = float(correct.mean()) if len(scored) else float("nan")
    template = args.hypothesis_template or model.config.hypothesis_template
    print(f"zero-shot: {len(labels)} labels, prompt {template!r}, {len(scored)} clips, {len(skipped)} skipped")
    for fold, value in fold_accuracy.items():
        print(f"fold {fold}: accuracy {value:.4f} ({int((data.folds[scored] == fold).sum())} clips)")
    print(f"accuracy: {accuracy:.4f} over {len(scored)} clips")
    if args.output_file:
        result = {
            "accuracy": accuracy,
            "fold_accuracy": fold_accuracy,
            "hypothesis_template": template,
            "labels": labels,
            "predictions": {names[i]: labels[p] for i, p in predictions.items()},
            "skipped": [name for name, _ in skipped],
        }
        with open(args.output_file, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return EXIT_FAILED_FILES if skipped else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
