"""`SoundNetDistillationTrainer`: teacher-student pre-training of SoundNet with `transformers.Trainer`.

The loss is the model's own (`SoundNetForPreTraining`): per head, KL(teacher || student) per teacher step with the
student's steps aligned in time to the teacher's (`losses.align_student_steps`), averaged over steps, heads averaged,
times `config.distillation_lambda` (250); plus, with an embedding head and an embedding teacher,
`config.embedding_loss_weight` times the embedding loss (`losses.embedding_loss`: cosine regression and InfoNCE).
The trainer adds what the Trainer does not log by itself: each head's loss (and the embedding loss's parts), data
throughput and the corrupt records and unreadable shards skipped, summed over all processes.
"""

import json
import logging
import os
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, WEIGHTS_NAME

from ..errors import SoundNetError


logger = logging.getLogger(__name__)


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
    instead of rank 0 reading everything and dispatching batches.

    With DataLoader workers (`dataloader_num_workers > 0`): `dataloader_multiprocessing_context="forkserver"` and
    `dataloader_persistent_workers=True`. The default start method, fork, copies the training process with its
    threads running (gloo's, OpenMP's, pyarrow's), once per pass over a streaming corpus: a child of a
    multi-threaded process may only call async-signal-safe functions until it execs (POSIX `fork`), and decoding
    audio in it is far from that. Forkserver workers start from a clean single-threaded server; persistent ones
    start once per run instead of once per pass (`datasets` shares the epoch with them, so each pass still
    reshuffles). `overrides` win.
    """
    arguments = TrainingArguments(output_dir=str(output_dir), **{**distillation_training_defaults(), **overrides})
    return use_clean_worker_processes(arguments)


def distillation_training_defaults() -> dict[str, Any]:
    """The `TrainingArguments` values that [`distillation_training_arguments`] sets (e.g. the defaults of a
    command line parsed with `HfArgumentParser`: `parser.set_defaults(**distillation_training_defaults())`)."""
    return {
        **PAPER_TRAINING_DEFAULTS,
        "remove_unused_columns": False,
        "accelerator_config": {"dispatch_batches": False, "split_batches": False},
        "report_to": "none",
    }


def use_clean_worker_processes(training_args: TrainingArguments) -> TrainingArguments:
    """
    With DataLoader workers, starts them from a forkserver and keeps them for the run (see
    [`distillation_training_arguments`]), unless `training_args` already chose a start method; returns it.
    """
    if training_args.dataloader_num_workers > 0 and training_args.dataloader_multiprocessing_context is None:
        training_args.dataloader_multiprocessing_context = "forkserver"
        training_args.dataloader_persistent_workers = True
    return training_args


# The loss parts of `SoundNetForPreTrainingOutput` logged (mean since the last log) when the batch trains them.
LOGGED_LOSSES = (
    "object_loss",
    "scene_loss",
    "embedding_loss",
    "embedding_cosine_loss",
    "embedding_contrastive_loss",
)


class SoundNetDistillationTrainer(Trainer):
    """
    A `Trainer` for [`SoundNetForPreTraining`] on batches of [`SoundNetPretrainingCollator`].

    Batches hold `input_values` `(batch, samples)`, `teacher_object_probs` `(batch, steps, C_obj)`,
    `teacher_scene_probs` `(batch, steps, C_scene)`, `teacher_embeddings` `(batch, steps, dim)` (the heads trained)
    and the bookkeeping fields `keys`, `num_corrupt` and `num_corrupt_shards`, which `compute_loss` takes out before
    the forward. Every training log gains `object_loss`, `scene_loss` (unscaled mean KL of each head since the last
    log), with an embedding teacher `embedding_loss`, `embedding_cosine_loss` and `embedding_contrastive_loss`
    (unweighted means since the last log, see `losses.embedding_loss`), `samples_per_second`,
    `audio_seconds_per_second`, `corrupt_records` and `corrupt_shards` (totals so far, counted each time the stream
    reaches them), reduced over all processes.

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
        self.corrupt_shards = 0
        self.records_seen = 0
        self._heads_trained: set[str] = set()
        # Since the last log: the sums of LOGGED_LOSSES, then batches, samples, audio samples (kept on the device).
        self._window = torch.zeros(len(LOGGED_LOSSES) + 3, dtype=torch.float64)
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
        num_corrupt_shards = inputs.pop("num_corrupt_shards", None)
        outputs = model(**inputs, return_dict=True)
        if model.training:
            if num_corrupt is not None:
                self.corrupt_records += int(num_corrupt)
            if num_corrupt_shards is not None:
                self.corrupt_shards += int(num_corrupt_shards)
            if self.record_reads and keys is not None:
                self.read_keys.extend(keys)
            input_values = inputs["input_values"]
            self.records_seen += input_values.shape[0]
            losses = [getattr(outputs, name, None) for name in LOGGED_LOSSES]
            self._heads_trained.update(name for name, loss in zip(LOGGED_LOSSES, losses) if loss is not None)
            zero = input_values.new_zeros(())
            step = torch.stack(
                [
                    *(loss.detach() if loss is not None else zero for loss in losses),
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
            corrupt = torch.tensor(
                [float(self.corrupt_records), float(self.corrupt_shards)], dtype=torch.float64, device=device
            )
            window = self.accelerator.reduce(torch.cat([self._window.to(device), corrupt]), reduction="sum").cpu()
            *loss_sums, batches, samples, audio_samples, corrupt, corrupt_shards = window.tolist()
            elapsed = max(time.perf_counter() - self._window_start, 1e-9)
            if batches:
                for name, total in zip(LOGGED_LOSSES, loss_sums):
                    if name in self._heads_trained:
                        logs[name] = total / batches
                logs["samples_per_second"] = samples / elapsed
                logs["audio_seconds_per_second"] = audio_samples / self.model.config.sampling_rate / elapsed
            logs["corrupt_records"] = int(corrupt)
            logs["corrupt_shards"] = int(corrupt_shards)
            self._window = torch.zeros_like(self._window)
            self._window_start = time.perf_counter()
        super().log(logs, start_time)

    def reads_summary(self) -> dict[str, Any]:
        """What this process trained on: world size, rank, records seen, corrupt records and shards skipped, keys (if
        recorded)."""
        return {
            "world_size": self.args.world_size,
            "rank": self.args.process_index,
            "records_seen": self.records_seen,
            "corrupt_records": self.corrupt_records,
            "corrupt_shards": self.corrupt_shards,
            "keys": sorted(set(self.read_keys)) if self.record_reads else None,
        }

    def write_reads_summary(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.reads_summary(), f, indent=1)


# Files of a Trainer checkpoint (transformers.trainer's names) that a resume needs besides the weights.
TRAINER_STATE_FILE = "trainer_state.json"
OPTIMIZER_FILES = ("optimizer.pt", "scheduler.pt")
TORN_PREFIX = "torn-"


def checkpoint_step(folder: str | os.PathLike) -> int | None:
    """N of a `checkpoint-N` folder name, else None."""
    match = re.fullmatch(rf"{PREFIX_CHECKPOINT_DIR}-(\d+)", Path(folder).name)
    return int(match.group(1)) if match else None


def checkpoint_problem(folder: str | os.PathLike, require_optimizer: bool = True) -> str | None:
    """
    Why a Trainer checkpoint folder cannot be resumed from, or None when it can.

    The Trainer writes a checkpoint in place, weights first and `trainer_state.json` last, so a save interrupted by a
    crash or kill -9 leaves a folder without the state, or with a truncated file. Checked here: `trainer_state.json`
    parses and has `global_step`; the weights (`model.safetensors`, the files of its index, or `pytorch_model.bin`)
    open with a complete header and data (safetensors checks the sizes against the file); `optimizer.pt` and
    `scheduler.pt` are present and complete zip archives (torch's format; a truncated one loses its central
    directory). The tensors' values are not checked.
    """
    from safetensors import safe_open

    folder = Path(folder)
    try:
        if not isinstance(json.loads((folder / TRAINER_STATE_FILE).read_text())["global_step"], int):
            return f"{TRAINER_STATE_FILE} has no integer global_step"
    except FileNotFoundError:
        return f"{TRAINER_STATE_FILE} is missing (the save did not finish)"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"{TRAINER_STATE_FILE} is unreadable ({type(err).__name__}: {err})"
    if (folder / SAFE_WEIGHTS_INDEX_NAME).is_file():
        try:
            index = json.loads((folder / SAFE_WEIGHTS_INDEX_NAME).read_text())
            weights = sorted({folder / name for name in index["weight_map"].values()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            return f"{SAFE_WEIGHTS_INDEX_NAME} is unreadable ({type(err).__name__}: {err})"
    elif (folder / SAFE_WEIGHTS_NAME).is_file():
        weights = [folder / SAFE_WEIGHTS_NAME]
    elif (folder / WEIGHTS_NAME).is_file():
        weights = [folder / WEIGHTS_NAME]
    else:
        return f"no model weights ({SAFE_WEIGHTS_NAME}, {SAFE_WEIGHTS_INDEX_NAME} or {WEIGHTS_NAME})"
    for path in weights:
        try:
            if path.suffix == ".safetensors":
                with safe_open(path, framework="pt") as f:
                    f.keys()
            else:
                zipfile.ZipFile(path).close()
        except Exception as err:  # safetensors raises its own error types (e.g. SafetensorError, an OSError)
            return f"{path.name} is truncated or damaged ({type(err).__name__}: {err})"
    if require_optimizer:
        for name in OPTIMIZER_FILES:
            try:
                zipfile.ZipFile(folder / name).close()
            except FileNotFoundError:
                return f"{name} is missing"
            except (OSError, zipfile.BadZipFile) as err:
                return f"{name} is truncated or damaged ({type(err).__name__}: {err})"
    return None


def find_resume_checkpoint(output_dir: str | os.PathLike) -> tuple[str | None, dict[str, str]]:
    """
    The newest complete `checkpoint-N` of `output_dir` (or None), and the newer ones that are torn (`folder ->
    problem`).

    `transformers.trainer_utils.get_last_checkpoint` takes the highest N whatever its state, so a run killed while
    saving could not be resumed; here each folder is validated with `checkpoint_problem`, newest first.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None, {}
    folders = [p for p in output_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
    torn: dict[str, str] = {}
    for folder in sorted(folders, key=checkpoint_step, reverse=True):
        problem = checkpoint_problem(folder)
        if problem is None:
            return str(folder), torn
        torn[str(folder)] = problem
    return None, torn


def resume_checkpoint(output_dir: str | os.PathLike, state=None) -> str | None:
    """
    What `--resume` resumes from: the newest complete `checkpoint-N` of `output_dir` (or None; see
    [`find_resume_checkpoint`]), logging a warning naming each newer, torn one, which the main process sets aside
    (`set_aside_checkpoint`) once every process has chosen (`state`, an `accelerate.PartialState`, synchronises
    them; None for one process).
    """
    checkpoint, torn = find_resume_checkpoint(output_dir)
    for folder, problem in torn.items():
        logger.warning(
            "%s is incomplete (%s): resuming from %s instead; it is kept as %s%s.",
            folder,
            problem,
            checkpoint or "the start (step 0)",
            TORN_PREFIX,
            Path(folder).name,
        )
    if state is not None:
        state.wait_for_everyone()
    if torn and (state is None or state.is_main_process):
        for folder in torn:
            set_aside_checkpoint(folder)
    if state is not None:
        state.wait_for_everyone()
    return checkpoint


class ResumeError(SoundNetError, ValueError):
    """A new run asked to write into an output folder that already holds another run's checkpoints."""


def checkpoint_to_start_from(
    output_dir: str | os.PathLike, resume: bool, checkpoint: str | None = None, state=None
) -> tuple[str | None, int]:
    """
    Where a run writing to `output_dir` starts: `(checkpoint, its global step)`, or `(None, 0)` from scratch.

    An explicit `checkpoint` (`TrainingArguments.resume_from_checkpoint`) is taken as it is. Otherwise, with
    `resume`, the checkpoint [`resume_checkpoint`] chooses (newer torn ones set aside; none yet: step 0, with a
    warning); without `resume`, a folder that already holds checkpoints is refused, so that a new run never mixes
    its checkpoints with an old run's. `state` (an `accelerate.PartialState`, or None for one process) as for
    [`resume_checkpoint`].

    Raises:
        `ResumeError`: `output_dir` already holds checkpoints and `resume` is False.
    """
    output_dir = Path(output_dir)
    if checkpoint is None:
        existing = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if existing and not resume:
            raise ResumeError(
                f"{output_dir} already holds {existing}; pass --resume to continue it, or choose another --output_dir."
            )
        checkpoint = resume_checkpoint(output_dir, state) if resume else None
        if resume and not checkpoint:
            logger.warning("--resume: no checkpoint in %s yet; starting from step 0.", output_dir)
    if checkpoint is None:
        return None, 0
    return checkpoint, json.loads((Path(checkpoint) / TRAINER_STATE_FILE).read_text())["global_step"]


def set_aside_checkpoint(folder: str | os.PathLike) -> Path:
    """
    Renames a torn `checkpoint-N` to `torn-checkpoint-N` (kept for inspection), so that neither a later resume nor
    the Trainer's checkpoint rotation takes it for a real one, and the resumed run can save step N afresh.
    """
    folder = Path(folder)
    target = folder.with_name(TORN_PREFIX + folder.name)
    suffix = 1
    while target.exists():
        target = folder.with_name(f"{TORN_PREFIX}{folder.name}.{suffix}")
        suffix += 1
    os.replace(folder, target)
    return target


__all__ = [
    "LOGGED_LOSSES",
    "PAPER_TRAINING_DEFAULTS",
    "ResumeError",
    "SoundNetDistillationTrainer",
    "checkpoint_problem",
    "checkpoint_to_start_from",
    "distillation_training_arguments",
    "distillation_training_defaults",
    "find_resume_checkpoint",
    "resume_checkpoint",
    "set_aside_checkpoint",
    "use_clean_worker_processes",
]
