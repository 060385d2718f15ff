"""Default prompt templates; each is a SpyConfig field so research code can override it."""

from __future__ import annotations

from collections.abc import Iterable

from vz_env.parsing import boxed

ROLE_SPY = (
    "Your role: SPY. Your picture is the one that differs from the others'. "
    "Give clues that fit what the others are likely to see, so that nobody suspects you."
)
ROLE_CIVILIAN = (
    "Your role: NOT SPY. Exactly {num_spies} player(s) see a picture that differs slightly from yours. "
    "Give clues that are true of your picture and help the others find the spy."
)
ROLE_HIDDEN = (
    "You do not know your role: exactly {num_spies} player(s) see a picture that differs slightly "
    "from the others'. It may be you."
)

CLUE_PROMPT = (
    'You are PLAYER {seat} of {num_players} in the game "Who is the Spy?". '
    "Every player sees a picture; {num_spies} spy picture(s) differ from the others in a few details.\n"
    "{role}\n\n"
    "Clues so far:\n{history}\n\n"
    "Your earlier reasoning:\n{own_reasoning}\n\n"
    "Round {round} of {num_rounds}. Describe one detail of your picture in one short sentence. "
    "Think step by step, then give your clue as \\boxed{{your clue}}."
)

VOTE_PROMPT = (
    'You are PLAYER {seat} of {num_players} in the game "Who is the Spy?". '
    "The clue rounds are over.\n"
    "{role}\n\n"
    "All clues:\n{history}\n\n"
    "Your earlier reasoning:\n{own_reasoning}\n\n"
    "Compare the clues with your picture. Which player is the spy? "
    "Think step by step, then answer with one of {candidates}, or \\boxed{{N/A}} if you cannot tell. "
    "You are PLAYER {seat}: never vote for yourself."
)

OBSERVER_PROMPT = (
    'You are watching a game of "Who is the Spy?" between {num_players} players. '
    "The picture shown is the one the non-spies saw; "
    "{num_spies} spy/spies saw a slightly different picture.\n\n"
    "All clues:\n{history}\n\n"
    "Which player is the spy? Think step by step, then answer with the player number as \\boxed{{3}}, "
    "or \\boxed{{N/A}} if you cannot tell."
)

_COMMON = frozenset({"num_players", "num_spies", "num_rounds", "history"})
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "clue_prompt": _COMMON | {"seat", "role", "round", "own_reasoning"},
    "vote_prompt": _COMMON | {"seat", "role", "own_reasoning", "candidates"},
    "observer_prompt": _COMMON,
    "role_spy": _COMMON,
    "role_civilian": _COMMON,
    "role_hidden": _COMMON,
}

NO_CLUES_YET = "(none yet)"

NO_REASONING_YET = "(none yet)"


def candidates_text(seat: int, num_players: int) -> str:
    """The answers a voter may give that name a player: every 1-based number but its own `seat`."""
    return boxed_numbers(other_players(seat, num_players))


def other_players(seat: int, num_players: int) -> tuple[int, ...]:
    """The player numbers a voter in 1-based `seat` may name: every other player's."""
    return tuple(p for p in range(1, num_players + 1) if p != seat)


def boxed_numbers(numbers: Iterable[int]) -> str:
    """Player numbers as the answers that name them, comma-separated: "\\boxed{2}, \\boxed{4}"."""
    return ", ".join(boxed(str(p)) for p in numbers)
