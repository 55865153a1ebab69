"""SoundNetDistillationTrainer in one process: it learns a sound-dependent teacher, logs per-head losses, skips and
counts corrupt records and unreadable shards (or stops on them in strict mode), uses the paper's optimiser defaults,
and resumes only from complete checkpoints."""

import logging

import numpy as np
import pytest
import torch
from _helpers_corpus import SR, sound_sources, tiny_student_config, write_sound_corpus

from hf_soundnet import SoundNetForPreTraining, load_audio
from hf_soundnet.losses import align_student_steps
from hf_soundnet.pretraining.corpus import (
    CorruptShardError,
    list_shards,
    load_corpus_info,
    load_streaming_corpus,
    teacher_array,
)
from hf_soundnet.pretraining.data import (
    CorruptRecordError,
    SoundNetPretrainingCollator,
    crop_record,
    pretraining_dataset,
)
from hf_soundnet.pretraining.trainer import (
    ResumeError,
    SoundNetDistillationTrainer,
    checkpoint_problem,
    checkpoint_to_start_from,
    distillation_training_arguments,
    find_resume_checkpoint,
)


def make_trainer(tmp_path, corpus, max_steps, batch_size=8, strict=False, **overrides):
    info = load_corpus_info(corpus)
    torch.manual_seed(0)
    model = SoundNetForPreTraining(tiny_student_config(*(t.num_classes for t in info.teachers)))
    # No shuffle buffer: the helper writes records in random order, and datasets' shuffle sleeps 5 s after each pass.
    dataset = pretraining_dataset(corpus, crop_seconds=2.0, shuffle_buffer_size=0, strict=strict)
    args = distillation_training_arguments(
        tmp_path / "out",
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        use_cpu=True,
        disable_tqdm=True,
        **{"logging_steps": 10, "save_strategy": "no", **overrides},
    )
    return SoundNetDistillationTrainer(
        model=model, args=args, train_dataset=dataset, data_collator=SoundNetPretrainingCollator()
    )


def held_out_agreement(model, corpus) -> float:
    """Top-1 agreement of the student's object head with the teacher, at every teacher step of every 2 s crop."""
    info = load_corpus_info(corpus)
    teacher = info.teacher("objects")
    model.eval()
    hits = total = 0
    with torch.no_grad():
        for record in load_streaming_corpus(corpus):
            waveform = load_audio(record["audio"], SR)[0]
            probs = teacher_array(record, teacher)
            for start in range(probs.shape[0] - 1):
                audio, (rows,) = crop_record(waveform, [probs], info.step_samples, 2, start_step=start)
                logits = model(torch.from_numpy(audio * 256.0)[None]).object_logits[0]  # (steps, classes)
                index = align_student_steps(torch.tensor([logits.shape[0]]), torch.tensor([2]), 2)[0]
                hits += int((logits[index].argmax(-1).numpy() == rows.argmax(-1)).sum())
                total += 2
    return hits / total


@pytest.mark.slow
def test_student_learns_sound_dependent_teacher(tmp_path, audio_dir):
    sources = sound_sources(audio_dir)
    write_sound_corpus(tmp_path / "train", sources, 3.0, 1.0, records_per_shard=8, part=(0.0, 0.7))
    write_sound_corpus(tmp_path / "held_out", sources, 2.0, 1.0, records_per_shard=8, part=(0.7, 1.0))
    trainer = make_trainer(tmp_path, tmp_path / "train", max_steps=80)
    before = held_out_agreement(trainer.model, tmp_path / "held_out")
    trainer.train()
    after = held_out_agreement(trainer.model, tmp_path / "held_out")
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    print(f"held-out agreement {before:.2f} -> {after:.2f} (chance 0.33); losses {losses}")
    assert after >= 0.8, f"held-out agreement {after:.2f} (chance 1/3); before training {before:.2f}"
    assert losses[-1] < losses[0]
    logged = [log for log in trainer.state.log_history if "loss" in log][-1]
    assert {"object_loss", "scene_loss", "samples_per_second", "audio_seconds_per_second"} <= set(logged)
    # The logged total is lambda times the mean of the two heads' mean KL.
    assert logged["loss"] == pytest.approx(250 * (logged["object_loss"] + logged["scene_loss"]) / 2, rel=1e-4)


