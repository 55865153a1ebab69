#!/usr/bin/env python
"""Fine-tune SoundNet on a labelled audio set with the Trainer and report accuracy.

The model is `SoundNetForAudioClassification` with `classifier_type="linear"`: masked mean pooling of
--classifier_layer and a linear layer, on the trunk of --model (the converted released weights, or a variant name
such as soundnet5 for a random start). Training examples are random --crop_seconds crops; evaluation uses whole
clips. Accuracy comes from the package's local evaluate module (works offline).

Data: a folder in the ESC-50 release layout (meta/esc50.csv + audio/; --eval_fold is held out), or a datasets id
with an Audio column and a label column (--eval_split, or else --eval_fold of a fold column, or else a stratified
20 % split). Every TrainingArguments option is accepted. --push-to-hub REPO_ID pushes the final model (config,
weights, preprocessor config, code and the Trainer's model card) when training ends, with --hub_token and
--hub_private_repo; a failed push keeps the local model and exits 3.

Example:
    python examples/finetune.py --data ESC-50-master --model soundnet8 --classifier_layer pool5 \\
        --output_dir soundnet8-esc50 --num_train_epochs 20 --learning_rate 1e-4 --per_device_train_batch_size 16
"""

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm
from transformers import AutoFeatureExtractor, HfArgumentParser, Trainer, TrainingArguments

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.finetuning import (
    AudioClassificationCollator,
    accuracy_metric,
    build_classifier,
    decode_labelled_audio,
    random_crop_transform,
)
from hf_soundnet.hub import publish_trained_model
from hf_soundnet.labelled_audio import load_labelled_audio


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
    decode_workers: int = field(default=2, metadata={"help": "Processes decoding the audio once before training."})


def load_split(args: FinetuneArguments, split: str, extractor):
    data = load_labelled_audio(args.data, split=split, audio_column=args.audio_column, label_column=args.label_column)
    with tqdm(total=len(data.labels), unit="clip", desc=f"decode {split}", file=sys.stderr) as bar:
        dataset, skipped = decode_labelled_audio(data, extractor, num_workers=args.decode_workers, progress=bar.update)
    for name, error in skipped:
        print(f"finetune: skipped {name}: {error}", file=sys.stderr)
    return data, dataset


def main(argv: list[str] | None = None) -> int:
    # `--push-to-hub REPO_ID` is ours (the final model, once); TrainingArguments' boolean `--push_to_hub` (with
    # `--hub_model_id`) still works and pushes every checkpoint through the Trainer.
    hub = argparse.ArgumentParser(add_help=False)
    hub.add_argument("--push-to-hub", dest="push_repo", metavar="REPO_ID")
    hub_args, argv = hub.parse_known_args(argv)
    parser = HfArgumentParser((FinetuneArguments, TrainingArguments), description=__doc__)
    args, training_args = parser.parse_args_into_dataclasses(args=argv)
    training_args.remove_unused_columns = False  # the collator needs the raw `waveform` column

    try:
        extractor = AutoFeatureExtractor.from_pretrained(args.model)
    except OSError:
        extractor = SoundNetFeatureExtractor()  # a variant name: the default preprocessing
    try:
        data, dataset = load_split(args, args.split, extractor)
    except (OSError, ValueError) as err:
        print(f"finetune: error: {err}", file=sys.stderr)
        return 2
    if args.eval_split is not None:
        train, evaluation = dataset, load_split(args, args.eval_split, extractor)[1]
    elif data.folds is not None:
        eval_fold = args.eval_fold if args.eval_fold is not None else int(np.max(data.folds))
        train = dataset.filter(lambda fold: fold != eval_fold, input_columns="fold")
        evaluation = dataset.filter(lambda fold: fold == eval_fold, input_columns="fold")
    else:
        parts = dataset.class_encode_column("label").train_test_split(0.2, stratify_by_column="label", seed=0)
        train, evaluation = parts["train"], parts["test"]
    print(f"finetune: {len(train)} training and {len(evaluation)} evaluation clips, {len(data.label_names)} classes")

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
    trainer.train()
    metrics = trainer.evaluate()
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    trainer.save_model()
    if training_args.push_to_hub:
        trainer.push_to_hub(finetuned_from=args.model, tasks="audio-classification")
    print(f"eval accuracy: {metrics['eval_accuracy']:.4f}")
    if hub_args.push_repo and trainer.is_world_process_zero():
        trainer.create_model_card(
            model_name=hub_args.push_repo.split("/")[-1], finetuned_from=args.model, tasks="audio-classification"
        )
        return publish_trained_model(
            training_args.output_dir,
            hub_args.push_repo,
            token=training_args.hub_token,
            private=bool(training_args.hub_private_repo),
            program="finetune",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
