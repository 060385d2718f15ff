"""`vz-spy train`: Iterative-SPO (or a baseline) on a VLM, into a run folder, resumable."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from vz_spy.cli import CliError

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "trainer": {
            "iterations": 8,
            "games_per_iter": 4,
            "group_size": 4,
            "max_new_tokens": 32,
            "learning_rate": 2e-4,
            "checkpoint_every": 4,
            "min_stage_iters": 2,
        },
        "env": {"image_size": [160, 120]},
    },
    "paper": {"trainer": {"iterations": 100, "games_per_iter": 32, "max_new_tokens": 512}, "env": {}},
}
FLAG_FIELDS = {"iterations": "iterations", "games_per_iter": "games_per_iter", "seed": "seed"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from algorithms.trainers import TRAINERS

    parser = subparsers.add_parser(
        "train",
        help="train a VLM by self-play (Iterative-SPO or a baseline)",
        description="Train a VLM on spy games. Settings come from --preset, then --config FILE (JSON with "
        "'algo', 'model', 'trainer' and 'env' sections), then the flags.",
    )
    parser.add_argument("--algo", choices=sorted(TRAINERS), default=None, help="default iterative-spo")
    parser.add_argument(
        "--model", default=None, help="local Hugging Face VLM folder (default: built-in tiny VLM)"
    )
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--games-per-iter", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default=None, help="run folder (default runs/ALGO-YYYYmmdd-HHMMSS)")
    parser.add_argument(
        "--resume", metavar="RUN_DIR", default=None, help="continue a run from its checkpoint"
    )
    parser.add_argument("--config", metavar="FILE", default=None, help="JSON run config")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help="default tiny (quick, CPU)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw curves at the end")
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> dict[str, Any]:
    """The run config from preset, config file and flags, validated (ValueError names the bad field)."""
    from algorithms.run import run_config
    from algorithms.train_config import SPOConfig

    preset = PRESETS[args.preset or "tiny"]
    algo, model = "iterative-spo", None
    trainer, env = dict(preset["trainer"]), dict(preset["env"])
    if args.config:
        try:
            data = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CliError(f"--config {args.config}: {err}") from None
        unknown = set(data) - {"algo", "model", "trainer", "env"}
        if unknown:
            raise CliError(f"--config {args.config}: unknown section(s) {', '.join(sorted(unknown))}")
        algo, model = data.get("algo", algo), data.get("model", model)
        trainer.update(data.get("trainer", {}))
        env.update(data.get("env", {}))
    algo = args.algo or algo
    model = args.model or model
    for flag, name in FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            trainer[name] = getattr(args, flag)
    if "image_size" in env:
        env["image_size"] = tuple(env["image_size"])
    return run_config(algo, model, SPOConfig.from_dict(trainer), env)


def explicit_overrides(args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, Any]:
    """The saved config with only the settings the user passed explicitly applied (for --resume checks)."""
    wanted = json.loads(json.dumps(saved))
    if args.config or args.preset:
        return build_config(args)
    if args.algo:
        wanted["algo"] = args.algo
    if args.model:
        wanted["model"] = args.model
    for flag, name in FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            wanted["trainer"][name] = getattr(args, flag)
    return wanted


def run(args: argparse.Namespace) -> int:
    from algorithms.run import load_run_config

    try:
        if args.resume:
            run_dir = Path(args.resume)
            config = explicit_overrides(args, load_run_config(run_dir))
        else:
            config = build_config(args)
            run_dir = Path(args.out or f"runs/{config['algo']}-{time.strftime('%Y%m%d-%H%M%S')}")
        rows = _train_with_progress(run_dir, config, bool(args.resume))
    except ValueError as err:
        raise CliError(str(err)) from None
    if not _is_main_process():
        return 0
    _summary(run_dir, rows)
    if not args.no_plot and rows:
        from algorithms.plot import plot_run

        print(f"curves: {plot_run(run_dir)}")
    return 0


def _train_with_progress(run_dir: Path, config: dict[str, Any], resume: bool) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from algorithms.run import train

    total = config["trainer"]["iterations"]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[live]}"), disable=not _is_main_process()) as progress:
        task = progress.add_task(f"{config['algo']}", total=total, live="starting")

        def show(row: dict[str, Any]) -> None:
            live = (
                f"{row['stage']:8s} acc {row['decision_accuracy']:.2f} na {row['na_rate']:.2f} "
                f"kl {row['kl']:.4f} loss {row['loss']:+.4f}"
            )
            progress.update(task, completed=row["iteration"], live=live)

        return train(run_dir, config, resume=resume, on_iteration=show)


def _is_main_process() -> bool:
    """Under `accelerate launch` every process runs this command; only rank 0 reports and plots."""
    from accelerate.utils import get_int_from_env

    return get_int_from_env(["RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"], 0) == 0


def _summary(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"nothing to do: {run_dir} already finished its iterations")
        return
    table = Table(title=f"run {run_dir}: iterations {rows[0]['iteration']}..{rows[-1]['iteration']}")
    table.add_column("metric")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    for key in (
        "stage",
        "decision_accuracy",
        "na_rate",
        "invalid_clue_rate",
        "reward_spy",
        "reward_civilian",
        "kl",
        "loss",
        "tokens_generated",
        "seconds_total",
    ):
        first, last = rows[0][key], rows[-1][key]
        fmt = (lambda v: f"{v:.4f}") if isinstance(first, float) else str
        table.add_row(key, fmt(first), fmt(last))
    console.print(table)
    console.print(f"metrics: {run_dir / 'metrics.jsonl'}")
