"""Learning check: after a format-only warm-start, Iterative-SPO lifts the tiny VLM's votes from chance.

Proof that the RL update itself learns. On a learnable variant, the spy always sits in the same seat
(SpyConfig.spy_seat), so the right vote needs no perception: a civilian only has to learn to name that
seat. The built-in tiny VLM (random weights) first gets `vz-spy sft`'s warm-start on ordinary games (the
spy drawn as usual; votes uniform over the other players), which teaches \\boxed{...} answers but not
the seat; then Iterative-SPO self-play trains it on the variant. Every knob is an SPOConfig field or an
env kwarg (below). Prints the accuracy of every iteration and ends with
`learning check: accuracy A -> B in M min` (B: mean of the last 3 iterations; M: wall time of it all).
Exit status 1 when B < --target or M > --budget-min.

    python benchmarks/learning_check.py [--iterations 25] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from agents.hf_vlm import HFVLMPolicy
from algorithms.run import run_config, train
from algorithms.sft import SFTConfig, format_report, warm_start
from algorithms.train_config import DEFAULT_LORA_TARGETS, SPOConfig

ENV: dict[str, Any] = {"image_size": (64, 48), "num_rounds": 1}
SPY_SEAT = 2
TRAINER: dict[str, Any] = {
    "games_per_iter": 8,
    "group_size": 8,
    "max_new_tokens": 12,
    "learning_rate": 3e-3,
    "lr_schedule": "constant",
    "warmup_ratio": 0.0,
    "beta_kl": 0.01,
    # The tiny model's digit logits move far faster with an adapter on the output head too.
    "lora_targets": f"({DEFAULT_LORA_TARGETS})|lm_head",
    "checkpoint_every": 1000,
}
SFT = {"games": 32, "epochs": 4, "learning_rate": 5e-3}
CHECK_GAMES = 16


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default=None, help="folder for the warm-started model and the run (default: temp)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (tiny matrices: 1 is fastest)"
    )
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--budget-min", type=float, default=10.0)
    return parser.parse_args(argv)


def warm_started_model(folder: Path, seed: int) -> Path:
    """The tiny VLM after the format-only warm-start on ordinary games; prints its accuracy on the variant."""
    summary = warm_start(None, folder, SFTConfig(seed=seed, **SFT), ENV)
    print(
        f"warm-start: {summary['examples']} turns, loss {summary['first_loss']:.2f} -> "
        f"{summary['last_loss']:.2f} in {summary['seconds']:.0f} s"
    )
    policy = HFVLMPolicy(folder, seed=seed, max_new_tokens=TRAINER["max_new_tokens"])
    report = format_report(policy, CHECK_GAMES, seed + 10_000, {**ENV, "spy_seat": SPY_SEAT})
    print(
        f"warm-start on the fixed-seat variant ({CHECK_GAMES} games): valid clues "
        f"{report['valid_clue_rate']:.2f}, valid votes {report['valid_vote_rate']:.2f}, decision accuracy "
        f"{report['decision_accuracy']:.2f} ({report['valid_vote_accuracy']:.2f} of valid votes; "
        f"chance {report['chance']:.2f})"
    )
    return folder


def self_play(model: Path, run_dir: Path, iterations: int, seed: int, started: float) -> list[dict[str, Any]]:
    """Iterative-SPO on the fixed-seat variant; prints each iteration's stage, accuracy and timing."""
    trainer = SPOConfig.from_dict({**TRAINER, "iterations": iterations, "seed": seed})
    config = run_config("iterative-spo", str(model), trainer, {**ENV, "spy_seat": SPY_SEAT})
    print(
        f"iterative-spo: {trainer.games_per_iter} games x G={trainer.group_size} per iteration, run {run_dir}"
    )

    def show(row: dict[str, Any]) -> None:
        print(
            f"  iter {row['iteration']:3d}  {row['stage']:8s}  accuracy {row['decision_accuracy']:.2f}  "
            f"invalid votes {row['invalid_vote_rate']:.2f}  kl {row['kl']:.3f}  "
            f"{row['seconds_total']:4.1f} s  (at {(time.perf_counter() - started) / 60:.1f} min)",
            flush=True,
        )

    return train(run_dir, config, on_iteration=show)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*save_embedding_layers.*")
    out = Path(args.out or tempfile.mkdtemp(prefix="vz-learning-check-"))
    started = time.perf_counter()
    model = warm_started_model(out / "warm-start", args.seed)
    rows = self_play(model, out / "run", args.iterations, args.seed, started)
    minutes = (time.perf_counter() - started) / 60
    curve = [row["decision_accuracy"] for row in rows]
    start, end = curve[0], sum(curve[-3:]) / len(curve[-3:])
    reached = next((row["iteration"] for row in rows if row["decision_accuracy"] >= args.target), None)
    print("curve: " + " ".join(f"{a:.2f}" for a in curve))
    stages = ", ".join(sorted({row["stage"] for row in rows}))
    print(f"stages trained: {stages}; first iteration at accuracy >= {args.target}: {reached}")
    print(f"learning check: accuracy {start:.2f} -> {end:.2f} in {minutes:.1f} min")
    return 0 if end >= args.target and minutes <= args.budget_min else 1


if __name__ == "__main__":
    sys.exit(main())
