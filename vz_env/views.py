"""What each agent is shown (observation) and what trainers and evaluators are told (infos)."""

from __future__ import annotations

import json
import numbers
import random
import weakref
from collections.abc import Iterable
from functools import partial
from json.encoder import encode_basestring
from typing import Any

import numpy as np

from vz_env.config import SpyConfig
from vz_env.data import ImageSource
from vz_env.data.base import ImagePair
from vz_env.rules import SpyGame
from vz_env.turn import Clue, Phase, Role

# Enum member lookups cost about 250 ns each on CPython 3.11; the per-action paths use these aliases.
_CLUE, _DONE, _SPY = Phase.CLUE, Phase.DONE, Role.SPY

MAX_PAIR_DRAWS = 100
_JSON = json.JSONEncoder(ensure_ascii=False)


def new_rng(seed: int | None = None) -> random.Random:
    """The env's RNG: Python's Mersenne Twister, cheap to seed and the same stream on every machine."""
    if seed is None:
        return random.Random()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return random.Random(int(seed))


def _below(rng: random.Random, n: int) -> int:
    """A uniform int in [0, n) from rng.random(), the one draw Python keeps stable across versions."""
    return int(rng.random() * n)


def draw_spies(rng: random.Random, num_players: int, num_spies: int) -> frozenset[int]:
    """num_spies distinct seats, uniformly (a partial Fisher-Yates shuffle)."""
    seats = list(range(num_players))
    for i in range(num_spies):
        j = i + _below(rng, num_players - i)
        seats[i], seats[j] = seats[j], seats[i]
    return frozenset(seats[:num_spies])


def draw_game(config: SpyConfig, source: ImageSource, rng: random.Random) -> tuple[SpyGame, int]:
    """A new game from the env's RNG: the spies (or config.spy_seat), then an image pair (redrawn if broken).

    Returns the game and how many broken pairs were skipped to get it.
    """
    spies = draw_spies(rng, config.num_players, config.num_spies)
    if config.spy_seat is not None:
        spies = frozenset({config.spy_seat})
    for skipped in range(MAX_PAIR_DRAWS):
        pair = fetch_pair(source, _below(rng, 2**53), config)
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


class SceneTexts:
    """Scene records as JSON text, kept per image pair across games, so a pooled pair is encoded once."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[weakref.ref, dict[str, str]]] = {}

    def get(self, pair: ImagePair, which: str) -> str:
        """The JSON of pair.scene_of(which), or "" when the pair has no such record."""
        entry = self._texts.get(id(pair))
        if entry is None or entry[0]() is not pair:
            entry = (weakref.ref(pair, partial(self._forget, id(pair))), {})
            self._texts[id(pair)] = entry
        texts = entry[1]
        if which not in texts:
            record = pair.scene_of(which)
            texts[which] = _JSON.encode(record) if record is not None else ""
        return texts[which]

    def __len__(self) -> int:
        """How many pairs have texts kept (each is dropped when its pair is garbage collected)."""
        return len(self._texts)

    def _forget(self, key: int, _ref: weakref.ref) -> None:
        self._texts.pop(key, None)


def _history_json(clue: Clue) -> str:
    """One history clue as json.dumps writes it (ensure_ascii=False), written out: five times faster."""
    return f'{{"round": {clue.round}, "player": {clue.player}, "clue": {encode_basestring(clue.clue)}}}'


class ViewCache:
    """Per-game cache of the parts of observations that only change between turns (scene JSON, history)."""

    def __init__(self, game: SpyGame, scenes: SceneTexts) -> None:
        self.game = game
        self._scenes = scenes
        self._fixed: dict[str, tuple[np.ndarray, int, Role, str]] = {}
        self._clues: tuple[Clue, ...] = ()
        self._texts: list[str] = []
        self._seen = 0
        self._refresh()

    def _refresh(self) -> None:
        """Bring the per-turn parts (phase, round, the history as Clues and as JSON) up to the latest turn."""
        game = self.game
        new = game.history()[len(self._clues) :]
        if new:
            self._clues += tuple(new)
            self._texts += map(_history_json, new)
        self._seen = len(game.turns)
        self._shared = (game.phase, game.round, self._clues, "[" + ", ".join(self._texts) + "]")

    def _fixed_parts(self, agent: str) -> tuple[np.ndarray, int, Role, str]:
        """The parts of an agent's observation that stay the same all game: image, seat, role, scene."""
        game = self.game
        spy = game.role(agent) == _SPY
        if spy and game.config.spy_image == "blank":
            scene = ""
        else:
            scene = self._scenes.get(game.pair, "modified" if spy else "original")
        seat = game.seat_of.get(agent, game.config.num_players)
        fixed = (game.image(agent), seat, game.known_role(agent), scene)
        self._fixed[agent] = fixed
        return fixed

    def observation(self, agent: str) -> dict[str, Any]:
        if self._seen != len(self.game.turns):
            self._refresh()
        image, seat, role, scene = self._fixed.get(agent) or self._fixed_parts(agent)
        phase, round_, clues, history = self._shared
        return {
            "image": image,
            "prompt": self.game.prompt(agent),
            "phase": phase,
            "round": round_,
            "seat": seat,
            "num_players": self.game.config.num_players,
            "role": role,
            "clues": clues,
            "history": history,
            "scene": scene,
        }


def agent_infos(game: SpyGame, agents: Iterable[str], skipped_pairs: int = 0) -> dict[str, dict[str, Any]]:
    """The info dict of each agent, sharing the game's outcome between them once it is done."""
    outcome = _outcome(game) if game.phase == _DONE else None
    return {agent: agent_info(game, agent, outcome, skipped_pairs) for agent in agents}


def agent_info(
    game: SpyGame, agent: str, outcome: tuple | None = None, skipped_pairs: int = 0
) -> dict[str, Any]:
    """The info dict of one agent: its turn state, its last Turn (None before it acts), the final outcome."""
    info: dict[str, Any] = {
        "phase": game.phase,
        "acting": game.is_pending(agent),
        "turn": game.last_turn(agent),
    }
    if skipped_pairs:
        info["skipped_pairs"] = skipped_pairs
    if outcome is not None:
        rewards, winner, roles, received = outcome
        info["game_reward"] = rewards[agent]
        info["winner"] = winner
        info["roles"] = dict(roles)
        info["votes_received"] = dict(received)
    return info


def _outcome(game: SpyGame) -> tuple[dict[str, float], str | None, dict[str, Role], dict[str, int]]:
    """What every agent's final info shares: rewards, winner, roles and votes received."""
    return game.rewards(), game.winner(), game.roles, dict(zip(game.players, game.votes_received()))
