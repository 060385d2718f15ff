"""Can more deduction training mend the votes? A tiny VLM's deduction phase continued with chosen settings.

Continues `tiny_vlm.deduction`'s trainer from a model folder (e.g. a build's `OUT.build/deduction`) in one
curriculum stage that never advances, with its rows, rehearsal and learning rate set from the command
line, and `--colour-rows` extra odd-clue rows a step whose spy differs in colour only (the comparison
`benchmarks/deduction_profile.py` finds missing). With `--number-loss` it trains odd-clue rows alone, a
share `--colour-share` of them colour-only, with the cross-entropy at the vote's number alone
(`tiny_vlm.deduction.ComparisonTrainer`) instead. Every `--eval-every` steps it prints the held-out
accuracy of each form, of real games' votes (`play`) and of colour-only `short` rows (chance about 0.33).

    nice python benchmarks/deduction_continuation.py --model OUT.build/deduction [--stage play]
        [--steps 300] [--vote-games 8] [--colour-rows 0] [--learning-rate 1e-3] [--out DIR]
        [--number-loss [--colour-share 0.5]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np
import torch

from tiny_vlm import resolve_model
from tiny_vlm.data import Example
from tiny_vlm.deduction import STAGES, ComparisonTrainer, DeductionConfig, DeductionTrainer
from tiny_vlm.odd_clues import COLOUR_ONLY, FORMS, odd_clue_examples

COLOUR_ROWS_SEED = 99_000_000
NEVER = 2.0  # an accuracy no check reaches: the stage holds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the shipped tiny VLM)")
    parser.add_argument("--stage", choices=STAGES, default="play", help="the curriculum stage to train in")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rows", type=int, default=None, help="odd-clue rows a step (default: the stage's)")
    parser.add_argument("--colour-rows", type=int, default=0, help="extra colour-only rows a step")
    parser.add_argument("--vote-games", type=int, default=4, help="teacher games' votes a step (play)")
    parser.add_argument("--label-noise", type=float, default=0.0, help="share of noisy labels (play)")
    parser.add_argument("--pictures", type=int, default=16, help="rehearsed pictures a step")
    parser.add_argument("--choices", type=int, default=4, help="rehearsed choice rows a step")
    parser.add_argument(
        "--number-loss", action="store_true", help="odd-clue rows alone, the number's cross-entropy alone"
    )
    parser.add_argument("--colour-share", type=float, default=0.5, help="colour-only share (--number-loss)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="save the continued model here at the end")
    args = parser.parse_args(argv)
    if args.number_loss and args.stage == "play":
        parser.error("--number-loss trains odd-clue rows alone: choose --stage short, round or game")
    return args


def continuation_config(args: argparse.Namespace) -> DeductionConfig:
    """The deduction settings of this run: one stage held, a constant learning rate after warm-up."""
    base = DeductionConfig()
    rows = list(base.rows_per_step)
    if args.rows is not None:
        rows[STAGES.index(args.stage)] = args.rows
    return dataclasses.replace(
        base,
        steps=args.steps,
        learning_rate=args.learning_rate,
        warmup_steps=10,
        decay_share=0.0,
        rows_per_step=tuple(rows),
        advance_at=(NEVER,) * len(FORMS),
        eval_every=args.eval_every,
        label_noise=args.label_noise,
        vote_games_per_step=args.vote_games,
        pictures_per_step=args.pictures,
        choice_rows_per_step=args.choices,
    )


class ColourRows(DeductionTrainer):
    """The deduction trainer with `extra` colour-only odd-clue rows of the stage's form in every step."""

    def __init__(self, *args: object, extra: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.extra = extra

    def examples(self, step: int) -> list[Example]:
        """The stage's rows, plus the colour-only ones."""
        colour = odd_clue_examples(self.rng, self.extra, self.form, attributes=COLOUR_ONLY)
        return super().examples(step) + colour


def main(argv: list[str] | None = None) -> int:
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = continuation_config(args)
    model = resolve_model(args.model)
    torch.manual_seed(args.seed)
    policy = HFVLMPolicy(model, device="cpu", dtype=torch.float32, max_new_tokens=24, seed=args.seed)
    settings = dataclasses.replace(PretrainConfig(), learning_rate=config.learning_rate, aux_weight=0.0)
    trainer = Pretrainer(policy, settings, config.lr_factor, config.deduce_weight)
    deducer = (
        ComparisonTrainer(trainer, config, args.seed, args.colour_share)
        if args.number_loss
        else ColourRows(trainer, config, args.seed, extra=args.colour_rows)
    )
    deducer.curriculum.stage = STAGES.index(args.stage)
    colour = odd_clue_examples(np.random.default_rng(COLOUR_ROWS_SEED), 300, "short", attributes=COLOUR_ONLY)
    began = time.perf_counter()
    votes, shades = trainer.deduction_accuracy(deducer.held_out_play()), trainer.deduction_accuracy(colour)
    print(f"{model}, stage {args.stage}: real votes {votes:.3f}, colour-only short rows {shades:.3f}")
    for step in range(config.steps):
        deducer.step(step)
        if (step + 1) % config.eval_every == 0:
            point = dict(deducer.curriculum.curve[-1])
            point["colour-only short"] = round(trainer.deduction_accuracy(colour), 3)
            point["minutes"] = round((time.perf_counter() - began) / 60, 1)
            print(json.dumps(point), flush=True)
    if args.out:
        policy.model.save_pretrained(args.out)
        policy.processor.save_pretrained(args.out)
    print(f"deduction continuation: {config.steps} steps in {(time.perf_counter() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
