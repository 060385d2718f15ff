"""A fixed spy-detection test: a policy votes on games whose clues come from scene bots with hidden roles.

Win rates mix clue-giving and voting; this test isolates voting. Every clue is given by a `SceneBot` that is
not told its role (so the spy bot describes its own, modified picture and can be caught, as scene-bot
voters do 90% of the time), while the policy under test casts every civilian vote on the ordinary prompt
(its own role shown, as in training). Same seeds, same clues: a fixed test across policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.base import Policy, decode_phase
from algorithms.eval.rates import vote_rates
from algorithms.rollout import play_games
from vz_env.turn import Phase, Role, Turn
from vz_env.vote_stats import vote_stats

DETECTION_SEED = 3_000_000_000
"""Detection games come from seeds far from those that training games draw."""


class PhaseSplit(Policy):
    """Clue turns from one policy (shown no role), votes from another: the seat of the detection test."""

    name = "phase-split"

    def __init__(self, clues: Policy, votes: Policy) -> None:
        self.clues, self.votes = clues, votes
        self.label = votes.label or votes.name

    def act(self, observation: Mapping[str, Any]) -> str:
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Clue observations (role hidden) go to the clue policy, votes to the vote policy, batched."""
        clue_rows = [i for i, o in enumerate(observations) if decode_phase(o) == Phase.CLUE]
        vote_rows = [i for i in range(len(observations)) if i not in set(clue_rows)]
        texts: list[str] = [""] * len(observations)
        hidden = [{**observations[i], "role": int(Role.HIDDEN)} for i in clue_rows]
        for rows, policy, inputs in (
            (clue_rows, self.clues, hidden),
            (vote_rows, self.votes, [observations[i] for i in vote_rows]),
        ):
            if rows:
                for i, text in zip(rows, policy.act_batch(inputs), strict=True):
                    texts[i] = text
        return texts

    def reset(self, seed: int | None = None) -> None:
        self.clues.reset(seed)
        self.votes.reset(seed)


def detection_test(
    policy: Policy,
    num_games: int,
    seed: int = DETECTION_SEED,
    env_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Decision accuracy, N/A and invalid-vote rates (Rates with 95% intervals) of `policy` on the test."""
    from agents.scripted import SceneBot

    seat = PhaseSplit(SceneBot(seed=seed), policy)
    played: list[tuple[Turn, Role]] = []
    for start in range(0, num_games, batch_size):
        count = min(batch_size, num_games - start)
        rollout = play_games(seat, count, seed + start, env_kwargs=env_kwargs, sample_policies=())
        played += [(s.turn, s.role) for s in rollout.samples]
    return {**vote_rates(vote_stats(played)), "games": num_games}
