"""A bad config fails before anything runs, with the field named and what is allowed."""

import dataclasses
import re
from pathlib import Path

import pytest

from algorithms.sft_config import SFTConfig
from algorithms.train_config import SPOConfig
from vz_env import SpyConfig, spy_v0
from vz_env.settings import help_table
from vz_spy.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "SpyConfig": (SpyConfig, "docs/env.md"),
    "SPOConfig": (SPOConfig, "docs/training.md"),
    "SFTConfig": (SFTConfig, "docs/training.md"),
}


def test_defaults_are_the_papers():
    cfg = SpyConfig()
    assert (cfg.num_players, cfg.num_spies, cfg.num_rounds, cfg.num_observers) == (4, 1, 2, 8)
    assert (cfg.clue_beta, cfg.clue_lambda, cfg.format_weight) == (0.1, 0.1, 0.3)
    assert (cfg.reward_correct, cfg.reward_abstain, cfg.reward_wrong) == (1.0, -0.5, -1.0)
    assert cfg.reveal_role and not cfg.spy_votes and cfg.decision_mode == "vote"


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SpyConfig().num_players = 5


def test_unknown_keyword_lists_valid_names():
    with pytest.raises(ValueError, match="num_playrs.*valid names:.*num_players"):
        spy_v0.env(num_playrs=5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_players": 2}, "num_players"),
        ({"num_spies": 3}, "num_spies"),
        ({"num_spies": 0}, "num_spies"),
        ({"num_rounds": 0}, "num_rounds"),
        ({"num_observers": 0}, "num_observers"),
        ({"decision_mode": "poll"}, "decision_mode"),
        ({"spy_image": "noise"}, "spy_image"),
        ({"num_players": "4"}, "num_players"),
        ({"reveal_role": 1}, "reveal_role"),
        ({"num_rounds": True}, "num_rounds"),
        ({"clue_beta": -1.0}, "clue_beta"),
        ({"image_size": (10, 10)}, "image_size"),
        ({"image_size": "big"}, "image_size"),
        ({"clue_prompt": "PLAYER {sat}"}, "clue_prompt"),
        ({"vote_prompt": "PLAYER {"}, "vote_prompt"),
    ],
)
def test_impossible_values_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SpyConfig.from_kwargs(**kwargs)


def test_templates_can_be_overridden():
    cfg = SpyConfig(clue_prompt="P{seat}/{num_players}: {history} {role} {round} {own_reasoning}")
    assert cfg.clue_prompt.startswith("P{seat}")


def test_replace_validates():
    assert SpyConfig().replace(num_players=6).num_players == 6
    with pytest.raises(ValueError, match="num_players"):
        SpyConfig().replace(num_players=1)


def test_json_lists_become_tuples_and_none_is_allowed_where_declared():
    cfg = SpyConfig.from_kwargs(image_size=[64, 48], spy_seat=None, clue_beta=1)
    assert cfg.image_size == (64, 48) and cfg.spy_seat is None and isinstance(cfg.clue_beta, float)
    with pytest.raises(ValueError, match="spy_seat must be an int"):
        SpyConfig.from_kwargs(spy_seat="2")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_setting_has_help_and_the_docs_table_is_current(name):
    cls, doc = CONFIGS[name]
    assert all(f.metadata.get("help") for f in dataclasses.fields(cls))
    text = (REPO / doc).read_text(encoding="utf-8")
    table = re.search(rf"<!-- settings: {name} .*?-->\n(.*?)<!-- /settings -->", text, re.S)
    assert table is not None and table.group(1) == help_table(cls), (
        f"{doc}: the {name} table is now\n{help_table(cls)}"
    )


@pytest.mark.parametrize(
    ("argv", "cls", "fields"),
    [
        (["train", "--help"], SPOConfig, None),
        (["sft", "--help"], SFTConfig, ("games", "epochs", "learning_rate", "batch_size", "seed")),
        (["eval", "--help"], SpyConfig, ("num_players", "num_spies", "num_rounds", "images", "image_size")),
    ],
)
def test_cli_help_shows_the_field_help_texts(argv, cls, fields, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    shown = " ".join(capsys.readouterr().out.split())
    helps = {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}
    for name in fields or helps:
        assert " ".join(helps[name].split()) in shown, name
