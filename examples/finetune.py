#!/usr/bin/env python
"""Fine-tune SoundNet on a labelled audio set with the Trainer and report accuracy.

The model is `SoundNetForAudioClassification` with `classifier_type="linear"`: masked mean pooling of
--classifier_layer and a linear layer, on the trunk of --model (the converted released weights, or a variant name
such as soundnet5 for a random start). Training examples are random --crop_seconds crops; evaluation uses whole
clips. Accuracy comes from the package's local evaluate module (works offline).

Data: a folder in the ESC-50 release layout (meta/esc50.csv + audio/; --eval_fold is held out), or a datasets id
with an Audio column and a label column (--eval_split, or else --eval_fold of a fold column, or else a stratified
20 % split). Every TrainingArguments option is accepted (--output_dir, --use_cpu, --seed, ...). --push_to_hub pushes
the final model (config, weights, preprocessor config, code and the Trainer's model card) once, when training ends,
to --hub_model_id (default: the name of --output_dir), with --hub_token and --hub_private_repo; a failed push keeps
the local model and exits 3.

Exit status as every command's (see `soundnet --help`): 0 done, 1 done but some clips were skipped (listed), 2 usage
error (options, or --data / --model that cannot be loaded), 3 saved locally but the Hub push failed.

Example:
    python examples/finetune.py --data ESC-50-master --model soundnet8 --classifier_layer pool5 \\
        --output_dir soundnet8-esc50 --num_train_epochs 20 --learning_rate 1e-4 --per_device_train_batch_size 16
"""

import sys
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm
from transformers import AutoFeatureExtractor, HfArgumentParser, Trainer, TrainingArguments

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK, EXIT_USAGE
from hf_soundnet.cli.options import QUIET_HELP, HelpFormatter, parse_dataclasses, quiet_trainer, run_training_script
from hf_soundnet.downstream.finetuning import (
    AudioClassificationCollator,
    accuracy_metric,
    build_classifier,
    decode_labelled_audio,
    random_crop_transform,
)
from hf_soundnet.downstream.labelled_audio import load_labelled_audio
from hf_soundnet.hub import defer_push_to_hub, publish_training_output


@dataclass
class FinetuneArguments:
    data: str = field(metadata={"help": "ESC-50-layout folder, or a datasets id / local dataset folder."})
    model: str = field(default="soundnet8", metadata={"help": "Checkpoint to start from, or a variant name."})
    classifier_layer: str = field(default="pool5", metadata={"help": "Block feeding the linear classifier."})
    classifier_dropout: float = field(default=0.0, metadata={"help": "Dropout before the classifier."})
    crop_seconds: float = field(default=3.0, metadata={"help": "Length of the random training crops."})
    eval_fold: int | None = field(default=None, metadata={"help": "Held-out fold (default: the last fold)."})
    split: str = field(default="train", metadata={"help": "Training split of a datasets id."})
    eval_split: str | None = field(default=None, metadata={"help": "Evaluation split of a datasets id."})
    audio_column: str = field(default="audio", metadata={"help": "Audio column of a datasets id."})
    label_column: str = field(default="label", metadata={"help": "Label column of a datasets id."})
    num_workers: int = field(default=2, metadata={"help": "Processes decoding the audio once before training."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP})


def parse_args(argv: list[str] | None = None) -> tuple[FinetuneArguments, TrainingArguments]:
    """The options; usage errors exit 2."""
    parser = HfArgumentParser(
        (FinetuneArguments, TrainingArguments), description=__doc__, formatter_class=HelpFormatter
    )
    return parse_dataclasses(parser, argv)


def load_split(args: FinetuneArguments, split: str, extractor) -> tuple:
    """`(labelled audio, decoded dataset, skipped clip names)` of one split."""
    data = load_labelled_audio(args.data, split=split, audio_column=args.audio_column, label_column=args.label_column)
    with tqdm(total=len(data.labels), unit="clip", desc=f"decode {split}", file=sys.stderr, disable=args.quiet) as bar:
        dataset, skipped = decode_labelled_audio(data, extractor, num_workers=args.num_workers, progress=bar.update)
    for name, error in skipped:
        print(f"finetune: skipped {name}: {error}", file=sys.stderr)
    return data, dataset, [name for name, _ in skipped]


def main(argv: list[str] | None = None) -> int:
    return run_training_script(parse_args, finetune, argv)


def finetune(args: FinetuneArguments, training_args: TrainingArguments) -> int:
    """Decodes the data, trains, evaluates, saves (and pushes) the model; the exit status."""
    training_args.remove_unused_columns = False  # the collator needs the raw `waveform` column
    # The final model is pushed once, after it is saved (below), so that an unreachable Hub never stops training
    # and a failed push exits 3 with the local model intact; the Trainer itself pushes nothing.
    repo_id = defer_push_to_hub(training_args)

    try:
        extractor = AutoFeatureExtractor.from_pretrained(args.model)
    except OSError:
        extractor = SoundNetFeatureExtractor()  # a variant name: the default preprocessing
    try:
        data, dataset, skipped = load_split(args, args.split, extractor)
    except (OSError, ValueError) as err:
        print(f"finetune: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.eval_split is not None:
        _, evaluation, skipped_eval = load_split(args, args.eval_split, extractor)
        train, skipped = dataset, skipped + skipped_eval
    elif data.folds is not None:
        eval_fold = args.eval_fold if args.eval_fold is not None else int(np.max(data.folds))
        train = dataset.filter(lambda fold: fold != eval_fold, input_columns="fold")
        evaluation = dataset.filter(lambda fold: fold == eval_fold, input_columns="fold")
    else:
        parts = dataset.class_encode_column("label").train_test_split(0.2, stratify_by_column="label", seed=0)
        train, evaluation = parts["train"], parts["test"]
    if not args.quiet:
        print(
            f"finetune: {len(train)} training and {len(evaluation)} evaluation clips, {len(data.label_names)} classes"
        )

    crop = int(args.crop_seconds * extractor.sampling_rate)
    train.set_transform(random_crop_transform(crop, seed=training_args.seed))
    model = build_classifier(
        args.model, data.label_names, args.classifier_layer, classifier_dropout=args.classifier_dropout
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=AudioClassificationCollator(extractor),
        processing_class=extractor,
        compute_metrics=accuracy_metric(),
    )
    if args.quiet:
        quiet_trainer(trainer)
    trainer.train()
    metrics = trainer.evaluate()
    if not args.quiet:
        trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    trainer.save_model()
    if not args.quiet:
        print(f"eval accuracy: {metrics['eval_accuracy']:.4f}")
    if skipped:
        print(f"finetune: {len(skipped)} clips were skipped (listed above).", file=sys.stderr)
    if repo_id and trainer.is_world_process_zero():
        trainer.create_model_card(
            model_name=repo_id.split("/")[-1], finetuned_from=args.model, tasks="audio-classification"
        )
        status = publish_training_output(training_args, repo_id, program="finetune")
        if status != EXIT_OK:
            return status
    return EXIT_FAILED_FILES if skipped else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
