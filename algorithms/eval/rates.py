"""The report helpers every evaluation shares: proportions with Wilson intervals, and the vote rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vz_env.vote_stats import VoteStats

Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (sensible even at 0 or n successes)."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Rate:
    """A proportion with its count and 95% Wilson interval."""

    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.trials)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"rate": self.value, "n": self.trials, "ci95": [low, high]}


def vote_rates(stats: VoteStats) -> dict[str, Any]:
    """Decision accuracy, N/A and invalid-vote rates as Rates with intervals, as every report writes them."""
    return {
        "decision_accuracy": Rate(stats.spy_named, stats.votes).to_dict(),
        "na_rate": Rate(stats.abstained, stats.votes).to_dict(),
        "invalid_vote_rate": Rate(stats.invalid, stats.votes).to_dict(),
    }