def corrupt_some(corpus, keys: set[str]) -> None:
    """Rewrites the corpus's shards with the audio of `keys` replaced by garbage bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hf_soundnet.pretraining.corpus import list_shards

    for shard in list_shards(corpus):
        table = pq.read_table(shard)
        audio = [
            b"\x00garbage" * 50 if k in keys else a
            for k, a in zip(table["key"].to_pylist(), table["audio"].to_pylist())
        ]
        table = table.set_column(table.schema.get_field_index("audio"), "audio", pa.array(audio, pa.binary()))
        pq.write_table(table, shard)


def test_corrupt_records_are_skipped_and_counted(tmp_path, audio_dir):
    records = write_sound_corpus(tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, records_per_shard=100)
    bad = {records[1]["key"], records[4]["key"], records[5]["key"]}
    corrupt_some(tmp_path / "corpus", bad)
    trainer = make_trainer(tmp_path, tmp_path / "corpus", max_steps=1, batch_size=len(records) - len(bad))
    trainer.train()
    assert trainer.corrupt_records == len(bad)
    assert trainer.records_seen == len(records) - len(bad)
    assert np.isfinite(trainer.state.log_history[-1]["train_loss"])

    strict = make_trainer(tmp_path, tmp_path / "corpus", max_steps=1, batch_size=4, strict=True)
    with pytest.raises(CorruptRecordError, match=sorted(bad, key=[r["key"] for r in records].index)[0]):
        strict.train()


def truncate(path, fraction: float = 0.5) -> None:
    """Cuts a file to `fraction` of its size, as an interrupted copy or a full disk would leave it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def test_truncated_shard_is_skipped_named_and_counted(tmp_path, audio_dir, caplog):
    records = write_sound_corpus(tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, records_per_shard=8)
    shards = list_shards(tmp_path / "corpus")
    assert len(shards) >= 3
    from hf_soundnet.pretraining.corpus import read_column

    lost = set(read_column(shards[1], "key"))
    truncate(shards[1])
    # One pass over the corpus: every readable record once, the truncated shard skipped (one epoch of max_steps 1).
    trainer = make_trainer(
        tmp_path, tmp_path / "corpus", max_steps=1, batch_size=len(records) - len(lost), logging_steps=1
    )
    trainer.record_reads = True
    with caplog.at_level(logging.WARNING, logger="hf_soundnet.pretraining.corpus"):
        trainer.train()
    assert set(trainer.read_keys) == {r["key"] for r in records} - lost
    assert trainer.corrupt_shards == 1 and trainer.corrupt_records == 0
    assert any(shards[1].name in message and "truncated" in message for message in caplog.messages), caplog.messages
    logged = [log for log in trainer.state.log_history if "corrupt_shards" in log]
    assert logged and logged[-1]["corrupt_shards"] == 1 and np.isfinite(logged[-1]["loss"])

    strict = make_trainer(tmp_path, tmp_path / "corpus", max_steps=1, batch_size=len(records), strict=True)
    with pytest.raises(CorruptShardError, match=shards[1].name):
        strict.train()


def test_only_complete_checkpoints_are_resumed_from(tmp_path, audio_dir):
    import shutil

    write_sound_corpus(tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, records_per_shard=100)
    trainer = make_trainer(
        tmp_path, tmp_path / "corpus", max_steps=2, batch_size=2, save_strategy="steps", save_steps=1
    )
    trainer.train()
    out = tmp_path / "out"
    assert checkpoint_problem(out / "checkpoint-1") is None and checkpoint_problem(out / "checkpoint-2") is None
    assert find_resume_checkpoint(out) == (str(out / "checkpoint-2"), {})

    def damaged(name: str, damage) -> str | None:
        folder = out / f"checkpoint-{100 + len(list(out.iterdir()))}"
        shutil.copytree(out / "checkpoint-2", folder)
        damage(folder / name)
        problem = checkpoint_problem(folder)
        # The damaged folder has the highest step, yet the newest complete one is chosen and the damaged one named.
        assert (
            find_resume_checkpoint(out)[0] == str(out / "checkpoint-2")
            and str(folder) in find_resume_checkpoint(out)[1]
        )
        shutil.rmtree(folder)
        return problem

    assert "trainer_state.json is missing" in damaged("trainer_state.json", lambda p: p.unlink())
    assert "trainer_state.json is unreadable" in damaged("trainer_state.json", truncate)
    assert "model.safetensors is truncated" in damaged("model.safetensors", truncate)
    assert "model.safetensors is truncated" in damaged("model.safetensors", lambda p: truncate(p, 0.999))
    assert "no model weights" in damaged("model.safetensors", lambda p: p.unlink())
    assert "optimizer.pt is missing" in damaged("optimizer.pt", lambda p: p.unlink())
    assert "optimizer.pt is truncated" in damaged("optimizer.pt", lambda p: truncate(p, 0.9))
    assert "scheduler.pt is truncated" in damaged("scheduler.pt", truncate)

    # Where a run starts: with resume, the newest complete checkpoint and its step; without, a folder that holds
    # checkpoints is refused; an explicit checkpoint is taken as it is; a new folder starts at step 0.
    assert checkpoint_to_start_from(out, resume=True) == (str(out / "checkpoint-2"), 2)
    with pytest.raises(ResumeError, match="pass --resume"):
        checkpoint_to_start_from(out, resume=False)
    explicit = str(out / "checkpoint-1")
    assert checkpoint_to_start_from(out, resume=False, checkpoint=explicit) == (explicit, 1)
    assert checkpoint_to_start_from(tmp_path / "new", resume=True) == (None, 0)


def test_paper_optimiser_defaults(tmp_path):
    args = distillation_training_arguments(tmp_path, max_steps=1, use_cpu=True)
    assert (args.learning_rate, args.adam_beta1, args.weight_decay) == (1e-3, 0.9, 0.0)
    assert args.lr_scheduler_type == "constant" and args.per_device_train_batch_size == 64
    assert args.accelerator_config.dispatch_batches is False and args.accelerator_config.split_batches is False
    assert args.remove_unused_columns is False
    assert SoundNetDistillationTrainer.loss_is_scaled_for_ga is False
    # DataLoader workers start from a forkserver, once per run, not as forks of the multi-threaded trainer.
    workers = distillation_training_arguments(tmp_path, max_steps=1, use_cpu=True, dataloader_num_workers=2)
    assert workers.dataloader_multiprocessing_context == "forkserver" and workers.dataloader_persistent_workers
    assert args.dataloader_multiprocessing_context is None  # no workers: nothing to start


def test_collator_stacks_crops():
    examples = [
        {
            "key": f"k{i}",
            "input_values": np.full(8, i, np.float32),
            "teacher_object_probs": np.eye(2, 3, dtype=np.float32),
            "num_corrupt": i,
        }
        for i in range(3)
    ]
    batch = SoundNetPretrainingCollator()(examples)
    assert batch["input_values"].shape == (3, 8) and batch["input_values"][2, 0] == 2
    assert batch["teacher_object_probs"].shape == (3, 2, 3) and "teacher_scene_probs" not in batch
    assert batch["keys"] == ["k0", "k1", "k2"] and int(batch["num_corrupt"]) == 3
