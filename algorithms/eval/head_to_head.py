"""Head-to-head evaluation: policy A against policy B, each seed played twice with the sides swapped."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from agents.base import Policy
from algorithms.eval.rates import Rate, vote_rates
from algorithms.rollout import Rollout, play_games
from vz_env.turn import Role, Turn
from vz_env.vote_stats import vote_stats


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
        seat = side_by_role(spy_policy, civilian_policy)
        for start in range(0, seeds, batch_size):
            count = min(batch_size, seeds - start)
            rollouts.append((spy_side, play_games(seat, count, seed + start, env_kwargs=env_kwargs)))
    return {"A": _report(rollouts, "A"), "B": _report(rollouts, "B"), "games": 2 * seeds, "seed": seed}


def side_by_role(spy_policy: Policy, civilian_policy: Policy) -> Callable[[int, str, Role], Policy]:
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
