"""Odd-clue rows: the spy's clue alone differs, in what the row says changed; labels as configured."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiny_vlm.odd_clues import FORMS, odd_clue_examples, told_examples
from vz_env.data.scenes import COLORS, SHAPES


def short_lines(prompt: str) -> dict[int, tuple[str, str]]:
    """{player: (colour, shape)} of a short-form row ("me 2" then "1: red cube" lines)."""
    return {int(p): (c, s) for p, c, s in re.findall(r"^(\d+): (\w+) (\w+)$", prompt, re.M)}


def test_told_rows_are_the_rows_the_recipe_draws():
    for form in FORMS:
        told = told_examples(np.random.default_rng(5), 40, form, label_noise=0.3)
        plain = odd_clue_examples(np.random.default_rng(5), 40, form, label_noise=0.3)
        assert [(e.observation["prompt"], e.target, e.answer) for e, _ in told] == [
            (e.observation["prompt"], e.target, e.answer) for e in plain
        ]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_spy_alone_differs_in_what_changed(seed):
    for example, changed in told_examples(np.random.default_rng(seed), 8, "short"):
        lines = short_lines(example.observation["prompt"])
        spy = example.answer
        others = {lines[p] for p in lines if p != spy}
        assert len(others) == 1, "every civilian says the same"
        (colour, shape), (spy_colour, spy_shape) = others.pop(), lines[spy]
        pairs = (("color", colour, spy_colour), ("shape", shape, spy_shape))
        differs = [name for name, said, spy_said in pairs if said != spy_said]
        assert "+".join(differs) == changed
        assert spy_colour in COLORS and spy_shape in SHAPES
        assert spy in example.choices and example.target == f"\\boxed{{{spy}}}"


def test_every_change_kind_is_drawn_and_noise_draws_any_answer():
    kinds = {changed for _, changed in told_examples(np.random.default_rng(0), 200, "game")}
    assert kinds == {"color", "shape", "color+shape"}
    noisy = odd_clue_examples(np.random.default_rng(1), 300, "round", label_noise=1.0)
    answers = {e.target for e in noisy}
    assert "\\boxed{N/A}" in answers
    assert all(e.target in {f"\\boxed{{{p}}}" for p in e.choices} | {"\\boxed{N/A}"} for e in noisy)


def test_an_unknown_form_names_the_forms():
    with pytest.raises(ValueError, match="short, round, game"):
        told_examples(np.random.default_rng(0), 1, "long")
