"""Did training help? The trained policy against its frozen starting point, head to head (docs/spec.md s10).

The paper's self-play measure: the trained model plays its own starting point, every seed twice with the
sides swapped, and wins 50% of the games when nothing changed (Vision-Zero: 50% -> 71%). The games come
from seeds apart from the training games', so the test is held out.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.base import Policy
from algorithms.eval.head_to_head import evaluate
from algorithms.train_config import SPOConfig
from vz_env.atomic import atomic_write_text

VERSUS_SEED = 1_500_000_000
REPORT = "versus_start.json"


def versus_start(
    trained: Policy,
    start: Policy,
    num_games: int,
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = VERSUS_SEED,
    batch_size: int = 16,
) -> dict[str, Any]:
    """`evaluate(trained, start)`: the trained policy is side A, its frozen start side B."""
    return evaluate(trained, start, num_games, seed, env_kwargs, batch_size)


def run_policies(run_dir: Path, config: Mapping[str, Any]) -> tuple[Policy, Policy]:
    """The run's latest checkpoint (adapters merged) and its starting model, sampling as the run did."""
    from agents.hf_vlm import HFVLMPolicy
    from algorithms.export import export_run
    from tiny_vlm.world import resolve_model

    trainer = SPOConfig.from_dict(config["trainer"])
    with tempfile.TemporaryDirectory(prefix="vz-versus-start-") as tmp:
        trained = HFVLMPolicy(
            export_run(run_dir, Path(tmp) / "trained"),
            sampling=trainer.sampling,
            seed=trainer.seed,
            label="trained",
        )
    start = HFVLMPolicy(
        resolve_model(config["model"]), sampling=trainer.sampling, seed=trainer.seed, label="start"
    )
    return trained, start


def summary_line(report: Mapping[str, Any]) -> str:
    """One line: the trained side's win rate against its start with the 95% interval, per role and overall."""

    def rate(entry: Mapping[str, Any]) -> str:
        low, high = entry["ci95"]
        return f"{entry['rate']:.2f} [{low:.2f}, {high:.2f}]"

    trained = report["A"]
    return (
        f"trained vs its start, {report['games']} games (seats and roles swapped): win rate "
        f"{rate(trained['win_rate'])} (95% Wilson); as spy {rate(trained['win_rate_as_spy'])}, as civilian "
        f"{rate(trained['win_rate_as_civilian'])}; votes naming the spy {rate(trained['decision_accuracy'])} "
        f"(start {report['B']['decision_accuracy']['rate']:.2f}); clue grounding "
        f"{trained['clue_grounding']['rate']:.2f} (start {report['B']['clue_grounding']['rate']:.2f})"
    )


def write_report(run_dir: Path, report: Mapping[str, Any]) -> Path:
    """RUN_DIR/versus_start.json, written atomically."""
    return atomic_write_text(Path(run_dir) / REPORT, json.dumps(report, indent=2) + "\n")
