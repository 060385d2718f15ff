"""The `vz-spy` console script: one subcommand per module, each importing its heavy needs lazily."""

from __future__ import annotations

import argparse
import importlib
import sys

from agents.chat_client import EndpointError

SUBCOMMANDS = ("play", "data", "train", "sft", "eval", "league", "plot", "export", "tiny_model")


class CliError(Exception):
    """A bad input the user can fix; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vz-spy", description="Vision-Zero spy game: play, make data, train, evaluate."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"vz_spy.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"vz_spy.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, EndpointError) as err:  # an endpoint that fails mid-game is one line too
        print(f"vz-spy {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nvz-spy {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
