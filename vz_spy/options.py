"""Game options shared by the subcommands that play games (play, eval, train)."""

from __future__ import annotations

import argparse
from typing import Any

from vz_spy.cli import CliError


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 320x240, got {text!r}") from None
    return width, height


def add_env_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("game")
    group.add_argument("--players", type=int, default=4, help="players per game (default 4)")
    group.add_argument("--spies", type=int, default=1, help="spies per game (default 1)")
    group.add_argument("--rounds", type=int, default=2, help="clue rounds (default 2)")
    group.add_argument("--images", default="clevr", help="image kind (clevr, charts) or a folder of pairs")
    group.add_argument("--size", type=parse_size, default=(320, 240), help="image size WxH (default 320x240)")
    group.add_argument(
        "--decision-mode",
        choices=("vote", "observer"),
        default="vote",
        help="who names the spy (default vote)",
    )


def env_kwargs_from(args: argparse.Namespace) -> dict[str, Any]:
    """SpyConfig keyword arguments from the game options, validated now so bad ones fail in one line."""
    from vz_env.config import SpyConfig

    kwargs = {
        "num_players": args.players,
        "num_spies": args.spies,
        "num_rounds": args.rounds,
        "images": args.images,
        "image_size": args.size,
        "decision_mode": args.decision_mode,
    }
    try:
        SpyConfig.from_kwargs(**kwargs)
        from vz_env.data import resolve_source

        resolve_source(args.images)
    except ValueError as err:
        raise CliError(str(err)) from None
    return kwargs
