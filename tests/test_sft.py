"""The format warm-start: targets blind to the spy, a falling loss, a loadable folder, the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from agents import tiny_vlm
from agents.hf_vlm import HFVLMPolicy
from algorithms.sft import (
    SFTConfig,
    completion_loss,
    encode_examples,
    format_report,
    teacher_examples,
    train_format,
    warm_start,
)
from vz_env.parsing import parse_clue, parse_vote
from vz_env.turn import Role
from vz_spy import sft as sft_cli
from vz_spy.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"image_size": (64, 48), "num_rounds": 1}


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built-in tiny VLM, built into the session's temp cache (and found there by `--model`-less runs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(tiny_vlm.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "vz-spy-cache"))
        yield str(tiny_vlm.default_model_path())


def test_teacher_targets_are_boxed_and_votes_are_uniform_over_the_others() -> None:
    examples = teacher_examples(60, seed=0, env_kwargs=SMALL)
    clues = [e for e in examples if e.observation["phase"] == 0]
    votes = [e for e in examples if e.observation["phase"] == 1]
    assert len(clues) == 60 * 4 and len(votes) == 60 * 3
    assert all(parse_clue(e.target).valid and e.target.startswith("\\boxed{") for e in clues)
    parsed = [parse_vote(e.target, 4, e.observation["seat"]) for e in votes]
    assert all(v.valid for v in parsed)
    counts = torch.bincount(torch.tensor([v.target for v in parsed]), minlength=4)
    assert counts.min() > 30


def test_teacher_votes_carry_no_information_about_the_spy() -> None:
    examples = [e for e in teacher_examples(120, seed=1, env_kwargs=SMALL) if e.observation["phase"] == 1]
    hits = [parse_vote(e.target, 4).target == spy for e, spy in zip(examples, _spy_seats(120, 1, examples))]
    assert abs(sum(hits) / len(hits) - 1 / 3) < 0.08


def _spy_seats(games: int, seed: int, votes: list) -> list[int]:
    """The spy's seat of each vote example's game (votes come 3 per game, in game order)."""
    from vz_env import spy_v0

    env = spy_v0.parallel_env(**SMALL)
    seats = []
    for game in range(games):
        env.reset(seed=seed + game)
        spy = next(a for a, r in env.unwrapped.roles.items() if r == Role.SPY)
        seats += [int(spy.split("_")[1])] * 3
    return seats[: len(votes)]


def test_examples_are_scored_on_the_agents_own_prompt_and_end_in_eos(tiny_path: str) -> None:
    policy = HFVLMPolicy(tiny_path, seed=0)
    examples = teacher_examples(1, seed=0, env_kwargs=SMALL)
    generations = encode_examples(policy, examples)
    for example, generation in zip(examples, generations):
        assert torch.equal(generation.prompt.input_ids, policy.encode(example.observation).input_ids)
        assert int(generation.completion_ids[-1]) == policy.eos_token_ids[0]
        assert policy.tokenizer.decode(generation.completion_ids, skip_special_tokens=True) == example.target


def test_a_few_steps_reduce_the_completion_loss(tiny_path: str) -> None:
    policy = HFVLMPolicy(tiny_path, seed=0)
    examples = teacher_examples(2, seed=0, env_kwargs=SMALL)
    generations = encode_examples(policy, examples)
    with torch.no_grad():
        before = float(completion_loss(policy.model, generations, policy.pad_token_id))
    losses = train_format(policy, examples, SFTConfig(epochs=3, batch_size=7))
    with torch.no_grad():
        after = float(completion_loss(policy.model, generations, policy.pad_token_id))
    assert len(losses) == 6 and after < before - 1.0
    assert not any(p.requires_grad for p in policy.model.parameters()) and not policy.model.training


def test_warm_start_writes_a_model_folder_that_loads_and_plays(tiny_path: str, tmp_path: Path) -> None:
    out = tmp_path / "warm"
    summary = warm_start(tiny_path, out, SFTConfig(games=1, epochs=1), SMALL)
    assert summary["out"] == str(out) and summary["examples"] == 7
    assert {"config.json", "sft.json", "tokenizer_config.json"} <= {p.name for p in out.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ["warm"]
    policy = HFVLMPolicy(out, seed=0, max_new_tokens=4)
    assert isinstance(policy.act(teacher_examples(1, 0, SMALL)[0].observation), str)


def test_the_folder_trains_with_vz_spy_train(tiny_path: str, tmp_path: Path) -> None:
    warm_start(tiny_path, tmp_path / "warm", SFTConfig(games=1, epochs=1), SMALL)
    argv = ["train", "--model", str(tmp_path / "warm"), "--out", str(tmp_path / "run"), "--no-plot"]
    assert main(argv + ["--iterations", "1", "--games-per-iter", "1"]) == 0
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == 1


def test_warm_start_refuses_a_non_empty_folder_before_training(tiny_path: str, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        warm_start(tiny_path, tmp_path, SFTConfig(games=1, epochs=1), SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("field", ["games", "epochs", "batch_size", "learning_rate", "seed"])
def test_bad_settings_are_rejected_by_name(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SFTConfig(**{field: -1})


@pytest.mark.slow
def test_format_is_learned_but_not_the_spy(tiny_path: str, tmp_path: Path) -> None:
    fixed_seat = {**SMALL, "spy_seat": 2}
    before = format_report(HFVLMPolicy(tiny_path, seed=0, max_new_tokens=12), 16, 500, fixed_seat)
    warm_start(tiny_path, tmp_path / "warm", SFTConfig(), SMALL)
    after = format_report(HFVLMPolicy(tmp_path / "warm", seed=0, max_new_tokens=12), 16, 500, fixed_seat)
    assert before["valid_clue_rate"] < 0.2 and before["valid_vote_rate"] < 0.2
    assert after["valid_clue_rate"] > 0.9 and after["valid_vote_rate"] > 0.5
    assert after["decision_accuracy"] < 0.6 and after["valid_vote_accuracy"] < 0.6


def test_cli_defaults_are_the_config_defaults() -> None:
    parser = argparse.ArgumentParser()
    sft_cli.register(parser.add_subparsers())
    args = parser.parse_args(["sft", "--out", "x"])
    default = SFTConfig()
    assert (args.games, args.epochs, args.lr, args.batch_size, args.seed) == (
        default.games,
        default.epochs,
        default.learning_rate,
        default.batch_size,
        default.seed,
    )


def test_cli_writes_the_folder_and_checks_it(tiny_path: str, tmp_path: Path, capsys) -> None:
    argv = ["sft", "--out", str(tmp_path / "m"), "--model", tiny_path, "--games", "1", "--epochs", "1"]
    assert main(argv + ["--check-games", "1", "--size", "64x48", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "format warm-start written to" in out and "decision accuracy" in out
    assert (tmp_path / "m" / "config.json").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--games", "0"], "games must be >= 1"),
        (["--lr", "0"], "learning_rate must be > 0"),
        (["--check-games", "-1"], "--check-games must be >= 0"),
        (["--players", "2"], "num_players"),
        (["--model", "/no/such/model"], "does not exist"),
        (["--out", "{existing}"], "not an empty folder"),
    ],
)
def test_bad_input_exits_with_one_line(extra: list[str], message: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    extra = [e.replace("{existing}", str(tmp_path / "full")) for e in extra]
    assert main(["sft", "--out", str(tmp_path / "new"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("vz-spy sft: error:")
    assert not (tmp_path / "new").exists()
