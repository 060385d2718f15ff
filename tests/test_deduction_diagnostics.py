"""Deducer diagnostics: what a perfect clue comparer votes, rows split by what changed, colour rows added."""

import re

import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from algorithms.rollout import GameRecord
from tiny_vlm.odd_clues import told_examples
from vz_env.rules import player_name
from vz_env.turn import Clue, Phase, Role, Turn


def record(spy: int, history: list[tuple[int, int, str]]) -> GameRecord:
    """A 4-player game record: `spy` (numbered from 1) and the clues; every civilian voted."""
    roles = {player_name(i): Role.SPY if i + 1 == spy else Role.CIVILIAN for i in range(4)}
    votes = [Turn(a, Phase.DECISION, 0, "", "", True, None) for a, r in roles.items() if r != Role.SPY]
    clues = [Clue(r, p, c) for r, p, c in history]
    return GameRecord(0, roles, {}, {}, {}, "spies", votes, clues)


def test_a_perfect_comparer_names_the_odd_player_and_nobody_when_none_stands_out():
    headroom = load_benchmark("vote_headroom")
    odd_spy = [(r, p, "red cube" if p != 2 else "blue cube") for r in (1, 2) for p in (1, 2, 3, 4)]
    assert headroom.odd_votes_naming_spy(record(2, odd_spy)) == 3
    assert headroom.odd_votes_naming_spy(record(3, odd_spy)) == 0  # the odd clue was a civilian's
    same = [(r, p, "red cube") for r in (1, 2) for p in (1, 2, 3, 4)]
    assert headroom.odd_votes_naming_spy(record(2, same)) == 0


def test_profile_groups_hold_every_row_once_per_split():
    profile = load_benchmark("deduction_profile")
    rows = told_examples(np.random.default_rng(4), 120, "game")
    groups = profile.split_rows(rows)
    assert len(groups["all"]) == 120
    assert sum(len(v) for k, v in groups.items() if k.startswith("changed ")) == 120
    assert sum(len(v) for k, v in groups.items() if k.startswith("spy at ")) == 120
    seats = {k: v for k, v in groups.items() if k.startswith("spy at ")}
    assert all(e.answer == int(k.split()[-1]) for k, v in seats.items() for e in v)


def test_continuation_holds_its_stage_and_adds_colour_only_rows():
    continuation = load_benchmark("deduction_continuation")
    args = continuation.parse_args(["--stage", "short", "--rows", "8", "--pictures", "2", "--choices", "1"])
    config = continuation.continuation_config(args)
    assert config.rows_per_step[0] == 8 and min(config.advance_at) > 1.0
    plain = continuation.ColourRows(None, config, 0, extra=0).examples(0)
    trainer = continuation.ColourRows(None, config, 0, extra=5)
    extended = trainer.examples(0)
    assert len(extended) == len(plain) + 5
    for row in extended[-5:]:
        lines = dict(re.findall(r"^(\d+): (\w+ \w+)$", row.observation["prompt"], re.M))
        spy_colour, spy_shape = lines.pop(str(row.answer)).split()
        assert {clue.split()[1] for clue in lines.values()} == {spy_shape}
        assert spy_colour not in {clue.split()[0] for clue in lines.values()}


def test_continuation_with_the_number_loss_refuses_the_play_stage(capsys):
    continuation = load_benchmark("deduction_continuation")
    args = continuation.parse_args(["--stage", "game", "--number-loss", "--colour-share", "0.7"])
    assert args.number_loss and args.colour_share == 0.7
    with pytest.raises(SystemExit):
        continuation.parse_args(["--stage", "play", "--number-loss"])
    assert "choose --stage short, round or game" in capsys.readouterr().err
