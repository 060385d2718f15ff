"""Seconds per pretraining step of the default tiny VLM with the stock vision tower and with
`tiny_vlm.speedups` (batched attention, matmul patch embedding), interleaved step by step in one run.

Three trainers from the same random weights: the default recipe, the same with the stock tower, and the
previous default's recipe (`pretrain-3`: stock tower, no choice rows), so that a build's minutes can be
compared across days on a machine whose speed drifts. Also times the tower alone, forward and backward, on
one batch of pictures of the game's size.

    python benchmarks/vision_speedups.py [--steps 8] [--pictures 80] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=8, help="timed steps per trainer (after one warm-up step)"
    )
    parser.add_argument("--pictures", type=int, default=80, help="320x240 pictures in the tower-only batch")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    from agents.hf_vlm import HFVLMPolicy, stack_inputs
    from agents.tiny_vlm import TINY_SIZES, new_qwen2_5_vl
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as start:
        model, processor = new_qwen2_5_vl(0, TINY_SIZES["pretrain"])
        model.save_pretrained(start)
        processor.save_pretrained(start)
        configs = {
            "default": PretrainConfig(),
            "stock tower": PretrainConfig(fast_vision=False),
            "pretrain-3": PretrainConfig(fast_vision=False, choice_rows_per_step=0),
        }
        trainers = {
            name: Pretrainer(HFVLMPolicy(start, device="cpu", seed=0), config)
            for name, config in configs.items()
        }
    step_seconds = dict.fromkeys(trainers, 0.0)
    for trainer in trainers.values():
        trainer.step(0)
    for step in range(1, args.steps + 1):
        for name, trainer in trainers.items():
            began = time.perf_counter()
            trainer.step(step)
            step_seconds[name] += time.perf_counter() - began

    rng = np.random.default_rng(0)
    pictures = [
        {"prompt": "x", "image": Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))}
        for _ in range(args.pictures)
    ]
    tower_seconds = {}
    for name in ("stock tower", "default"):
        policy = trainers[name].policy
        batch = stack_inputs(policy.encode_batch(pictures), policy.pad_token_id, "right")
        runs = []
        for _ in range(4):
            began = time.perf_counter()
            out = policy.model.model.visual(
                batch["pixel_values"], grid_thw=batch["image_grid_thw"]
            ).pooler_output
            out.square().sum().backward()
            runs.append(time.perf_counter() - began)
        tower_seconds[name] = min(runs[1:])

    default = step_seconds["default"] / args.steps
    print(f"pretraining step, {args.threads} threads, mean of {args.steps}:")
    for name, seconds in step_seconds.items():
        print(
            f"  {name:12s} {seconds / args.steps:.2f} s  ({seconds / args.steps / default:.2f} x the default)"
        )
    stock, fast = tower_seconds["stock tower"], tower_seconds["default"]
    print(
        f"vision tower forward+backward, {args.pictures} pictures: stock {stock:.3f} s, "
        f"fast {fast:.3f} s, ratio {stock / fast:.2f}"
    )


if __name__ == "__main__":
    main()
