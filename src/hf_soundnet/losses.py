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


def aligned_steps(
    student: torch.Tensor,
    teacher: torch.Tensor,
    student_step_mask: torch.Tensor | None = None,
    teacher_step_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Which student step each teacher step is compared with, for both losses.

    Args:
        student: `(batch_size, student_steps, ...)` the student's per-step outputs (logits or embeddings).
        teacher: `(batch_size, teacher_steps, ...)` the teacher's per-step targets.
        student_step_mask, teacher_step_mask: `(batch_size, steps)`, 1 (or True) for valid steps; all valid if None.

    Returns:
        `(index, teacher_step_mask)`: `torch.LongTensor` `(batch_size, teacher_steps)` of student step indices
        ([`align_student_steps`]) and the teacher mask as bool on the student's device.
    """
    batch_size, student_steps = student.shape[:2]
    teacher_steps = teacher.shape[1]
    device = student.device
    if student_step_mask is None:
        student_step_mask = torch.ones(batch_size, student_steps, dtype=torch.bool, device=device)
    if teacher_step_mask is None:
        teacher_step_mask = torch.ones(batch_size, teacher_steps, dtype=torch.bool, device=device)
    teacher_step_mask = teacher_step_mask.to(device=device, dtype=torch.bool)
    index = align_student_steps(student_step_mask.long().sum(-1), teacher_step_mask.sum(-1), teacher_steps)
    return index, teacher_step_mask


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
    index, teacher_step_mask = aligned_steps(student_logits, teacher_probs, student_step_mask, teacher_step_mask)
    log_student = F.log_softmax(student_logits.float(), dim=-1)
    log_student = torch.gather(log_student, 1, index[..., None].expand(-1, -1, log_student.shape[-1]))
    teacher = teacher_probs.to(log_student.dtype)
    per_step = (torch.xlogy(teacher, teacher) - teacher * log_student).sum(-1)
    weights = teacher_step_mask.to(per_step.dtype)
    return (per_step * weights).sum() / weights.sum().clamp(min=1)


def masked_step_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` `(batch_size, steps)` over the steps where `mask` (same shape, bool) is True."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1)


def embedding_loss(
    student_embeds: torch.Tensor,
    teacher_embeds: torch.Tensor,
    student_step_mask: torch.Tensor | None = None,
    teacher_step_mask: torch.Tensor | None = None,
    cosine_weight: float = 1.0,
    contrastive_weight: float = 1.0,
    temperature: float = 0.07,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    The loss of a student in an image-text teacher's embedding space: cosine regression plus a symmetric InfoNCE
    across clips, per teacher step, with the student steps aligned to the teacher steps as for the KL heads
    ([`align_student_steps`]).

    Why both. The cosine term, the mean over valid teacher steps of `1 - cos(s, t)` between the student's step `s`
    and the frozen teacher's image embedding `t`, puts the sound where the image is in the teacher's space, so that
    the teacher's text tower scores sounds as it scores images (zero-shot needs this absolute placement; a contrastive
    loss alone only asks that a sound be nearer its own image than the others, up to directions the images never
    use). Alone it has a known weakness: image embeddings of one model share a large common direction (the "cone"
    of CLIP's space), so a student that predicts the mean image already reaches a high cosine and learns little of
    what tells scenes apart. The InfoNCE term works on exactly that: each student step must pick its own frame's
    embedding among the frames of the other clips of the batch (audio -> image), and each frame its sound (image ->
    audio); the two cross-entropies are averaged. The teacher is frozen, so neither term can collapse.

    Negatives: the steps of other clips. The other steps of the same clip are left out of the softmax (masked, neither
    positive nor negative): neighbouring frames of one video usually show the same scene, and pushing them apart would
    teach the student to tell moments of one sound apart by what the camera did. Negatives come from this process's
    batch only (no gather across processes); a batch of one clip has none and its InfoNCE is 0. The temperature is
    fixed (0.07, CLIP's initial value) rather than learned.

    Args:
        student_embeds (`torch.FloatTensor` of shape `(batch_size, student_steps, dim)`): the student's
            L2-normalised embeddings.
        teacher_embeds (`torch.FloatTensor` of shape `(batch_size, teacher_steps, dim)`): the teacher's image
            embeddings (normalised again here: float16 storage leaves them a little off the unit sphere).
        student_step_mask (`torch.LongTensor` or `torch.BoolTensor` of shape `(batch_size, student_steps)`, *optional*):
            1 (or True) for valid steps.
        teacher_step_mask (`torch.LongTensor` or `torch.BoolTensor` of shape `(batch_size, teacher_steps)`, *optional*):
            1 (or True) for valid steps.
        cosine_weight, contrastive_weight: the terms' weights (a term of weight 0 is not computed and returned as 0).
        temperature: the InfoNCE logits are cosines divided by it.

    Returns:
        `(loss, cosine, contrastive)`, each `torch.FloatTensor` of shape `()`: `loss = cosine_weight * cosine +
        contrastive_weight * contrastive`, and the unweighted terms.
    """
    if student_embeds.shape[-1] != teacher_embeds.shape[-1]:
        raise ValueError(
            f"The student's embeddings have {student_embeds.shape[-1]} dimensions but the teacher's "
            f"{teacher_embeds.shape[-1]}."
        )
    batch_size, _, dim = student_embeds.shape
    teacher_steps = teacher_embeds.shape[1]
    device = student_embeds.device
    index, teacher_step_mask = aligned_steps(student_embeds, teacher_embeds, student_step_mask, teacher_step_mask)
    student = torch.gather(student_embeds.float(), 1, index[..., None].expand(-1, -1, dim))  # (batch, T, dim)
    teacher = F.normalize(teacher_embeds.to(device=device, dtype=torch.float32), dim=-1)
    zero = student.new_zeros(())
    cosine = contrastive = zero
    if cosine_weight:
        cosine = masked_step_mean(1 - (student * teacher).sum(-1), teacher_step_mask)
    if contrastive_weight:
        valid = teacher_step_mask.reshape(-1)
        student_flat, teacher_flat = student.reshape(-1, dim)[valid], teacher.reshape(-1, dim)[valid]
        clip = torch.arange(batch_size, device=device)[:, None].expand(-1, teacher_steps).reshape(-1)[valid]
        logits = student_flat @ teacher_flat.T / temperature  # (N, N): audio step i against frame j
        same_clip = clip[:, None] == clip[None, :]
        logits = logits.masked_fill(same_clip & ~torch.eye(len(clip), dtype=torch.bool, device=device), float("-inf"))
        targets = torch.arange(len(clip), device=device)
        contrastive = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    return cosine_weight * cosine + contrastive_weight * contrastive, cosine, contrastive


__all__ = ["align_student_steps", "aligned_steps", "distillation_loss", "embedding_loss", "masked_step_mean"]
