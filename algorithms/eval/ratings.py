"""Bradley-Terry ratings with bootstrap intervals, from games that each have a winning and a losing policy.

Written with numpy (Hunter's MM algorithm, 2004) rather than taken from choix, which would bring scipy in
for these few lines, or openskill, whose online updates depend on the order the games were played in. Every
pair of policies starts with `prior_games` virtual games split evenly, so a policy that won (or lost) all
its games still gets a finite rating and a bootstrap resample with a missing pair still fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ELO_SCALE = 400 / np.log(10)  # rating points per unit of log-strength: 400 points = 10:1 odds
ELO_MEAN = 1000.0


@dataclass(frozen=True)
class Outcome:
    """One game: the index of the policy that won, the one that lost, and its stratum for resampling."""

    winner: int
    loser: int
    stratum: tuple[int, int]


def win_counts(outcomes: Sequence[Outcome], num_policies: int) -> np.ndarray:
    """W[i, j]: games policy i won against policy j."""
    wins = np.zeros((num_policies, num_policies))
    for outcome in outcomes:
        wins[outcome.winner, outcome.loser] += 1
    return wins


def bradley_terry(wins: np.ndarray, prior_games: float = 1.0, tol: float = 1e-10) -> np.ndarray:
    """Elo-scale ratings (mean 1000) maximising the Bradley-Terry likelihood of `wins` plus the prior."""
    k = wins.shape[0]
    w = wins + (prior_games / 2) * (1 - np.eye(k))
    games = w + w.T
    strength = np.ones(k)
    for _ in range(100_000):
        denominators = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = w.sum(axis=1) / denominators
        updated /= np.exp(np.log(updated).mean())
        converged = np.max(np.abs(np.log(updated) - np.log(strength))) < tol
        strength = updated
        if converged:
            break
    return ELO_MEAN + ELO_SCALE * np.log(strength)


def bootstrap_intervals(
    outcomes: Sequence[Outcome],
    num_policies: int,
    replicates: int = 1000,
    seed: int = 0,
    prior_games: float = 1.0,
) -> np.ndarray:
    """[K, 2] percentile 95% intervals of the ratings, resampling games within each stratum (one pairing
    of spy and civilian policies), so that every replicate keeps the league's balanced schedule."""
    rng = np.random.default_rng(seed)
    strata: dict[tuple[int, int], list[Outcome]] = {}
    for outcome in outcomes:
        strata.setdefault(outcome.stratum, []).append(outcome)
    groups = [np.array([(o.winner, o.loser) for o in group]) for group in strata.values()]
    samples = np.empty((replicates, num_policies))
    for r in range(replicates):
        wins = np.zeros((num_policies, num_policies))
        for pairs in groups:
            drawn = pairs[rng.integers(0, len(pairs), len(pairs))]
            np.add.at(wins, (drawn[:, 0], drawn[:, 1]), 1)
        samples[r] = bradley_terry(wins, prior_games)
    return np.percentile(samples, [2.5, 97.5], axis=0).T
