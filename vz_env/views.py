"""What each agent is shown (observation) and what trainers and evaluators are told (infos)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from vz_env.config import SpyConfig
from vz_env.data import ImageSource
from vz_env.data.base import ImagePair
from vz_env.rules import DONE, SPY, SpyGame
from vz_env.spaces import PHASE_CODES, ROLE_CODES

MAX_PAIR_DRAWS = 100


def draw_game(config: SpyConfig, source: ImageSource, rng: np.random.Generator) -> tuple[SpyGame, int]:
    """A new game from the env's RNG: the spies (or config.spy_seat), then an image pair (redrawn if broken).

    Returns the game and how many broken pairs were skipped to get it.
    """
    spies = frozenset(int(s) for s in rng.choice(config.num_players, size=config.num_spies, replace=False))
    if config.spy_seat is not None:
        spies = frozenset({config.spy_seat})
    for skipped in range(MAX_PAIR_DRAWS):
        pair = fetch_pair(source, int(rng.integers(0, 2**63 - 1)), config)
        if config.broken_pairs == "keep":
            return SpyGame(config, spies, pair), skipped
        from vz_env.data.check import pair_problems

        if not pair_problems(pair):
            return SpyGame(config, spies, pair), skipped
    raise RuntimeError(f"{MAX_PAIR_DRAWS} image pairs in a row from {source.name!r} were blank or identical")


def fetch_pair(source: ImageSource, seed: int, config: SpyConfig) -> ImagePair:
    """One pair from the source, checked to have the configured (width, height)."""
    pair = source.pair(seed, config.image_size)
    if pair.size != config.image_size:
        raise ValueError(
            f"image source {source.name!r} returned a {pair.size} pair; the config asks for "
            f"{config.image_size}"
        )
    return pair


class ViewCache:
    """Per-game cache of the parts of observations that only change between turns (scene JSON, history)."""

    def __init__(self, game: SpyGame) -> None:
        self.game = game
        self._scene: dict[str, str] = {}
        self._history: tuple[int, str] = (-1, "[]")

    def scene_json(self, agent: str) -> str:
        role = self.game.role(agent)
        if role not in self._scene:
            which = "modified" if role == SPY else "original"
            blank = role == SPY and self.game.config.spy_image == "blank"
            record = None if blank else self.game.pair.scene_of(which)
            self._scene[role] = json.dumps(record, ensure_ascii=False) if record is not None else ""
        return self._scene[role]

    def history_json(self) -> str:
        count = len(self.game.turns)
        if self._history[0] != count:
            self._history = (count, json.dumps(self.game.history(), ensure_ascii=False))
        return self._history[1]

    def observation(self, agent: str) -> dict[str, Any]:
        game = self.game
        return {
            "image": game.image(agent),
            "prompt": game.prompt(agent),
            "phase": PHASE_CODES[game.phase],
            "round": game.round,
            "seat": game.seat_of.get(agent, game.config.num_players),
            "role": ROLE_CODES[game.known_role(agent)],
            "history": self.history_json(),
            "scene": self.scene_json(agent),
        }


def agent_info(game: SpyGame, agent: str, skipped_pairs: int = 0) -> dict[str, Any]:
    """The info dict of one agent: its turn state, its last parsed action, and the outcome once done."""
    last = next((t for t in reversed(game.turns) if t.agent == agent), None)
    info: dict[str, Any] = {
        "phase": game.phase,
        "acting": agent in game.pending,
        "turn": dataclasses.asdict(last) if last is not None else None,
    }
    if skipped_pairs:
        info["skipped_pairs"] = skipped_pairs
    if game.phase == DONE:
        vote = game.vote_of(agent)
        info["vote"] = vote.vote if vote else None
        info["decision_reward"] = vote.decision_reward if vote else None
        info["game_reward"] = game.rewards()[agent]
        info["winner"] = game.winner()
        info["roles"] = game.roles
        info["votes_received"] = dict(zip(game.players, game.votes_received()))
    return info
