"""The trainer loop: presets, stage gating, clue rewards, the update, pooling, NaN skips, resume, the CLI."""

import contextlib
import json

import pytest
import torch

from algorithms import checkpoint as checkpoint_module
from algorithms import trainer as trainer_module
from algorithms.metrics import TIMING_KEYS, pool_across_processes, read_metrics
from algorithms.run import run_config, train
from algorithms.train_config import ALGORITHMS, algorithm_config
from algorithms.trainer import Trainer, default_accelerator
from vz_env.turn import Phase, Role
from vz_spy.cli import main

ENV = {"image_size": (64, 48)}
FAST = {"games_per_iter": 2, "group_size": 2, "max_new_tokens": 6, "learning_rate": 1e-2, "iterations": 4}


@pytest.fixture(scope="module")
def tiny_path():
    from agents.tiny_vlm import default_model_path

    return str(default_model_path())


def make_trainer(tiny_path, algo="iterative-spo", accelerator=None, env=None, **overrides):
    from agents.hf_vlm import HFVLMPolicy

    config = algorithm_config(algo, {**FAST, **overrides})
    return Trainer(HFVLMPolicy(tiny_path, seed=0), config, {**ENV, **(env or {})}, accelerator)


def lora_weights(trainer):
    return {n: p.detach().clone() for n, p in trainer.policy.model.named_parameters() if "lora_" in n}


def test_algorithms_are_presets_of_the_stage_schedule():
    assert set(ALGORITHMS) == {"iterative-spo", "grpo-decision", "selfplay-clue"}
    assert algorithm_config("iterative-spo").stage_schedule == "adaptive"
    assert algorithm_config("grpo-decision").stage_schedule == "decision-only"
    assert algorithm_config("selfplay-clue", {"group_size": 4}).stage_schedule == "clue-only"
    assert algorithm_config("iterative-spo", {"stage_schedule": "alternate"}).stage_schedule == "alternate"
    with pytest.raises(ValueError, match="unknown algorithm 'ppo'"):
        algorithm_config("ppo")
    with pytest.raises(ValueError, match="unknown algorithm 'ppo'"):
        run_config("ppo", None, algorithm_config("iterative-spo"), ENV)


@pytest.mark.parametrize(
    ("algo", "stage"),
    [("iterative-spo", "decision"), ("grpo-decision", "decision"), ("selfplay-clue", "clue")],
)
def test_only_the_active_stage_gets_gradient(tiny_path, monkeypatch, algo, stage):
    trainer = make_trainer(tiny_path, algo)
    seen = []
    real_update = trainer._update
    monkeypatch.setattr(
        trainer, "_update", lambda samples, adv: seen.append(list(samples)) or real_update(samples, adv)
    )
    row = trainer.run_iteration()
    assert row["stage"] == stage and row["trained_samples"] == len(seen[0]) > 0
    assert {str(s.stage) for s in seen[0]} == {stage}
    if stage == "decision":
        assert all(s.role != Role.SPY for s in seen[0])


def test_the_trainer_sets_nothing_on_the_policy_it_is_given(tiny_path):
    from agents.hf_vlm import HFVLMPolicy

    given = HFVLMPolicy(tiny_path, seed=0, label="start")
    model, sampling = given.model, given.sampling
    trainer = Trainer(given, algorithm_config("iterative-spo", {**FAST, "temperature": 0.5}), ENV)
    assert given.model is model and given.sampling is sampling and sampling.temperature != 0.5
    assert trainer.policy.sampling == trainer.config.sampling and trainer.policy.label == "start"
    assert trainer.policy.model is not model and trainer.policy.processor is given.processor


def test_update_moves_adapters_and_the_reference_stays_the_base(tiny_path):
    from agents.scoring import collate, completion_logprobs

    trainer = make_trainer(tiny_path, "selfplay-clue")
    before = lora_weights(trainer)
    rollout = trainer._rollout()
    samples = [s for s in rollout.stage(Phase.CLUE) if s.generation is not None][:4]
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    stats = trainer._update(samples, advantages)
    assert not stats["skipped"]
    after = lora_weights(trainer)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    batch = collate([s.generation for s in samples], trainer.policy.pad_token_id)
    with torch.no_grad():
        policy = completion_logprobs(trainer.policy.model, batch, trainer.config.temperature)
        with trainer.reference.model() as ref_model:
            reference = completion_logprobs(ref_model, batch, trainer.config.temperature)
    original = torch.stack(
        [
            torch.nn.functional.pad(
                s.generation.logprobs, (0, batch.completion_ids.shape[1] - s.generation.logprobs.numel())
            )
            for s in samples
        ]
    )
    assert torch.allclose(reference, original, atol=1e-4)
    assert not torch.allclose(policy, reference, atol=1e-4)


def test_non_finite_loss_skips_the_update_and_the_run_goes_on(tiny_path, monkeypatch):
    trainer = make_trainer(tiny_path, "selfplay-clue")
    before = lora_weights(trainer)
    real_loss = trainer_module.policy_loss

    def nan_loss(*args, **kwargs):
        loss, stats = real_loss(*args, **kwargs)
        return loss * float("nan"), stats

    monkeypatch.setattr(trainer_module, "policy_loss", nan_loss)
    row = trainer.run_iteration()
    assert row["skipped"] is True
    assert all(torch.equal(before[n], w) for n, w in lora_weights(trainer).items())
    monkeypatch.setattr(trainer_module, "policy_loss", real_loss)
    assert trainer.run_iteration()["skipped"] is False


