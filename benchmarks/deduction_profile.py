"""Where a tiny VLM's votes fail to deduce: held-out odd-clue accuracy split by what the spy's object
differs in and by the spy's seat.

A deducer that compares clues names the player whose clue differs from the rest. This splits the
held-out accuracy of each odd-clue form (`tiny_vlm.odd_clues`, clean labels, the likeliest listed number
counts; chance about 0.33) by the attribute that makes the spy's clue differ (colour, shape or both) and
by the spy's seat, so that a gap in one comparison or at one seat shows instead of averaging away.

    python benchmarks/deduction_profile.py [--model DIR] [--rows 600] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np
import torch

from tiny_vlm import resolve_model
from tiny_vlm.data import Example
from tiny_vlm.odd_clues import FORMS, told_examples

ROWS_SEED = 123_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the shipped tiny VLM)")
    parser.add_argument("--rows", type=int, default=600, help="held-out rows per form")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args(argv)


def split_rows(rows: list[tuple[Example, str]]) -> dict[str, list[Example]]:
    """The rows grouped by what changed ("changed color") and by the spy's seat ("spy at 1")."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for example, changed in rows:
        groups["all"].append(example)
        groups[f"changed {changed}"].append(example)
        groups[f"spy at {example.answer}"].append(example)
    return groups


def main(argv: list[str] | None = None) -> int:
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    began = time.perf_counter()
    model = resolve_model(args.model)
    scorer = Pretrainer(HFVLMPolicy(model, device="cpu", dtype=torch.float32, seed=0), PretrainConfig())
    print(f"model: {model}; {args.rows} held-out rows per form, clean labels")
    for index, form in enumerate(FORMS):
        rows = told_examples(np.random.default_rng(ROWS_SEED + index), args.rows, form)
        for name, examples in sorted(split_rows(rows).items()):
            accuracy = scorer.deduction_accuracy(examples)
            print(f"  {form:6s} {name:20s} {accuracy:.3f} ({len(examples)} rows)", flush=True)
    print(f"deduction profile: {(time.perf_counter() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
