"""The README's main job: `vz-spy train` with no flags is Iterative-SPO on the ordinary game in the
miniature world, both stages train, and it ends by playing the trained policy against its frozen start."""

import argparse
import json

import pytest

from algorithms.stage import StageController
from algorithms.train_config import SPOConfig
from vz_env import Phase
from vz_spy.cli import main
from vz_spy.train import FLAG_FIELDS, build_config


def default_config() -> dict:
    """The run config of `vz-spy train` with no flags."""
    flags = ("algo", "model", "config", "preset", *FLAG_FIELDS)
    return build_config(argparse.Namespace(**dict.fromkeys(flags)))


def test_the_default_run_is_iterative_spo_on_the_ordinary_game_in_the_miniature_world():
    config = default_config()
    assert config["algo"] == "iterative-spo" and config["model"] is None  # the pretrained tiny VLM
    assert config["trainer"]["stage_schedule"] == "adaptive"
    assert config["env"].get("spy_seat") is None  # the spy is drawn every game
    assert config["env"]["images"] == "clevr-mini"  # the world the pretrained tiny VLM is built for


@pytest.mark.parametrize("accuracy", [0.0, 0.3, 0.6, 1.0])
def test_the_default_run_trains_both_stages_whatever_the_vote_accuracy(accuracy):
    trainer = SPOConfig.from_dict(default_config()["trainer"])
    controller = StageController(trainer)
    stages = []
    for _ in range(trainer.iterations):
        stages.append(controller.stage)
        controller.update(accuracy, 0.1)
    assert stages[0] == Phase.DECISION and Phase.CLUE in stages


def test_a_negative_versus_games_is_a_one_line_error(capsys):
    assert main(["train", "--versus-games", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--versus-games" in err and "Traceback" not in err


@pytest.mark.slow
def test_the_main_job_ends_with_the_win_rate_against_its_start(pretrained_path, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "--iterations", "2", "--versus-games", "4", "--out", str(run_dir), "--no-plot"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trained vs its start, 4 games (seats and roles swapped): win rate" in out
    assert "stage switches" in out
    report = json.loads((run_dir / "versus_start.json").read_text())
    assert report["games"] == 4 and report["policies"] == {"A": "trained", "B": "start"}
    win = report["A"]["win_rate"]
    assert win["n"] == 4 and win["ci95"][0] <= win["rate"] <= win["ci95"][1]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2] and all(0 <= r["clue_grounding"] <= 1 for r in rows)
