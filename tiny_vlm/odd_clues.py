"""Deduction rows: games told as text in which one player's clue is the odd one out, labelled with the spy.

The vote's skill is to compare clues: among players describing the same picture, the one whose clue differs
from the rest is the spy. A 1.9M model finds that comparison in short texts within a few hundred steps but
not in the game's long prompt (docs/results.md, "Deduction curriculum"), so the rows come in forms of growing
length, each taught once the shorter one is learnt:

- `short`: "me 2" and one line per player ("1: red cube"), one object;
- `round`: one round of the game's history lines ("Round 1, PLAYER 1: large red metal cube") and the vote
  prompt's last sentences;
- `game`: the game's whole vote prompt (rules, role, two rounds over one or two objects) as a civilian.

Every row has a blank thumbnail for a picture, so it costs a few image tokens. Its target names the spy,
except for a share `label_noise` of rows, whose target is drawn uniformly among the listed players and
N/A: a model trained on them stays unsure, so self-play has room to sharpen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tiny_vlm.data import CHOICE_PROMPT, THUMBNAIL, Example, choice_target
from vz_env.data.scenes import CHANGEABLE, COLORS, MATERIALS, SHAPES, edit_object
from vz_env.prompts import NO_REASONING_YET, ROLE_CIVILIAN, VOTE_PROMPT, boxed_numbers, other_players
from vz_env.turn import Phase

FORMS = ("short", "round", "game")
COLOUR_ONLY = ("color",)  # `attributes` for rows whose spy object differs in colour alone
PLAYER_COUNTS = (3, 4, 4, 4, 5)  # the pretraining games' mix: mostly the default game's four


@dataclass(frozen=True)
class _Story:
    """One told game: the players, the spy and the voter (numbered from 1), and what each said per round."""

    num_players: int
    spy: int
    voter: int
    clues: tuple[tuple[str, ...], ...]  # [round][player - 1]: the words of the clue
    changed: str  # what the spy's object differs in: "color", "shape" or "color+shape"


def _object(rng: np.random.Generator) -> dict[str, Any]:
    """A large object of the miniature world, as the scene source draws one."""
    color = tuple(COLORS)[int(rng.integers(len(COLORS)))]
    return {
        "id": 0,
        "size": "large",
        "color": color,
        "material": MATERIALS[int(rng.integers(len(MATERIALS)))],
        "shape": SHAPES[int(rng.integers(len(SHAPES)))],
    }


def _words(obj: dict[str, Any], form: str) -> str:
    if form == "short":
        return f"{obj['color']} {obj['shape']}"
    return f"{obj['size']} {obj['color']} {obj['material']} {obj['shape']}"


def _story(rng: np.random.Generator, form: str, attributes: tuple[str, ...] = CHANGEABLE) -> _Story:
    """A game as a civilian voter hears it: one object (short, round) or one or two (game), two rounds."""
    num_players = int(rng.choice(PLAYER_COUNTS))
    spy = int(rng.integers(1, num_players + 1))
    voter = int(rng.choice(other_players(spy, num_players)))
    count = 1 if form != "game" else int(rng.integers(1, 3))
    objects = [_object(rng) for _ in range(count)]
    changed_index = int(rng.integers(count))
    twin, changes = edit_object(rng, objects[changed_index], attributes)
    rounds = 1 if form != "game" else 2
    clues = []
    for round_ in range(rounds):
        index = round_ % count
        said = [
            _words(twin if p == spy and index == changed_index else objects[index], form)
            for p in range(1, num_players + 1)
        ]
        clues.append(tuple(said))
    changed = "+".join(sorted(c["attribute"] for c in changes))
    return _Story(num_players, spy, voter, tuple(clues), changed)


def _history(story: _Story) -> str:
    """The clue lines as the game writes them."""
    return "\n".join(
        f"Round {r}, PLAYER {p}: {clue}"
        for r, said in enumerate(story.clues, start=1)
        for p, clue in enumerate(said, start=1)
    )


def _prompt(story: _Story, form: str) -> str:
    choices = other_players(story.voter, story.num_players)
    if form == "short":
        lines = "\n".join(f"{p}: {clue}" for p, clue in enumerate(story.clues[0], start=1))
        return f"me {story.voter}\n{lines}"
    if form == "round":
        head = f"You are PLAYER {story.voter} of {story.num_players}. All clues:\n{_history(story)}\n\n"
        return head + CHOICE_PROMPT.format(candidates=boxed_numbers(choices), seat=story.voter)
    return VOTE_PROMPT.format(
        seat=story.voter,
        num_players=story.num_players,
        role=ROLE_CIVILIAN.format(num_spies=1),
        history=_history(story),
        own_reasoning=NO_REASONING_YET,
        candidates=boxed_numbers(choices),
    )


def odd_clue_examples(
    rng: np.random.Generator,
    count: int,
    form: str,
    label_noise: float = 0.0,
    attributes: tuple[str, ...] = CHANGEABLE,
) -> list[Example]:
    """`count` rows of one form; each row's `answer` is the spy, its target the spy or (noise) a guess;
    `attributes` limits what the spy's object may differ in."""
    return [example for example, _ in told_examples(rng, count, form, label_noise, attributes)]


def told_examples(
    rng: np.random.Generator,
    count: int,
    form: str,
    label_noise: float = 0.0,
    attributes: tuple[str, ...] = CHANGEABLE,
) -> list[tuple[Example, str]]:
    """`odd_clue_examples` with what each row's spy object differs in ("color", "shape" or
    "color+shape"), so that a deducer's accuracy can be split by what it has to compare; `attributes`
    limits what the spy's object may differ in."""
    if form not in FORMS:
        raise ValueError(f"unknown odd-clue form {form!r}; choose one of {', '.join(FORMS)}")
    examples = []
    for _ in range(count):
        story = _story(rng, form, attributes)
        choices = other_players(story.voter, story.num_players)
        noisy = rng.random() < label_noise
        target = choice_target(choices, rng) if noisy else boxed_numbers((story.spy,))
        observation = {"image": THUMBNAIL, "prompt": _prompt(story, form), "phase": Phase.DECISION}
        examples.append((Example(observation, target, [], choices, answer=story.spy), story.changed))
    return examples
