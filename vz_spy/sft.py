"""`vz-spy sft`: a short supervised warm-start teaching a VLM the answer format, saved as a model folder."""

from __future__ import annotations

import argparse
from typing import Any

from vz_spy.cli import CliError
from vz_spy.options import add_env_options, env_kwargs_from
from vz_spy.paths import output_folder

SFT_FLAGS = {
    "--games": "games",
    "--epochs": "epochs",
    "--lr": "learning_rate",
    "--batch-size": "batch_size",
    "--seed": "seed",
}  # flag -> SFTConfig field


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sft` subcommand."""
    from algorithms.sft_config import SFTConfig
    from vz_env.settings import describe

    parser = subparsers.add_parser(
        "sft",
        help="warm-start a VLM on the answer format (boxed clues and votes) before self-play",
        description="Play bot games and fine-tune the model on their answers: SceneBot's clues as "
        "\\boxed{clue} and votes \\boxed{N} for a player drawn uniformly among the others, so it learns the "
        "format, not who the spy is. Writes a full model folder (model + processor) usable as "
        "`vz-spy train --model OUT`.",
    )
    parser.add_argument("--out", required=True, help="model folder to create (must not exist or be empty)")
    parser.add_argument(
        "--model", default=None, help="local Hugging Face VLM folder (default: the pretrained tiny VLM)"
    )
    for flag, name in SFT_FLAGS.items():
        kind = float if name == "learning_rate" else int
        parser.add_argument(flag, type=kind, default=getattr(SFTConfig, name), help=describe(SFTConfig, name))
    parser.add_argument(
        "--check-games",
        type=int,
        default=8,
        help="self-play games to check the result on (0: skip; default 8)",
    )
    add_env_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Warm-start, save, then reload the folder and report how well its answers parse."""
    from agents.hf_vlm import HFVLMPolicy
    from algorithms.sft import SFTConfig, format_report, free_folder

    env_kwargs = env_kwargs_from(args, [args.model or "tiny"])
    output_folder("--out", args.out, free=True)
    if args.check_games < 0:
        raise CliError(f"--check-games must be >= 0, got {args.check_games}")
    try:
        config = SFTConfig(
            **{name: getattr(args, flag[2:].replace("-", "_")) for flag, name in SFT_FLAGS.items()}
        )
        free_folder(args.out)
        summary = _train_with_progress(args, config, env_kwargs)
    except (ValueError, FileExistsError, NotADirectoryError, PermissionError) as err:
        raise CliError(str(err)) from None
    print(
        f"format warm-start written to {summary['out']}: {summary['examples']} turns, "
        f"loss {summary['first_loss']:.3f} -> {summary['last_loss']:.3f} in {summary['seconds']:.0f} s"
    )
    if args.check_games:
        policy = HFVLMPolicy(summary["out"], seed=args.seed, max_new_tokens=64)
        report = format_report(policy, args.check_games, args.seed + args.games, env_kwargs)
        print(
            f"check on {args.check_games} self-play games: valid clues {report['valid_clue_rate']:.2f}, "
            f"valid votes {report['valid_vote_rate']:.2f}, "
            f"decision accuracy {report['decision_accuracy']:.2f} ({report['valid_vote_accuracy']:.2f} of "
            f"valid votes; chance {report['chance']:.2f})"
        )
    return 0


def _train_with_progress(args: argparse.Namespace, config: Any, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from algorithms.sft import warm_start

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[live]}")) as progress:
        task = progress.add_task("sft", total=None, live=f"playing {config.games} bot games")

        def show(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, live=f"loss {loss:.3f}")

        return warm_start(args.model, args.out, config, env_kwargs, on_step=show)
