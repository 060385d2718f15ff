"""`vz-spy plot RUN_DIR`: training curves to PNG."""

from __future__ import annotations

import argparse

from vz_spy.cli import CliError
from vz_spy.paths import output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="draw a run's training curves to PNG")
    parser.add_argument("run_dir", help="a folder written by vz-spy train")
    parser.add_argument("--out", help="PNG path (default RUN_DIR/curves.png)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from algorithms.plot import plot_run

    if args.out:
        output_file("--out", args.out)
    try:
        path = plot_run(args.run_dir, args.out)
    except ValueError as err:
        raise CliError(str(err)) from None
    print(f"curves written to {path}")
    return 0
