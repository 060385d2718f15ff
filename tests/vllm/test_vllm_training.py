"""The vLLM rollout backend: the same loss as the HF backend on the same samples, exact resume, full games."""

import dataclasses

import pytest
import torch

from agents.hf_vlm import HFVLMPolicy
from agents.registry import load_policy
from agents.scoring import collate, completion_logprobs
from algorithms.metrics import TIMING_KEYS, read_metrics
from algorithms.rollout import play_games
from algorithms.run import run_config, train
from algorithms.train_config import algorithm_config
from algorithms.trainer import Trainer
from vz_env.turn import Phase

pytestmark = pytest.mark.vllm

ENV = {"image_size": (160, 120), "clue_format_weight": 0.3}
# Clue-only with a clue format term: the random model's clues are all invalid, so every clue turn has
# advantage -0.3 (reward -0.3, baselines at 0) and the first loss is 0.3 times the mean importance weight.
SETTINGS = {
    "games_per_iter": 1,
    "max_new_tokens": 8,
    "iterations": 2,
    "learning_rate": 1e-2,
    "lora_rank": 8,
    "checkpoint_every": 1,
}


def trainer_on(path: str, backend: str) -> Trainer:
    config = algorithm_config("selfplay-clue", {**SETTINGS, "rollout_backend": backend})
    return Trainer(HFVLMPolicy(path, seed=0, device="cpu", dtype="float32"), config, ENV)


def test_an_iteration_on_vllm_samples_gives_the_hf_backends_loss_times_the_importance_weight(tiny_dirs):
    path = tiny_dirs["qwen2_5_vl"]
    on_vllm = trainer_on(path, "vllm")
    on_hf = trainer_on(path, "hf")
    rollout = on_vllm._rollout()
    samples = [s for s in rollout.samples if s.generation is not None]
    assert samples and all(s.generation.from_engine for s in samples)
    # The HF backend gets the same samples as if its own model had drawn them.
    as_hf = dataclasses.replace(
        rollout,
        samples=[
            dataclasses.replace(s, generation=dataclasses.replace(s.generation, from_engine=False))
            if s.generation is not None
            else s
            for s in rollout.samples
        ],
    )
    on_vllm._rollout = lambda: rollout
    on_hf._rollout = lambda: as_hf
    vllm_row, hf_row = on_vllm.run_iteration(), on_hf.run_iteration()

    clues = [s for s in rollout.stage(Phase.CLUE) if s.generation is not None]
    batch = collate([s.generation for s in clues], on_hf.policy.pad_token_id)
    with torch.no_grad(), on_hf.reference.model() as start_model:
        trainer_logprobs = completion_logprobs(start_model, batch, on_hf.config.temperature)
    mask = batch.completion_mask.bool()
    engine = torch.zeros_like(trainer_logprobs)
    for row, s in enumerate(clues):
        engine[row, : s.generation.logprobs.numel()] = s.generation.logprobs
    weights = torch.exp(trainer_logprobs - engine).clamp(max=on_hf.config.is_cap)
    per_sequence = (weights * mask).sum(1) / mask.sum(1)
    print(f"HF backend loss {hf_row['loss']:.6f}, vLLM backend loss {vllm_row['loss']:.6f}")
    assert hf_row["loss"] == pytest.approx(0.3, abs=1e-6)
    assert vllm_row["loss"] == pytest.approx(0.3 * float(per_sequence.mean()), rel=1e-5)
    assert vllm_row["loss"] == pytest.approx(hf_row["loss"], rel=0.05)
    assert hf_row["is_weight_mean"] == 1.0 and 0.95 < vllm_row["is_weight_mean"] <= 1.0


def comparable(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in TIMING_KEYS and not k.startswith("seconds")} for r in rows
    ]


def test_a_resumed_vllm_run_matches_an_uninterrupted_one(tiny_dirs, tmp_path):
    config = run_config(
        "selfplay-clue",
        tiny_dirs["qwen2_5_vl"],
        algorithm_config("selfplay-clue", {**SETTINGS, "rollout_backend": "vllm"}),
        ENV,
    )
    train(tmp_path / "straight", config)
    train(tmp_path / "resumed", config, stop_after=1)
    train(tmp_path / "resumed", config, resume=True)
    straight = read_metrics(tmp_path / "straight" / "metrics.jsonl")
    resumed = read_metrics(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["iteration"] for r in resumed] == [1, 2]
    assert comparable(straight) == comparable(resumed)
    assert all(r["loss"] != 0 for r in straight)


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava"])
def test_each_family_plays_full_games_through_vllm(tiny_dirs, family):
    policy = load_policy(f"vllm:{tiny_dirs[family]}", seed=0, max_new_tokens=12)
    try:
        rollout = play_games(policy, 2, seed=0, group_size=2, env_kwargs=ENV)
    finally:
        policy.close()
    assert len(rollout.games) == 2 and all(g.winner in ("civilians", "spies") for g in rollout.games)
    assert rollout.samples and all(
        s.generation is not None and s.generation.from_engine for s in rollout.samples
    )
    assert rollout.stage(Phase.CLUE) and rollout.stage(Phase.DECISION)
    assert rollout.tokens > 0
