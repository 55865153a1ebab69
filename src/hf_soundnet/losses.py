"""Pure loss functions of SoundNet's teacher-student training (no Trainer state)."""

import torch
from torch.nn import functional as F


def align_student_steps(
    num_student_steps: torch.Tensor, num_teacher_steps: torch.Tensor, max_teacher_steps: int
) -> torch.Tensor:
    """
    Index of the student step that lies at the centre of each teacher step.

    Both sequences span the same clip, so teacher step `t` of `T` (centre at `(t + 0.5) / T` of the clip) is matched
    to student step `floor((t + 0.5) * S / T)` of `S`. With `S == T` (20 s crops of SoundNet-8 against one teacher
    frame per 5 s) this is the identity.

    Args:
        num_student_steps (`torch.LongTensor` of shape `(batch_size,)`): valid student steps `S` per clip.
        num_teacher_steps (`torch.LongTensor` of shape `(batch_size,)`): valid teacher steps `T` per clip.
        max_teacher_steps (`int`): padded teacher length.

    Returns:
        `torch.LongTensor` of shape `(batch_size, max_teacher_steps)`.
    """
    steps = torch.arange(max_teacher_steps, device=num_student_steps.device, dtype=torch.float64)
    position = (steps[None, :] + 0.5) * num_student_steps[:, None] / num_teacher_steps.clamp(min=1)[:, None]
    return torch.minimum(position.floor().long(), (num_student_steps - 1).clamp(min=0)[:, None])


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_probs: torch.Tensor,
    student_step_mask: torch.Tensor | None = None,
    teacher_step_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """
    Mean KL(teacher || student) over the valid teacher steps of a batch, for one head.

    Args:
        student_logits (`torch.FloatTensor` of shape `(batch_size, student_steps, num_classes)`): unnormalised.
        teacher_probs (`torch.FloatTensor` of shape `(batch_size, teacher_steps, num_classes)`): distributions.
        student_step_mask (`torch.LongTensor` or `torch.BoolTensor` of shape `(batch_size, student_steps)`, *optional*):
            1 (or True) for valid steps.
        teacher_step_mask (`torch.LongTensor` or `torch.BoolTensor` of shape `(batch_size, teacher_steps)`, *optional*):
            1 (or True) for valid steps.

    Returns:
        `torch.FloatTensor` of shape `()`.
    """
    if student_logits.shape[-1] != teacher_probs.shape[-1]:
        raise ValueError(
            f"The student head has {student_logits.shape[-1]} classes but the teacher gives {teacher_probs.shape[-1]}."
        )
    batch_size, student_steps, _ = student_logits.shape
    teacher_steps = teacher_probs.shape[1]
    device = student_logits.device
    if student_step_mask is None:
        student_step_mask = torch.ones(batch_size, student_steps, dtype=torch.bool, device=device)
    if teacher_step_mask is None:
        teacher_step_mask = torch.ones(batch_size, teacher_steps, dtype=torch.bool, device=device)
    teacher_step_mask = teacher_step_mask.to(device=device, dtype=torch.bool)

    index = align_student_steps(student_step_mask.long().sum(-1), teacher_step_mask.sum(-1), teacher_steps)
    log_student = F.log_softmax(student_logits.float(), dim=-1)
    log_student = torch.gather(log_student, 1, index[..., None].expand(-1, -1, log_student.shape[-1]))
    teacher = teacher_probs.to(log_student.dtype)
    per_step = (torch.xlogy(teacher, teacher) - teacher * log_student).sum(-1)
    weights = teacher_step_mask.to(per_step.dtype)
    return (per_step * weights).sum() / weights.sum().clamp(min=1)


__all__ = ["align_student_steps", "distillation_loss"]
