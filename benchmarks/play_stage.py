"""The recipe's `play` stage, which the shipped build never reached, continued from the shipped weights.

The shipped build's deduction phase ended in its `game` stage (held-out accuracy 0.53 < 0.60), so the
`play` stage never ran: real games' civilian votes (their pictures and prompts) labelled by the deducing
teacher, a share `label_noise` of them spy-blind, so that the model stays unsure of answers it ranks
first. This script runs that stage alone from the shipped model (a fresh optimiser, the recipe's
deduction settings otherwise: `tiny_vlm.deduction.DeductionConfig`), prints the held-out curve every
--eval-every steps and saves the model there as OUT/step-N, a folder any command takes as a model
(`python benchmarks/vote_headroom.py --model OUT/step-N`, `python benchmarks/learning_check.py --model
OUT/step-N`). An experiment towards a longer recipe, not the recipe: its folders carry no stamp.

    nice python benchmarks/play_stage.py --steps 600 --out DIR [--label-noise 0.4] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from agents.hf_quiet import quiet_hf
from agents.hf_vlm import HFVLMPolicy
from tiny_vlm.build import Recipe
from tiny_vlm.deduction import STAGES, DeductionTrainer
from tiny_vlm.pretrain import Pretrainer
from tiny_vlm.shipped import shipped_model_path

SEED = 1  # apart from the shipped build's seed 0, so that its rows are not replayed
CARRIED = ("chat_template.jinja", "generation_config.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--out", required=True, help="folder for the step-N models")
    parser.add_argument("--label-noise", type=float, default=None, help="default: the recipe's")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser.parse_args(argv)


def save(policy: HFVLMPolicy, folder: Path) -> None:
    """The model and processor as a model folder, with the shipped chat template and generation config."""
    with quiet_hf():
        policy.model.save_pretrained(folder)
        policy.processor.save_pretrained(folder)
    for name in CARRIED:
        if not (folder / name).exists():
            shutil.copy(shipped_model_path() / name, folder / name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"play_stage: {out} is not empty")
    recipe = Recipe()
    changes = {"steps": args.steps, "eval_every": args.eval_every}
    if args.label_noise is not None:
        changes["label_noise"] = args.label_noise
    config = dataclasses.replace(recipe.deduction, **changes)
    torch.manual_seed(SEED)
    policy = HFVLMPolicy(
        str(shipped_model_path()), device="cpu", dtype=torch.float32, max_new_tokens=24, seed=SEED
    )
    phase = dataclasses.replace(recipe.format, learning_rate=config.learning_rate, aux_weight=0.0)
    pretrainer = Pretrainer(policy, phase, config.lr_factor, config.deduce_weight)
    deducer = DeductionTrainer(pretrainer, config, SEED)
    deducer.curriculum.stage = STAGES.index("play")
    start = pretrainer.deduction_accuracy(deducer.held_out_play())
    print(f"play stage from {shipped_model_path()}: held-out real votes {start:.3f} at step 0", flush=True)
    wall, cpu = time.perf_counter(), time.process_time()
    for step in range(args.steps):
        deducer.step(step)
        if (step + 1) % args.eval_every == 0:
            save(policy, out / f"step-{step + 1}")
            minutes = (time.perf_counter() - wall) / 60
            cpu_minutes = (time.process_time() - cpu) / 60
            print(
                json.dumps(deducer.curriculum.curve[-1]) + f"  {minutes:.1f} min ({cpu_minutes:.1f} CPU)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
