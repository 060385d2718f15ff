"""A held-out visual probe that is not the game: multiple-choice questions about one object of a scene.

Vision-Zero claims that self-play on the spy game transfers to visual question answering. This probe asks
that question of small models, with answers taken from the scene record (no labels): "What colour is the
large cube?" or "What shape is the small red object?", about an object that the named attributes single
out. Each option is a short description of the object ("large red cube"), so a model answers in the words
it already uses for clues. Pure functions of seeds; the pictures are the game's own synthetic scenes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vz_env.data.scenes import COLORS, SHAPES, SceneSource

KINDS = ("color", "shape")
HELD_OUT_SEED = 2_000_000_000
"""Probe pictures come from seeds far from those that training games and pretraining draw."""
NUM_COLOR_OPTIONS = 4
QUESTION = (
    "Look at the picture and answer a question about it.\n"
    "Question: {question}\n"
    "Options: {options}.\n"
    "Answer with one option as \\boxed{{option}}."
)


@dataclass(frozen=True)
class ProbeQuestion:
    """One multiple-choice question about a picture: its prompt, the options, and the right one's index."""

    image: np.ndarray
    prompt: str
    options: tuple[str, ...]
    answer: int
    kind: str
    seed: int

    @property
    def observation(self) -> dict[str, Any]:
        """The question as an observation a policy can encode: the picture and the prompt."""
        return {"image": self.image, "prompt": self.prompt}


def questions_for_scene(
    image: np.ndarray, objects: Sequence[Mapping[str, Any]], seed: int
) -> list[ProbeQuestion]:
    """Up to one question of each kind about a scene, each about an object its named attributes single out.

    Colour: an object whose size and shape no other object shares; the options are its description with
    its colour and three other colours. Shape: an object whose size and colour no other shares; the
    options are its description with each of the three shapes. Options are shuffled by `seed`.
    """
    rng = np.random.default_rng(seed)
    questions = []
    for kind in KINDS:
        keys = ("size", "shape") if kind == "color" else ("size", "color")
        unique = [o for o in objects if sum(_same(o, p, keys) for p in objects) == 1]
        if not unique:
            continue
        target = unique[int(rng.integers(len(unique)))]
        if kind == "color":
            others = [c for c in COLORS if c != target["color"]]
            values = [target["color"], *rng.choice(others, NUM_COLOR_OPTIONS - 1, replace=False)]
            question = f"What colour is the {target['size']} {target['shape']}?"
        else:
            values = [target["shape"], *(s for s in SHAPES if s != target["shape"])]
            question = f"What shape is the {target['size']} {target['color']} object?"
        order = rng.permutation(len(values))
        options = tuple(_describe(target, kind, str(values[i])) for i in order)
        prompt = QUESTION.format(question=question, options=", ".join(options))
        answer = int(np.flatnonzero(order == 0)[0])
        questions.append(ProbeQuestion(image, prompt, options, answer, kind, seed))
    return questions


def probe_questions(
    num_pictures: int,
    seed: int = HELD_OUT_SEED,
    image_size: tuple[int, int] = (320, 240),
    source: SceneSource | None = None,
) -> list[ProbeQuestion]:
    """The probe: questions about `num_pictures` original scene pictures drawn from seeds seed, seed+1, ..."""
    source = source or SceneSource()
    questions = []
    for i in range(num_pictures):
        image, record = source.scene(seed + i, tuple(image_size))
        questions += questions_for_scene(image, record["objects"], seed + i)
    return questions


def _same(a: Mapping[str, Any], b: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


def _describe(target: Mapping[str, Any], kind: str, value: str) -> str:
    """The target's "size colour shape" description with the asked-about attribute set to `value`."""
    color = value if kind == "color" else target["color"]
    shape = value if kind == "shape" else target["shape"]
    return f"{target['size']} {color} {shape}"
