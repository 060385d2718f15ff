"""`vz-spy tiny-model`: build the built-in tiny VLM into a folder, to inspect it or to smoke-test training."""

from __future__ import annotations

import argparse

from vz_spy.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tiny-model` subcommand."""
    from agents.tiny_vlm import FAMILIES

    parser = subparsers.add_parser(
        "tiny-model",
        help="build a tiny random-weight VLM (local tokenizer, real processor) into a folder",
        description="Build a tiny random-weight VLM with a locally trained tokenizer and the family's "
        "real processor, saved with save_pretrained so it loads like any Hugging Face model. "
        "Nothing is downloaded.",
    )
    parser.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    parser.add_argument("--family", choices=FAMILIES, default="qwen2_5_vl", help="model family (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (%(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the model and print where it went."""
    from agents.tiny_vlm import build_tiny_vlm

    try:
        path = build_tiny_vlm(args.out, family=args.family, seed=args.seed)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:
        raise CliError(str(err)) from err
    print(f"tiny {args.family} VLM (seed {args.seed}) written to {path}")
    return 0
