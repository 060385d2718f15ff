"""The one interface every player implements: an observation in, the action text out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any


class Policy(ABC):
    """A player of the spy game: scripted bot, Hugging Face VLM or a person at the terminal.

    `observation` is the env's observation dict: "image" (uint8 HxWx3), "prompt" (str),
    "phase" (0 clue, 1 decision, 2 done), "round", "seat" (0-based), "role" (0 hidden,
    1 civilian, 2 spy), "history" (JSON list of {"round", "player", "clue"}, players 1-based)
    and "scene" (JSON scene record of the player's own image, or "").
    """

    name: str = "policy"

    @abstractmethod
    def act(self, observation: Mapping[str, Any]) -> str:
        """The action text (reasoning, then the answer in \\boxed{...}) for one observation."""

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Actions for many observations; VLM policies override this with one batched generate."""
        return [self.act(obs) for obs in observations]

    def reset(self, seed: int | None = None) -> None:  # noqa: B027  (optional hook, empty by default)
        """Start a new game; policies with their own randomness reseed here."""
