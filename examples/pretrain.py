#!/usr/bin/env python
"""Pre-train SoundNet by distilling image teachers into sound, on a corpus made by examples/build_corpus.py.

Random 20 s crops (starting on a teacher-step boundary; shorter videos repeated up to the crop, as the original),
KL(teacher || student) per step for each head times lambda (250), Adam with lr 1e-3 and beta1 0.9 (the paper's).
Each process streams its own Parquet shards through a shuffle buffer; DataLoader workers (--dataloader_num_workers)
decode the audio. Corrupt records and unreadable shards are skipped, named and counted (--strict makes them fatal).
A corpus with an image-text embedding teacher (build_corpus.py --embedding_teachers) also trains an embedding head
into the teacher's space (config.embedding_dim set from the teacher; loss: cosine regression plus InfoNCE across
clips, see hf_soundnet.losses.embedding_loss), added to the KL heads' loss; --config_overrides sets its layer and
weights. Logs: loss, object_loss, scene_loss, embedding_loss and its parts, samples and audio seconds per second,
corrupt records and shards. Checkpoints every --save_steps; --resume continues from the last complete one (a
checkpoint torn during its save is set aside).
Every TrainingArguments option is accepted, with the paper's values as defaults.
--push_to_hub pushes the final model once, at the end, to --hub_model_id (default: the name of --output_dir).

Examples:
    python examples/pretrain.py --corpus corpus/ --output_dir runs/sn8 --max_steps 100000
    accelerate launch --multi_gpu --num_processes 8 examples/pretrain.py --corpus corpus/ --output_dir runs/sn8 \\
        --max_steps 100000 --model soundnet5
    python examples/pretrain.py --corpus clip_corpus/ --output_dir runs/sn8-clip --max_steps 100000 \
        --embedding_teacher clip --config_overrides embedding_layer=conv7,embedding_contrastive_weight=0.5
    accelerate launch ... examples/pretrain.py --corpus corpus/ --output_dir runs/sn8 --max_steps 200000 --resume

Exit status as every command's (see `soundnet --help`): 0 trained and saved, 1 trained and saved but corrupt records
or shards were skipped, or a corrupt record or shard with --strict, 2 usage error (options, a bad corpus or model, an
--output_dir holding checkpoints without --resume), 3 saved locally but the Hub push failed.
"""

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import HfArgumentParser, TrainingArguments

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.cli.common import EXIT_FAILED_FILES, EXIT_OK, EXIT_USAGE
from hf_soundnet.cli.options import QUIET_HELP, HelpFormatter, parse_dataclasses, quiet_trainer, run_training_script
from hf_soundnet.hub import defer_push_to_hub, publish_training_output
from hf_soundnet.pretraining.corpus import (
    CorpusError,
    CorruptShardError,
    check_readable_shards,
    list_shards,
    load_corpus_info,
)
from hf_soundnet.pretraining.data import CorruptRecordError, SoundNetPretrainingCollator, pretraining_dataset
from hf_soundnet.pretraining.student import (
    choose_head_teachers,
    load_student,
    parse_config_overrides,
    pretrained_model_card,
)
from hf_soundnet.pretraining.trainer import (
    ResumeError,
    SoundNetDistillationTrainer,
    checkpoint_to_start_from,
    distillation_training_defaults,
    use_clean_worker_processes,
)


logger = logging.getLogger("pretrain")


@dataclass
class PretrainArguments:
    corpus: Path = field(metadata={"help": "Corpus folder (examples/build_corpus.py)."})
    model: str = field(
        default="soundnet8",
        metadata={
            "help": "soundnet8 or soundnet5 (from scratch), or a folder/Hub id: with weights, training starts from "
            "them; with only config.json, from scratch with that architecture."
        },
    )
    resume: bool = field(default=False, metadata={"help": "Continue from the last checkpoint in --output_dir."})
    crop_seconds: float = field(default=20.0, metadata={"help": "Crop length, whole teacher steps."})
    shuffle_buffer: int = field(default=256, metadata={"help": "Records in the streaming shuffle buffer."})
    object_teacher: str | None = field(default=None, metadata={"help": "Corpus teacher of the object head."})
    scene_teacher: str | None = field(default=None, metadata={"help": "Corpus teacher of the scene head."})
    embedding_teacher: str | None = field(
        default=None,
        metadata={
            "help": "Corpus embedding teacher of the embedding head (default: the corpus's first embedding teacher; "
            "'none': no embedding head)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "SoundNetConfig fields as NAME=VALUE,... set before the model is built, e.g. "
            "embedding_layer=conv6,embedding_cosine_weight=1.0,embedding_contrastive_weight=0.5,"
            "embedding_temperature=0.07,embedding_loss_weight=1.0,distillation_lambda=250.0"
        },
    )
    strict: bool = field(default=False, metadata={"help": "Stop at the first corrupt record."})
    record_reads: bool = field(default=False, metadata={"help": "Write the keys each process read to reads/."})
    quiet: bool = field(default=False, metadata={"help": QUIET_HELP})