def test_clue_format_term_is_inside_what_the_role_baseline_tracks(tiny_path):
    trainer = make_trainer(tiny_path, "selfplay-clue", env={"clue_format_weight": 0.3}, games_per_iter=1)
    rollout = trainer._rollout()
    clues = rollout.stage(Phase.CLUE)
    advantages = trainer._clue_advantages(clues, games=1)
    rewards = [s.reward for s in clues]
    game_rewards = rollout.games[0].rewards
    assert rewards == pytest.approx([game_rewards[s.agent] + (0.3 if s.turn.valid else -0.3) for s in clues])
    # A fresh trainer's baselines are 0 when read ("before" timing): advantage = game reward + format term.
    assert advantages == pytest.approx(rewards)
    spy = [r for r, s in zip(rewards, clues) if s.role == Role.SPY]
    civilians = [r for r, s in zip(rewards, clues) if s.role != Role.SPY]
    assert trainer.baselines.b_spy == pytest.approx(0.05 * sum(spy) / len(spy))
    assert trainer.baselines.b_civ == pytest.approx(0.05 * sum(civilians) / len(civilians))


class UnevenPair:
    """A real one-process accelerator posing as two: the phantom second process reports 3x every value."""

    num_processes = 2

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def gather(self, tensor):
        return torch.cat([tensor, tensor * 3])

    def reduce(self, tensor, reduction):
        return tensor


def test_distributed_row_pools_every_key_by_type(tiny_path, monkeypatch):
    pair = UnevenPair(default_accelerator())
    trainer = make_trainer(tiny_path, "selfplay-clue", accelerator=pair, env={"clue_format_weight": 0.3})
    real_stats = trainer_module._reward_stats
    monkeypatch.setattr(
        trainer_module, "_reward_stats", lambda r: {**real_stats(r), "new_rate": 0.25, "new_count": 5}
    )
    seen = []
    real_update = trainer._update
    monkeypatch.setattr(
        trainer, "_update", lambda samples, adv: seen.append(len(samples)) or real_update(samples, adv)
    )
    row = trainer.run_iteration()
    # Ints are counts: 1x here + 3x on the phantom process. Floats are means: (1x + 3x) / 2.
    assert row["trained_samples"] == 4 * seen[0] and row["new_count"] == 20
    assert row["new_rate"] == pytest.approx(0.5)
    assert row["lr"] == pytest.approx(2 * trainer.scheduler.get_last_lr()[0])
    assert row["b_spy"] == pytest.approx(2 * trainer.baselines.b_spy)
    assert (row["iteration"], row["stage"], row["world_size"], row["skipped"]) == (1, "clue", 2, False)
    # The phantom process had 3x the samples: this one padded its passes with weight-0 repeats, and trained.
    assert row["loss"] != 0.0


def test_pooling_sums_ints_averages_floats_and_keeps_the_rest():
    metrics = {"samples": 3, "rate": 0.5, "skipped": False, "note": "x", "brand_new": 1.5}

    def gather(local):
        assert local.shape == (1, 3) and local.dtype == torch.float64
        return torch.cat([local, local + 1])

    pooled = pool_across_processes(metrics, gather)
    assert pooled == {"samples": 7, "rate": 1.0, "skipped": False, "note": "x", "brand_new": 2.0}
    assert isinstance(pooled["samples"], int) and list(pooled) == list(metrics)


def _config(tiny_path, **trainer):
    settings = {**FAST, **trainer}
    env = {**ENV, "clue_format_weight": 0.3}
    return run_config("selfplay-clue", tiny_path, algorithm_config("selfplay-clue", settings), env)


def _comparable(rows):
    return [
        {k: v for k, v in row.items() if k not in TIMING_KEYS and not k.startswith("seconds")} for row in rows
    ]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_an_uninterrupted_one(tiny_path, tmp_path):
    config = _config(tiny_path, checkpoint_every=1)
    train(tmp_path / "straight", config)
    train(tmp_path / "resumed", config, stop_after=2)
    with (tmp_path / "resumed" / "metrics.jsonl").open("a") as handle:
        handle.write(json.dumps({"iteration": 3, "stage": "clue", "partial": True}) + "\n")
    train(tmp_path / "resumed", config, resume=True)
    straight = read_metrics(tmp_path / "straight" / "metrics.jsonl")
    resumed = read_metrics(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["iteration"] for r in resumed] == [1, 2, 3, 4]
    assert _comparable(straight) == _comparable(resumed)
    assert any(r["loss"] != 0 for r in straight)


def test_resume_with_a_different_config_names_the_fields(tiny_path, tmp_path):
    train(tmp_path / "run", _config(tiny_path, iterations=1))
    with pytest.raises(ValueError, match="trainer.learning_rate"):
        train(tmp_path / "run", _config(tiny_path, iterations=1, learning_rate=0.5), resume=True)


def test_a_crash_while_checkpointing_keeps_the_previous_checkpoint(tiny_path, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    config = _config(tiny_path, iterations=2, checkpoint_every=1)
    train(run_dir, config, stop_after=1)
    real_save = torch.save

    def crash(obj, path, *args, **kwargs):
        if str(path).endswith("state.pt"):
            raise OSError("disk full")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        train(run_dir, config, resume=True)
    assert checkpoint_module.latest_checkpoint(run_dir).name == "checkpoint-1"
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    rows = train(run_dir, config, resume=True)
    assert [r["iteration"] for r in rows] == [2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--iterations", "0"], "iterations"),
        (["train", "--algo", "nope"], "invalid choice"),
        (["train", "--resume", "/no/such/run"], "not a run folder"),
    ],
)
def test_bad_train_flags_exit_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) if message == "invalid choice" else contextlib.nullcontext():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
