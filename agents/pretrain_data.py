"""Pretraining examples for the tiny VLM: real game prompts, grounded clue targets, spy-blind vote targets.

A `Teacher` plays whole games through the env, so every prompt is one the game really shows (earlier clues,
roles, rounds). Its clue names the attributes of one object of the speaker's own picture, chosen so that the
words tie to that object unambiguously: in round r, the object with the r-th largest pixel box (the most
visible ones; the spy describes its own, modified picture). Its vote is drawn uniformly among the other seats
and N/A, whoever the spy is, so a model learns the answer format and nothing about deduction. Each picture
also gets per-region labels (colour and shape of the object covering each image token) for an auxiliary
loss on the vision tower.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import Policy, decode_scene
from vz_env import spy_v0
from vz_env.data.scenes import COLORS, MINIATURE_WORLD, SHAPES, SceneSource, describe_object

CLUE_PHASE = 0
BACKGROUND_COLOR = len(COLORS)
BACKGROUND_SHAPE = len(SHAPES)
_COLOR_INDEX = {name: i for i, name in enumerate(COLORS)}
_SHAPE_INDEX = {name: i for i, name in enumerate(SHAPES)}


@dataclass
class Example:
    """One supervised turn: what the player saw, the answer it should give, and its own scene objects."""

    observation: Mapping[str, Any]
    target: str
    objects: list[dict[str, Any]]


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
    return "\\boxed{" + describe_object(obj)[2:] + "}"


def vote_target(seat: int, num_players: int, rng: np.random.Generator) -> str:
    """A boxed vote drawn uniformly among the other players (1-based) and N/A: it says nothing of the spy."""
    choices = [str(p) for p in range(1, num_players + 1) if p != seat + 1] + ["N/A"]
    return "\\boxed{" + choices[int(rng.integers(len(choices)))] + "}"


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


class Teacher(Policy):
    """Plays games with grounded clues and spy-blind votes, recording each turn as an `Example`."""

    name = "pretrain-teacher"

    def __init__(self, seed: int = 0) -> None:
        self.examples: list[Example] = []
        self._rng = np.random.default_rng(seed)

    def act(self, observation: Mapping[str, Any]) -> str:
        objects = scene_objects(observation)
        if observation["phase"] == CLUE_PHASE:
            target = clue_target(objects, observation["round"])
        else:
            target = vote_target(observation["seat"], observation["num_players"], self._rng)
        self.examples.append(Example(observation, target, objects))
        return target


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
        observation = {"image": image, "prompt": prompt, "phase": CLUE_PHASE, "round": round_}
        examples.append(Example(observation, clue_target(objects, round_), objects))
    return examples


def teacher_games(
    teacher: Teacher,
    level: SceneLevel,
    seed: int,
    rng: np.random.Generator,
    num_games: int,
    votes_only: bool = False,
) -> list[Example]:
    """The examples of `num_games` games at a curriculum level, with a few players and role settings mixed in.

    Most games are the default game (4 players, roles revealed); some have 3 or 5 players or hidden roles,
    so that the vote format does not hang on one prompt. `votes_only` keeps only the decision turns.
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
        return [ex for ex in teacher.examples if ex.observation["phase"] != CLUE_PHASE]
    return teacher.examples
