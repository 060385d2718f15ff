"""Pretraining the default tiny VLM: grounded, spy-blind targets on real prompts; a self-healing cache."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiny_vlm import stamp as model_cache
from tiny_vlm.data import (
    BACKGROUND_COLOR,
    BACKGROUND_SHAPE,
    MINIATURE,
    SceneLevel,
    Teacher,
    by_visibility,
    choice_examples,
    choice_target,
    clue_target,
    patch_labels,
    patch_objects,
    picture_examples,
    teacher_games,
)
from vz_env import spy_v0
from vz_env.data.scenes import miniature_world
from vz_env.grounding import is_grounded
from vz_env.parsing import parse_clue, parse_vote
from vz_env.prompts import other_players

LEVEL = SceneLevel(3, 6, 2)


def test_clue_targets_describe_the_most_visible_objects_round_by_round() -> None:
    objects = [
        {
            "id": 0,
            "color": "red",
            "shape": "cube",
            "size": "small",
            "material": "metal",
            "pixel_box": [0, 0, 5, 5],
        },
        {
            "id": 1,
            "color": "blue",
            "shape": "sphere",
            "size": "large",
            "material": "rubber",
            "pixel_box": [0, 0, 9, 9],
        },
    ]
    assert [o["id"] for o in by_visibility(objects)] == [1, 0]
    assert clue_target(objects, 1) == "\\boxed{large blue rubber sphere}"
    assert clue_target(objects, 2) == "\\boxed{small red metal cube}"
    assert clue_target(objects, 3) == clue_target(objects, 1)


def test_vote_targets_are_uniform_over_the_others_and_na_and_never_the_voter() -> None:
    rng = np.random.default_rng(0)
    counts = Counter(parse_vote(choice_target(other_players(2, 4), rng), 4, 1).target for _ in range(4000))
    assert set(counts) == {0, 2, 3, None}
    assert all(abs(n / 4000 - 0.25) < 0.03 for n in counts.values())


def test_teacher_games_use_the_game_prompts_with_grounded_clues_and_valid_votes() -> None:
    examples = teacher_games(Teacher(0), LEVEL, 5, np.random.default_rng(0), 3)
    assert len(examples) >= 3 * (3 * 2 + 2)
    for ex in examples:
        obs = ex.observation
        assert 'in the game "Who is the Spy?"' in obs["prompt"]
        if obs["phase"] == 0:
            assert is_grounded(parse_clue(ex.target).clue, ex.objects)
        else:
            assert parse_vote(ex.target, 5, obs["seat"]).well_formed


def test_picture_examples_end_like_the_clue_prompt_and_alternate_rounds() -> None:
    examples = picture_examples(LEVEL, 3, 4, (320, 240))
    assert [ex.observation["round"] for ex in examples] == [1, 2, 1, 2]
    observations, _ = spy_v0.parallel_env().reset(seed=0)
    game_prompt = observations["player_0"]["prompt"]
    assert game_prompt.endswith(examples[0].observation["prompt"])
    for ex in examples:
        assert ex.observation["image"].shape == (240, 320, 3)
        assert is_grounded(parse_clue(ex.target).clue, ex.objects)


def test_patch_labels_mark_the_nearer_object_and_background() -> None:
    far = {"color": "red", "shape": "cube", "y": 2.0, "pixel_box": [0, 0, 20, 20]}
    near = {"color": "blue", "shape": "sphere", "y": -1.0, "pixel_box": [10, 10, 30, 20]}
    owner = patch_objects([near, far], (40, 20), (2, 4))
    assert owner.tolist() == [1, 1, -1, -1, 1, 0, 0, -1]
    labels = patch_labels([near, far], owner).reshape(2, 4, 2)
    assert labels[0, 0].tolist() == [1, 0]  # red cube alone at the top left
    assert labels[1, 1].tolist() == [2, 1]  # blue sphere in front of the red cube
    assert labels[0, 3].tolist() == [BACKGROUND_COLOR, BACKGROUND_SHAPE]


def test_curriculum_levels_follow_their_shares_and_the_default_is_the_miniature_world() -> None:
    from tiny_vlm.pretrain import PretrainConfig

    assert {PretrainConfig(steps=10).level_at(s) for s in range(10)} == {MINIATURE}
    assert MINIATURE.source().pair(0, (160, 120)).meta == miniature_world().pair(0, (160, 120)).meta
    config = PretrainConfig(steps=100, curriculum=((0.25, SceneLevel(1, 1, 1)), (0.75, LEVEL)))
    assert [config.level_at(s) for s in (0, 24, 25, 99, 150)] == [SceneLevel(1, 1, 1)] * 2 + [LEVEL] * 3


def test_vote_only_games_keep_just_the_decision_turns() -> None:
    examples = teacher_games(Teacher(0), MINIATURE, 9, np.random.default_rng(0), 2, votes_only=True)
    assert examples and all(ex.observation["phase"] == 1 for ex in examples)
    for ex in examples:
        assert parse_vote(ex.target, ex.observation["num_players"], ex.observation["seat"]).well_formed


def test_pretrainer_steps_are_reproducible_and_learn(tiny_dirs, one_thread) -> None:
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    config = PretrainConfig(
        steps=4, games_per_step=1, pictures_per_step=4, learning_rate=1e-2, warmup_steps=1
    )
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", dtype=torch.float32)
        trainer = Pretrainer(policy, config)
        runs.append([trainer.step(step) for step in range(config.steps)])
    assert runs[0] == runs[1]
    first, last = runs[0][0], runs[0][-1]
    assert all(last[key] < first[key] for key in ("loss", "aux_loss", "word_loss"))
    assert all(row["vote_loss"] >= 0 for row in runs[0])


def test_the_vote_loss_spreads_a_number_over_exactly_the_players_a_voter_may_name(tiny_dirs) -> None:
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", dtype=torch.float32)
    trainer = Pretrainer(policy, PretrainConfig())
    examples = teacher_games(Teacher(0), MINIATURE, 11, np.random.default_rng(0), 6)
    kinds = Counter()
    for ex in examples:
        target = trainer._ids(ex.target)
        vote = trainer._vote_choices(ex, target)
        if ex.observation["phase"] == 0 or "N/A" in ex.target:
            kinds["none"] += vote is None
            continue
        seat, num_players = ex.observation["seat"], ex.observation["num_players"]
        voted = parse_vote(ex.target, num_players, seat).target
        assert policy.tokenizer.decode(target[vote.at]) == str(voted + 1)
        named = sorted(int(policy.tokenizer.decode(token)) for token in vote.choices)
        assert named == [p for p in range(1, num_players + 1) if p != seat + 1]
        kinds[num_players] += 1
    assert len(kinds) >= 3 and kinds["none"] == sum(ex.observation["phase"] == 0 for ex in examples) + sum(
        "N/A" in ex.target for ex in examples
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 12))
def test_choice_rows_answer_with_a_listed_number_or_na_and_never_the_named_seat(seed, count) -> None:
    examples = choice_examples(np.random.default_rng(seed), count)
    assert len(examples) == count
    for i, ex in enumerate(examples):
        prompt = ex.observation["prompt"]
        listed = [int(n) for n in re.findall(r"\\boxed\{(\d)\}", prompt)]
        assert listed == list(ex.choices) and len(listed) >= 2
        seat = re.search(r"You are PLAYER (\d): never vote for yourself\.$", prompt)
        assert (seat is not None) == (i % 2 == 0)
        if seat is not None:
            assert sorted([*listed, int(seat[1])]) == list(range(1, len(listed) + 2))
        vote = parse_vote(ex.target, 9, int(seat[1]) - 1 if seat else None)
        assert vote.well_formed and (vote.abstain or vote.target + 1 in ex.choices)
        assert ex.objects == [] and np.asarray(ex.observation["image"]).shape == (56, 56, 3)


def test_choice_rows_get_the_vote_choice_loss_over_their_own_list(tiny_dirs) -> None:
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", dtype=torch.float32)
    trainer = Pretrainer(policy, PretrainConfig())
    for ex in choice_examples(np.random.default_rng(3), 40):
        target = trainer._ids(ex.target)
        vote = trainer._vote_choices(ex, target)
        if "N/A" in ex.target:
            assert vote is None
            continue
        assert int(policy.tokenizer.decode(target[vote.at])) in ex.choices
        assert sorted(int(policy.tokenizer.decode(token)) for token in vote.choices) == list(ex.choices)


def _write(folder: Path, text: str = "weights") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_text(text)
    model_cache.write_stamp(folder, "v1")


def test_a_stamped_folder_is_trusted(tmp_path) -> None:
    from tiny_vlm.shipped import shipped_model_path

    _write(tmp_path / "model")
    assert shipped_model_path(tmp_path / "model") == tmp_path / "model"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda out: (out / "model.safetensors").write_text("weightz"), "corrupt"),
        (lambda out: (out / "model.safetensors").unlink(), "missing"),
        (lambda out: (out / model_cache.STAMP).unlink(), "stamp is missing"),
        (lambda out: (out / model_cache.STAMP).write_text("{not json"), "stamp is missing"),
    ],
)
def test_a_damaged_shipped_model_is_one_line_saying_how_to_rebuild(tmp_path, damage, reason) -> None:
    from tiny_vlm.shipped import ShippedModelError, shipped_model_path

    out = tmp_path / "model"
    _write(out)
    damage(out)
    with pytest.raises(ShippedModelError) as caught:
        shipped_model_path(out)
    message = str(caught.value)
    assert reason in message and "vz-spy tiny-model --pretrained" in message and "\n" not in message


def test_the_shipped_files_match_their_stamp() -> None:
    from tiny_vlm.build import RECIPE_VERSION, Recipe, recipe_version_of
    from tiny_vlm.shipped import WEIGHTS, shipped_model_path

    stamp = model_cache.read_stamp(shipped_model_path())
    wanted = {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"}
    assert wanted <= set(stamp["files"])
    assert sum(f["size"] for f in stamp["files"].values()) <= 50_000_000
    assert stamp["hardware"] and stamp["wall_hours"] > 0
    # The shipped model is the current recipe's build: a change to the recipe means a rebuild.
    assert stamp["version"] == recipe_version_of(Recipe()) and stamp["recipe_version"] == RECIPE_VERSION
    assert sorted(p.name for p in WEIGHTS.iterdir()) == sorted([*stamp["files"], model_cache.STAMP])


def test_cli_pretrained_rejects_bad_options_in_one_line(tmp_path, capsys) -> None:
    from vz_spy.cli import main

    for argv in (
        ["tiny-model", "--out", str(tmp_path / "a"), "--steps", "3"],
        ["tiny-model", "--out", str(tmp_path / "b"), "--pretrained", "--family", "llava"],
        ["tiny-model", "--out", str(tmp_path / "c"), "--pretrained", "--steps", "0"],
        ["tiny-model", "--out", str(tmp_path / "d"), "--stop-after", "3"],
        ["tiny-model", "--out", str(tmp_path / "e"), "--pretrained", "--deduction-steps", "0"],
        ["tiny-model", "--out", str(tmp_path / "f"), "--pretrained", "--play-steps", "0"],
        ["tiny-model", "--out", str(tmp_path / "g"), "--play-steps", "3"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("vz-spy tiny-model: error:") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_builds_a_pretrained_folder_that_loads_and_plays(tmp_path) -> None:
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.evaluation import format_report
    from vz_spy.cli import main

    out = tmp_path / "pre"
    argv = ["tiny-model", "--pretrained", "--out", str(out), "--steps", "2", "--deduction-steps", "2"]
    argv += ["--play-steps", "2"]
    assert main([*argv, "--stop-after", "1"]) == 0 and not out.exists()
    assert main(argv) == 0
    assert model_cache.stamp_problem(out, model_cache.read_stamp(out)["version"]) is None
    policy = HFVLMPolicy(out, device="cpu", max_new_tokens=8, seed=0)
    assert policy.model.config.get_text_config().head_dim >= 32
    assert format_report(policy, 2)["clues"] == 16


@pytest.mark.slow
def test_the_default_pretrained_model_sees_and_speaks_the_format(pretrained_path: str, one_thread) -> None:
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.evaluation import format_report

    policy = HFVLMPolicy(pretrained_path, device="cpu", max_new_tokens=24, seed=0)
    report = format_report(policy, 100)
    # Measured on 200 games in the miniature world (docs/results.md): clues 0.999, votes 0.997,
    # grounding 0.851. These floors leave room for a build on another machine to differ by float
    # rounding: the format, and clues that see the picture (blind ones ground about 0.16).
    assert report["valid_clue_rate"] >= 0.95 and report["valid_vote_rate"] >= 0.95
    assert report["grounding_rate"] >= 0.65


def test_the_stamp_version_changes_with_the_recipe() -> None:
    from tiny_vlm.build import FORMAT_VERSION, Recipe, format_version, recipe_version_of
    from tiny_vlm.pretrain import PretrainConfig

    default = format_version(PretrainConfig())
    other = format_version(dataclasses.replace(PretrainConfig(), steps=3))
    assert default.startswith(FORMAT_VERSION) and other.startswith(FORMAT_VERSION) and other != default
    recipe = Recipe()
    shorter = dataclasses.replace(recipe, deduction=dataclasses.replace(recipe.deduction, steps=3))
    assert recipe_version_of(recipe) != recipe_version_of(shorter) == recipe_version_of(shorter)


def test_the_held_out_report_reads_the_games_own_turns() -> None:
    from agents.scripted import RandomAgent, SceneBot
    from tiny_vlm.evaluation import format_report

    scene, blind = format_report(SceneBot(seed=0), 20), format_report(RandomAgent(seed=0), 20)
    assert scene["clues"] == blind["clues"] == 160 and scene["civilian_votes"] == 60
    assert scene["valid_clue_rate"] == scene["grounding_rate"] == 1.0 and blind["grounding_rate"] < 0.3
    assert scene["civilian_spy_rate"] > blind["civilian_spy_rate"]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--iterations", "1", "--versus-games", "0", "--no-plot", "--out", "RUN"],
        ["eval", "--a", "tiny", "--b", "scene", "--games", "2"],
    ],
)
def test_commands_on_damaged_shipped_weights_stop_in_one_line(tmp_path, monkeypatch, capsys, argv) -> None:
    import shutil

    from tiny_vlm import shipped
    from vz_spy.cli import main

    damaged = tmp_path / "weights"
    shutil.copytree(shipped.WEIGHTS, damaged)
    (damaged / "model.safetensors").write_bytes(b"not the weights")
    monkeypatch.setattr(shipped, "WEIGHTS", damaged)
    assert main([str(tmp_path / "run") if a == "RUN" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.safetensors is corrupt" in err
    assert "vz-spy tiny-model --pretrained" in err
