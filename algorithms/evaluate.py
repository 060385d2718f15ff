"""Head-to-head evaluation: policy A against policy B, each seed played twice with the sides swapped."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.base import Policy
from algorithms.rollout import Rollout, play_games
from vz_env.turn import Role, Turn
from vz_env.vote_stats import VoteStats, vote_stats

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


def evaluate(
    policy_a: Policy,
    policy_b: Policy,
    num_games: int,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Play num_games (rounded up to even) games: each seed once with A as the spy side, once with B.

    Seats and roles come from the env's seed; the spy side holds the spy seats, the other side every
    civilian seat (and the observers in observer mode). Reports, per policy, the win rate over all its
    games (0.5 between equals) and as spy and as civilian, with 95% Wilson intervals, and its decision
    accuracy, N/A rate, invalid rate and clue grounding (docs/spec.md s10: clues that name an object of the
    speaker's own scene; scene images only).
    """
    seeds = math.ceil(num_games / 2)
    rollouts: list[tuple[str, Rollout]] = []
    for spy_side, spy_policy, civilian_policy in (("A", policy_a, policy_b), ("B", policy_b, policy_a)):
        seat = _side_by_role(spy_policy, civilian_policy)
        for start in range(0, seeds, batch_size):
            count = min(batch_size, seeds - start)
            rollouts.append((spy_side, play_games(seat, count, seed + start, env_kwargs=env_kwargs)))
    return {"A": _report(rollouts, "A"), "B": _report(rollouts, "B"), "games": 2 * seeds, "seed": seed}


def _side_by_role(spy_policy: Policy, civilian_policy: Policy) -> Callable[[int, str, Role], Policy]:
    """Seat assignment: the spy side takes the spy seats, the other side every other seat."""
    return lambda game, agent, role: spy_policy if role == Role.SPY else civilian_policy


def _report(rollouts: list[tuple[str, Rollout]], side: str) -> dict[str, Any]:
    spy_wins = spy_games = civ_wins = civ_games = 0
    turns = invalid_turns = scene_clues = grounded = 0
    played: list[tuple[Turn, Role]] = []
    for spy_side, rollout in rollouts:
        if spy_side == side:
            spy_games += len(rollout.games)
            spy_wins += sum(g.winner == "spies" for g in rollout.games)
        else:
            civ_games += len(rollout.games)
            civ_wins += sum(g.winner == "civilians" for g in rollout.games)
        for s in rollout.samples:
            mine = (s.role == Role.SPY) == (spy_side == side)
            if not mine:
                continue
            turn = s.turn
            played.append((turn, s.role))
            turns += 1
            invalid_turns += not turn.valid and not turn.abstain
            if turn.grounded is not None:
                scene_clues += 1
                grounded += turn.grounded
    return {
        "win_rate": Rate(spy_wins + civ_wins, spy_games + civ_games).to_dict(),
        "win_rate_as_spy": Rate(spy_wins, spy_games).to_dict(),
        "win_rate_as_civilian": Rate(civ_wins, civ_games).to_dict(),
        **vote_rates(vote_stats(played)),
        "invalid_turn_rate": Rate(invalid_turns, turns).to_dict(),
        "clue_grounding": Rate(grounded, scene_clues).to_dict(),
    }
