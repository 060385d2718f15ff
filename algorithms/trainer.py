"""The iteration loop all algorithms share: self-play rollouts, advantages, a clipped, KL-regularised step."""

from __future__ import annotations

import contextlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from algorithms.advantages import group_advantages
from algorithms.baselines import RoleBaselines
from algorithms.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from algorithms.loss import policy_loss
from algorithms.model_setup import prepare_model, trainable_parameters
from algorithms.rollout import CLUE_STAGE, DECISION_STAGE, Rollout, TurnSample, play_games
from algorithms.stage import StageController
from algorithms.train_config import SPOConfig

# How a distributed run's metrics row pools the processes' values: these are summed, those averaged.
POOLED_SUMS = ("trained_samples", "tokens_generated")
POOLED_MEANS = (
    "reward_spy",
    "reward_civilian",
    "reward_decision",
    "civilian_win_rate",
    "decision_accuracy",
    "na_rate",
    "invalid_clue_rate",
    "invalid_vote_rate",
    "loss",
    "pg_loss",
    "kl",
    "clip_fraction",
)


def default_accelerator() -> Any:
    """This process's Accelerator: its device is the rank's GPU, or the CPU (gloo between processes)."""
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


class Trainer(ABC):
    """Subclasses say which stage trains each iteration (`current_stage`) and react to decision stats.

    One iteration: play `games_per_iter` self-play games per process in lock-step (G samples per vote),
    update the role baselines with every game, build the active stage's samples and advantages
    (role-baselined game rewards for clues, group-normalised rewards for votes), and take one
    optimizer step per PPO epoch. Only the active stage's samples get gradient.
    """

    name = "base"

    def __init__(
        self,
        policy: Any,
        config: SPOConfig,
        env_kwargs: dict[str, Any] | None = None,
        accelerator: Any = None,
    ) -> None:
        from transformers import get_scheduler

        self.policy = policy
        self.config = config
        self.env_kwargs = dict(env_kwargs or {})
        self.accelerator = accelerator or default_accelerator()
        policy.temperature, policy.top_p = config.temperature, config.top_p
        policy.max_new_tokens, policy.min_new_tokens = config.max_new_tokens, config.min_new_tokens
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
        self.train_model, self.optimizer = self.accelerator.prepare(model, optimizer)
        policy.model = self.accelerator.unwrap_model(self.train_model).eval()
        self.baselines = RoleBaselines(config, all_reduce=self._mean_across_processes)
        self.controller = StageController(config, all_reduce=self._mean_across_processes)
        self.iteration = 0

    @abstractmethod
    def current_stage(self) -> str:
        """The stage whose samples get gradient in the next iteration."""

    def observe_decisions(self, accuracy: float, na_rate: float) -> None:  # noqa: B027  (optional hook)
        """Hook for the decision stats of each iteration (Iterative-SPO's stage controller listens)."""

    def _mean_across_processes(self, values: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return values
        return self.accelerator.reduce(values.to(self.accelerator.device), "mean").cpu()

    def _gather_counts(self, value: int) -> list[int]:
        """One integer from every process, in rank order (a collective: every process must call it)."""
        if self.accelerator.num_processes == 1:
            return [value]
        return self.accelerator.gather(torch.tensor([value], device=self.accelerator.device)).tolist()

    def run_iteration(self) -> dict[str, Any]:
        """Play, score, update once; return the iteration's metrics row."""
        start = time.perf_counter()
        stage = self.current_stage()
        rollout = self._rollout()
        played = time.perf_counter()
        decision = [s for s in rollout.stage(DECISION_STAGE) if s.role != "spy"]
        accuracy = _mean([s.parsed["vote"] is not None and _is_spy(rollout, s) for s in decision])
        na_rate = _mean([bool(s.parsed["abstain"]) for s in decision])
        clue_advantages = self._clue_advantages(rollout)
        samples, advantages = self._training_batch(stage, rollout, clue_advantages, decision)
        update = self._update(samples, advantages)
        if decision:
            self.observe_decisions(accuracy, na_rate)
        self.iteration += 1
        row = {
            "iteration": self.iteration,
            "stage": stage,
            "next_stage": self.current_stage(),
            "trained_samples": len(samples),
            **_reward_stats(rollout),
            "decision_accuracy": accuracy,
            "na_rate": na_rate,
            "invalid_clue_rate": _mean([not s.valid for s in rollout.stage(CLUE_STAGE)]),
            "invalid_vote_rate": _mean([not s.valid and not s.parsed["abstain"] for s in decision]),
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
        if self.accelerator.num_processes > 1:
            row = self._pooled(row)
            row["world_size"] = self.accelerator.num_processes
            row["state_spread"] = self._state_spread()
        return row

    def _pooled(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row over every process's games: counts summed, game and loss statistics averaged."""
        keys = [k for k in POOLED_SUMS + POOLED_MEANS if k in row]
        values = torch.tensor([float(row[k]) for k in keys], dtype=torch.float64)
        gathered = self.accelerator.gather(values.to(self.accelerator.device)[None]).cpu()
        sums, means = gathered.sum(0).tolist(), gathered.mean(0).tolist()
        pooled = {k: int(sums[i]) if k in POOLED_SUMS else means[i] for i, k in enumerate(keys)}
        return {**row, **pooled}

    def _rollout(self) -> Rollout:
        cfg = self.config
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        seed = cfg.seed + (self.iteration * world + rank) * cfg.games_per_iter
        return play_games(self.policy, cfg.games_per_iter, seed, cfg.group_size, self.env_kwargs)

    def _clue_advantages(self, rollout: Rollout) -> dict[tuple[int, str], float]:
        """Role Advantage Estimation: each game's rewards minus the spy / civilian EMA baselines."""
        advantages: dict[tuple[int, str], float] = {}
        for index, game in enumerate(rollout.games):
            spies = [a for a, r in game.roles.items() if r == "spy"]
            civilians = [a for a, r in game.roles.items() if r == "civilian"]
            spy_rewards = [game.rewards[a] for a in spies]
            spy_adv, civ_adv = self.baselines.advantages(
                spy_rewards if len(spies) > 1 else spy_rewards[0], [game.rewards[a] for a in civilians]
            )
            spy_adv = spy_adv if isinstance(spy_adv, list) else [spy_adv]
            advantages.update({(index, a): v for a, v in zip(spies, spy_adv)})
            advantages.update({(index, a): v for a, v in zip(civilians, civ_adv)})
        self.baselines.sync()
        return advantages

    def _training_batch(
        self,
        stage: str,
        rollout: Rollout,
        clue_advantages: dict[tuple[int, str], float],
        decision: list[TurnSample],
    ) -> tuple[list[TurnSample], torch.Tensor]:
        if stage == CLUE_STAGE:
            samples = [s for s in rollout.stage(CLUE_STAGE) if s.generation is not None]
            values = [clue_advantages[(s.game, s.agent)] + s.format_reward for s in samples]
            return samples, torch.tensor(values, dtype=torch.float32)
        samples = [s for s in decision if s.generation is not None]
        groups: dict[Any, list[int]] = {}
        for i, s in enumerate(samples):
            groups.setdefault(s.group, []).append(i)
        values = torch.zeros(len(samples))
        for members in groups.values():
            rewards = torch.tensor([samples[i].reward for i in members], dtype=torch.float32)
            values[members] = group_advantages(rewards, len(members), self.config.adv_eps)
        return samples, values

    def _update(self, samples: Sequence[TurnSample], advantages: torch.Tensor) -> dict[str, Any]:
        """Score the samples (reference, then policy with gradient in chunks) and step the optimizer.

        Every process makes the same number of forward/backward passes, since DDP communicates in each: one
        with fewer chunks repeats its last chunk with weight 0, and if any process has no sample, none trains.
        """
        cfg = self.config
        stats: dict[str, Any] = {
            "loss": 0.0,
            "pg_loss": 0.0,
            "kl": 0.0,
            "clip_fraction": 0.0,
            "skipped": False,
        }
        counts = self._gather_counts(len(samples))
        if min(counts) == 0:
            self.scheduler.step()
            return {**stats, "seconds_scoring": 0.0, "seconds_update": 0.0}
        from agents.scoring import collate, completion_logprobs

        start = time.perf_counter()
        batch = collate([s.generation for s in samples], self.policy.pad_token_id)
        reference = None
        if cfg.beta_kl > 0:
            with torch.no_grad(), self.reference.model() as ref_model:
                reference = completion_logprobs(ref_model, batch, cfg.temperature, cfg.score_chunk)
        old = None
        if cfg.ppo_epochs > 1:
            with torch.no_grad():
                old = completion_logprobs(self.policy.model, batch, cfg.temperature, cfg.score_chunk)
        scored = time.perf_counter()
        total_tokens = float(batch.completion_mask.sum())
        chunks = [(b, min(b + cfg.score_chunk, len(batch))) for b in range(0, len(batch), cfg.score_chunk)]
        passes = max(math.ceil(n / cfg.score_chunk) for n in counts)
        for _ in range(cfg.ppo_epochs):
            self.optimizer.zero_grad(set_to_none=True)
            epoch = {"loss": 0.0, "pg_loss": 0.0, "kl": 0.0, "clip_fraction": 0.0}
            for index in range(passes):
                begin, end = chunks[min(index, len(chunks) - 1)]
                with self._accumulating(last=index == passes - 1):
                    rows = batch.rows(begin, end)
                    logprobs = completion_logprobs(self.train_model, rows, cfg.temperature)
                    loss, chunk_stats = policy_loss(
                        logprobs,
                        None if old is None else old[begin:end, : logprobs.shape[1]],
                        None if reference is None else reference[begin:end, : logprobs.shape[1]],
                        advantages[begin:end].to(logprobs.device),
                        rows.completion_mask.to(logprobs.device),
                        cfg.clip_eps,
                        cfg.beta_kl,
                        cfg.loss_norm,
                        max_len=cfg.max_new_tokens,
                    )
                    weight = (
                        float(rows.completion_mask.sum()) / total_tokens
                        if cfg.loss_norm == "token"
                        else (end - begin) / len(batch)
                    )
                    weight = weight if index < len(chunks) else 0.0
                    self.accelerator.backward(loss * weight)
                epoch["loss"] += float(loss.detach()) * weight
                for key in ("pg_loss", "kl", "clip_fraction"):
                    epoch[key] += chunk_stats[key] * weight
            finite = math.isfinite(epoch["loss"]) and all(
                torch.isfinite(p.grad).all()
                for p in trainable_parameters(self.train_model)
                if p.grad is not None
            )
            if min(self._gather_counts(int(finite))) == 1:
                self.accelerator.clip_grad_norm_(trainable_parameters(self.train_model), cfg.max_grad_norm)
                self.optimizer.step()
            else:
                stats["skipped"] = True
                self.accelerator.print(f"iteration {self.iteration + 1}: non-finite loss, update skipped")
            self.optimizer.zero_grad(set_to_none=True)
            stats.update(epoch)
        self.scheduler.step()
        stats["seconds_scoring"] = scored - start
        stats["seconds_update"] = time.perf_counter() - scored
        return stats

    @contextlib.contextmanager
    def _accumulating(self, last: bool) -> Iterator[None]:
        """A forward/backward pass whose gradients sync across processes (DeepSpeed: step) only when last."""
        self.accelerator.sync_gradients = last
        try:
            with contextlib.nullcontext() if last else self.accelerator.no_sync(self.train_model):
                yield
        finally:
            self.accelerator.sync_gradients = True

    def _state_spread(self) -> float:
        """How far the processes' states drifted apart (0 when weights, baselines and EMAs agree)."""
        with torch.no_grad():
            checksum = sum(float(p.double().sum()) for p in trainable_parameters(self.train_model))
        state = torch.tensor([checksum, self.baselines.b_spy, self.baselines.b_civ, self.controller.acc_ema])
        gathered = self.accelerator.gather(state.to(self.accelerator.device)[None]).cpu()
        return float((gathered.max(0).values - gathered.min(0).values).abs().max())

    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "baselines": self.baselines.state_dict(),
            "controller": self.controller.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = state["iteration"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.baselines.load_state_dict(state["baselines"])
        self.controller.load_state_dict(state["controller"])

    def save(self, run_dir: Path) -> None:
        """Checkpoint (main process writes; every process waits until it is complete)."""
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_checkpoint(run_dir, self.iteration, self.policy.model, self.state_dict())
        self.accelerator.wait_for_everyone()

    def resume(self, run_dir: Path) -> bool:
        """Load the run's latest checkpoint, if any; True when one was loaded."""
        folder = latest_checkpoint(run_dir)
        if folder is None:
            return False
        self.load_state_dict(load_checkpoint(folder, self.policy.model))
        return True


def _mean(flags: Sequence[bool | float]) -> float:
    return float(sum(flags)) / len(flags) if flags else 0.0


def _is_spy(rollout: Rollout, sample: TurnSample) -> bool:
    return rollout.games[sample.game].roles[sample.parsed["vote"]] == "spy"


def _reward_stats(rollout: Rollout) -> dict[str, float]:
    spy = [g.rewards[a] for g in rollout.games for a, r in g.roles.items() if r == "spy"]
    civ = [g.rewards[a] for g in rollout.games for a, r in g.roles.items() if r == "civilian"]
    votes = [s.reward for s in rollout.stage(DECISION_STAGE) if s.role != "spy"]
    civilians_won = [g.winner == "civilians" for g in rollout.games]
    return {
        "reward_spy": _mean(spy),
        "reward_civilian": _mean(civ),
        "reward_decision": _mean(votes),
        "civilian_win_rate": _mean(civilians_won),
    }