# TrainingArguments defaults of this script: the paper's optimiser and streaming set-up, plus the values below. On
# a machine without GPUs use_cpu defaults to True, so that `accelerate launch --multi_gpu` processes form a gloo group
# (TrainingArguments sets up the processes when it is parsed).
SCRIPT_DEFAULTS = {
    "dataloader_num_workers": 2,
    "logging_steps": 10,
    "save_steps": 1000,
    "save_total_limit": 3,
    "seed": 0,
    "ignore_data_skip": True,  # a resumed run reshuffles (below) rather than re-reading what it already saw
}


def parse_args(argv: list[str] | None = None) -> tuple[PretrainArguments, TrainingArguments]:
    """The options; usage errors exit 2."""
    parser = HfArgumentParser(
        (PretrainArguments, TrainingArguments), description=__doc__, formatter_class=HelpFormatter
    )
    parser.set_defaults(**distillation_training_defaults(), **SCRIPT_DEFAULTS, use_cpu=not torch.cuda.is_available())
    args, training_args = parse_dataclasses(parser, argv)
    if training_args.max_steps <= 0:
        parser.error("--max_steps N is required: a streamed corpus has no length to count epochs in.")
    return args, training_args


def main(argv: list[str] | None = None) -> int:
    return run_training_script(parse_args, pretrain, argv)


def pretrain(args: PretrainArguments, training_args: TrainingArguments) -> int:
    """Trains on the corpus, saves (and pushes) the model; the exit status."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    state = PartialState()  # set up by TrainingArguments
    # The final model is pushed once, after it is saved (below), with its model card; the Trainer pushes nothing.
    repo_id = defer_push_to_hub(training_args)
    output_dir = Path(training_args.output_dir)
    try:
        info = load_corpus_info(args.corpus)
        heads = choose_head_teachers(
            info,
            object_teacher=args.object_teacher,
            scene_teacher=args.scene_teacher,
            embedding_teacher=args.embedding_teacher,
        )
        check_readable_shards(args.corpus, strict=args.strict)  # warns naming each unreadable shard
        num_shards = len(list_shards(args.corpus))
        overrides = parse_config_overrides(args.config_overrides)
        model = load_student(args.model, info=info, head_teachers=heads, config_overrides=overrides)
    except CorruptShardError as err:  # with --strict: the corpus itself is damaged, not the command line
        print(f"error (--strict): {err}", file=sys.stderr)
        return EXIT_FAILED_FILES
    except (CorpusError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE

    # With --resume, the newest checkpoint whose save finished; newer torn ones (a crash while saving) are named and
    # set aside. Without it, an --output_dir that holds checkpoints is refused.
    try:
        checkpoint, start_step = checkpoint_to_start_from(
            output_dir, resume=args.resume, checkpoint=training_args.resume_from_checkpoint, state=state
        )
    except ResumeError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if num_shards % state.num_processes:
        logger.warning(
            "The corpus has %d shards for %d processes: %s. Rebuild it with a --shard_size that gives a multiple of the "
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
        seed=training_args.seed + start_step,
        input_scale=extractor.input_scale,
        strict=args.strict,
    )
    # DDP must be told when a head of the model gets no gradient (no teacher for it in this run).
    trained = {"object", "scene", *(["embedding"] if model.config.embedding_dim is not None else [])}
    training_args.ddp_find_unused_parameters = not trained <= set(heads)
    use_clean_worker_processes(training_args)  # forkserver DataLoader workers, kept for the run
    trainer = SoundNetDistillationTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        data_collator=SoundNetPretrainingCollator(),
        processing_class=extractor,
        record_reads=args.record_reads,
    )
    if args.quiet:
        quiet_trainer(trainer)
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
    except (CorruptRecordError, CorruptShardError) as err:  # only with --strict
        # From a DataLoader worker, torch puts the worker's traceback in the message: its last line is the error.
        print(f"error (--strict): {str(err).strip().splitlines()[-1]}", file=sys.stderr)
        return EXIT_FAILED_FILES
    reads = output_dir / "reads"
    reads.mkdir(parents=True, exist_ok=True)
    trainer.write_reads_summary(reads / f"rank-{training_args.process_index:03d}-from-step-{start_step}.json")
    trainer.save_model()
    status = EXIT_OK
    if trainer.corrupt_records or trainer.corrupt_shards:
        print(
            f"pretrain: rank {state.process_index} skipped {trainer.corrupt_records} corrupt records and "
            f"{trainer.corrupt_shards} unreadable shards.",
            file=sys.stderr,
        )
        status = EXIT_FAILED_FILES
    if not state.is_main_process:
        return status
    if not args.quiet:
        print(f"Saved the model at step {trainer.state.global_step} to {output_dir}.")
    if repo_id:
        card = pretrained_model_card(
            trainer, repo_id, corpus_name=args.corpus.name, head_teachers=heads, crop_seconds=args.crop_seconds
        )
        pushed = publish_training_output(training_args, repo_id, card=card, program="pretrain")
        status = pushed if pushed != EXIT_OK else status
    return status


if __name__ == "__main__":
    sys.exit(main())
