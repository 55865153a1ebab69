"""The student in an image-text teacher's space: the embedding loss against a hand computation, the head's step grid
and feature methods, its config fields (typed, validated, saved), and training with the real Trainer on a corpus
whose embedding teacher depends on the sound (the loss falls, its parts are logged, mixed with a KL head; after
training the student's nearest teacher direction agrees with the teacher's on held-out clips), also through
examples/pretrain.py with a resume."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _helpers_corpus import SR, sound_sources, tiny_student_config
from _helpers_image_text import source_directions, write_embedding_corpus
from conftest import REPO_ROOT

from hf_soundnet import SoundNetConfig, SoundNetForPreTraining, load_audio
from hf_soundnet.losses import embedding_loss
from hf_soundnet.pretraining.corpus import CorpusError, load_corpus_info, load_streaming_corpus, teacher_array
from hf_soundnet.pretraining.data import SoundNetPretrainingCollator, crop_record, pretraining_dataset
from hf_soundnet.pretraining.student import (
    StudentModelError,
    choose_head_teachers,
    load_student,
    parse_config_overrides,
)
from hf_soundnet.pretraining.trainer import SoundNetDistillationTrainer, distillation_training_arguments


def tiny_embedding_config(**overrides) -> SoundNetConfig:
    config = tiny_student_config()
    for name, value in {"embedding_dim": 8, **overrides}.items():
        setattr(config, name, value)
    return config


def hand_embedding_loss(student, teacher, student_valid, teacher_valid, temperature):
    """The loss of `losses.embedding_loss` written out with loops over numpy arrays (float64)."""
    batch, _, _ = student.shape
    anchors = []  # (clip, student vector, teacher vector) of every valid teacher step
    for b in range(batch):
        s_len, t_len = int(student_valid[b]), int(teacher_valid[b])
        for t in range(t_len):
            row = min(int(np.floor((t + 0.5) * s_len / t_len)), s_len - 1)  # the student step at the step's centre
            target = teacher[b, t] / np.linalg.norm(teacher[b, t])
            anchors.append((b, student[b, row], target))
    cosine = np.mean([1 - s @ t for _, s, t in anchors])
    sims = np.array([[s @ t for _, _, t in anchors] for _, s, _ in anchors]) / temperature
    clips = [b for b, _, _ in anchors]

    def cross_entropy(matrix):
        total = 0.0
        for i in range(len(anchors)):
            allowed = [j for j in range(len(anchors)) if j == i or clips[j] != clips[i]]
            logits = matrix[i, allowed]
            total += -matrix[i, i] + np.log(np.exp(logits - logits.max()).sum()) + logits.max()
        return total / len(anchors)

    return cosine, (cross_entropy(sims) + cross_entropy(sims.T)) / 2


@pytest.mark.numeric
def test_embedding_loss_equals_hand_computation():
    generator = torch.Generator().manual_seed(0)
    student = torch.nn.functional.normalize(torch.randn(3, 5, 4, generator=generator), dim=-1)
    teacher = torch.randn(3, 3, 4, generator=generator) * 2  # not unit vectors: the loss normalises them
    student_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    teacher_mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    total, cosine, contrastive = embedding_loss(
        student, teacher, student_mask, teacher_mask, cosine_weight=0.7, contrastive_weight=0.2, temperature=0.1
    )
    expected_cosine, expected_contrastive = hand_embedding_loss(
        student.double().numpy(), teacher.double().numpy(), student_mask.sum(-1), teacher_mask.sum(-1), 0.1
    )
    assert float(cosine) == pytest.approx(expected_cosine, abs=1e-5)
    assert float(contrastive) == pytest.approx(expected_contrastive, abs=1e-4)
    assert float(total) == pytest.approx(0.7 * expected_cosine + 0.2 * expected_contrastive, abs=1e-4)
    # The student placed exactly on the teacher: no cosine loss; a clip alone in its batch has no negatives.
    on_teacher = embedding_loss(torch.nn.functional.normalize(teacher, dim=-1), teacher)
    assert float(on_teacher[1]) == pytest.approx(0.0, abs=1e-6)
    assert float(embedding_loss(student[:1], teacher[:1])[2]) == pytest.approx(0.0, abs=1e-6)


def test_embedding_head_uses_conv8_step_grid_and_features_are_pooled_steps():
    torch.manual_seed(0)
    model = SoundNetForPreTraining(tiny_embedding_config()).eval()
    waveforms = torch.randn(2, 3 * SR)
    lengths = torch.tensor([3 * SR, 2 * SR])
    mask = (torch.arange(3 * SR)[None] < lengths[:, None]).long()
    with torch.no_grad():
        outputs = model(waveforms * mask, attention_mask=mask)
        steps, step_mask = model.get_audio_step_features(waveforms * mask, attention_mask=mask)
        features = model.get_audio_features(waveforms * mask, attention_mask=mask).pooler_output
        alone = model.get_audio_step_features(waveforms[1:, : 2 * SR])[0][0]
    # Over the last block the head is conv8's window and hop: the same steps as the KL heads.
    assert outputs.audio_embeds.shape[:2] == outputs.object_logits.shape[:2]
    torch.testing.assert_close(outputs.embedding_step_mask, outputs.step_mask)
    torch.testing.assert_close(steps, outputs.audio_embeds)
    torch.testing.assert_close(steps.norm(dim=-1), step_mask.float())  # unit vectors; zeros past a clip's end
    valid = int(step_mask[1].sum())
    assert valid == alone.shape[0] < steps.shape[1]
    torch.testing.assert_close(steps[1, :valid], alone, atol=1e-4, rtol=1e-4)  # padding changes nothing
    pooled = torch.stack([steps[i, : int(step_mask[i].sum())].mean(0) for i in range(2)])
    torch.testing.assert_close(features, pooled / pooled.norm(dim=-1, keepdim=True))

    early = tiny_embedding_config(embedding_layer="conv2")
    head = SoundNetForPreTraining(early).embedding_head
    assert head.stride * early.get_layer("conv2").hop == early.head_hop  # an earlier layer keeps conv8's hop
    with pytest.raises(ValueError, match="no embedding head"):
        SoundNetForPreTraining(tiny_student_config()).get_audio_features(waveforms)


def test_embedding_config_is_validated_and_saved(tmp_path):
    config = tiny_embedding_config(embedding_layer="pool3", embedding_contrastive_weight=0.25)
    torch.manual_seed(0)
    model = SoundNetForPreTraining(config)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["embedding_dim"] == 8 and saved["embedding_layer"] == "pool3"
    assert saved["embedding_contrastive_weight"] == 0.25
    loaded = SoundNetForPreTraining.from_pretrained(tmp_path).eval()
    waveform = torch.randn(1, 2 * SR)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.get_audio_features(waveform).pooler_output, model.eval().get_audio_features(waveform).pooler_output
        )
    for bad, match in (
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"embedding_layer": "conv9"}, "names no layer"),
        ({"embedding_cosine_weight": -1.0}, ">= 0"),
        ({"embedding_cosine_weight": 0.0, "embedding_contrastive_weight": 0.0}, "both 0"),
        ({"embedding_temperature": 0.0}, "> 0"),
    ):
        with pytest.raises(Exception, match=match):
            SoundNetConfig(**{**tiny_student_config().to_diff_dict(), "embedding_dim": 8, **bad})
    assert parse_config_overrides("embedding_layer=conv3, embedding_cosine_weight=1") == {
        "embedding_layer": "conv3",
        "embedding_cosine_weight": 1.0,
    }
    with pytest.raises(StudentModelError, match="not_a_field"):
        parse_config_overrides("not_a_field=1")


def make_embedding_trainer(tmp_path, corpus, max_steps, **overrides):
    """The student as examples/pretrain.py makes it (a folder with only config.json) and the real Trainer."""
    info = load_corpus_info(corpus)
    heads = choose_head_teachers(info)
    assert heads == {"object": "objects", "embedding": "clip"}
    tiny_student_config().save_pretrained(tmp_path / "architecture")
    torch.manual_seed(0)
    model = load_student(
        str(tmp_path / "architecture"), info, heads, {"embedding_contrastive_weight": 0.5, **overrides}
    )
    assert model.config.embedding_dim == 8 and model.config.num_object_classes == 3
    dataset = pretraining_dataset(corpus, crop_seconds=2.0, head_teachers=heads, shuffle_buffer_size=0)
    args = distillation_training_arguments(
        tmp_path / "out",
        max_steps=max_steps,
        per_device_train_batch_size=8,
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=5,
        save_strategy="no",
    )
    return SoundNetDistillationTrainer(
        model=model, args=args, train_dataset=dataset, data_collator=SoundNetPretrainingCollator()
    )


def test_embedding_loss_falls_with_the_trainer_and_its_parts_are_logged(tmp_path, audio_dir):
    write_embedding_corpus(tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, part=(0.0, 0.5))
    trainer = make_embedding_trainer(tmp_path, tmp_path / "corpus", max_steps=20)
    trainer.train()
    logs = [log for log in trainer.state.log_history if "loss" in log]
    print([(round(log["loss"], 3), round(log["embedding_loss"], 3)) for log in logs])
    assert len(logs) == 4
    first, last = logs[0], logs[-1]
    assert last["loss"] < first["loss"] and last["embedding_loss"] < first["embedding_loss"]
    assert last["embedding_cosine_loss"] < first["embedding_cosine_loss"]
    assert "scene_loss" not in last  # no teacher for the scene head in this corpus
    for log in logs:  # the parts add up: lambda * KL of the one head + the embedding loss (weight 1)
        assert log["embedding_loss"] == pytest.approx(
            log["embedding_cosine_loss"] + 0.5 * log["embedding_contrastive_loss"], rel=1e-4
        )
        assert log["loss"] == pytest.approx(250 * log["object_loss"] + log["embedding_loss"], rel=1e-4)


def test_heads_take_teachers_of_their_kind(tmp_path, audio_dir):
    sources = dict(list(sound_sources(audio_dir).items())[:2])
    write_embedding_corpus(tmp_path / "corpus", sources, 2.0, 1.0, part=(0.0, 0.1))
    info = load_corpus_info(tmp_path / "corpus")
    with pytest.raises(CorpusError, match="needs an embedding teacher"):
        choose_head_teachers(info, embedding_teacher="objects")
    with pytest.raises(CorpusError, match="classifier or zero-shot"):
        choose_head_teachers(info, object_teacher="clip")
    assert "embedding" not in choose_head_teachers(info, embedding_teacher="none")
    # Embeddings have negative entries: the reader keeps them (a distribution with one would be corrupt).
    record = next(iter(load_streaming_corpus(tmp_path / "corpus")))
    assert (teacher_array(record, info.teacher("clip")) < 0).any()
    example = next(iter(pretraining_dataset(tmp_path / "corpus", crop_seconds=2.0, shuffle_buffer_size=0)))
    assert np.asarray(example["teacher_embeddings"]).shape == (2, 8) and example["num_corrupt"] == 0


def nearest_direction_agreement(model, corpus) -> float:
    """How often the student's step embedding and the teacher's are nearest the same source direction, over every
    teacher step of every 2 s crop of the corpus."""
    info = load_corpus_info(corpus)
    teacher = info.teacher("clip")
    directions = torch.from_numpy(source_directions(3, teacher.dim))
    model.eval()
    hits = total = 0
    with torch.no_grad():
        for record in load_streaming_corpus(corpus):
            waveform = load_audio(record["audio"], SR)[0]
            embeddings = teacher_array(record, teacher)
            audio, (rows,) = crop_record(waveform, [embeddings], info.step_samples, 2, start_step=0)
            steps = model.get_audio_step_features(torch.from_numpy(audio * 256.0)[None])[0][0]  # (steps, dim)
            # The student step at the centre of each teacher step (2 teacher steps per crop).
            student = steps[[int((t + 0.5) * steps.shape[0] / 2) for t in range(2)]]
            hits += int(
                ((student @ directions.T).argmax(-1) == (torch.from_numpy(rows) @ directions.T).argmax(-1)).sum()
            )
            total += 2
    return hits / total


@pytest.mark.slow
def test_student_embedding_agrees_with_teacher_on_held_out_clips(tmp_path, audio_dir):
    sources = sound_sources(audio_dir)
    write_embedding_corpus(tmp_path / "train", sources, 2.0, 1.0, part=(0.0, 0.7))
    write_embedding_corpus(tmp_path / "held_out", sources, 2.0, 1.0, part=(0.7, 1.0))
    trainer = make_embedding_trainer(tmp_path, tmp_path / "train", max_steps=60)
    before = nearest_direction_agreement(trainer.model, tmp_path / "held_out")
    trainer.train()
    after = nearest_direction_agreement(trainer.model, tmp_path / "held_out")
    print(f"held-out nearest-direction agreement {before:.2f} -> {after:.2f} (chance 0.33)")
    assert after >= 0.8, f"held-out agreement {after:.2f} (chance 1/3); before training {before:.2f}"


@pytest.mark.slow
def test_pretrain_script_trains_saves_and_resumes_the_embedding_head(tmp_path, audio_dir):
    write_embedding_corpus(tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, part=(0.0, 0.3))
    tiny_student_config().save_pretrained(tmp_path / "architecture")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(REPO_ROOT / "examples" / "pretrain.py"), "--corpus", str(tmp_path / "corpus")]
    command += ["--output_dir", str(tmp_path / "run"), "--model", str(tmp_path / "architecture")]
    command += ["--crop_seconds", "2", "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0"]
    command += ["--config_overrides", "embedding_layer=conv3,embedding_contrastive_weight=0.5"]
    command += ["--logging_steps", "1", "--save_steps", "2", "--shuffle_buffer", "0", "--quiet"]
    first = subprocess.run([*command, "--max_steps", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run(
        [*command, "--max_steps", "4", "--resume"], capture_output=True, text=True, env=env, timeout=300
    )
    assert second.returncode == 0, second.stderr[-3000:]
    state = json.loads((tmp_path / "run" / "checkpoint-4" / "trainer_state.json").read_text())
    logged = [log for log in state["log_history"] if "loss" in log]
    assert [log["step"] for log in logged] == [1, 2, 3, 4]  # steps 3-4 continued from checkpoint-2
    assert {"embedding_loss", "embedding_cosine_loss", "embedding_contrastive_loss", "object_loss"} <= set(logged[-1])
    model = SoundNetForPreTraining.from_pretrained(tmp_path / "run")
    assert model.config.embedding_dim == 8 and model.config.embedding_layer == "conv3"
    assert model.config.embedding_contrastive_weight == 0.5
    with torch.no_grad():
        assert model.eval().get_audio_features(torch.randn(1, 2 * SR)).pooler_output.shape == (1, 8)
