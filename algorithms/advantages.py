"""Advantages, both kinds in one place: role baselines for clue turns, group normalisation for votes.

Clue stage (Role Advantage Estimation, docs/spec.md s6): advantage = reward - b_role, with b_spy and b_civ
EMAs of the spy and civilian rewards. Decision stage: the G answers to one prompt are normalised against
each other.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import torch

from algorithms.train_config import SPOConfig

MeanAllReduce = Callable[[torch.Tensor], torch.Tensor]
"""Takes a 1-D float64 CPU tensor, returns its element-wise mean over all processes (identity when alone)."""

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


def keyed_group_advantages(
    rewards: Sequence[float], groups: Sequence[Hashable], eps: float = 1e-8
) -> torch.Tensor:
    """`group_advantages` where each reward's group is named by a key (members need not be adjacent).

    The decision samples of a rollout come in this form: every sample names the prompt it answers.
    Returns a 1-D float32 tensor aligned with `rewards`.
    """
    if len(rewards) != len(groups):
        raise ValueError(f"{len(rewards)} rewards but {len(groups)} group keys")
    members: dict[Hashable, list[int]] = {}
    for index, key in enumerate(groups):
        members.setdefault(key, []).append(index)
    values = torch.zeros(len(rewards), dtype=torch.float32)
    for indices in members.values():
        group = torch.tensor([float(rewards[i]) for i in indices], dtype=torch.float32)
        values[indices] = group_advantages(group, len(indices), eps)
    return values


def _identity(values: torch.Tensor) -> torch.Tensor:
    """The single-process all-reduce: every value is already the mean."""
    return values


class RoleBaselines:
    """EMA baselines b_spy (spy reward) and b_civ (mean civilian reward of a game), both starting at 0.

    `advantages` is called once per game and updates the baselines with it:
    b <- alpha * b + (1 - alpha) * (the game's mean reward of that role). The rewards passed in are whatever
    the advantage is taken of: the trainer passes one per clue turn, the game reward plus the optional clue
    format term, so the baseline tracks the format term too and a constant bonus never offsets a loss.
    With timing "before" (default) a game's advantages use the
    baselines as they were before that game, so the baseline is independent of the reward it is subtracted
    from; with "after" (the authors' code) they use the updated values. Games are absorbed in call order.

    Distributed runs pass `all_reduce` and call `sync()` once per iteration, on every process, after all of
    that process's games: the baselines become their mean across processes, so all processes go on with the
    same values (EMAs are linear, so this equals one EMA step with the mean of the workers' rewards).
    """

    def __init__(self, config: SPOConfig | None = None, all_reduce: MeanAllReduce | None = None) -> None:
        cfg = config if config is not None else SPOConfig()
        self.alpha = cfg.role_ema_alpha
        self.timing = cfg.baseline_timing
        self._all_reduce = all_reduce if all_reduce is not None else _identity
        self._b_spy = 0.0
        self._b_civ = 0.0

    @property
    def b_spy(self) -> float:
        """Current spy baseline."""
        return self._b_spy

    @property
    def b_civ(self) -> float:
        """Current civilian baseline (tracks a game's mean civilian reward)."""
        return self._b_civ

    def advantages(
        self, spy_reward: float | Sequence[float], civilian_rewards: Sequence[float]
    ) -> tuple[float | list[float], list[float]]:
        """Advantages (reward - role baseline) of one game's players, then absorb the game into the baselines.

        `spy_reward` is one number, or a sequence (several spies, or one reward per clue turn: b_spy then
        tracks their mean); the spy advantage comes back in the same form. Each civilian reward gets
        reward - b_civ, and b_civ tracks their mean.
        """
        single = isinstance(spy_reward, numbers.Real)
        spies = [float(spy_reward)] if single else [float(r) for r in spy_reward]
        civilians = [float(r) for r in civilian_rewards]
        if not spies or not civilians:
            raise ValueError("a game needs at least one spy reward and one civilian reward")
        if not all(math.isfinite(r) for r in spies + civilians):
            raise ValueError(f"rewards must be finite, got spy {spies} and civilians {civilians}")
        if self.timing == "after":
            self._absorb(spies, civilians)
        spy_adv = [r - self._b_spy for r in spies]
        civ_adv = [r - self._b_civ for r in civilians]
        if self.timing == "before":
            self._absorb(spies, civilians)
        return (spy_adv[0] if single else spy_adv), civ_adv

    def _absorb(self, spies: list[float], civilians: list[float]) -> None:
        """One EMA step of each baseline with this game's mean spy and mean civilian reward."""
        self._b_spy = self.alpha * self._b_spy + (1 - self.alpha) * sum(spies) / len(spies)
        self._b_civ = self.alpha * self._b_civ + (1 - self.alpha) * sum(civilians) / len(civilians)

    def sync(self) -> None:
        """Set both baselines to their mean across processes (a collective: every process must call it)."""
        mean = self._all_reduce(torch.tensor([self._b_spy, self._b_civ], dtype=torch.float64))
        self._b_spy, self._b_civ = (float(v) for v in mean.tolist())

    def state_dict(self) -> dict[str, float]:
        """The baselines, for checkpoints."""
        return {"b_spy": self._b_spy, "b_civ": self._b_civ}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the baselines written by `state_dict`."""
        missing = {"b_spy", "b_civ"} - set(state)
        if missing:
            raise ValueError(f"RoleBaselines state lacks {sorted(missing)}")
        self._b_spy = float(state["b_spy"])
        self._b_civ = float(state["b_civ"])
