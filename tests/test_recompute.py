"""Activation checkpointing (`algorithms.recompute`): blocks run again in backward, same gradients."""

from __future__ import annotations

import pytest
import torch

from agents.hf_vlm import HFVLMPolicy
from algorithms import recompute
from algorithms.sharding import layer_classes
from algorithms.train_config import algorithm_config
from algorithms.trainer import Trainer

ENV = {"image_size": (64, 48), "num_players": 4, "num_rounds": 1, "clue_format_weight": 0.3}
SETTINGS = {
    "games_per_iter": 1,
    "max_new_tokens": 8,
    "learning_rate": 1e-2,
    "lora_rank": 4,
    "ppo_epochs": 2,  # the second epoch's loss depends on the first step's gradients
}


def test_a_checkpointed_block_runs_twice_per_backward_and_gives_the_same_gradients(one_thread) -> None:
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    model = torch.nn.Sequential(block)
    x = torch.randn(3, 4)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    runs = []
    forward = block.forward
    block.forward = lambda *args: runs.append(1) or forward(*args)
    assert recompute.recompute_blocks(model, {"Sequential"}) == 2  # the outer and the inner Sequential
    with torch.no_grad():
        model(x)
    assert len(runs) == 1  # no backward follows: run once, nothing recomputed
    model(x).sum().backward()
    assert len(runs) == 3  # forward, then again in the backward pass
    assert all(torch.equal(a, p.grad) for a, p in zip(plain, model.parameters()))


def test_lora_training_with_activation_checkpointing_keeps_the_loss(
    tiny_dirs, one_thread, monkeypatch
) -> None:
    calls = []
    plain = recompute.checkpoint
    monkeypatch.setattr(recompute, "checkpoint", lambda *a, **k: calls.append(1) or plain(*a, **k))
    rows, rollout = {}, None
    for checkpointing in (False, True):
        config = algorithm_config("selfplay-clue", {**SETTINGS, "activation_checkpointing": checkpointing})
        policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], seed=0, device="cpu", dtype="float32")
        blocks = sum(type(m).__name__ in layer_classes(policy.model) for m in policy.model.modules())
        trainer = Trainer(policy, config, ENV)
        rollout = rollout or trainer._rollout()
        trainer._rollout = lambda played=rollout: played
        rows[checkpointing] = trainer.run_iteration()
        if not checkpointing:
            assert not calls
    assert len(calls) >= 2 * blocks > 0  # every block of both epochs' gradient passes
    assert rows[True]["loss"] != 0.0
    assert rows[True]["loss"] == pytest.approx(rows[False]["loss"], rel=1e-6, abs=1e-7)
