"""The one trainer: self-play rollouts, advantages, a clipped KL-regularised step (docs/spec.md s6).

Iterative-SPO and its baselines differ only in which stage trains, the `stage_schedule` setting; the names
users pick are presets of it (`train_config.ALGORITHMS`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from algorithms.advantages import RoleBaselines, keyed_group_advantages
from algorithms.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from algorithms.colocate import start_engine, sync_engine
from algorithms.distributed import Pass, Processes, lockstep_passes
from algorithms.loss import LOSS_STATS, policy_loss
from algorithms.model_setup import prepare_model, trainable_parameters
from algorithms.rollout import Rollout, TurnSample, play_games
from algorithms.sharding import (
    gathered,
    is_sharded,
    load_sharded_state,
    parameter_checksum,
    prepare_for_training,
    stage_sharded_state,
)
from algorithms.stage import StageController
from algorithms.train_config import SPOConfig
from algorithms.trainable import TrainablePolicy
from vz_env.turn import Phase, Role
from vz_env.vote_stats import vote_stats

FixedLogprobs = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]
"""Log-probs [B, T] that stay fixed through an update: reference (KL), old policy (PPO epochs), engine."""


def default_accelerator() -> Any:
    """This process's Accelerator: its device is the rank's GPU, or the CPU (gloo between processes)."""
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


class Trainer:
    """Iterative-SPO, or one stage of it: `config.stage_schedule` says which stage trains each iteration.

    One iteration (`run_iteration`): play `games_per_iter` self-play games per process in lock-step (G
    samples per vote), update the role baselines with every game, build the active stage's samples and
    advantages (clue turns: reward - role baseline; votes: group-normalised), take one optimizer step per
    PPO epoch, and give the decision stats to the stage controller. Only the active stage gets gradient.
    """

    def __init__(
        self,
        policy: TrainablePolicy,
        config: SPOConfig,
        env_kwargs: dict[str, Any] | None = None,
        accelerator: Any = None,
    ) -> None:
        from transformers import get_scheduler

        self.config = config
        self.env_kwargs = dict(env_kwargs or {})
        self.accelerator = accelerator or default_accelerator()
        self.processes = Processes(self.accelerator)
        model, self.reference = prepare_model(policy.model, config)
        optimizer = torch.optim.AdamW(
            trainable_parameters(model), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        scheduler = get_scheduler(
            config.lr_schedule if config.lr_schedule != "constant" else "constant_with_warmup",
            optimizer,
            num_warmup_steps=int(config.warmup_ratio * config.iterations),
            num_training_steps=config.iterations,
        )
        # The scheduler stays unprepared: accelerate's wrapper steps it once per process and iteration.
        self.scheduler = scheduler
        self.train_model, self.optimizer = prepare_for_training(self.accelerator, model, optimizer)
        # The player the trainer samples, scores and saves: the given one around the prepared model.
        trained = self.accelerator.unwrap_model(self.train_model).eval()
        self.policy = policy.with_model(trained, config.sampling)
        # Who samples rollouts: the trained model itself, or a vLLM engine in this process synced before each.
        if config.rollout_backend == "hf":
            self.sampler = self.policy
        else:
            self.sampler = start_engine(self.policy, config, self.accelerator)
        self.baselines = RoleBaselines(config, all_reduce=self.processes.mean)
        self.controller = StageController(config, all_reduce=self.processes.mean)
        self.iteration = 0

    def run_iteration(self) -> dict[str, Any]:
        """Play, score, update once; return the iteration's metrics row."""
        start = time.perf_counter()
        stage = self.controller.stage
        rollout = self._rollout()
        played = time.perf_counter()
        clues = rollout.stage(Phase.CLUE)
        decision = [s for s in rollout.stage(Phase.DECISION) if s.role != Role.SPY]
        clue_advantages = self._clue_advantages(clues, len(rollout.games))
        if stage == Phase.CLUE:
            samples, advantages = _with_generation(clues, clue_advantages)
        else:
            samples, advantages = self._vote_batch(decision)
        update = self._update(samples, advantages)
        votes = vote_stats((s.turn, s.role) for s in decision)
        if votes.votes:
            self.controller.update(votes.accuracy, votes.na_rate)
        self.iteration += 1
        # Pooled across processes by type: ints are counts (summed), floats are averaged.
        metrics = {
            "trained_samples": len(samples),
            **_reward_stats(rollout),
            "decision_accuracy": votes.accuracy,
            "na_rate": votes.na_rate,
            "invalid_clue_rate": _mean([not s.turn.valid for s in clues]),
            "clue_grounding": _mean([s.turn.grounded for s in clues if s.turn.grounded is not None]),
            "invalid_vote_rate": votes.invalid_rate,
            "tokens_generated": rollout.tokens,
            "lr": self.scheduler.get_last_lr()[0],
            "b_spy": self.baselines.b_spy,
            "b_civ": self.baselines.b_civ,
            "acc_ema": self.controller.acc_ema,
            "na_ema": self.controller.na_ema,
            **update,
            "seconds_rollout": played - start,
            "seconds_total": time.perf_counter() - start,
        }
        return {
            "iteration": self.iteration,
            "stage": str(stage),
            "next_stage": str(self.controller.stage),
            **self.processes.pooled(metrics, self._state),
        }

    def _rollout(self) -> Rollout:
        """This process's games of this iteration, seeded by iteration and rank (no two processes alike)."""
        cfg = self.config
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        seed = cfg.seed + (self.iteration * world + rank) * cfg.games_per_iter
        if self.sampler is not self.policy:
            sync_engine(self.sampler, self.train_model, self.policy.model)
            return play_games(self.sampler, cfg.games_per_iter, seed, cfg.group_size, self.env_kwargs)
        with gathered(self.train_model):  # FSDP2: the whole model for the rollout, no collective inside
            return play_games(self.policy, cfg.games_per_iter, seed, cfg.group_size, self.env_kwargs)

    def _clue_advantages(self, clues: list[TurnSample], games: int) -> list[float]:
        """Role Advantage Estimation over every game, whichever stage trains: clue reward - role baseline.

        The baselines absorb each game's spy and civilian clue rewards (the samples' whole rewards), then
        become their mean across processes.
        """
        turns: dict[int, list[int]] = {}
        for index, sample in enumerate(clues):
            turns.setdefault(sample.game, []).append(index)
        advantages = [0.0] * len(clues)
        for game in range(games):
            spies = [i for i in turns.get(game, []) if clues[i].role == Role.SPY]
            civilians = [i for i in turns.get(game, []) if clues[i].role != Role.SPY]
            rewards = [clues[i].reward for i in spies + civilians]
            spy_adv, civ_adv = self.baselines.advantages(rewards[: len(spies)], rewards[len(spies) :])
            for i, value in zip(spies + civilians, [*spy_adv, *civ_adv]):
                advantages[i] = value
        self.baselines.sync()
        return advantages

    def _vote_batch(self, decision: list[TurnSample]) -> tuple[list[TurnSample], torch.Tensor]:
        """The vote samples that train, each reward normalised within its prompt's group of G."""
        samples = [s for s in decision if s.generation is not None]
        rewards = [s.reward for s in samples]
        return samples, keyed_group_advantages(rewards, [s.group for s in samples], self.config.adv_eps)

    def _update(self, samples: Sequence[TurnSample], advantages: torch.Tensor) -> dict[str, Any]:
        """Score the samples' fixed log-probs, then take one optimizer step per PPO epoch.

        If any process has no sample, no process trains (DDP needs every process in every backward pass).
        """
        stats: dict[str, Any] = {**dict.fromkeys(("loss", *LOSS_STATS), 0.0), "skipped": False}
        counts = self.processes.counts(len(samples))
        if min(counts) == 0:
            self.scheduler.step()
            return {**stats, "seconds_scoring": 0.0, "seconds_update": 0.0}
        from agents.scoring import collate

        start = time.perf_counter()
        batch = collate([s.generation for s in samples], self.policy.pad_token_id)
        fixed = self._fixed_logprobs(batch, samples)
        scored = time.perf_counter()
        passes = lockstep_passes(batch, counts, self.config.score_chunk, self.config.loss_norm)
        for _ in range(self.config.ppo_epochs):
            epoch, stepped = self._epoch(batch, advantages, fixed, passes)
            stats.update(epoch, skipped=stats["skipped"] or not stepped)
        self.scheduler.step()
        return {**stats, "seconds_scoring": scored - start, "seconds_update": time.perf_counter() - scored}

    def _fixed_logprobs(self, batch: Any, samples: Sequence[TurnSample]) -> FixedLogprobs:
        """Reference log-probs (if beta_kl > 0), old-policy ones (if ppo_epochs > 1), engine ones (vLLM)."""
        from agents.scoring import completion_logprobs

        cfg = self.config
        reference = old = engine = None
        if cfg.beta_kl > 0:
            with torch.no_grad(), self.reference.model() as ref_model:
                reference = completion_logprobs(ref_model, batch, cfg.temperature, cfg.score_chunk)
        if cfg.ppo_epochs > 1:
            with torch.no_grad(), gathered(self.policy.model):
                old = completion_logprobs(self.policy.model, batch, cfg.temperature, cfg.score_chunk)
        if any(s.generation.from_engine for s in samples):
            width = batch.completion_ids.shape[1]
            engine = torch.stack([_padded(s.generation.logprobs, width) for s in samples])
        return reference, old, engine

    def _epoch(
        self, batch: Any, advantages: torch.Tensor, fixed: FixedLogprobs, passes: list[Pass]
    ) -> tuple[dict[str, float], bool]:
        """One pass over the batch with gradient, then an optimizer step: loss stats, whether it stepped."""
        from agents.scoring import completion_logprobs

        cfg = self.config
        reference, old, engine = fixed
        stats = dict.fromkeys(("loss", *LOSS_STATS), 0.0)
        self.optimizer.zero_grad(set_to_none=True)
        for index, (begin, end, weight) in enumerate(passes):
            with self.processes.accumulating(self.train_model, last=index == len(passes) - 1):
                rows = batch.rows(begin, end)
                logprobs = completion_logprobs(self.train_model, rows, cfg.temperature)
                device, width = logprobs.device, logprobs.shape[1]
                loss, chunk_stats = policy_loss(
                    logprobs,
                    _rows(old, begin, end, width, device),
                    _rows(reference, begin, end, width, device),
                    advantages[begin:end].to(device),
                    rows.completion_mask.to(device),
                    cfg.clip_eps,
                    cfg.beta_kl,
                    cfg.loss_norm,
                    max_len=cfg.max_new_tokens,
                    engine_logprobs=_rows(engine, begin, end, width, device),
                    is_cap=cfg.is_cap,
                )
                self.accelerator.backward(loss * weight)
            for key, value in {"loss": float(loss.detach()), **chunk_stats}.items():
                stats[key] += value * weight
        return stats, self._step_if_finite(stats["loss"])

    def _step_if_finite(self, loss: float) -> bool:
        """Clip and step, unless a loss or gradient is NaN/inf on any process (then every process skips)."""
        parameters = trainable_parameters(self.train_model)
        finite = math.isfinite(loss) and all(
            torch.isfinite(p.grad).all() for p in parameters if p.grad is not None
        )
        stepped = self.processes.all_agree(finite)
        if stepped:
            self.accelerator.clip_grad_norm_(parameters, self.config.max_grad_norm)
            self.optimizer.step()
        else:
            self.accelerator.print(f"iteration {self.iteration + 1}: non-finite loss, update skipped")
        self.optimizer.zero_grad(set_to_none=True)
        return stepped

    def _state(self) -> list[float]:
        """What every process must agree on: a weights checksum, the baselines, the accuracy EMA."""
        with torch.no_grad():
            checksum = parameter_checksum(trainable_parameters(self.train_model))
        return [checksum, self.baselines.b_spy, self.baselines.b_civ, self.controller.acc_ema]

    def state_dict(self) -> dict[str, Any]:
        """Iteration, optimizer, scheduler, baselines and stage controller: what a checkpoint restores."""
        return {
            "iteration": self.iteration,
            "optimizer": None if is_sharded(self.train_model) else self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "baselines": self.baselines.state_dict(),
            "controller": self.controller.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.iteration = state["iteration"]
        if state["optimizer"] is not None:  # a sharded optimizer is restored from the sharded checkpoint
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.baselines.load_state_dict(state["baselines"])
        self.controller.load_state_dict(state["controller"])

    def save(self, run_dir: Path) -> None:
        """Checkpoint: the main process writes it (FSDP2: all write their shards); all wait until it is in."""
        self.accelerator.wait_for_everyone()
        staged = None
        if is_sharded(self.train_model):
            staged = stage_sharded_state(run_dir, self.iteration, self.train_model, self.optimizer)
            self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_checkpoint(run_dir, self.iteration, self.policy.model, self.state_dict(), sharded=staged)
        self.accelerator.wait_for_everyone()

    def resume(self, run_dir: Path) -> bool:
        """Load the run's latest checkpoint, if any; True when one was loaded."""
        folder = latest_checkpoint(run_dir)
        if folder is None:
            return False
        if is_sharded(self.train_model):
            load_sharded_state(folder, self.train_model, self.optimizer)
        self.load_state_dict(load_checkpoint(folder, self.policy.model))
        return True


def _mean(flags: Sequence[bool | float]) -> float:
    return float(sum(flags)) / len(flags) if flags else 0.0


def _with_generation(
    samples: list[TurnSample], advantages: list[float]
) -> tuple[list[TurnSample], torch.Tensor]:
    """The samples a model generated (with token ids to score), and their advantages."""
    kept = [i for i, s in enumerate(samples) if s.generation is not None]
    return [samples[i] for i in kept], torch.tensor([advantages[i] for i in kept], dtype=torch.float32)


def _padded(logprobs: torch.Tensor, width: int) -> torch.Tensor:
    """A completion's log-probs right-padded with 0 to `width` tokens (the batch's completion width)."""
    return torch.nn.functional.pad(logprobs.float(), (0, width - logprobs.numel()))


def _rows(values: torch.Tensor | None, begin: int, end: int, width: int, device: Any) -> torch.Tensor | None:
    """Rows begin..end-1 of a fixed [B, T] log-prob tensor, cut to a chunk's width, on its device."""
    return None if values is None else values[begin:end, :width].to(device)


def _reward_stats(rollout: Rollout) -> dict[str, float]:
    spy = [g.rewards[a] for g in rollout.games for a, r in g.roles.items() if r == Role.SPY]
    civ = [g.rewards[a] for g in rollout.games for a, r in g.roles.items() if r == Role.CIVILIAN]
    votes = [s.reward for s in rollout.stage(Phase.DECISION) if s.role != Role.SPY]
    civilians_won = [g.winner == "civilians" for g in rollout.games]
    return {
        "reward_spy": _mean(spy),
        "reward_civilian": _mean(civ),
        "reward_decision": _mean(votes),
        "civilian_win_rate": _mean(civilians_won),
    }
