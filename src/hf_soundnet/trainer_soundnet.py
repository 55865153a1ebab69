"""`SoundNetDistillationTrainer`: teacher-student pre-training of SoundNet with `transformers.Trainer`.

The loss is the model's own (`SoundNetForPreTraining`): per head, KL(teacher || student) per teacher step with the
student's steps aligned in time to the teacher's (`losses.align_student_steps`), averaged over steps, heads averaged,
times `config.distillation_lambda` (250). The trainer adds what the Trainer does not log by itself: each head's loss,
data throughput and the corrupt records skipped, summed over all processes.
"""

import json
import os
import time
from typing import Any

import torch
from transformers import Trainer, TrainingArguments


# The paper's optimiser (Adam, lr 0.001, momentum term beta1 0.9, batch 64, constant rate). AdamW with zero weight
# decay is Adam.
PAPER_TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "weight_decay": 0.0,
    "optim": "adamw_torch",
    "lr_scheduler_type": "constant",
    "per_device_train_batch_size": 64,
}


def distillation_training_arguments(output_dir: str | os.PathLike, **overrides) -> TrainingArguments:
    """
    `TrainingArguments` with the paper's optimiser and what streaming multi-process pre-training needs.

    Besides `PAPER_TRAINING_DEFAULTS`: `remove_unused_columns=False` (the collator builds exactly the model inputs)
    and `accelerator_config={"dispatch_batches": False, "split_batches": False}`, so that every process reads its own
    shards of a streaming corpus (accelerate hands each process whole shards of a `datasets.IterableDataset`)
    instead of rank 0 reading everything and dispatching batches. `overrides` win.
    """
    return TrainingArguments(output_dir=str(output_dir), **{**distillation_training_defaults(), **overrides})


def distillation_training_defaults() -> dict[str, Any]:
    """The `TrainingArguments` values that [`distillation_training_arguments`] sets (e.g. the defaults of a
    command line parsed with `HfArgumentParser`: `parser.set_defaults(**distillation_training_defaults())`)."""
    return {
        **PAPER_TRAINING_DEFAULTS,
        "remove_unused_columns": False,
        "accelerator_config": {"dispatch_batches": False, "split_batches": False},
        "report_to": "none",
    }


class SoundNetDistillationTrainer(Trainer):
    """
    A `Trainer` for [`SoundNetForPreTraining`] on batches of [`SoundNetPretrainingCollator`].

    Batches hold `input_values` `(batch, samples)`, `teacher_object_probs` `(batch, steps, C_obj)`,
    `teacher_scene_probs` `(batch, steps, C_scene)` and the bookkeeping fields `keys` and `num_corrupt`, which
    `compute_loss` takes out before the forward. Every training log gains `object_loss`, `scene_loss` (unscaled
    mean KL of each head since the last log), `samples_per_second`, `audio_seconds_per_second` and
    `corrupt_records` (total so far), reduced over all processes.

    Args:
        record_reads (`bool`, *optional*, defaults to `False`): keep the keys of every record this process trained
            on (see `reads_summary`), e.g. to check that processes read different shards.
        *args, **kwargs: as for `transformers.Trainer`.
    """

    # The model's loss is a per-batch mean: the Trainer divides it by the gradient-accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, record_reads: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_reads = record_reads
        self.read_keys: list[str] = []
        self.corrupt_records = 0
        self.records_seen = 0
        self._heads_trained: set[str] = set()
        # Since the last log: object loss sum, scene loss sum, batches, samples, audio samples (kept on the device).
        self._window = torch.zeros(5, dtype=torch.float64)
        self._window_start = time.perf_counter()

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        keys = inputs.pop("keys", None)
        num_corrupt = inputs.pop("num_corrupt", None)
        outputs = model(**inputs, return_dict=True)
        if model.training:
            if num_corrupt is not None:
                self.corrupt_records += int(num_corrupt)
            if self.record_reads and keys is not None:
                self.read_keys.extend(keys)
            input_values = inputs["input_values"]
            self.records_seen += input_values.shape[0]
            self._heads_trained.update(
                head
                for head, loss in (("object", outputs.object_loss), ("scene", outputs.scene_loss))
                if loss is not None
            )
            zero = input_values.new_zeros(())
            step = torch.stack(
                [
                    outputs.object_loss.detach() if outputs.object_loss is not None else zero,
                    outputs.scene_loss.detach() if outputs.scene_loss is not None else zero,
                    zero + 1,
                    zero + input_values.shape[0],
                    zero + input_values.numel(),
                ]
            ).to(torch.float64)
            self._window = self._window.to(step.device) + step
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: every process reaches it at the same step
            device = self.args.device
            corrupt = torch.tensor([float(self.corrupt_records)], dtype=torch.float64, device=device)
            window = self.accelerator.reduce(torch.cat([self._window.to(device), corrupt]), reduction="sum").cpu()
            object_sum, scene_sum, batches, samples, audio_samples, corrupt = window.tolist()
            elapsed = max(time.perf_counter() - self._window_start, 1e-9)
            if batches:
                for head, total in (("object", object_sum), ("scene", scene_sum)):
                    if head in self._heads_trained:
                        logs[f"{head}_loss"] = total / batches
                logs["samples_per_second"] = samples / elapsed
                logs["audio_seconds_per_second"] = audio_samples / self.model.config.sampling_rate / elapsed
            logs["corrupt_records"] = int(corrupt)
            self._window = torch.zeros_like(self._window)
            self._window_start = time.perf_counter()
        super().log(logs, start_time)

    def reads_summary(self) -> dict[str, Any]:
        """What this process trained on: world size, rank, records seen, corrupt records skipped, keys (if recorded)."""
        return {
            "world_size": self.args.world_size,
            "rank": self.args.process_index,
            "records_seen": self.records_seen,
            "corrupt_records": self.corrupt_records,
            "keys": sorted(set(self.read_keys)) if self.record_reads else None,
        }

    def write_reads_summary(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.reads_summary(), f, indent=1)


__all__ = [
    "PAPER_TRAINING_DEFAULTS",
    "SoundNetDistillationTrainer",
    "distillation_training_arguments",
    "distillation_training_defaults",
]
