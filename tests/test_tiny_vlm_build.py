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
    "play": {"steps": 4, "rows_per_step": (3, 3, 3, 2), "eval_every": 2, "eval_games": 2, "warmup_steps": 1},
}


def small_recipe():
    from tiny_vlm.build import PlayConfig, Recipe
    from tiny_vlm.deduction import DeductionConfig
    from tiny_vlm.pretrain import PretrainConfig

    play = PlayConfig(DeductionConfig(**SMALL["play"]))
    return Recipe(PretrainConfig(**SMALL["format"]), DeductionConfig(**SMALL["deduction"]), play)


@pytest.mark.slow
def test_a_build_resumed_after_sittings_equals_an_uninterrupted_one(tmp_path):
    from safetensors.numpy import load_file

    from tiny_vlm.build import build, deduction_version, work_folder
    from tiny_vlm.stamp import read_stamp, stamp_problem

    recipe = small_recipe()
    whole = build(tmp_path / "whole", recipe)
    work = work_folder(tmp_path / "sat")
    assert build(tmp_path / "sat", recipe, stop_after=3) is None
    assert not (tmp_path / "sat").exists() and (work / "deduction-checkpoint.pt").is_file()
    # The second sitting finishes the deduction phase (5 steps) and stops 2 steps into the play phase.
    assert build(tmp_path / "sat", recipe, stop_after=7) is None
    assert stamp_problem(work / "deduction", deduction_version(recipe)) is None
    assert (work / "play-checkpoint.pt").is_file() and not (tmp_path / "sat").exists()
    resumed = build(tmp_path / "sat", recipe)
    a, b = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    stamp = read_stamp(resumed)
    assert stamp_problem(resumed, stamp["version"]) is None and stamp["recipe_version"] == 6
    assert [p["stage"] for p in stamp["curve"]] == ["short", "round", "game", "play", "play", "play"]
    assert [p["step"] for p in stamp["curve"]][-2:] == [10, 12]
    assert stamp["steps"] == {"format": 2, "deduction": 8, "play": 4} and stamp["seed"] == 0
    assert stamp["deduction_model"]["version"] == deduction_version(recipe)
    assert stamp["curve"] == read_stamp(whole)["curve"]


def test_a_phase_may_be_lengthened_only_before_its_learning_rate_decays(tmp_path):
    import dataclasses

    from tiny_vlm.build import continues, training_phases

    recipe = small_recipe()
    longer = dataclasses.replace(recipe, deduction=dataclasses.replace(recipe.deduction, steps=20))
    other = dataclasses.replace(recipe, deduction=dataclasses.replace(recipe.deduction, label_noise=0.1))
    later = dataclasses.replace(recipe, play=dataclasses.replace(recipe.play, seed_offset=2))
    phase = training_phases(recipe, tmp_path)["deduction"]
    saved = {"settings": phase.settings, "phase_steps": phase.config.steps, "step": 8}
    assert continues(saved, phase)
    decay_from = int(recipe.deduction.steps * (1 - recipe.deduction.decay_share))
    lengthened = training_phases(longer, tmp_path)["deduction"]
    assert continues({**saved, "step": decay_from}, lengthened)
    assert not continues({**saved, "step": decay_from + 1}, lengthened)
    assert not continues({**saved, "step": 1}, training_phases(other, tmp_path)["deduction"])
    # A play-phase change leaves the deduction phase's checkpoints usable, not the other way round.
    assert continues(saved, training_phases(later, tmp_path)["deduction"])
    play = training_phases(recipe, tmp_path)["play"]
    played = {"settings": play.settings, "phase_steps": play.config.steps, "step": 1}
    assert not continues(played, training_phases(other, tmp_path)["play"])
    assert not continues(played, training_phases(later, tmp_path)["play"])


def test_the_deduction_phase_model_is_recipe_5s_whole_model() -> None:
    import json

    from tiny_vlm.build import Recipe, deduction_version, recipe_version_of

    recipe = Recipe()
    assert deduction_version(recipe).startswith("tiny-vlm-recipe-5/")
    assert recipe_version_of(recipe).startswith("tiny-vlm-recipe-6/")
    assert "play" not in json.dumps(recipe.phase_settings("deduction"))
