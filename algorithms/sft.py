"""Supervised warm-start that teaches a VLM the answer format only (boxed clues and votes), not the spy.

Bot games are played through the env; a `FormatTeacher` gives SceneBot's clue as `\\boxed{clue}` and a vote
`\\boxed{N}` for a player drawn uniformly among the others, whoever the spy is. The model is trained with
cross-entropy on the completion tokens only, on exactly the chat-templated prompt + image inputs the HF agent
samples from (`HFVLMPolicy.encode`, `PromptInputs.extended`, `collate`), and saved as a full model folder.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Policy
from agents.hf_quiet import quiet_hf
from agents.scripted import SceneBot
from algorithms.rollout import play_games
from algorithms.sft_config import SFTConfig
from vz_env.atomic import atomic_folder, require_free_folder
from vz_env.config import SpyConfig
from vz_env.parsing import boxed, parse_clue
from vz_env.prompts import other_players
from vz_env.turn import Phase
from vz_env.vote_stats import vote_stats

FALLBACK_CLUE = "a few objects on a plain floor"


@dataclass
class Example:
    """One supervised turn: the observation the player saw and the answer text it should give."""

    observation: Mapping[str, Any]
    target: str


class FormatTeacher(Policy):
    """Plays bot games and records (observation, target) pairs whose votes carry no information about the spy.

    Clues are SceneBot's own-picture clues, boxed; votes name a player drawn uniformly among the others
    (every player but the voter's own seat), so a model trained on them learns the format, not the spy.
    With the spy drawn at random (the ordinary game) the votes are uniform over seats; with a fixed
    `spy_seat` they are not (that seat is among every voter's others), so warm-start on the ordinary game.
    """

    name = "format-teacher"

    def __init__(self, num_players: int, seed: int = 0) -> None:
        self.num_players = num_players
        self.examples: list[Example] = []
        self._bot = SceneBot(seed)
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._bot.reset(seed)
            self._rng = np.random.default_rng(seed)

    def act(self, observation: Mapping[str, Any]) -> str:
        if observation["phase"] == Phase.CLUE:
            clue = parse_clue(self._bot.act(observation)).clue or FALLBACK_CLUE
            target = boxed(clue)
        else:
            others = other_players(observation["seat"] + 1, self.num_players)
            target = boxed(str(others[int(self._rng.integers(len(others)))]))
        self.examples.append(Example(observation, target))
        return target


def teacher_examples(num_games: int, seed: int, env_kwargs: Mapping[str, Any] | None = None) -> list[Example]:
    """Clue and vote examples from `num_games` bot games played through the env (seeds seed..seed+n-1)."""
    config = SpyConfig.from_kwargs(**dict(env_kwargs or {}))
    teacher = FormatTeacher(config.num_players, seed)
    play_games(teacher, num_games, seed, 1, env_kwargs)
    return teacher.examples


def encode_examples(policy: Any, examples: Sequence[Example]) -> list[Any]:
    """Each example as a Generation of the target ids (ending in EOS) on the policy's own prompt inputs."""
    from agents.hf_vlm import Generation

    eos = policy.eos_token_ids[0]
    encoded = []
    for example in examples:
        ids = policy.tokenizer(example.target, add_special_tokens=False)["input_ids"] + [eos]
        completion = torch.tensor(ids, dtype=torch.long)
        encoded.append(
            Generation(
                example.target, completion, torch.zeros(len(ids)), policy.encode(example.observation), 0, True
            )
        )
    return encoded


def completion_loss(model: Any, generations: Sequence[Any], pad_token_id: int) -> torch.Tensor:
    """Mean cross-entropy over the completion tokens of a batch (prompt tokens carry no loss)."""
    from agents.scoring import collate, completion_logprobs

    batch = collate(generations, pad_token_id)
    logprobs = completion_logprobs(model, batch, temperature=1.0)
    return -logprobs.sum() / batch.completion_mask.sum().to(logprobs.device)


def train_format(
    policy: Any,
    examples: Sequence[Example],
    config: SFTConfig,
    on_step: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Full fine-tuning of policy.model on the examples; returns the loss of every step.

    `on_step(step, total_steps, loss)` is called after each optimizer step.
    """
    from agents.scoring import supervised_step

    generations = encode_examples(policy, examples)
    model = policy.model
    model.train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    order_rng = np.random.default_rng(config.seed)
    steps_per_epoch = -(-len(generations) // config.batch_size)
    total = steps_per_epoch * config.epochs
    losses: list[float] = []
    for _ in range(config.epochs):
        order = order_rng.permutation(len(generations))
        for begin in range(0, len(order), config.batch_size):
            batch = [generations[i] for i in order[begin : begin + config.batch_size]]
            loss = completion_loss(model, batch, policy.pad_token_id)
            supervised_step(optimizer, list(model.parameters()), [loss], config.max_grad_norm)
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(len(losses), total, losses[-1])
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return losses


def format_report(
    policy: Policy, num_games: int, seed: int, env_kwargs: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """Self-play games of the policy: how many clues and votes parse, and how often a vote names the spy.

    `decision_accuracy` counts every civilian vote (invalid ones as wrong), `valid_vote_accuracy` only the
    valid ones; `chance` is the accuracy of a uniform vote over the other players (1 / (N - 1), one spy).
    """
    rollout = play_games(policy, num_games, seed, 1, env_kwargs)
    clues = rollout.stage(Phase.CLUE)
    votes = vote_stats((s.turn, s.role) for s in rollout.samples)
    config = SpyConfig.from_kwargs(**dict(env_kwargs or {}))
    return {
        "valid_clue_rate": _mean([s.turn.valid for s in clues]),
        "valid_vote_rate": votes.valid_rate,
        "decision_accuracy": votes.accuracy,
        "valid_vote_accuracy": votes.spy_named / max(1, votes.valid),
        "chance": config.num_spies / (config.num_players - 1),
    }


def save_model_folder(policy: Any, out: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Model, processor and `sft.json` into `out`, atomically: a temp folder beside it, then a rename."""
    out = free_folder(out)
    with atomic_folder(out) as tmp, quiet_hf():
        policy.model.save_pretrained(tmp)
        policy.processor.save_pretrained(tmp)
        (tmp / "sft.json").write_text(json.dumps(dict(metadata), indent=2, default=repr) + "\n")
    return out


def warm_start(
    model_path: str | Path | None,
    out: str | Path,
    config: SFTConfig,
    env_kwargs: Mapping[str, Any] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Play teacher games, fine-tune the model on their answers, save it to `out`; returns a summary.

    The summary (also written to `out/sft.json`) holds the settings, the first and last step's loss and
    the time taken.
    """
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.world import resolve_model

    out = free_folder(out)
    start = time.perf_counter()
    policy = HFVLMPolicy(resolve_model(None if model_path is None else str(model_path)), seed=config.seed)
    examples = teacher_examples(config.games, config.seed, env_kwargs)
    losses = train_format(policy, examples, config, on_step)
    summary = {
        "base_model": str(model_path) if model_path is not None else "built-in tiny VLM",
        "sft": dataclasses.asdict(config),
        "env": {k: list(v) if isinstance(v, tuple) else v for k, v in dict(env_kwargs or {}).items()},
        "examples": len(examples),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "seconds": time.perf_counter() - start,
    }
    save_model_folder(policy, out, summary)
    return {**summary, "out": str(out)}


def free_folder(out: str | Path) -> Path:
    """The absolute path of `out`, which must not exist yet or be an empty folder (nothing is overwritten)."""
    return require_free_folder(Path(out).expanduser().resolve())


def _mean(flags: Sequence[bool]) -> float:
    return float(sum(flags)) / len(flags) if flags else 0.0
