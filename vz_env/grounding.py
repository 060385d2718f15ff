"""Clue grounding (docs/spec.md s10): does a clue name an object the speaker sees? Perception without labels.

A clue is grounded when it names the colour and the shape of at least one object of the speaker's own scene
record. Colour and shape are paired the way English phrases pair them: each shape word takes the colour
words since the previous shape word ("a red cube and a blue ball"), and colour words after the last shape
word go with it ("the cube is red"). Synonyms are accepted (ball/sphere, block/box/cube, grey/gray, plurals).
Pure functions of plain values, like the rewards; grounding never enters a reward.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SHAPE_WORDS = {
    "cube": "cube",
    "cubes": "cube",
    "block": "cube",
    "blocks": "cube",
    "box": "cube",
    "boxes": "cube",
    "sphere": "sphere",
    "spheres": "sphere",
    "ball": "sphere",
    "balls": "sphere",
    "cylinder": "cylinder",
    "cylinders": "cylinder",
}
COLOR_WORDS = {
    name: name for name in ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
} | {"grey": "gray"}
_WORD = re.compile(r"[a-z]+")


def named_objects(clue: str) -> set[tuple[str, str]]:
    """The (colour, shape) pairs a clue names, in the scene vocabulary (gray, not grey; cube, not block)."""
    pairs: set[tuple[str, str]] = set()
    colors: list[str] = []
    last_shape: str | None = None
    for word in _WORD.findall(clue.lower()):
        if word in COLOR_WORDS:
            colors.append(COLOR_WORDS[word])
        elif word in SHAPE_WORDS:
            last_shape = SHAPE_WORDS[word]
            pairs.update((color, last_shape) for color in colors)
            colors = []
    if last_shape is not None:
        pairs.update((color, last_shape) for color in colors)
    return pairs


def is_grounded(clue: str | None, objects: Iterable[Mapping[str, Any]]) -> bool:
    """True when the clue names the colour and shape of one of `objects` (a scene record's "objects")."""
    if not clue:
        return False
    named = named_objects(clue)
    return any((obj.get("color"), obj.get("shape")) in named for obj in objects)


def scene_objects(record: Mapping[str, Any] | None) -> list[Mapping[str, Any]] | None:
    """The objects of a scene record, or None when the picture has no record (charts, photos, blank)."""
    if not isinstance(record, Mapping) or not isinstance(record.get("objects"), list):
        return None
    return record["objects"]


def grounding_rate(flags: Sequence[bool | None]) -> tuple[int, int]:
    """(grounded clues, clues on scene images) from per-clue flags, where None marks a non-scene picture."""
    scored = [flag for flag in flags if flag is not None]
    return sum(scored), len(scored)
