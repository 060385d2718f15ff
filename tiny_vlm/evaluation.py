"""How well a model plays the game's format on held-out games: valid clues, valid votes, clue grounding.

The model takes every seat of `num_games` default games (seeds apart from pretraining's), which advance in
lock-step so that one batched call serves the same turn of every game. Each answer is parsed by the game's
own parser; grounding is SPEC s10's, against the speaker's own scene record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import Policy, decode_scene
from tiny_vlm.world import WORLD
from vz_env import spy_v0
from vz_env.grounding import is_grounded
from vz_env.parsing import parse_clue, parse_vote
from vz_env.turn import Phase

HELD_OUT_SEED = 1_000_000_000


def format_report(
    policy: Policy,
    num_games: int = 200,
    seed: int = HELD_OUT_SEED,
    env_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Shares of valid clues, well-formed votes (N/A included), N/A votes and grounded clues.

    The games are played in the miniature world (the default model's) unless `env_kwargs` say otherwise.
    """
    settings = dict(env_kwargs) if env_kwargs is not None else {"images": WORLD}
    envs = [spy_v0.parallel_env(**settings) for _ in range(num_games)]
    observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    counts = {"clues": 0, "valid_clues": 0, "grounded": 0, "votes": 0, "valid_votes": 0, "na": 0}
    while any(env.agents for env in envs):
        requests = [(i, a) for i, env in enumerate(envs) if env.agents for a in env.acting_agents]
        texts = policy.act_batch([observations[i][a] for i, a in requests])
        actions: list[dict[str, str]] = [{} for _ in envs]
        for (i, agent), text in zip(requests, texts, strict=True):
            _count(counts, observations[i][agent], text, envs[i].unwrapped.config.num_players)
            actions[i][agent] = text
        for i, env in enumerate(envs):
            if env.agents:
                observations[i] = env.step(actions[i])[0]
    return {
        "valid_clue_rate": counts["valid_clues"] / max(1, counts["clues"]),
        "grounding_rate": counts["grounded"] / max(1, counts["clues"]),
        "valid_vote_rate": counts["valid_votes"] / max(1, counts["votes"]),
        "na_rate": counts["na"] / max(1, counts["votes"]),
        "clues": counts["clues"],
        "votes": counts["votes"],
    }


def _count(counts: dict[str, int], observation: Mapping[str, Any], text: str, num_players: int) -> None:
    if observation["phase"] == Phase.CLUE:
        clue = parse_clue(text)
        scene = decode_scene(observation)
        counts["clues"] += 1
        counts["valid_clues"] += clue.valid
        counts["grounded"] += is_grounded(clue.clue, scene.get("objects", []))
        return
    vote = parse_vote(text, num_players, observation["seat"])
    counts["votes"] += 1
    counts["valid_votes"] += vote.well_formed
    counts["na"] += vote.abstain
