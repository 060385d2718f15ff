"""`vz-spy tiny-model`: build the tiny VLM into a folder, random (tests) or `--pretrained` (the default)."""

from __future__ import annotations

import argparse

from vz_spy.cli import CliError
from vz_spy.paths import output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tiny-model` subcommand."""
    from agents.tiny_vlm import FAMILIES

    parser = subparsers.add_parser(
        "tiny-model",
        help="build a tiny VLM (local tokenizer, real processor) into a folder: random or --pretrained",
        description="Build a tiny VLM with a locally trained tokenizer and the family's real processor, "
        "saved with save_pretrained so it loads like any Hugging Face model. Nothing is "
        "downloaded. By default its weights are random (the test model); --pretrained trains "
        "it here, on scenes made on the fly, to describe objects of its picture and to answer"
        " in the game's format (the default model of train, play and eval; a few to twenty "
        "minutes on two CPU cores).",
    )
    parser.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    parser.add_argument("--family", choices=FAMILIES, default="qwen2_5_vl", help="model family (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and data (%(default)s)")
    parser.add_argument(
        "--pretrained", action="store_true", help="pretrain the qwen2_5_vl model (the default model's recipe)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="pretraining steps (default: the default model's)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the model and print where it went."""
    output_folder("--out", args.out, free=True)
    if args.pretrained:
        return _run_pretrained(args)
    if args.steps is not None:
        raise CliError("--steps needs --pretrained")
    from agents.tiny_vlm import build_tiny_vlm

    try:
        path = build_tiny_vlm(args.out, family=args.family, seed=args.seed)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:
        raise CliError(str(err)) from err
    print(f"tiny {args.family} VLM (seed {args.seed}) written to {path}")
    return 0


def _run_pretrained(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    if args.family != "qwen2_5_vl":
        raise CliError("--pretrained builds the qwen2_5_vl family only")
    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps must be at least 1, got {args.steps}")
    out = Path(args.out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out} already exists and is not an empty folder")
    from agents.default_model import build_pretrained
    from agents.pretrain import PretrainConfig

    config = PretrainConfig(seed=args.seed)
    if args.steps is not None:
        config = dataclasses.replace(config, steps=args.steps)
    try:
        path = build_pretrained(out, config)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:
        raise CliError(str(err)) from err
    print(f"pretrained tiny qwen2_5_vl VLM (seed {args.seed}, {config.steps} steps) written to {path}")
    return 0
