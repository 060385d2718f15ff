"""`vz-spy tiny-model`: build the tiny VLM into a folder, random (tests) or `--pretrained` (the default)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from vz_spy.cli import CliError
from vz_spy.paths import output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tiny-model` subcommand."""
    from agents.tiny_families import family_names

    parser = subparsers.add_parser(
        "tiny-model",
        help="build a tiny VLM (local tokenizer, real processor) into a folder: random or --pretrained",
        description="Build a tiny VLM with a locally trained tokenizer and the family's real processor, "
        "saved with save_pretrained so it loads like any Hugging Face model. Nothing is "
        "downloaded. By default its weights are random (the test model); --pretrained trains "
        "it here by the default model's recipe (tiny_vlm.build): to describe objects of its picture, "
        "to answer in the game's format, to single out the odd clue and to vote in real games. The build "
        "is checkpointed: run the same command again to resume it (hours on two CPU cores).",
    )
    parser.add_argument("--out", required=True, help="folder to create (must not exist or be empty)")
    parser.add_argument(
        "--family",
        choices=family_names(),
        default="qwen2_5_vl",
        help="model family (%(default)s); one the installed transformers lacks is refused",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and data (%(default)s)")
    parser.add_argument(
        "--pretrained", action="store_true", help="pretrain the qwen2_5_vl model (the default model's recipe)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="format-phase steps of --pretrained (default: the recipe's)"
    )
    parser.add_argument(
        "--deduction-steps",
        type=int,
        default=None,
        help="deduction-phase steps of --pretrained (default: the recipe's)",
    )
    parser.add_argument(
        "--play-steps",
        type=int,
        default=None,
        help="play-phase steps of --pretrained (default: the recipe's)",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="end this sitting after this many deduction and play steps, checkpointed; the same command "
        "resumes",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the model and print where it went."""
    output_folder("--out", args.out, free=True)
    if args.pretrained:
        return _run_pretrained(args)
    phase_flags = (args.steps, args.deduction_steps, args.play_steps, args.stop_after)
    if any(value is not None for value in phase_flags):
        raise CliError("--steps, --deduction-steps, --play-steps and --stop-after need --pretrained")
    from agents.tiny_vlm import build_tiny_vlm

    try:
        path = build_tiny_vlm(args.out, family=args.family, seed=args.seed)
    except (FileExistsError, NotADirectoryError, PermissionError, ValueError) as err:
        raise CliError(str(err)) from err
    print(f"tiny {args.family} VLM (seed {args.seed}) written to {path}")
    return 0


def _run_pretrained(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    if args.family != "qwen2_5_vl":
        raise CliError("--pretrained builds the qwen2_5_vl family only")
    counts = {
        "--steps": args.steps,
        "--deduction-steps": args.deduction_steps,
        "--play-steps": args.play_steps,
        "--stop-after": args.stop_after,
    }
    for flag, value in counts.items():
        if value is not None and value < 1:
            raise CliError(f"{flag} must be at least 1, got {value}")
    from tiny_vlm.build import Recipe, build, work_folder

    recipe = Recipe()
    recipe = dataclasses.replace(recipe, format=dataclasses.replace(recipe.format, seed=args.seed))
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, format=dataclasses.replace(recipe.format, steps=args.steps))
    if args.deduction_steps is not None:
        deduction = dataclasses.replace(recipe.deduction, steps=args.deduction_steps)
        recipe = dataclasses.replace(recipe, deduction=deduction)
    if args.play_steps is not None:
        stage = dataclasses.replace(recipe.play.stage, steps=args.play_steps)
        recipe = dataclasses.replace(recipe, play=dataclasses.replace(recipe.play, stage=stage))
    out = Path(args.out).expanduser()
    work = work_folder(out.resolve())
    output_folder("--out", work)
    if work.is_dir() and any(work.iterdir()):
        print(f"resuming the build from what {work} holds", flush=True)
    try:
        with _progress_bar() as on_progress:
            path = build(out, recipe, on_progress, stop_after=args.stop_after)
    except (FileExistsError, NotADirectoryError, PermissionError, ValueError) as err:
        raise CliError(str(err)) from err
    if path is None:
        print(f"stopped after {args.stop_after} steps; run the same command again to resume from {work}")
        return 0
    steps = f"{recipe.format.steps} + {recipe.deduction.steps} + {recipe.play.stage.steps} steps"
    print(f"pretrained tiny qwen2_5_vl VLM (seed {args.seed}, {steps}) written to {path}")
    return 0


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int, dict[str, float]], None]]:
    """A progress bar on stderr, one task per phase, fed by the build's progress callback."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}  loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
    )
    tasks: dict[str, Any] = {}
    with Progress(*columns, console=Console(stderr=True)) as bar:

        def update(phase: str, step: int, total: int, losses: dict[str, float]) -> None:
            name = phase.split(" ")[0]
            if name not in tasks:
                tasks[name] = bar.add_task(phase, total=total, completed=step - 1, loss=float("nan"))
            bar.update(tasks[name], description=phase, completed=step, loss=losses["loss"])

        yield update
