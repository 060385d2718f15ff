"""How well a model plays on held-out games: valid clues, well-formed votes, grounding, votes naming the spy.

The model takes every seat of `num_games` games (seeds apart from pretraining's), which advance in
lock-step so that one batched call serves the same turn of every game. Every figure is read from the
Turns the game itself judged (parsing, grounding against the speaker's own scene record: docs/spec.md
s10), never re-derived from the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import Policy
from tiny_vlm.world import WORLD
from vz_env import spy_v0
from vz_env.turn import Phase, Role, Turn
from vz_env.vote_stats import vote_stats

HELD_OUT_SEED = 1_000_000_000


def format_report(
    policy: Policy,
    num_games: int = 200,
    seed: int = HELD_OUT_SEED,
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Shares of valid clues, well-formed votes (N/A included), N/A votes, grounded clues and civilian
    votes naming the spy.

    The games are played in the miniature world (the default model's) unless `env_kwargs` say otherwise.
    """
    settings = dict(env_kwargs) if env_kwargs is not None else {"images": WORLD}
    envs = [spy_v0.parallel_env(**settings) for _ in range(num_games)]
    observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    turns: list[tuple[Turn, Role]] = []
    while any(env.agents for env in envs):
        requests = [(i, a) for i, env in enumerate(envs) if env.agents for a in env.acting_agents]
        texts = policy.act_batch([observations[i][a] for i, a in requests])
        actions: list[dict[str, str]] = [{} for _ in envs]
        for (i, agent), text in zip(requests, texts, strict=True):
            actions[i][agent] = text
        for i, env in enumerate(envs):
            if actions[i]:
                observations[i], _, _, _, infos = env.step(actions[i])
                roles = env.unwrapped.roles
                turns += [(infos[agent]["turn"], roles[agent]) for agent in actions[i]]
    return play_report(turns)


def play_report(turns: list[tuple[Turn, Role]]) -> dict[str, float]:
    """The report's shares from the judged turns and the role of each turn's player."""
    clues = [turn for turn, _ in turns if turn.phase == Phase.CLUE]
    votes, civilian_votes = vote_stats(turns, spies=True), vote_stats(turns)
    return {
        "valid_clue_rate": _share(turn.valid for turn in clues),
        "grounding_rate": _share(bool(turn.grounded) for turn in clues),
        "valid_vote_rate": votes.well_formed_rate,
        "na_rate": votes.na_rate,
        "civilian_spy_rate": civilian_votes.accuracy,
        "clues": len(clues),
        "votes": votes.votes,
        "civilian_votes": civilian_votes.votes,
    }


def _share(flags: Any) -> float:
    values = list(flags)
    return sum(values) / max(1, len(values))
