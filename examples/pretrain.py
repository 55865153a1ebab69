#!/usr/bin/env python
"""Pre-train SoundNet by distilling image teachers into sound, on a corpus made by examples/build_corpus.py.

Random 20 s crops (starting on a teacher-step boundary; shorter videos repeated up to the crop, as the original),
KL(teacher || student) per step for each head times lambda (250), Adam with lr 1e-3 and beta1 0.9 (the paper's).
Each process streams its own Parquet shards through a shuffle buffer; DataLoader workers decode the audio. Corrupt
records are skipped and counted (--strict makes them fatal). Logs: loss, object_loss, scene_loss, samples and audio
seconds per second, corrupt records. Checkpoints every --save-steps; --resume continues from the last one.

Examples:
    python examples/pretrain.py --corpus corpus/ --output-dir runs/sn8 --max-steps 100000
    accelerate launch --multi_gpu --num_processes 8 examples/pretrain.py --corpus corpus/ --output-dir runs/sn8 \\
        --max-steps 100000 --model soundnet5
    accelerate launch ... examples/pretrain.py --corpus corpus/ --output-dir runs/sn8 --max-steps 200000 --resume

Exit status: 0 when training finished, 1 on a bad corpus, model or output folder, or a corrupt record with --strict,
3 when the model was saved but --push-to-hub failed.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import AutoConfig
from transformers.trainer_utils import get_last_checkpoint

import hf_soundnet  # noqa: F401  (registers SoundNet with the Auto classes)
from hf_soundnet import SOUNDNET_VARIANTS, SoundNetConfig, SoundNetFeatureExtractor, SoundNetForPreTraining
from hf_soundnet.corpus import CorpusError, list_shards, load_corpus_info
from hf_soundnet.data_pretraining import (
    CorruptRecordError,
    SoundNetPretrainingCollator,
    default_head_teachers,
    pretraining_dataset,
)
from hf_soundnet.hub import publish_trained_model, render_model_card
from hf_soundnet.trainer_soundnet import SoundNetDistillationTrainer, distillation_training_arguments


logger = logging.getLogger("pretrain")
MODEL_CARDS = Path(__file__).resolve().parent.parent / "model_cards"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="Corpus folder (examples/build_corpus.py).")
    parser.add_argument("--output-dir", type=Path, required=True, help="Checkpoints, logs and the final model.")
    parser.add_argument("--max-steps", type=int, required=True, help="Optimiser steps (streaming needs a number).")
    parser.add_argument(
        "--model",
        default="soundnet8",
        help="soundnet8 or soundnet5 (from scratch), or a folder/Hub id: with weights, training starts from them; "
        "with only config.json, from scratch with that architecture (default: soundnet8).",
    )
    parser.add_argument("--resume", action="store_true", help="Continue from the last checkpoint in --output-dir.")
    parser.add_argument("--crop-seconds", type=float, default=20.0, help="Crop length, whole teacher steps (20).")
    parser.add_argument("--batch-size", type=int, default=64, help="Crops per process and step (64, the paper's).")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (1e-3).")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument("--num-workers", type=int, default=2, help="DataLoader workers decoding audio per process.")
    parser.add_argument("--shuffle-buffer", type=int, default=256, help="Records in the streaming shuffle buffer.")
    parser.add_argument("--object-teacher", help="Corpus teacher of the object head (default: objects or 1st).")
    parser.add_argument("--scene-teacher", help="Corpus teacher of the scene head (default: scenes or 2nd).")
    parser.add_argument("--logging-steps", type=int, default=10)
    parser.add_argument("--save-steps", type=int, default=1000)
    parser.add_argument("--save-total-limit", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="Stop at the first corrupt record.")
    parser.add_argument("--record-reads", action="store_true", help="Write the keys each process read to reads/.")
    parser.add_argument("--use-cpu", action="store_true", help="Train on CPU even when a GPU is there.")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision.")
    parser.add_argument(
        "--push-to-hub",
        metavar="REPO_ID",
        help="At the end, push the final model (config, weights, preprocessor config, code, a model card from "
        "model_cards/soundnet5.md with the training facts) to this Hub repo. A failed push keeps the local model "
        "and exits 2.",
    )
    parser.add_argument("--hub-token", help="Hub token with write access (default: the saved login or HF_TOKEN).")
    parser.add_argument("--hub-private", action="store_true", help="Create the Hub repo private.")
    return parser.parse_args(argv)


def head_teachers(args: argparse.Namespace, info) -> dict[str, str]:
    heads = default_head_teachers(info)
    for head, name in (("object", args.object_teacher), ("scene", args.scene_teacher)):
        if name:
            info.teacher(name)  # raises CorpusError naming the corpus's teachers
            heads[head] = name
    return heads


def load_model(name: str, info, heads: dict[str, str]) -> SoundNetForPreTraining:
    """A variant from scratch, a config folder from scratch, or a checkpoint; head sizes must fit the teachers."""
    sizes = {f"num_{head}_classes": info.teacher(teacher).num_classes for head, teacher in heads.items()}
    if name in SOUNDNET_VARIANTS:
        return SoundNetForPreTraining(SoundNetConfig.from_variant(name, **sizes))
    config = AutoConfig.from_pretrained(name)
    if not isinstance(config, SoundNetConfig):
        raise ValueError(f"{name}: not a SoundNet config (model_type {config.model_type!r}).")
    if Path(name).is_dir() and not any((Path(name) / f).exists() for f in WEIGHT_FILES):
        for field, size in sizes.items():
            setattr(config, field, size)
        return SoundNetForPreTraining(config)
    model = SoundNetForPreTraining.from_pretrained(name)
    wrong = {f: (getattr(model.config, f), s) for f, s in sizes.items() if getattr(model.config, f) != s}
    if wrong:
        raise ValueError(
            f"{name}: head sizes (model, corpus teacher) differ: {wrong}. Start from scratch (--model soundnet8, or a "
            "folder with only config.json) or pick matching teachers with --object-teacher/--scene-teacher."
        )
    return model


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    use_cpu = args.use_cpu or not torch.cuda.is_available()
    # cpu=True: without GPUs, `accelerate launch --multi_gpu` processes form a gloo group (as TrainingArguments does).
    state = PartialState(cpu=use_cpu)
    try:
        info = load_corpus_info(args.corpus)
        heads = head_teachers(args, info)
        num_shards = len(list_shards(args.corpus))
        if num_shards == 0:
            raise CorpusError(f"{args.corpus}: the corpus has no shards yet.")
        model = load_model(args.model, info, heads)
        if model.config.sampling_rate != info.sampling_rate:
            raise ValueError(
                f"The model expects {model.config.sampling_rate} Hz but the corpus holds {info.sampling_rate} Hz audio."
            )
    except (CorpusError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    checkpoint = get_last_checkpoint(str(args.output_dir)) if args.output_dir.is_dir() else None
    if checkpoint and not args.resume:
        print(
            f"error: {args.output_dir} already holds {checkpoint}; pass --resume to continue it, or choose another "
            "--output-dir.",
            file=sys.stderr,
        )
        return 1
    if args.resume and not checkpoint:
        logger.warning("--resume: no checkpoint in %s yet; starting from step 0.", args.output_dir)
    start_step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"] if checkpoint else 0
    if num_shards % state.num_processes:
        logger.warning(
            "The corpus has %d shards for %d processes: %s. Rebuild it with a --shard-size that gives a multiple of the "
            "number of processes.",
            num_shards,
            state.num_processes,
            "processes get unequal numbers of shards"
            if num_shards > state.num_processes
            else "every process reads the whole corpus and keeps its part",
        )

    extractor = SoundNetFeatureExtractor(sampling_rate=info.sampling_rate)  # saved with the checkpoints
    # A resumed run reshuffles with a new seed rather than re-reading (and decoding) the batches it already saw.
    dataset = pretraining_dataset(
        args.corpus,
        crop_seconds=args.crop_seconds,
        head_teachers=heads,
        shuffle_buffer_size=args.shuffle_buffer,
        seed=args.seed + start_step,
        input_scale=extractor.input_scale,
        strict=args.strict,
    )
    training_args = distillation_training_arguments(
        args.output_dir,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        dataloader_num_workers=args.num_workers,
        logging_steps=args.logging_steps,
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        seed=args.seed,
        ignore_data_skip=True,
        use_cpu=use_cpu,
        bf16=args.bf16,
        ddp_find_unused_parameters=len(heads) < 2,
    )
    trainer = SoundNetDistillationTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        data_collator=SoundNetPretrainingCollator(),
        processing_class=extractor,
        record_reads=args.record_reads,
    )
    logger.info(
        "rank %d of %d: %d corpus shards, heads %s, starting at step %d",
        training_args.process_index,
        training_args.world_size,
        num_shards,
        heads,
        start_step,
    )
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except CorruptRecordError as err:
        print(f"error (--strict): corrupt record: {err}", file=sys.stderr)
        return 1
    reads = args.output_dir / "reads"
    reads.mkdir(parents=True, exist_ok=True)
    trainer.write_reads_summary(reads / f"rank-{training_args.process_index:03d}-from-step-{start_step}.json")
    trainer.save_model()
    if not state.is_main_process:
        return 0
    print(f"Saved the model at step {trainer.state.global_step} to {args.output_dir}.")
    if args.push_to_hub:
        card = model_card(args, trainer, heads)
        return publish_trained_model(
            args.output_dir, args.push_to_hub, card, args.hub_token, args.hub_private, program="pretrain"
        )
    return 0


def model_card(args: argparse.Namespace, trainer: SoundNetDistillationTrainer, heads: dict[str, str]):
    """The soundnet5 template filled with this run's architecture and training facts."""
    config = trainer.model.config
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    architecture = (
        f"{config.num_blocks} conv blocks ({', '.join(map(str, config.conv_channels))} channels; kernels "
        f"{', '.join(map(str, config.conv_kernel_sizes))}; max-pools {', '.join(map(str, config.pool_kernel_sizes))}) "
        f"and two heads of {config.num_object_classes} and {config.num_scene_classes} classes (kernel "
        f"{config.head_kernel_size}, stride {config.head_stride}), {trainer.model.num_parameters() / 1e6:.1f} M "
        "parameters."
    )
    return render_model_card(
        MODEL_CARDS / "soundnet5.md",
        repo_id=args.push_to_hub,
        model_name=args.push_to_hub.split("/")[-1],
        num_layers=config.num_blocks + 1,
        architecture=architecture,
        training_data=f"the corpus `{args.corpus.name}` built by examples/build_corpus.py, teachers {heads}.",
        training={
            "steps": trainer.state.global_step,
            "crop seconds": args.crop_seconds,
            "batch size per process": args.batch_size,
            "processes": trainer.args.world_size,
            "learning rate": args.learning_rate,
            "last logged loss": f"{losses[-1]:.3f}" if losses else "n/a",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
