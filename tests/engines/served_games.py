"""Run games of the verifiers environment through `vf-eval` and replay their traces through vz_env."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vz_env import Phase, Role, spy_v0

CLUE_SEAT = {Role.SPY: "spy", Role.CIVILIAN: "civilian"}


def run_eval(
    base_url: str, model: str, out: Path, game: Mapping[str, Any], games: int, *extra: str
) -> list[dict]:
    """The episodes of `games` games played by `vf-eval` (verifiers' own evaluation entry point)."""
    command = [
        str(Path(sys.executable).with_name("vf-eval")),
        "vz-spy-verifiers",
        "-m",
        model,
        "--client.base-url",
        base_url,
        "--client.api-key-var",
        "VZ_SPY_TEST_KEY",
        "-n",
        str(games),
        "--no-push",
        "--no-rich",
        "-o",
        str(out),
        "--env.taskset.game",
        json.dumps(dict(game)),
        *extra,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, env={**os.environ, "VZ_SPY_TEST_KEY": "unused"}
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (traces,) = out.glob("*/traces.jsonl")
    return [json.loads(line) for line in traces.read_text().splitlines()]


def reply_of(trace: Mapping[str, Any]) -> str:
    """The text the model answered in a one-turn trace."""
    (answer,) = [node["message"] for node in trace["nodes"] if node["message"]["role"] == "assistant"]
    return answer["content"] or ""


def picture_of(trace: Mapping[str, Any]) -> np.ndarray:
    """The picture the turn's prompt carried, decoded from its data URL."""
    (prompt,) = [node["message"] for node in trace["nodes"] if node["message"]["role"] == "user"]
    (part,) = [p for p in prompt["content"] if p["type"] == "image_url"]
    header, _, data = part["image_url"]["url"].partition(",")
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def replay(episode: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each trace's recorded reply stepped through a fresh vz_env game of the same seed, in the order played:
    per trace, the seat, reward and facts the env's own rules give, and the observation it was asked."""
    traces = sorted(episode["traces"], key=lambda t: t["info"]["vz_spy"]["order"])
    data = episode["task"]["data"]
    env = spy_v0.env(**data["game"])
    env.reset(seed=data["seed"])
    game = env.unwrapped.game
    asked = []
    for agent in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        trace = traces[len(asked)]
        asked.append((agent, observation))
        env.step(reply_of(trace))
    assert len(asked) == len(traces)
    rewards = game.rewards()
    expected = []
    for (agent, observation), turn in zip(asked, game.turns, strict=True):
        role = game.role(agent)
        clue = turn.phase == Phase.CLUE
        expected.append(
            {
                "agent": agent,
                "seat": CLUE_SEAT[role] if clue else ("observer" if role == Role.OBSERVER else "voter"),
                "role": str(role),
                "valid": turn.valid,
                "reward": rewards[agent] if clue else turn.decision_reward,
                "observation": observation,
            }
        )
    return expected
