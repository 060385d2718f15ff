"""Gymnasium spaces for free text and for the spy game's observations."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

from vz_env import prompts
from vz_env.config import SpyConfig
from vz_env.turn import Clue, Phase, Role

_SAMPLE_CHARS = tuple(string.printable) + ("é", "ß", "你", "好", "🙂", "\u200b", "{", "}", "\\boxed{")


class FreeText(spaces.Text):
    """A Text space that accepts ANY Python string up to max_length (gymnasium's Text allows [A-Za-z0-9])."""

    def __init__(self, max_length: int, min_length: int = 0, seed: int | None = None) -> None:
        super().__init__(max_length=max_length, min_length=min_length, charset=string.printable, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """Random text mixing printable ASCII, unicode and answer markup (seeded by the space)."""
        length = int(self.np_random.integers(self.min_length, min(self.max_length, 200) + 1))
        picks = self.np_random.integers(0, len(_SAMPLE_CHARS), size=length)
        return "".join(_SAMPLE_CHARS[i] for i in picks)[: self.max_length]

    def __repr__(self) -> str:
        return f"FreeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and (self.min_length, self.max_length) == (
            other.min_length,
            other.max_length,
        )


class ClueHistory(spaces.Space):
    """The typed clue history, a tuple of Clue, so policies in the same process need not decode JSON."""

    def __init__(self, num_players: int, num_rounds: int, max_chars: int, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.num_players, self.num_rounds, self.max_chars = num_players, num_rounds, max_chars

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, tuple)
            and len(x) <= self.num_players * self.num_rounds
            and all(
                isinstance(c, Clue)
                and 1 <= c.round <= self.num_rounds
                and 1 <= c.player <= self.num_players
                and isinstance(c.clue, str)
                and len(c.clue) <= self.max_chars
                for c in x
            )
        )

    def sample(self, mask: Any = None, probability: Any = None) -> tuple[Clue, ...]:
        """Random clues, at most one per player and round (seeded by the space)."""
        count = int(self.np_random.integers(0, self.num_players * self.num_rounds + 1))
        text = FreeText(self.max_chars, seed=int(self.np_random.integers(2**31)))
        return tuple(
            Clue(1 + i // self.num_players, 1 + i % self.num_players, text.sample()) for i in range(count)
        )

    def __repr__(self) -> str:
        return f"ClueHistory({self.num_players}, {self.num_rounds}, {self.max_chars})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ClueHistory) and (self.num_players, self.num_rounds, self.max_chars) == (
            other.num_players,
            other.num_rounds,
            other.max_chars,
        )


def prompt_capacity(config: SpyConfig) -> int:
    """An upper bound on any prompt's length, so the prompt space is finite yet never too small."""
    clue_lines = config.num_players * config.num_rounds * (config.max_clue_chars + 32)
    reasoning_lines = (config.num_rounds + 1) * (config.max_reasoning_chars + 16)
    templates = max(len(config.clue_prompt), len(config.vote_prompt), len(config.observer_prompt))
    roles = max(len(config.role_spy), len(config.role_civilian), len(config.role_hidden))
    candidates = len(prompts.candidates_text(0, config.num_players))
    return templates + roles + candidates + clue_lines + reasoning_lines + 256


def observation_space(config: SpyConfig) -> spaces.Dict:
    """What every agent observes: its picture, its prompt, and the structured facts a bot needs.

    "phase" is a Phase, "role" a Role shown to the agent (HIDDEN, CIVILIAN or SPY; never OBSERVER);
    "clues" is the history as Clues for policies, "history" the same as JSON text for outside users.
    """
    width, height = config.image_size
    clue_chars = max(config.max_clue_chars, len(config.invalid_clue_text))
    per_clue = 2 * clue_chars + 48
    history_chars = config.num_players * config.num_rounds * per_clue + 2
    return spaces.Dict(
        {
            "image": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "prompt": FreeText(prompt_capacity(config)),
            "phase": spaces.Discrete(len(Phase)),
            "round": spaces.Discrete(config.num_rounds + 1),
            "seat": spaces.Discrete(config.num_players + 1),
            "num_players": spaces.Discrete(config.num_players + 1),
            "role": spaces.Discrete(Role.SPY + 1),
            "clues": ClueHistory(config.num_players, config.num_rounds, clue_chars),
            "history": FreeText(history_chars),
            "scene": FreeText(1 << 20),
        }
    )


def action_space(config: SpyConfig) -> FreeText:
    """Actions are free text (reasoning then \\boxed{answer}); longer ones are cut to max_action_chars."""
    return FreeText(config.max_action_chars)
