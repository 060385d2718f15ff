"""`vz-spy league`: rate several policies against each other (the games and the fit live in algorithms)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from vz_spy.cli import CliError
from vz_spy.options import add_env_options, env_kwargs_from
from vz_spy.paths import output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "league",
        help="rate several policies against each other (Bradley-Terry with bootstrap intervals)",
        description="Every ordered pair of policies plays the same seeds, one holding the spy seats and the "
        "other every other seat. Each game is appended to OUT/games.jsonl as it ends, so a killed league "
        "resumes with the same command and --out. Prints ratings with 95%% bootstrap intervals, win rates, "
        "invalid-turn and N/A rates and the pairwise win matrix; writes OUT/ratings.json and "
        "OUT/ratings.png. A policy is anything `vz-spy eval` takes: scene, random, tiny, a model folder, "
        "vllm:FOLDER, or 'openai:MODEL@URL;key=VAR' (docs/agents.md).",
    )
    parser.add_argument("policies", nargs="+", metavar="POLICY", help="two or more policy specs")
    parser.add_argument(
        "--games", type=int, default=60, help="games in all, rounded up to a multiple of K(K-1) (default 60)"
    )
    parser.add_argument("--out", default=None, help="league folder (default runs/league-YYYYmmdd-HHMMSS)")
    parser.add_argument("--seed", type=int, default=0, help="first game seed (default 0)")
    parser.add_argument("--batch", type=int, default=8, help="games played in lock-step per call (default 8)")
    parser.add_argument(
        "--replicates", type=int, default=1000, help="bootstrap replicates for the intervals (default 1000)"
    )
    add_env_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from algorithms.eval.league import check_settings, play_league, read_games, schedule, summarize
    from algorithms.eval.league_plot import plot_ratings
    from algorithms.players import load_player
    from vz_env.atomic import atomic_write_text

    labels = list(args.policies)
    if len(labels) < 2:
        raise CliError(f"a league needs at least two policies, got one ({labels[0]})")
    if len(set(labels)) != len(labels):
        raise CliError(f"a policy is named twice: {' '.join(labels)}")
    if args.games < 1 or args.batch < 1 or args.replicates < 1:
        raise CliError("--games, --batch and --replicates must be at least 1")
    out = output_folder("--out", args.out or f"runs/league-{time.strftime('%Y%m%d-%H%M%S')}")
    env_kwargs = env_kwargs_from(args, labels)
    settings = {"policies": labels, "games": args.games, "seed": args.seed, "env": env_kwargs}
    console = Console()
    try:
        check_settings(out, settings)
        policies = {}
        for i, label in enumerate(labels):
            with console.status(f"loading {label}"):
                policies[label] = load_player(label, seed=args.seed + i)
    except ValueError as err:
        raise CliError(str(err)) from None
    total = len(schedule(len(labels), args.games, args.seed))
    done = len(read_games(out / "games.jsonl"))
    if done:
        console.print(f"resuming {out}: {done} of {total} games already played")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"league of {len(labels)}", total=total, completed=done)
        records = play_league(
            policies, args.games, out, args.seed, env_kwargs, args.batch, lambda _: progress.advance(task)
        )
    summary = summarize(records, labels, args.replicates)
    atomic_write_text(out / "ratings.json", json.dumps(summary, indent=2) + "\n")
    plot_ratings(summary, out / "ratings.png")
    console.print(ratings_table(summary))
    console.print(matrix_table(summary))
    console.print(f"games: {out / 'games.jsonl'}  ratings: {out / 'ratings.json'}, {out / 'ratings.png'}")
    return 0


def _rate(entry: dict[str, Any]) -> str:
    low, high = entry["ci95"]
    return f"{entry['rate']:.2f} [{low:.2f}, {high:.2f}]"


def ratings_table(summary: dict[str, Any]) -> Any:
    """One row per policy, best first: rating with its interval, games, win, invalid-turn and N/A rates."""
    from rich.table import Table

    table = Table(title=f"{summary['games']} games; {summary['rating']}")
    for column in ("#", "policy", "rating [95%]", "games", "win rate", "invalid turns", "N/A votes"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for rank, row in enumerate(summary["policies"], start=1):
        low, high = row["ci95"]
        table.add_row(
            str(rank),
            row["policy"],
            f"{row['rating']:.0f} [{low:.0f}, {high:.0f}]",
            str(row["games"]),
            _rate(row["win_rate"]),
            _rate(row["invalid_turn_rate"]),
            _rate(row["na_rate"]),
        )
    return table


def matrix_table(summary: dict[str, Any]) -> Any:
    """The share of games the row policy won against the column policy."""
    from rich.table import Table

    labels = summary["labels"]
    table = Table(title="wins: row vs column")
    table.add_column("")
    for label in labels:
        table.add_column(label, justify="right")
    for label, row in zip(labels, summary["win_matrix"]):
        table.add_row(label, *("-" if cell is None else f"{cell:.2f}" for cell in row))
    return table
