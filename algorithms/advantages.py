"""Group-normalised advantages for decision samples: the G answers to one prompt scored against each other."""

from __future__ import annotations

from collections.abc import Sequence

import torch

_CONSTANT_GROUP_RTOL = 1e-6
"""A group is constant when its std is at most this times max(1, its largest |reward|) (float round-off)."""


def group_advantages(
    rewards: torch.Tensor | Sequence[float], group_size: int, eps: float = 1e-8
) -> torch.Tensor:
    """(r - group mean) / (group std + eps) for each run of `group_size` consecutive rewards.

    The std is the sample standard deviation (Bessel's n - 1), as TRL's GRPO trainer and torch's default
    compute it, so results match those implementations; a group's advantages then have sample std ~1.
    A group whose std is ~0 (all rewards equal up to round-off) gets exactly zero advantages, as does any
    group of one. Returns a 1-D float tensor (the input's float dtype, else torch's default dtype).
    """
    values = torch.as_tensor(rewards).detach()
    out_dtype = values.dtype if values.is_floating_point() else torch.get_default_dtype()
    if values.dim() != 1:
        raise ValueError(f"rewards must be 1-D, got shape {tuple(values.shape)}")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be an int >= 1, got {group_size!r}")
    if values.numel() % group_size:
        raise ValueError(f"{values.numel()} rewards do not split into groups of {group_size}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    groups = values.to(torch.float64).reshape(-1, group_size)
    if not torch.isfinite(groups).all():
        raise ValueError("rewards must be finite")
    if group_size == 1:
        return torch.zeros(values.numel(), dtype=out_dtype, device=values.device)
    centred = groups - groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True)
    scale = groups.abs().amax(dim=1, keepdim=True).clamp(min=1.0)
    constant = std <= _CONSTANT_GROUP_RTOL * scale
    advantages = torch.where(constant, torch.zeros_like(centred), centred / (std + eps))
    return advantages.reshape(-1).to(out_dtype)
