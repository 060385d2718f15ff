"""`vz-spy train`: Iterative-SPO (or a baseline) on a VLM, into a run folder, resumable."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from algorithms.presets import DEFAULT_PRESET, PRESETS
from vz_spy.cli import CliError
from vz_spy.paths import output_folder

FLAG_FIELDS = {
    "iterations": "iterations",
    "games_per_iter": "games_per_iter",
    "seed": "seed",
    "rollout_backend": "rollout_backend",
    "mixed_precision": "mixed_precision",
    "activation_checkpointing": "activation_checkpointing",
    "cpu_offload": "cpu_offload",
}
# The other flags take ints; a bool flag has a --no- form too.
FLAG_TYPES = {
    "rollout_backend": str,
    "mixed_precision": str,
    "activation_checkpointing": bool,
    "cpu_offload": bool,
}
VERSUS_GAMES = 200


def register(subparsers: argparse._SubParsersAction) -> None:
    from algorithms.train_config import ALGORITHMS, SPOConfig
    from vz_env.settings import describe

    parser = subparsers.add_parser(
        "train",
        help="train a VLM by self-play (Iterative-SPO or a baseline)",
        description="Train a VLM on spy games. Settings come from --preset, then --config FILE (JSON with "
        "'algo', 'model', 'trainer' and 'env' sections), then the flags.",
        epilog=settings_epilog(SPOConfig, "'trainer' settings of --config FILE")
        + "\nThe 'env' section takes SpyConfig fields (docs/env.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--algo",
        choices=sorted(ALGORITHMS),
        default=None,
        help="a preset of the trainer's stage_schedule: iterative-spo (default, adaptive), grpo-decision "
        "(decision-only), selfplay-clue (clue-only)",
    )
    parser.add_argument(
        "--model", default=None, help="local Hugging Face VLM folder (default: the pretrained tiny VLM)"
    )
    for flag, name in FLAG_FIELDS.items():
        kind = FLAG_TYPES.get(name, int)
        parse = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
        parser.add_argument(
            f"--{flag.replace('_', '-')}", default=None, help=describe(SPOConfig, name), **parse
        )
    parser.add_argument("--out", default=None, help="run folder (default runs/ALGO-YYYYmmdd-HHMMSS)")
    parser.add_argument(
        "--resume", metavar="RUN_DIR", default=None, help="continue a run from its checkpoint"
    )
    parser.add_argument("--config", metavar="FILE", default=None, help="JSON run config")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None, help="default tiny (quick, CPU)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw curves at the end")
    parser.add_argument(
        "--versus-games",
        type=int,
        default=VERSUS_GAMES,
        metavar="N",
        help=f"at the end, play the trained policy against its frozen start over N games, seats and roles "
        f"swapped, and print its win rate with the 95%% interval (default {VERSUS_GAMES}; 0: skip)",
    )
    parser.set_defaults(func=run)


def settings_epilog(config_class: type, title: str) -> str:
    """Every field of a config class, one line each with its help text, default and rule, for --help."""
    import dataclasses

    from vz_env.settings import describe

    names = [f.name for f in dataclasses.fields(config_class)]
    width = max(map(len, names))
    lines = [f"  {name:<{width}}  {describe(config_class, name).replace('%%', '%')}" for name in names]
    return f"{title}:\n" + "\n".join(lines) + "\n"


def build_config(args: argparse.Namespace) -> dict[str, Any]:
    """The run config from preset, config file and flags, validated (ValueError names the bad field)."""
    from algorithms.run import run_config
    from algorithms.train_config import ALGORITHMS, SPOConfig

    preset = PRESETS[args.preset or DEFAULT_PRESET]
    data = read_config_file(args.config) if args.config else {}
    algo = args.algo or data.get("algo") or "iterative-spo"
    model = args.model or data.get("model")
    # The algorithm is a preset too: it comes before the file's settings, unless it is a flag.
    trainer = {**preset["trainer"], **ALGORITHMS.get(algo, {}), **data.get("trainer", {})}
    if args.algo:
        trainer.update(ALGORITHMS[args.algo])
    env = {**preset["env"], **data.get("env", {})}
    for flag, name in FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            trainer[name] = getattr(args, flag)
    try:
        return run_config(algo, model, SPOConfig.from_dict(trainer), env)
    except ValueError as err:
        where = f"--config {args.config}: " if args.config else ""
        raise CliError(f"{where}{err}") from None


def read_config_file(path: str) -> dict[str, Any]:
    """The JSON run config FILE, its shape checked: one line naming the file and the bad part otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CliError(f"--config {path} line {err.lineno}: not valid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"--config {path}: {err}") from None
    if not isinstance(data, dict):
        raise CliError(f"--config {path}: expected a JSON object with 'algo', 'model', 'trainer', 'env'")
    unknown = set(data) - {"algo", "model", "trainer", "env"}
    if unknown:
        raise CliError(f"--config {path}: unknown section(s) {', '.join(sorted(unknown))}")
    for key in ("algo", "model"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise CliError(f"--config {path}: {key} must be a string, got {data[key]!r}")
    for key in ("trainer", "env"):
        if not isinstance(data.get(key, {}), dict):
            raise CliError(f"--config {path}: {key} must be an object of settings, got {data[key]!r}")
    return data


def explicit_overrides(args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, Any]:
    """The saved config with only the settings the user passed explicitly applied (for --resume checks)."""
    wanted = json.loads(json.dumps(saved))
    if args.config or args.preset:
        return build_config(args)
    if args.algo:
        from algorithms.train_config import ALGORITHMS

        wanted["algo"] = args.algo
        wanted["trainer"].update(ALGORITHMS[args.algo])
    if args.model:
        wanted["model"] = args.model
    for flag, name in FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            wanted["trainer"][name] = getattr(args, flag)
    return wanted


def run(args: argparse.Namespace) -> int:
    from algorithms.run import load_run_config

    if args.versus_games < 0:
        raise CliError(f"--versus-games must be 0 or more, got {args.versus_games}")
    try:
        if args.resume:
            run_dir = Path(args.resume)
            saved, notes = load_run_config(run_dir)
            for note in notes:
                print(f"vz-spy train: {note}", file=sys.stderr)
            config = explicit_overrides(args, saved)
        else:
            config = build_config(args)
            run_dir = Path(args.out or f"runs/{config['algo']}-{time.strftime('%Y%m%d-%H%M%S')}")
            output_folder("--out", run_dir, free=True)
        rows = _train_with_progress(run_dir, config, bool(args.resume))
    except ValueError as err:
        raise CliError(str(err)) from None
    from algorithms.distributed import end_processes

    end_processes()  # the rest runs in the main process alone
    if not _is_main_process():
        return 0
    _summary(run_dir, rows)
    if not args.no_plot and rows:
        from algorithms.plot import plot_run

        print(f"curves: {plot_run(run_dir)}")
    if args.versus_games > 0 and rows:
        _versus_start(run_dir, config, args.versus_games)
    return 0


def _versus_start(run_dir: Path, config: dict[str, Any], games: int) -> None:
    """The trained policy against its frozen start (seats and roles swapped): win rate with its interval."""
    from rich.console import Console

    from algorithms.eval.versus_start import run_policies, summary_line, versus_start, write_report

    console = Console()
    trained, start = run_policies(run_dir, config)
    with console.status(f"playing {games} games: trained vs its start"):
        report = versus_start(trained, start, games, config["env"])
    report["policies"] = {"A": "trained", "B": "start"}
    console.print(summary_line(report), highlight=False, soft_wrap=True)
    console.print(f"head-to-head report: {write_report(run_dir, report)}")


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
        "clue_grounding",
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
    from algorithms.metrics import stages_trained
    from vz_env.turn import Phase

    stages = stages_trained(rows)
    switches = sum(row["next_stage"] != row["stage"] for row in rows)
    console.print(
        f"stages: decision {stages.count(Phase.DECISION)} iterations, clue {stages.count(Phase.CLUE)}; "
        f"stage switches {switches}"
    )
    console.print(f"metrics: {run_dir / 'metrics.jsonl'}")
