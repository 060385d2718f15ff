"""The rating league: a balanced schedule, Bradley-Terry ratings, a transcript that survives a kill."""

import json
from collections import Counter

import numpy as np
import pytest

from agents.scripted import RandomAgent, SceneBot
from algorithms.eval.league import GAMES_FILE, play_league, read_games, schedule, summarize
from algorithms.eval.ratings import Outcome, bootstrap_intervals, bradley_terry
from vz_spy.cli import main

SMALL = {"image_size": (96, 72)}


def bots() -> dict:
    return {"scene": SceneBot(seed=0), "random": RandomAgent(seed=1), "random-2": RandomAgent(seed=2)}


def test_the_schedule_balances_spy_and_civilian_seats_over_every_ordered_pair():
    matches = schedule(3, 60, seed=5)
    assert len(matches) == 60 and [m.index for m in matches] == list(range(60))
    assert Counter((m.spy, m.civilian) for m in matches) == {
        (a, b): 10 for a in range(3) for b in range(3) if a != b
    }
    assert Counter(m.spy for m in matches) == Counter(m.civilian for m in matches) == {0: 20, 1: 20, 2: 20}
    assert {m.seed for m in matches} == set(range(5, 15))
    assert len(schedule(3, 61)) == 66  # rounded up to whole seeds
    with pytest.raises(ValueError, match="at least two policies"):
        schedule(1, 10)


def test_bradley_terry_puts_ten_to_one_odds_400_points_apart():
    ratings = bradley_terry(np.array([[0.0, 10.0], [1.0, 0.0]]), prior_games=0)
    assert ratings[0] - ratings[1] == pytest.approx(400.0, abs=1e-6)
    assert ratings.mean() == pytest.approx(1000.0)
    even = bradley_terry(np.array([[0, 3, 3], [3, 0, 3], [3, 3, 0]], dtype=float))
    assert np.allclose(even, 1000.0)


def test_a_policy_that_won_every_game_gets_a_finite_rating_and_an_interval_around_it():
    outcomes = [Outcome(0, 1, (0, 1))] * 8 + [Outcome(1, 2, (1, 2))] * 6 + [Outcome(2, 1, (1, 2))] * 2
    ratings = bradley_terry(np.array([[0, 8, 0], [0, 0, 6], [0, 2, 0]], dtype=float))
    intervals = bootstrap_intervals(outcomes, 3, replicates=200)
    assert np.isfinite(ratings).all() and ratings[0] > ratings[1] > ratings[2]
    assert (intervals[:, 0] <= ratings + 1e-6).all() and (ratings <= intervals[:, 1] + 1e-6).all()


def test_every_game_is_recorded_with_seats_roles_turns_rewards_and_winner(tmp_path):
    records = play_league(bots(), 12, tmp_path, env_kwargs=SMALL, batch_size=3)
    lines = (tmp_path / GAMES_FILE).read_text().splitlines()
    assert len(records) == len(lines) == 12
    record = json.loads(lines[0])
    assert set(record) >= {"game", "seed", "seats", "roles", "turns", "rewards", "winner", "winning_policy"}
    spies = [agent for agent, role in record["roles"].items() if role == "spy"]
    assert {record["seats"][a] for a in spies} == {record["spy_policy"]}
    assert {t["phase"] for t in record["turns"]} == {"clue", "decision"}
    assert all(t["raw"] for t in record["turns"])
    assert any(t["clue"] for t in record["turns"]) and any(t["vote"] or t["abstain"] for t in record["turns"])


def test_a_killed_league_resumes_without_playing_a_recorded_game_again(tmp_path):
    class Killed(Exception):
        pass

    def kill_after_four(record):
        if record["game"] == 3:
            raise Killed

    with pytest.raises(Killed):
        play_league(bots(), 12, tmp_path, env_kwargs=SMALL, batch_size=2, on_game=kill_after_four)
    kept = read_games(tmp_path / GAMES_FILE)
    with (tmp_path / GAMES_FILE).open("a") as transcript:
        transcript.write('{"game": 11, "cut sho')  # a line the kill cut short
    played = []
    records = play_league(bots(), 12, tmp_path, env_kwargs=SMALL, batch_size=2, on_game=played.append)
    assert [r["game"] for r in records] == list(range(12))
    assert len(played) == 12 - len(kept) and not {r["game"] for r in played} & {r["game"] for r in kept}
    kept_games = {r["game"] for r in kept}
    assert [r for r in records if r["game"] in kept_games] == sorted(kept, key=lambda r: r["game"])
    assert len((tmp_path / GAMES_FILE).read_text().splitlines()) == 12


def test_a_league_folder_of_other_settings_is_refused(tmp_path):
    play_league(bots(), 6, tmp_path, env_kwargs=SMALL)
    with pytest.raises(ValueError, match="league of other settings .games, seed."):
        play_league(bots(), 12, tmp_path, seed=1, env_kwargs=SMALL)


def test_the_summary_ranks_the_scene_bot_first_with_rates_and_a_win_matrix(tmp_path):
    labels = list(bots())
    summary = summarize(play_league(bots(), 24, tmp_path, env_kwargs=SMALL), labels, replicates=200)
    assert summary["policies"][0]["policy"] == "scene"
    scene = summary["policies"][0]
    assert scene["games"] == 16 and scene["invalid_turn_rate"]["rate"] == 0.0
    assert 0 <= scene["na_rate"]["rate"] <= 1 and scene["ci95"][0] <= scene["rating"] <= scene["ci95"][1]
    matrix = np.array(summary["win_matrix"], dtype=float)
    off = ~np.eye(3, dtype=bool)
    assert np.allclose(matrix[off] + matrix.T[off], 1.0) and np.isnan(np.diag(matrix)).all()


def test_the_cli_plays_prints_and_draws_a_league(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "league"
    argv = ["league", "scene", "random", "--games", "8", "--out", str(out), "--size", "96x72"]
    assert main([*argv, "--replicates", "50"]) == 0
    printed = capsys.readouterr().out
    assert "scene" in printed and "wins: row vs column" in printed
    assert json.loads((out / "ratings.json").read_text())["policies"][0]["policy"] == "scene"
    assert (out / "ratings.png").read_bytes()[:4] == b"\x89PNG"
    assert main([*argv, "--replicates", "50"]) == 0  # resumed: nothing left to play
    assert len((out / GAMES_FILE).read_text().splitlines()) == 8


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["league", "scene"], "a league needs at least two policies, got one (scene)"),
        (["league", "scene", "scene"], "a policy is named twice"),
        (["league", "scene", "nonsense"], "policy 'nonsense' is not one of"),
        (["league", "scene", "openai:m"], "does not parse"),
    ],
)
def test_bad_leagues_fail_in_one_line_before_any_game(argv, says, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "l")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not (tmp_path / "l" / GAMES_FILE).exists()
