"""Learning check: the README's main job, measured. Does Iterative-SPO make the pretrained VLM play better?

Runs exactly what `vz-spy train` runs with no flags (the "tiny" preset on the pretrained tiny VLM, the
ordinary game: the spy is drawn at random every game), then plays the trained policy against its frozen
start over --versus-games held-out games, every seed twice with sides swapped (0.5: no change; the paper:
0.50 -> 0.71). Prints each iteration's stage, decision accuracy, N/A rate, clue validity and grounding, then

    learning check: win rate W [low, high] against the start over N games; training M min (C min CPU)

Exit status 1 when the interval's lower bound is not above 0.5, or training took more than --budget-min.

    nice python benchmarks/learning_check.py [--iterations N] [--seed 0] [--model DIR] [--out DIR]
        [--set learning_rate=3e-3 --set beta_kl=0.01]   # a variant of the preset's trainer settings
        [--env clue_beta=1.0]                           # a variant of the preset's game settings
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import transformers

from algorithms.eval.versus_start import run_policies, summary_line, versus_start, write_report
from algorithms.metrics import stages_trained
from algorithms.presets import PRESETS
from algorithms.run import run_config, train
from algorithms.train_config import SPOConfig, algorithm_settings
from vz_env.turn import Phase
from vz_spy.train import VERSUS_GAMES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="start model folder (default: the pretrained tiny VLM)")
    parser.add_argument("--iterations", type=int, default=None, help="default: the tiny preset's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--versus-games", type=int, default=VERSUS_GAMES)
    parser.add_argument("--out", default=None, help="run folder (default: a temporary one)")
    parser.add_argument("--budget-min", type=float, default=10.0, help="training wall-time budget")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's, as vz-spy train)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="change one trainer setting of the preset (e.g. learning_rate=3e-3); repeatable",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="change one game setting of the preset (e.g. clue_beta=1.0); repeatable",
    )
    return parser.parse_args(argv)


def setting_changes(items: list[str]) -> dict[str, Any]:
    """FIELD=JSON pairs of --set or --env as a dict; a value that is not JSON is taken as a string."""
    changes = {}
    for item in items:
        field, sep, text = item.partition("=")
        if not sep or not field:
            raise SystemExit(f"--set and --env take FIELD=VALUE, got {item!r}")
        try:
            changes[field] = json.loads(text)
        except json.JSONDecodeError:
            changes[field] = text
    return changes


def main_job_config(
    model: str | None,
    iterations: int | None,
    seed: int,
    changes: dict[str, Any] | None = None,
    env_changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run config of `vz-spy train` with no flags (iterations, seed and the changes aside)."""
    preset = PRESETS["tiny"]
    trainer = {**preset["trainer"], **algorithm_settings("iterative-spo"), "seed": seed, **(changes or {})}
    if iterations is not None:
        trainer["iterations"] = iterations
    env = {**preset["env"], **(env_changes or {})}
    return run_config("iterative-spo", model, SPOConfig.from_dict(trainer), env)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    transformers.utils.logging.disable_progress_bar()
    run_dir = Path(args.out or tempfile.mkdtemp(prefix="vz-learning-check-")) / "run"
    try:
        config = main_job_config(
            args.model, args.iterations, args.seed, setting_changes(args.set), setting_changes(args.env)
        )
    except ValueError as err:
        raise SystemExit(f"learning_check: {err}") from None
    trainer = config["trainer"]
    print(
        f"iterative-spo, tiny preset: {trainer['iterations']} iterations x {trainer['games_per_iter']} games "
        f"(G={trainer['group_size']}), run {run_dir}",
        flush=True,
    )
    wall, cpu = time.perf_counter(), time.process_time()

    def show(row: dict[str, Any]) -> None:
        print(
            f"  iter {row['iteration']:3d}  {row['stage']:8s}  accuracy {row['decision_accuracy']:.2f}  "
            f"N/A {row['na_rate']:.2f}  valid clues {1 - row['invalid_clue_rate']:.2f}  grounding "
            f"{row['clue_grounding']:.2f}  kl {row['kl']:.3f}  {row['seconds_total']:4.1f} s  "
            f"(at {(time.perf_counter() - wall) / 60:.1f} min)",
            flush=True,
        )

    rows = train(run_dir, config, on_iteration=show)
    minutes, cpu_minutes = (time.perf_counter() - wall) / 60, (time.process_time() - cpu) / 60
    switches = sum(row["next_stage"] != row["stage"] for row in rows)
    stages = stages_trained(rows)
    print(
        f"stages: decision {stages.count(Phase.DECISION)}, clue {stages.count(Phase.CLUE)}; "
        f"switches {switches}; "
        f"accuracy curve: " + " ".join(f"{row['decision_accuracy']:.2f}" for row in rows)
    )
    trained, start = run_policies(run_dir, config)
    report = versus_start(trained, start, args.versus_games, config["env"])
    write_report(run_dir, report)
    print(summary_line(report))
    win = report["A"]["win_rate"]
    print(
        f"learning check: win rate {win['rate']:.3f} [{win['ci95'][0]:.3f}, {win['ci95'][1]:.3f}] against "
        f"the start over {report['games']} games; training {minutes:.1f} min ({cpu_minutes:.1f} min CPU)"
    )
    return 0 if win["ci95"][0] > 0.5 and minutes <= args.budget_min else 1


if __name__ == "__main__":
    sys.exit(main())
