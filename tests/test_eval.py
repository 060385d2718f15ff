"""Evaluation: Wilson intervals, sides swapped per seed, the report's figures, the CLI."""

import json

import pytest
from sources import NoiseSource

from agents.scripted import RandomAgent, SceneBot
from algorithms.eval.head_to_head import evaluate
from algorithms.eval.rates import Rate, wilson_interval
from vz_spy.cli import build_parser, main
from vz_spy.options import env_kwargs_from


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_rate_report():
    assert Rate(3, 4).to_dict()["rate"] == 0.75


def test_each_seed_is_played_with_both_sides_as_spy():
    report = evaluate(SceneBot(seed=0), RandomAgent(seed=1), num_games=6, seed=0, batch_size=2)
    assert report["games"] == 6
    for side in ("A", "B"):
        assert report[side]["win_rate_as_spy"]["n"] == 3
        assert report[side]["win_rate_as_civilian"]["n"] == 3
    a_spy = report["A"]["win_rate_as_spy"]["rate"]
    b_civ = report["B"]["win_rate_as_civilian"]["rate"]
    assert a_spy + b_civ == pytest.approx(1.0)


def test_identical_policies_have_symmetric_reports():
    report = evaluate(
        RandomAgent(seed=3),
        RandomAgent(seed=3),
        num_games=4,
        seed=2,
        env_kwargs={"images": NoiseSource(), "image_size": (48, 32)},
    )
    assert report["A"]["decision_accuracy"]["n"] == report["B"]["decision_accuracy"]["n"] == 2 * 3


def test_eval_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["eval", "--a", "scene", "--b", "random", "--games", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["policies"] == {"A": "scene", "B": "random"}
    assert "win rate as spy" in capsys.readouterr().out


def test_eval_cli_rejects_unknown_policy(capsys):
    assert main(["eval", "--a", "no-such-policy", "--games", "2"]) == 2
    assert "no-such-policy" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("policies", "images"),
    [
        (["scene", "random"], "clevr"),
        (["tiny", "scene"], "clevr-mini"),
        (["scene", "vllm:tiny"], "clevr-mini"),
    ],
)
def test_eval_plays_the_tiny_vlm_in_its_own_world_unless_told(policies, images):
    a, b = policies
    args = build_parser().parse_args(["eval", "--a", a, "--b", b])
    assert env_kwargs_from(args, [a, b])["images"] == images
    told = build_parser().parse_args(["eval", "--a", a, "--b", b, "--images", "charts"])
    assert env_kwargs_from(told, [a, b])["images"] == "charts"
