"""The typed values every layer shares: the game's phases, the players' roles, and one turn as judged."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Phase(IntEnum):
    """The stage of a game; the value is the observation's "phase" code."""

    CLUE = 0
    DECISION = 1
    DONE = 2

    def __str__(self) -> str:
        return self.name.lower()


class Role(IntEnum):
    """A seat's role; the value is the observation's "role" code (HIDDEN when the role is not shown).

    OBSERVER (observer decision mode) never appears in an observation: observers observe HIDDEN.
    """

    HIDDEN = 0
    CIVILIAN = 1
    SPY = 2
    OBSERVER = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Clue:
    """One clue of the public history, the one form rules, observations and policies share.

    `player` is numbered from 1, as the models see players; `clue` is the text others saw (the invalid-clue
    text in place of a clue that was not found).
    """

    round: int
    player: int
    clue: str

    @property
    def line(self) -> str:
        """The clue as a prompt shows it."""
        return f"Round {self.round}, PLAYER {self.player}: {self.clue}"


# Not frozen: one is built for every action, and a frozen dataclass costs several times as much to build.
@dataclass
class Turn:
    """One action as the game judged it: everything a trainer or evaluator needs, nothing to re-parse.

    `raw` and `reasoning` are bounded copies that keep the start and the end of the text; the answer was
    read from the whole text. Clue turns fill `clue`; decision turns fill `vote` (the agent voted for),
    `abstain` and `voted_spy`. `decision_reward` is None for clue turns and a spy's vote (docs/spec.md s5).
    `grounded` (clue turns on scene pictures, else None) tells whether the clue names the colour and
    shape of an object of the speaker's own scene (docs/spec.md s10); it never enters a reward.
    Read-only by convention.
    """

    agent: str
    phase: Phase
    round: int
    raw: str
    reasoning: str
    valid: bool
    reason: str | None
    clue: str | None = None
    vote: str | None = None
    abstain: bool = False
    voted_spy: bool = False
    format_ok: bool = False
    format_reward: float = 0.0
    decision_reward: float | None = None
    grounded: bool | None = None
