"""Game options shared by the subcommands that play games (play, eval, train)."""

from __future__ import annotations

import argparse
from typing import Any

from tiny_vlm import world as tiny
from vz_spy.cli import CliError


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 320x240, got {text!r}") from None
    return width, height


def default_images(policies: list[str | None]) -> str:
    """The --images default: the tiny VLM's own world when it plays (a spec in tiny.NAMES), else clevr."""
    from vz_env.config import SpyConfig

    return tiny.WORLD if tiny.NAMES.intersection(policies) else SpyConfig.images


def images_help() -> str:
    """The --images help: SpyConfig's text, and the default that depends on who plays."""
    from vz_env.config import SpyConfig
    from vz_env.settings import field_help

    return (
        f"{field_help(SpyConfig, 'images')} (default: {tiny.WORLD}, the built-in tiny VLM's own "
        f"world, when it plays; else {SpyConfig.images})"
    )


ENV_FLAGS = {
    "num_players": "--players",
    "num_spies": "--spies",
    "num_rounds": "--rounds",
    "images": "--images",
    "image_size": "--size",
    "decision_mode": "--decision-mode",
}


def add_env_options(parser: argparse.ArgumentParser) -> None:
    """The game flags, with SpyConfig's defaults and help texts."""
    from vz_env.config import DECISION_MODES, SpyConfig
    from vz_env.settings import describe

    group = parser.add_argument_group("game (SpyConfig fields; the others are listed in docs/env.md)")
    for field, flag in ENV_FLAGS.items():
        kind = {"images": str, "image_size": parse_size, "decision_mode": str}.get(field, int)
        group.add_argument(
            flag,
            type=kind,
            default=None if field == "images" else getattr(SpyConfig, field),
            choices=DECISION_MODES if field == "decision_mode" else None,
            metavar="WxH" if field == "image_size" else None,
            help=images_help() if field == "images" else describe(SpyConfig, field),
        )


def env_kwargs_from(args: argparse.Namespace, policies: list[str | None]) -> dict[str, Any]:
    """SpyConfig keyword arguments from the game options, validated now so bad ones fail in one line.

    `policies` are the specs that will play: without --images, the tiny VLM plays its own world.
    """
    from vz_env.config import SpyConfig

    images = args.images if args.images is not None else default_images(policies)
    kwargs = {
        "num_players": args.players,
        "num_spies": args.spies,
        "num_rounds": args.rounds,
        "images": images,
        "image_size": args.size,
        "decision_mode": args.decision_mode,
    }
    try:
        SpyConfig.from_kwargs(**kwargs)
        from vz_env.data import resolve_source

        resolve_source(images)
    except ValueError as err:
        raise CliError(str(err)) from None
    return kwargs
