"""Role Advantage Estimation for clue-stage samples: per-role EMA baselines of the zero-sum game reward."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from algorithms.train_config import SPOConfig

MeanAllReduce = Callable[[torch.Tensor], torch.Tensor]
"""Takes a 1-D float64 CPU tensor, returns its element-wise mean over all processes (identity when alone)."""


def _identity(values: torch.Tensor) -> torch.Tensor:
    """The single-process all-reduce: every value is already the mean."""
    return values


class RoleBaselines:
    """EMA baselines b_spy (spy reward) and b_civ (mean civilian reward of a game), both starting at 0.

    `advantages` is called once per game and updates the baselines with it:
    b <- alpha * b + (1 - alpha) * reward. With timing "before" (default) a game's advantages use the
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

        `spy_reward` is one number, or a sequence when a game has several spies (b_spy then tracks their
        mean); the spy advantage comes back in the same form. Civilians each get their reward - b_civ.
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
