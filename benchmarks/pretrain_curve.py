"""Format-phase curve of the default tiny VLM's recipe: clue grounding and format validity against minutes.

Runs the recipe's format phase (`tiny_vlm.pretrain.pretrain`, the first phase of `tiny_vlm.build`; the
deduction phase's curve is in the shipped model's stamp) and, every --eval-every steps, plays --eval-games
held-out games with the model in every seat (temperature 0.8, as in play). Prints the parameter count and
image tokens per picture, then one row per evaluation: step, wall and CPU minutes of training so far
(evaluation excluded), answer / vision / word losses, valid clues, well-formed votes, N/A votes, grounded
clues. With --out the model is kept.

    nice python benchmarks/pretrain_curve.py [--eval-every 100] [--eval-games 200] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from agents.hf_vlm import HFVLMPolicy
from tiny_vlm.evaluation import format_report
from tiny_vlm.pretrain import PretrainConfig, pretrain


def image_tokens(policy: HFVLMPolicy) -> int:
    """Image tokens of one 320x240 picture (the game's default size) after the model's processor."""
    prompt = policy.encode({"prompt": "x", "image": Image.fromarray(np.zeros((240, 320, 3), np.uint8))})
    return int((prompt.input_ids == policy.model.config.image_token_id).sum())


class Curve:
    """The build's step callback: evaluates every few steps and keeps training time apart from eval time."""

    def __init__(self, steps: int, every: int, games: int) -> None:
        self.steps, self.every, self.games = steps, every, games
        self.eval_wall = self.eval_cpu = 0.0
        self.start_wall, self.start_cpu = time.perf_counter(), time.process_time()

    def __call__(self, step: int, losses: dict[str, float], policy: HFVLMPolicy) -> None:
        done = step + 1
        if done == 1:
            params = sum(p.numel() for p in policy.model.parameters())
            print(f"parameters {params:,}; image tokens per 320x240 picture {image_tokens(policy)}")
            print("step  wall_min  cpu_min  loss   vision  word   valid_clue  valid_vote  na     grounding")
        if done % 10 == 0:
            text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
            print(f"  step {done}: {text}", file=sys.stderr, flush=True)
        if done % self.every and done != self.steps:
            return
        wall = time.perf_counter() - self.start_wall - self.eval_wall
        cpu = time.process_time() - self.start_cpu - self.eval_cpu
        eval_wall, eval_cpu = time.perf_counter(), time.process_time()
        policy.reset(0)
        report = format_report(policy, self.games)
        self.eval_wall += time.perf_counter() - eval_wall
        self.eval_cpu += time.process_time() - eval_cpu
        print(
            f"{done:4d}  {wall / 60:8.2f}  {cpu / 60:7.2f}  {losses['loss']:.3f}  {losses['aux_loss']:.3f}   "
            f"{losses['word_loss']:.3f}  {report['valid_clue_rate']:10.3f}  "
            f"{report['valid_vote_rate']:10.3f}  "
            f"{report['na_rate']:.3f}  {report['grounding_rate']:9.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = PretrainConfig()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-games", type=int, default=200)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", default=None, help="keep the model in this new folder")
    args = parser.parse_args()
    config = dataclasses.replace(defaults, steps=args.steps, seed=args.seed)
    print(f"config {config}", flush=True)
    curve = Curve(config.steps, args.eval_every, args.eval_games)
    with tempfile.TemporaryDirectory() as scratch:
        out: Any = Path(args.out) if args.out else Path(scratch) / "model"
        pretrain(out, config, curve)
    print(f"total wall {(time.perf_counter() - curve.start_wall) / 60:.2f} min", flush=True)


if __name__ == "__main__":
    main()
