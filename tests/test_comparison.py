"""The comparison trainer: odd-clue rows alone, many colour-only, trained at the vote's number alone."""

import dataclasses
import re

import numpy as np
import pytest

from tiny_vlm.deduction import ComparisonTrainer, DeductionConfig
from tiny_vlm.odd_clues import odd_clue_examples


class NoModel:
    """Stands in for the pretrainer where only the rows are drawn."""


def colour_only(row) -> bool:
    """Whether a `short` row's spy differs from the others in colour alone."""
    lines = dict(re.findall(r"^(\d+): (\w+ \w+)$", row.observation["prompt"], re.M))
    spy_colour, spy_shape = lines.pop(str(row.answer)).split()
    return {clue.split()[1] for clue in lines.values()} == {spy_shape}


def test_rows_are_the_stages_forms_with_the_colour_share_and_no_rehearsal():
    config = DeductionConfig(rows_per_step=(400, 10, 10, 10), eval_rows=2)
    trainer = ComparisonTrainer(NoModel(), config, 0, colour_share=0.5)
    rows = trainer.examples(0)
    assert len(rows) == 400 and all(row.observation["prompt"].startswith("me ") for row in rows)
    assert all(row.target == f"\\boxed{{{row.answer}}}" for row in rows)
    # half the rows are colour-only by choice, and 3 in 8 of the rest by the world's own mix
    assert 0.55 < np.mean([colour_only(row) for row in rows]) < 0.82
    plain = ComparisonTrainer(NoModel(), config, 0, colour_share=0.0).examples(0)
    assert np.mean([colour_only(row) for row in plain]) < 0.5
    trainer.curriculum.stage = 2
    later = trainer.examples(1)
    assert len(later) == 10 and sum(row.observation["prompt"].startswith("me ") for row in later) <= 3


def test_training_at_the_number_alone_learns_a_batch_and_refuses_rows_naming_nobody(tiny_dirs, one_thread):
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.pretrain import PretrainConfig, Pretrainer

    torch.manual_seed(0)
    policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", dtype=torch.float32)
    trainer = Pretrainer(policy, PretrainConfig(learning_rate=3e-3, warmup_steps=1, chunk_rows=3))
    rows = odd_clue_examples(np.random.default_rng(1), 8, "short")
    losses = [trainer.train_numbers(rows)["loss"] for _ in range(12)]
    assert losses[-1] < 0.5 * losses[0]
    assert trainer.deduction_accuracy(rows) == 1.0
    unsure = [dataclasses.replace(rows[0], target="\\boxed{N/A}")]
    with pytest.raises(ValueError, match="names a player"):
        trainer.train_numbers(unsure)
    config = DeductionConfig(rows_per_step=(4, 4, 4, 4), eval_every=1, eval_rows=3, eval_games=1)
    comparison = ComparisonTrainer(trainer, config, 0, colour_share=0.5)
    comparison.step(0)
    point = comparison.curriculum.curve[-1]
    assert set(point) == {"step", "stage", "short", "short colour-only"} and point["step"] == 1
