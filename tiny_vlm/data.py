"""Pretraining examples for the tiny VLM: real game prompts, grounded clue targets, spy-blind vote targets.

A `Teacher` plays whole games through the env, so every prompt is one the game really shows (earlier clues,
roles, rounds). Its clue names the attributes of one object of the speaker's own picture, chosen so that the
words tie to that object unambiguously: in round r, the object with the r-th largest pixel box (the most
visible ones; the spy describes its own, modified picture). Its vote is drawn uniformly among the other seats
and N/A, whoever the spy is, so a model learns the answer format and nothing about deduction. Each picture
also gets per-region labels (colour and shape of the object covering each image token) for an auxiliary
loss on the vision tower. Cheap choice rows (the vote prompt's last sentences over a blank thumbnail, with
varied player counts and answer lists) teach a vote to name one of the numbers its prompt lists.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import Policy, decode_history, decode_role, decode_scene
from vz_env import spy_v0
from vz_env.data.scenes import COLORS, MINIATURE_WORLD, SHAPES, SceneSource, describe_object
from vz_env.parsing import boxed
from vz_env.prompts import VOTE_PROMPT, boxed_numbers, other_players
from vz_env.turn import Clue, Phase, Role

BACKGROUND_COLOR = len(COLORS)
BACKGROUND_SHAPE = len(SHAPES)
_COLOR_INDEX = {name: i for i, name in enumerate(COLORS)}
_SHAPE_INDEX = {name: i for i, name in enumerate(SHAPES)}


@dataclass
class Example:
    """One supervised turn: what the player saw, the answer it should give, its own scene objects, for a
    vote the player numbers it may name and, for a vote that deduces, the player its clues single out
    (`answer`: the label held-out accuracy is measured against; the target may be a noisy guess)."""

    observation: Mapping[str, Any]
    target: str
    objects: list[dict[str, Any]]
    choices: tuple[int, ...] = ()
    answer: int | None = None


def scene_objects(observation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects of the player's own scene record ([] when its picture has none)."""
    objects = decode_scene(observation).get("objects", [])
    return objects if isinstance(objects, list) else []


