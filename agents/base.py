"""The one interface every player implements: an observation in, the action text out."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from vz_env.turn import Clue, Phase, Role


def decode_history(observation: Mapping[str, Any]) -> list[Clue]:
    """The clues so far, oldest first: the rules' own Clues, which the observation carries typed."""
    return list(observation["clues"])


def decode_scene(observation: Mapping[str, Any]) -> dict[str, Any]:
    """The scene record of the player's own picture (e.g. {"objects": [...]}), or {} when it has none."""
    scene = json.loads(observation["scene"]) if observation["scene"] else {}
    return scene if isinstance(scene, dict) else {}


def decode_phase(observation: Mapping[str, Any]) -> Phase:
    """The observation's phase as a Phase."""
    return Phase(int(observation["phase"]))


def decode_role(observation: Mapping[str, Any]) -> Role:
    """The player's own role as shown to it (Role.HIDDEN when it is not told)."""
    return Role(int(observation["role"]))


class Policy(ABC):
    """A player of the spy game: scripted bot, Hugging Face VLM or a person at the terminal.

    `observation` is the env's observation dict: "image" (uint8 HxWx3), "prompt" (str),
    "phase" (a Phase), "round", "seat" (0-based), "num_players", "role" (a Role: HIDDEN, CIVILIAN
    or SPY), "clues" (the history as Clues: read it with decode_history), "history" (the same as JSON text,
    for outside users) and "scene" (JSON text: read it with decode_scene).
    """

    name: str = "policy"
    """What kind of player this is ("scene-bot", "hf_vlm")."""
    label: str = ""
    """Who this player is in game records and reports ("tiny", "trained"), given to its constructor; "" for
    its `name`."""

    @abstractmethod
    def act(self, observation: Mapping[str, Any]) -> str:
        """The action text (reasoning, then the answer in \\boxed{...}) for one observation."""

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Actions for many observations; VLM policies override this with one batched generate."""
        return [self.act(obs) for obs in observations]

    def reset(self, seed: int | None = None) -> None:  # noqa: B027  (optional hook, empty by default)
        """Start a new game; policies with their own randomness reseed here."""
