"""The default model's recipe builds in sittings: a resumed build equals an uninterrupted one."""

from __future__ import annotations

import pytest

SMALL = {
    "format": {"steps": 2, "pictures_per_step": 2, "choice_rows_per_step": 2, "warmup_steps": 1},
    "deduction": {
        "steps": 8,
        "rows_per_step": (3, 3, 3, 2),
        "advance_at": (0.0, 0.0, 0.0),
        "eval_every": 2,
        "eval_rows": 4,
        "eval_games": 2,
        "vote_games_per_step": 1,
        "pictures_per_step": 2,
        "choice_rows_per_step": 1,
        "warmup_steps": 2,
    },
}


def small_recipe():
    from tiny_vlm.build import Recipe
    from tiny_vlm.deduction import DeductionConfig
    from tiny_vlm.pretrain import PretrainConfig

    return Recipe(PretrainConfig(**SMALL["format"]), DeductionConfig(**SMALL["deduction"]))


@pytest.mark.slow
def test_a_build_resumed_after_a_sitting_equals_an_uninterrupted_one(tmp_path):
    from safetensors.numpy import load_file

    from tiny_vlm.build import build, work_folder
    from tiny_vlm.stamp import read_stamp, stamp_problem

    recipe = small_recipe()
    whole = build(tmp_path / "whole", recipe)
    assert build(tmp_path / "sat", recipe, stop_after=3) is None
    assert (
        not (tmp_path / "sat").exists()
        and (work_folder(tmp_path / "sat") / "deduction-checkpoint.pt").is_file()
    )
    resumed = build(tmp_path / "sat", recipe)
    a, b = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    stamp = read_stamp(resumed)
    assert stamp_problem(resumed, stamp["version"]) is None
    assert [p["stage"] for p in stamp["curve"]] == ["short", "round", "game", "play"]
    assert stamp["steps"] == {"format": 2, "deduction": 8} and stamp["seed"] == 0
    assert stamp["curve"] == read_stamp(whole)["curve"]


def test_a_build_may_be_lengthened_only_before_its_learning_rate_decays():
    import dataclasses

    from tiny_vlm.build import continues

    recipe = small_recipe()
    longer = dataclasses.replace(recipe, deduction=dataclasses.replace(recipe.deduction, steps=20))
    other = dataclasses.replace(recipe, deduction=dataclasses.replace(recipe.deduction, label_noise=0.1))
    assert continues(recipe.as_dict(), recipe, 8)
    decay_from = recipe.deduction.steps * (1 - recipe.deduction.decay_share)
    assert continues(recipe.as_dict(), longer, int(decay_from))
    assert not continues(recipe.as_dict(), longer, int(decay_from) + 1)
    assert not continues(recipe.as_dict(), other, 1)
