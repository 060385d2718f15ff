"""`vz-spy eval`: games of one policy against another, with win rates and 95% intervals."""

from __future__ import annotations

import argparse
import json

from vz_spy.cli import CliError
from vz_spy.options import add_env_options, env_kwargs_from
from vz_spy.paths import output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="play policy A against policy B and report win rates",
        description="Play M games of policy A against policy B (each seed twice, sides swapped) and report "
        "win rate per role with 95%% Wilson intervals, decision accuracy, N/A and invalid rates, and clue "
        "grounding (clues naming the colour and shape of an object in the speaker's own scene). "
        "A policy is 'scene', 'random', 'tiny' (the tiny VLM shipped with the package) or a local "
        "Hugging Face model folder, vllm:FOLDER, or openai:MODEL@URL;key=VAR for a served model.",
    )
    parser.add_argument("--a", default="tiny", help="policy A (default: tiny)")
    parser.add_argument("--b", default="scene", help="policy B (default: scene)")
    parser.add_argument(
        "--games", type=int, default=32, help="number of games, rounded up to even (default 32)"
    )
    parser.add_argument("--batch", type=int, default=16, help="games played in lock-step per batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    add_env_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from algorithms.eval.head_to_head import evaluate
    from algorithms.players import load_player
    from vz_env.atomic import atomic_write_text

    if args.games < 1 or args.batch < 1:
        raise CliError("--games and --batch must be at least 1")
    if args.json:
        output_file("--json", args.json)
    env_kwargs = env_kwargs_from(args, [args.a, args.b])
    try:
        policy_a = load_player(args.a, seed=args.seed)
        policy_b = load_player(args.b, seed=args.seed + 1)
    except ValueError as err:
        raise CliError(str(err)) from None
    from rich.console import Console

    console = Console()
    with console.status(f"playing {args.games} games: {args.a} vs {args.b}"):
        report = evaluate(policy_a, policy_b, args.games, args.seed, env_kwargs, args.batch)
    report["policies"] = {"A": args.a, "B": args.b}
    console.print(report_table(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        console.print(f"report written to {args.json}")
    return 0


def report_table(report: dict):
    """The evaluation report as a rich table, one row per metric, one column per policy."""
    from rich.table import Table

    names = report["policies"]
    table = Table(
        title=f"{names['A']} (A) vs {names['B']} (B), {report['games']} games, 95% Wilson intervals"
    )
    table.add_column("metric")
    for side in ("A", "B"):
        table.add_column(f"{side}: {names[side]}")
    for metric in report["A"]:
        cells = []
        for side in ("A", "B"):
            entry = report[side][metric]
            low, high = entry["ci95"]
            cells.append(f"{entry['rate']:.3f} [{low:.3f}, {high:.3f}] (n={entry['n']})")
        table.add_row(metric.replace("_", " "), *cells)
    return table
