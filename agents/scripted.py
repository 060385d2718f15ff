"""Scripted players: a random baseline and a fair scene-reading bot that sees only its own scene record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import Policy, decode_history, decode_phase, decode_role, decode_scene
from vz_env.data.scenes import COLORS, MATERIALS, SHAPES, SIZES, describe_object
from vz_env.parsing import boxed
from vz_env.prompts import other_players
from vz_env.turn import Phase, Role

_SYNONYMS = {
    "ball": "sphere",
    "block": "cube",
    "box": "cube",
    "matte": "rubber",
    "metallic": "metal",
    "shiny": "metal",
}
_WORD = re.compile(r"[a-z]+")


def scene_objects(observation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects of the player's own scene record, or [] when its picture has none (blank, photo)."""
    objects = decode_scene(observation).get("objects", [])
    return objects if isinstance(objects, list) else []


def clue_attributes(clue: str) -> dict[str, str]:
    """Scene attributes a clue mentions (shape, color, material, size), with common synonyms mapped."""
    found: dict[str, str] = {}
    for word in _WORD.findall(clue.lower()):
        word = _SYNONYMS.get(word, word.rstrip("s") if word.rstrip("s") in SHAPES else word)
        for attribute, values in (
            ("shape", SHAPES),
            ("color", COLORS),
            ("material", MATERIALS),
            ("size", SIZES),
        ):
            if word in values:
                found.setdefault(attribute, word)
    return found


def fits_scene(attributes: Mapping[str, str], objects: list[dict[str, Any]]) -> bool:
    """True when some object of the scene has every attribute the clue mentions."""
    return any(all(obj.get(k) == v for k, v in attributes.items()) for obj in objects)


class SeededPolicy(Policy):
    """A scripted policy with its own numpy RNG, reseeded by reset(seed) so games can be replayed."""

    def __init__(self, seed: int | None = None, label: str = "") -> None:
        self._rng = np.random.default_rng(seed)
        self.label = label

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)


class RandomAgent(SeededPolicy):
    """Gives a random object description as a clue and votes uniformly among the others or abstains."""

    name = "random"

    def act(self, observation: Mapping[str, Any]) -> str:
        if decode_phase(observation) == Phase.CLUE:
            obj = {
                "size": self._rng.choice(list(SIZES)),
                "color": self._rng.choice(list(COLORS)),
                "material": self._rng.choice(MATERIALS),
                "shape": self._rng.choice(SHAPES),
            }
            return f"A random guess. {boxed(describe_object(obj))}"
        num_players = int(observation["num_players"])
        choices = [*other_players(observation["seat"] + 1, num_players), "N/A"]
        return f"A random vote. {boxed(str(self._rng.choice(choices)))}"


class SceneBot(SeededPolicy):
    """Plays from the scene record of its own image only (never the other image, never the diff).

    Clues name an object it sees, preferring ones not described yet; as a known spy it keeps to
    objects that others' clues already confirm are shared. It votes for the player whose clues
    most often contradict its own scene (a random one of those tied), and abstains when nobody does.
    """

    name = "scene-bot"

    def act(self, observation: Mapping[str, Any]) -> str:
        objects = scene_objects(observation)
        if decode_phase(observation) == Phase.CLUE:
            return self._clue(observation, objects)
        return self._vote(observation, objects)

    def _clue(self, observation: Mapping[str, Any], objects: list[dict[str, Any]]) -> str:
        if not objects:
            return f"I cannot make out details. {boxed('there are a few objects on a plain floor')}"
        others = [
            clue_attributes(h.clue)
            for h in decode_history(observation)
            if h.player != observation["seat"] + 1
        ]
        if decode_role(observation) == Role.SPY:
            confirmed = [o for o in objects if any(len(m) >= 2 and fits_scene(m, [o]) for m in others)]
            obj = self._pick(confirmed or objects)
            return f"I describe an object the others have seen too. {boxed(describe_object(obj))}"
        unused = [o for o in objects if not any(len(m) >= 3 and fits_scene(m, [o]) for m in others)]
        return f"I describe one object I see. {boxed(describe_object(self._pick(unused or objects)))}"

    def _pick(self, objects: list[dict[str, Any]]) -> dict[str, Any]:
        return objects[int(self._rng.integers(len(objects)))]

    def _vote(self, observation: Mapping[str, Any], objects: list[dict[str, Any]]) -> str:
        if not objects:
            return f"My picture tells me nothing. {boxed('N/A')}"
        contradictions: dict[int, int] = {}
        for entry in decode_history(observation):
            if entry.player == observation["seat"] + 1:
                continue
            attributes = clue_attributes(entry.clue)
            miss = int(bool(attributes) and not fits_scene(attributes, objects))
            contradictions[entry.player] = contradictions.get(entry.player, 0) + miss
        worst = max(contradictions.values(), default=0)
        suspects = [p for p, c in contradictions.items() if c == worst]
        if worst == 0:
            return f"Nobody contradicts my picture. {boxed('N/A')}"
        suspect = suspects[int(self._rng.integers(len(suspects)))]
        return f"PLAYER {suspect} described objects I do not see. {boxed(str(suspect))}"