def by_visibility(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects from the largest pixel box to the smallest (ties by id): the order clue targets follow."""

    def area(obj: dict[str, Any]) -> int:
        x0, y0, x1, y1 = obj["pixel_box"]
        return (x1 - x0) * (y1 - y0)

    return sorted(objects, key=lambda obj: (-area(obj), obj["id"]))


def clue_target(objects: list[dict[str, Any]], round_: int) -> str:
    """The boxed description of the round-th most visible object (cycling when rounds outnumber objects)."""
    ranked = by_visibility(objects)
    obj = ranked[(round_ - 1) % len(ranked)]
    return boxed(describe_object(obj)[2:])


def choice_target(choices: tuple[int, ...], rng: np.random.Generator) -> str:
    """A boxed answer drawn uniformly among `choices` and N/A: it says nothing of the spy."""
    answers = [str(p) for p in choices] + ["N/A"]
    return boxed(answers[int(rng.integers(len(answers)))])


def patch_objects(
    objects: list[dict[str, Any]], image_size: tuple[int, int], grid: tuple[int, int]
) -> np.ndarray:
    """[rows * cols] index into `objects` of the object whose box holds each grid cell's centre, else -1.

    `image_size` is the (width, height) the boxes were measured at, `grid` the (rows, cols) of image
    tokens in raster order; where boxes overlap the nearer object (smaller floor y) wins.
    """
    rows, cols = grid
    width, height = image_size
    owner = np.full(rows * cols, -1, dtype=np.int64)
    xs = (np.arange(cols) + 0.5) * width / cols
    ys = (np.arange(rows) + 0.5) * height / rows
    for index in sorted(range(len(objects)), key=lambda i: -objects[i]["y"]):
        x0, y0, x1, y1 = objects[index]["pixel_box"]
        inside = ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
        owner[inside.reshape(-1)] = index
    return owner


def patch_labels(objects: list[dict[str, Any]], owner: np.ndarray) -> np.ndarray:
    """[cells, 2] (colour, shape) class of each cell's object (`patch_objects`); background if none."""
    colors = np.array([_COLOR_INDEX[o["color"]] for o in objects] + [BACKGROUND_COLOR], dtype=np.int64)
    shapes = np.array([_SHAPE_INDEX[o["shape"]] for o in objects] + [BACKGROUND_SHAPE], dtype=np.int64)
    return np.stack([colors[owner], shapes[owner]], axis=1)


def odd_player(clues: Sequence[Clue], voter: int) -> int | None:
    """The one other player whose clues most often differ from their round's majority, or None (nobody
    stands out, a tie, or the voter itself is the odd one): what a voter who compares clues would name."""
    odd: Counter[int] = Counter()
    for round_ in sorted({c.round for c in clues}):
        said = [c for c in clues if c.round == round_]
        ranked = Counter(c.clue for c in said).most_common(2)
        if len(ranked) == 2 and ranked[0][1] > ranked[1][1]:
            odd.update(c.player for c in said if c.clue != ranked[0][0])
    if not odd:
        return None
    most = max(odd.values())
    singled = [p for p, n in odd.items() if n == most]
    return singled[0] if len(singled) == 1 and singled[0] != voter else None


class Teacher(Policy):
    """Plays games with grounded clues and spy-blind votes, recording each turn as an `Example`.

    With `deduce` set, a voter not told it is the spy names the player whose clues are the odd ones out
    (`odd_player`; N/A when none is), except for a share `label_noise` of votes, drawn spy-blind.
    """

    name = "pretrain-teacher"

    def __init__(self, seed: int = 0, label_noise: float = 0.0) -> None:
        self.examples: list[Example] = []
        self.deduce = False
        self.label_noise = label_noise
        self._rng = np.random.default_rng(seed)

    def act(self, observation: Mapping[str, Any]) -> str:
        objects = scene_objects(observation)
        answer = None
        if observation["phase"] == Phase.CLUE:
            target, choices = clue_target(objects, observation["round"]), ()
        else:
            seat = observation["seat"] + 1
            choices = other_players(seat, observation["num_players"])
            if self.deduce and decode_role(observation) != Role.SPY:
                answer = odd_player(decode_history(observation), seat)
                noisy = self._rng.random() < self.label_noise
                target = choice_target(choices, self._rng) if noisy else boxed_answer(answer)
            else:
                target = choice_target(choices, self._rng)
        self.examples.append(Example(observation, target, objects, choices, answer))
        return target


def boxed_answer(player: int | None) -> str:
    """A vote naming `player`, or N/A for None."""
    return boxed("N/A" if player is None else str(player))


@dataclass(frozen=True)
class SceneLevel:
    """One curriculum step: how many objects of which sizes the scenes hold, and how many the spy's differ."""

    min_objects: int
    max_objects: int
    num_changes: int
    sizes: tuple[str, ...] = ("small", "large")

    def source(self) -> SceneSource:
        """The scene source that draws this level's pictures."""
        return SceneSource(**dataclasses.asdict(self))


MINIATURE = SceneLevel(**MINIATURE_WORLD)

SHORT_PROMPT = (
    "Round {round} of {num_rounds}. Describe one detail of your picture in one short sentence. "
    "Think step by step, then give your clue as \\boxed{{your clue}}."
)


def picture_examples(level: SceneLevel, seed: int, count: int, size: tuple[int, int]) -> list[Example]:
    """`count` cheap examples: a fresh picture and only the clue prompt's last sentence, target as in play.

    Short prompts cost a fifth of a game prompt, so most of the words-to-pixels signal comes from them;
    the game prompts teach the same answer in context.
    """
    source = level.source()
    examples = []
    for i in range(count):
        image, record = source.scene(seed + i, size)
        objects = record["objects"]
        round_ = 1 + i % 2
        prompt = SHORT_PROMPT.format(round=round_, num_rounds=2)
        observation = {"image": image, "prompt": prompt, "phase": Phase.CLUE, "round": round_}
        examples.append(Example(observation, clue_target(objects, round_), objects))
    return examples


CHOICE_PROMPT = VOTE_PROMPT[VOTE_PROMPT.index("Which player is the spy?") :]  # the vote prompt's ending
SEATLESS_CHOICE_PROMPT = CHOICE_PROMPT[: CHOICE_PROMPT.index(" You are PLAYER {seat}")]
MAX_CHOICE_PLAYERS = 9
THUMBNAIL = np.full((56, 56, 3), 96, dtype=np.uint8)  # the smallest picture Qwen's processor takes


def choice_examples(rng: np.random.Generator, count: int) -> list[Example]:
    """`count` cheap vote rows: the vote prompt's last sentences, a blank thumbnail, an answer it lists.

    Half list every player but the voter, as the game does ("You are PLAYER k: never vote for yourself"),
    at 3 to 9 players; half list a random subset of those numbers and say no seat, so that naming a listed
    number, not a number learned per seat, is what the vote-choice loss rewards.
    """
    examples = []
    for i in range(count):
        num_players = int(rng.integers(3, MAX_CHOICE_PLAYERS + 1))
        seat = int(rng.integers(1, num_players + 1))
        choices = other_players(seat, num_players)
        says_seat = i % 2 == 0
        if not says_seat:
            keep = int(rng.integers(2, len(choices) + 1))
            choices = tuple(sorted(int(c) for c in rng.choice(choices, size=keep, replace=False)))
        template = CHOICE_PROMPT if says_seat else SEATLESS_CHOICE_PROMPT
        prompt = template.format(candidates=boxed_numbers(choices), seat=seat)
        observation = {"image": THUMBNAIL, "prompt": prompt, "phase": Phase.DECISION}
        examples.append(Example(observation, choice_target(choices, rng), [], choices))
    return examples


def teacher_games(
    teacher: Teacher,
    level: SceneLevel,
    seed: int,
    rng: np.random.Generator,
    num_games: int,
    votes_only: bool = False,
    clues_only: bool = False,
) -> list[Example]:
    """The examples of `num_games` games at a curriculum level, with a few players and role settings mixed in.

    Most games are the default game (4 players, roles revealed); some have 3 or 5 players or hidden roles,
    so that the vote format does not hang on one prompt. `votes_only` keeps only the decision turns,
    `clues_only` only the clue turns.
    """
    source = level.source()
    teacher.examples = []
    for i in range(num_games):
        num_players = int(rng.choice([3, 4, 4, 4, 5]))
        env = spy_v0.parallel_env(
            images=source, num_players=num_players, reveal_role=bool(rng.random() >= 0.2)
        )
        observations, _ = env.reset(seed=seed + i)
        while env.agents:
            actions = {a: teacher.act(observations[a]) for a in env.acting_agents}
            observations, *_ = env.step(actions)
    if votes_only:
        return [ex for ex in teacher.examples if ex.observation["phase"] != Phase.CLUE]
    if clues_only:
        return [ex for ex in teacher.examples if ex.observation["phase"] == Phase.CLUE]
    return teacher.examples
