"""The examples run as a user runs them (a fresh Python process from the repository root) and finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import tiny_vlm

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """Run examples/NAME with ARGS; fail with its output unless it exits 0; return its stdout."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def tiny_cache(pretrained_path: str) -> dict[str, str]:
    """The cache of the session's pretrained default model (CI: $VZ_SPY_CACHE): examples build no other."""
    return {tiny_vlm.CACHE_ENV: str(Path(pretrained_path).parent)}


def test_scripted_game_saves_the_board(tmp_path) -> None:
    out = tmp_path / "board.png"
    assert "saved" in run_example("scripted_game.py", str(out))
    assert out.stat().st_size > 0


def test_play_in_terminal_takes_typed_clues_and_a_vote() -> None:
    stdout = run_example("play_in_terminal.py", stdin="a red cube\na blue ball\n1\n")
    assert "Winner:" in stdout and "PLAYER 2 (spy): a red cube" in stdout


def test_custom_policy_plays_against_scene_bots() -> None:
    lines = run_example("custom_policy.py", "12").splitlines()
    played = [int(line.rsplit(" of ", 1)[1].split()[0]) for line in lines if line.startswith("ColourCounter")]
    assert sum(played) == 12


def test_evaluate_reports_both_policies_with_intervals() -> None:
    stdout = run_example("evaluate.py", "scene", "random", "--games", "10")
    assert "scene (A) vs random (B), 10 games" in stdout
    assert stdout.count("win_rate_as_spy") == 2 and "[" in stdout


@pytest.mark.slow
def test_vlm_agent_plays_a_game_with_the_tiny_vlm(tiny_cache) -> None:
    stdout = run_example("vlm_agent.py", env=tiny_cache)
    assert "loaded qwen2_5_vl" in stdout and "the model's raw reply" in stdout and "Winner:" in stdout


@pytest.mark.slow
def test_batched_rollout_samples_groups_of_votes(tiny_cache) -> None:
    stdout = run_example("batched_rollout.py", env=tiny_cache)
    assert stdout.startswith("8 games") and "decision rewards of its 4 samples" in stdout
