"""Pretrain the tiny VLM on this machine so that it sees and speaks the game's format: the embedded default.

Supervised next-token loss on the answers of `tiny_vlm.data.Teacher` (grounded clues, spy-blind
votes), on exactly the inputs the HF agent samples from (`HFVLMPolicy.encode_batch`, the model's own chat
template), plus an auxiliary loss that makes the vision tower see: a linear head on each image token
predicts the colour and shape of the object under it. Scenes come from the miniature world (one or two
large objects) unless a curriculum says otherwise. A fixed number of steps from one seed and thread
count gives the same model on the same machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.hf_quiet import quiet_hf
from agents.hf_vlm import HFVLMPolicy, stack_inputs
from agents.scoring import supervised_step
from agents.tiny_vlm import TINY_SIZES, new_qwen2_5_vl
from tiny_vlm.data import (
    BACKGROUND_COLOR,
    BACKGROUND_SHAPE,
    MINIATURE,
    Example,
    SceneLevel,
    Teacher,
    choice_examples,
    clue_target,
    patch_labels,
    patch_objects,
    picture_examples,
    teacher_games,
)
from tiny_vlm.speedups import speed_up_vision
from vz_env.parsing import boxed


@dataclass(frozen=True)
class PretrainConfig:
    """Steps, batch, optimiser and curriculum of the pretraining run (the defaults build the default model).

    `curriculum` holds (share of the steps, scene level) in order; the default trains in the miniature
    world throughout (`vz_env.data.scenes.miniature_world`, the world the default model plays). A batch
    holds the turns of `games_per_step` games (about eleven each at four players), the votes of
    `vote_games_per_step` more (three each), `pictures_per_step` short-prompt pictures and
    `choice_rows_per_step` choice rows (a vote's last sentences over a blank thumbnail, a sixth of a game
    vote's cost: they teach a vote to name a number its prompt lists).
    `aux_weight`, `word_weight` and `vote_weight` weigh the vision-head, word and vote-choice losses
    against the answer loss (the vote-choice loss is averaged over vote rows: each vote has one choice
    token among hundreds of answer tokens, too few to teach the format alone); `shape_weight` weighs the
    vision head's shape term against its colour term (shapes are the hard part). `threads` is torch's
    CPU threads: the same seed, steps and threads give the same model on the same machine. `fast_vision`
    runs the vision tower through `tiny_vlm.speedups` (same maths to float rounding, about a tenth
    less time per step; off only to measure that).
    """

    seed: int = 0
    steps: int = 500
    games_per_step: int = 1
    vote_games_per_step: int = 1
    pictures_per_step: int = 64
    choice_rows_per_step: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 25
    aux_weight: float = 1.0
    shape_weight: float = 3.0
    word_weight: float = 1.0
    vote_weight: float = 0.5
    max_grad_norm: float = 1.0
    chunk_rows: int = 16
    threads: int = 2
    fast_vision: bool = True
    curriculum: tuple[tuple[float, SceneLevel], ...] = ((1.0, MINIATURE),)

    def level_at(self, step: int) -> SceneLevel:
        """The curriculum's scene level at a step."""
        done = 0.0
        for share, level in self.curriculum:
            done += share
            if step < done * self.steps:
                return level
        return self.curriculum[-1][1]


class AuxHeads(torch.nn.Module):
    """Linear colour and shape classifiers on image tokens: a cheap signal that teaches the vision tower."""

    def __init__(self, hidden: int, shape_weight: float = 1.0) -> None:
        super().__init__()
        self.shape_weight = shape_weight
        self.color = torch.nn.Linear(hidden, BACKGROUND_COLOR + 1)
        self.shape = torch.nn.Linear(hidden, BACKGROUND_SHAPE + 1)

    def weights(self, labels: torch.Tensor) -> torch.Tensor:
        """Per-token weights: background tokens count a quarter, so objects are not drowned out."""
        return torch.where(labels[:, 1] == BACKGROUND_SHAPE, 0.25, 1.0)

    def loss_sum(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Weighted sum over tokens of both heads' cross-entropy."""
        color = torch.nn.functional.cross_entropy(self.color(features), labels[:, 0], reduction="none")
        shape = torch.nn.functional.cross_entropy(self.shape(features), labels[:, 1], reduction="none")
        return ((color + self.shape_weight * shape) * self.weights(labels)).sum()


class Pretrainer:
    """One model, its aux heads and optimiser; `step` trains on one batch of teacher games.

    `lr_factor(step)` scales the learning rate (default: warm-up, then cosine over `config.steps`).
    `deduce_weight` weighs the deduction loss: the cross-entropy at the number of a vote that deduces
    (a row with an `answer`), averaged over such rows, so that the one token that carries the
    deduction is not drowned among the batch's answer tokens (0: the format phase, no such rows).
    """

    def __init__(
        self,
        policy: HFVLMPolicy,
        config: PretrainConfig,
        lr_factor: Callable[[int], float] | None = None,
        deduce_weight: float = 0.0,
    ) -> None:
        self.policy = policy
        self.config = config
        self.deduce_weight = deduce_weight
        self.model = policy.model
        if config.fast_vision:
            speed_up_vision(self.model)
        self.heads = AuxHeads(self.model.config.get_text_config().hidden_size, config.shape_weight)
        params = list(self.model.parameters()) + list(self.heads.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor or self._lr_factor)
        self.teacher = Teacher(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self._features: list[torch.Tensor] = []
        self.model.model.visual.register_forward_hook(self._keep_features)
        self.eos = policy.eos_token_ids[0]
        self._boxed_prefix = self._ids(boxed("")[:-1])
        self._boxed_suffix = self._ids("}")
        self._word_cache: dict[tuple[str, ...], list[int]] = {}
        self._choice_cache: dict[tuple[int, ...], list[int]] = {}

    def _lr_factor(self, step: int) -> float:
        warm = self.config.warmup_steps
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, self.config.steps - warm)
        return 0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * min(1.0, progress)))

    def _keep_features(self, _module: Any, _inputs: Any, output: Any) -> None:
        self._features.append(output.pooler_output)

    def examples(self, step: int) -> list[Example]:
        """This step's game turns and short-prompt pictures (seeds apart from evaluation's)."""
        cfg = self.config
        level = cfg.level_at(step)
        per_step = cfg.games_per_step + cfg.vote_games_per_step + cfg.pictures_per_step
        seed = 10_000_000 + (cfg.seed * 100_000 + step) * per_step
        games = teacher_games(self.teacher, level, seed, self.rng, cfg.games_per_step)
        seed += cfg.games_per_step
        votes = teacher_games(self.teacher, level, seed, self.rng, cfg.vote_games_per_step, votes_only=True)
        seed += cfg.vote_games_per_step
        size = np.asarray(games[0].observation["image"]).shape[1::-1]
        pictures = picture_examples(level, seed, cfg.pictures_per_step, tuple(size))
        return games + votes + pictures + choice_examples(self.rng, cfg.choice_rows_per_step)

    def step(self, step: int) -> dict[str, float]:
        """One optimiser step on this step's examples; returns its mean losses by name."""
        return self.train_on(self.examples(step))

    def train_on(self, examples: Sequence[Example]) -> dict[str, float]:
        """One optimiser step on `examples`; returns its mean losses by name.

        Rows are sorted by length and run in chunks (gradients accumulate), so short prompts are not
        padded to the length of game prompts.
        """
        prompts = self.policy.encode_batch([ex.observation for ex in examples])
        targets = [self._ids(ex.target) + [self.eos] for ex in examples]
        owners = [
            patch_objects(ex.objects, _image_size(ex), _token_grid(p))
            for ex, p in zip(examples, prompts, strict=True)
        ]
        rows = [
            _Row(
                p,
                torch.tensor(t),
                torch.from_numpy(patch_labels(ex.objects, o)),
                self._word_targets(ex, o),
                self._vote_choices(ex, t),
                self._deduced_number(ex, t),
            )
            for ex, p, t, o in zip(examples, prompts, targets, owners, strict=True)
        ]
        answer_tokens = sum(len(t) for t in targets)
        totals = {
            "loss": answer_tokens,
            "aux_loss": float(sum(self.heads.weights(r.labels).sum() for r in rows)),
            "word_loss": max(1, sum(bool(w) for r in rows for w in r.words)),
            "vote_loss": max(1, sum(r.vote is not None for r in rows)),
        }
        weights = {
            "loss": 1.0,
            "aux_loss": self.config.aux_weight,
            "word_loss": self.config.word_weight,
            "vote_loss": self.config.vote_weight,
        }
        if self.deduce_weight > 0:
            totals["deduce_loss"] = max(1, sum(r.deduce is not None for r in rows))
            weights["deduce_loss"] = self.deduce_weight
        order = sorted(range(len(rows)), key=lambda i: len(rows[i].prompt))
        sums = dict.fromkeys(totals, 0.0)

        def chunk_losses() -> Iterator[torch.Tensor]:
            for start in range(0, len(order), self.config.chunk_rows):
                chunk = self._chunk_losses([rows[i] for i in order[start : start + self.config.chunk_rows]])
                for key in totals:
                    sums[key] += float(chunk[key].detach())
                yield sum(weights[k] * chunk[k] / totals[k] for k in totals)

        self.model.train()
        params = list(self.model.parameters()) + list(self.heads.parameters())
        supervised_step(self.optimizer, params, chunk_losses(), self.config.max_grad_norm)
        self.schedule.step()
        self.model.eval()
        return {key: sums[key] / totals[key] for key in totals}

    def _ids(self, text: str) -> list[int]:
        return self.policy.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _vote_choices(self, example: Example, target: list[int]) -> _Vote | None:
        """For a spy-blind vote naming a player: where its number stands in the target, and the numbers it
        may name (the example's choices); None for clues, for N/A (whose first token differs: "{N" not
        "{") and for votes that deduce (their `answer` is the label, not a uniform spread)."""
        prefix = len(self._boxed_prefix)
        if not example.choices or example.answer is not None or target[:prefix] != self._boxed_prefix:
            return None
        return _Vote(prefix, self.choice_ids(example.choices))

    def _deduced_number(self, example: Example, target: list[int]) -> int | None:
        """For a vote that deduces and names a player: where its number stands in the target."""
        prefix = len(self._boxed_prefix)
        if example.answer is None or target[:prefix] != self._boxed_prefix:
            return None
        return prefix

    def choice_ids(self, choices: tuple[int, ...]) -> list[int]:
        """The token ids of the player numbers `choices`, as a vote writes them after "\\boxed{"."""
        if choices not in self._choice_cache:
            prefix = len(self._boxed_prefix)
            ids = {self._ids(boxed(str(p)))[prefix] for p in choices}
            self._choice_cache[choices] = sorted(ids)
        return self._choice_cache[choices]

    def number_logits(self, examples: Sequence[Example]) -> torch.Tensor:
        """The next-token logits right after "\\boxed{" that each row's prompt opens: where a vote names
        its number."""
        prompts = self.policy.encode_batch([ex.observation for ex in examples])
        prefix = torch.tensor(self._boxed_prefix)
        batch = stack_inputs([p.extended(prefix) for p in prompts], self.policy.pad_token_id, "right")
        hidden = self.model.model(**batch).last_hidden_state
        ends = torch.tensor([len(p) + len(prefix) - 1 for p in prompts])
        return self.model.lm_head(hidden[torch.arange(len(examples)), ends])

    def train_numbers(self, examples: Sequence[Example]) -> dict[str, float]:
        """One optimiser step on the cross-entropy at each row's number alone (the row's target names one
        player): the deduction signal undiluted by answer tokens and rehearsal, which is what teaches the
        colour comparison (docs/results.md, "Why it stops short")."""
        prefix = len(self._boxed_prefix)
        ids = [self._ids(ex.target) for ex in examples]
        if any(t[:prefix] != self._boxed_prefix or len(t) <= prefix for t in ids):
            raise ValueError("train_numbers needs rows whose target names a player in \\boxed{}")
        targets = torch.tensor([t[prefix] for t in ids])
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].observation["prompt"]))
        total = [0.0]

        def chunk_losses() -> Iterator[torch.Tensor]:
            for start in range(0, len(order), self.config.chunk_rows):
                chunk = order[start : start + self.config.chunk_rows]
                logits = self.number_logits([examples[i] for i in chunk])
                loss = torch.nn.functional.cross_entropy(logits, targets[chunk], reduction="sum")
                total[0] += float(loss.detach())
                yield loss / len(examples)

        self.model.train()
        params = list(self.model.parameters())
        supervised_step(self.optimizer, params, chunk_losses(), self.config.max_grad_norm)
        self.schedule.step()
        self.model.eval()
        return {"loss": total[0] / max(1, len(examples))}

    @torch.no_grad()
    def deduction_accuracy(self, examples: Sequence[Example], chunk: int = 32) -> float:
        """Share of `examples` whose likeliest listed number, right after "\\boxed{", is their `answer`."""
        prefix = len(self._boxed_prefix)
        right = 0
        for start in range(0, len(examples), chunk):
            part = examples[start : start + chunk]
            for row, ex in zip(self.number_logits(part), part, strict=True):
                ids = {self._ids(boxed(str(p)))[prefix]: p for p in ex.choices}
                best = max(ids, key=lambda i: float(row[i]))
                right += ids[best] == ex.answer
        return right / max(1, len(examples))

    def _word_targets(self, example: Example, owner: np.ndarray) -> list[list[int]]:
        """Per object cell, the token ids of its object's words as a clue writes them ([] for background)."""
        words = [self._words(obj) for obj in example.objects]
        return [words[i] if i >= 0 else [] for i in owner.tolist()]

    def _words(self, obj: dict[str, Any]) -> list[int]:
        key = (obj["size"], obj["color"], obj["material"], obj["shape"])
        if key not in self._word_cache:
            boxed = self._ids(clue_target([obj], 1))
            self._word_cache[key] = boxed[len(self._boxed_prefix) : len(boxed) - len(self._boxed_suffix)]
        return self._word_cache[key]

    def _chunk_losses(self, rows: Sequence[_Row]) -> dict[str, torch.Tensor]:
        """Summed answer cross-entropy, weighted vision-head cross-entropy and word loss of a few rows.

        The word loss asks the language model's own output head, at each image token of an object, for
        the words a clue uses for that object (mean log-probability of its tokens): the image tokens then
        carry the answer's vocabulary, and an attention head only has to copy it to the answer. The
        vote-choice loss is the cross-entropy at a vote's number against the uniform spread over the
        numbers it may name: the vote target's own distribution, so it says nothing of the spy, without
        the noise of one sampled number, and with no mass on the voter's own number or on a player who
        is not in the game.
        """
        batch = stack_inputs([r.prompt.extended(r.target) for r in rows], self.policy.pad_token_id, "right")
        self._features.clear()
        hidden = self.model.model(**batch).last_hidden_state
        rows_index = torch.cat([torch.full((len(r.target),), i) for i, r in enumerate(rows)])
        cols_index = torch.cat([len(r.prompt) - 1 + torch.arange(len(r.target)) for r in rows])
        logits = self.model.lm_head(hidden[rows_index, cols_index])
        text = torch.nn.functional.cross_entropy(logits, torch.cat([r.target for r in rows]), reduction="sum")
        starts = np.cumsum([0] + [len(r.target) for r in rows])
        vote = hidden.new_zeros(())
        for i, r in enumerate(rows):
            if r.vote is not None:
                logp = torch.log_softmax(logits[starts[i] + r.vote.at], dim=-1)
                vote = vote - logp[r.vote.choices].mean()
        labels = torch.cat([r.labels for r in rows])
        image = hidden[batch["input_ids"] == self.model.config.image_token_id]
        words = [w for r in rows for w in r.words]
        cells = [i for i, w in enumerate(words) if w]
        word = hidden.new_zeros(())
        if cells:
            logp = torch.log_softmax(self.model.lm_head(image[cells]), dim=-1)
            word = -sum(logp[k, words[i]].mean() for k, i in enumerate(cells))
        deduce = hidden.new_zeros(())
        for i, r in enumerate(rows):
            if r.deduce is not None:
                deduce = deduce - torch.log_softmax(logits[starts[i] + r.deduce], dim=-1)[r.target[r.deduce]]
        return {
            "loss": text,
            "aux_loss": self.heads.loss_sum(self._features[0], labels),
            "word_loss": word,
            "vote_loss": vote,
            "deduce_loss": deduce,
        }


@dataclass(frozen=True)
class _Vote:
    """Where a vote's number stands in its target, and the numbers (token ids) it may name."""

    at: int
    choices: list[int]


@dataclass
class _Row:
    """One example ready for the model: prompt inputs, target ids, per-cell vision labels and words, for a
    spy-blind vote naming a player where its number stands and the numbers it may name, and for a vote
    that deduces where its number stands."""

    prompt: Any
    target: torch.Tensor
    labels: torch.Tensor
    words: list[list[int]]
    vote: _Vote | None
    deduce: int | None = None


def _image_size(example: Example) -> tuple[int, int]:
    height, width = np.asarray(example.observation["image"]).shape[:2]
    return width, height


def _token_grid(prompt: Any) -> tuple[int, int]:
    """(rows, cols) of merged image tokens of one prompt, from Qwen's patch grid (2x2 patches per token)."""
    _, rows, cols = prompt.vision_inputs["image_grid_thw"][0].tolist()
    return rows // 2, cols // 2


StepCallback = Callable[[int, dict[str, float], HFVLMPolicy], None]


def pretrain(
    out_dir: str | Path, config: PretrainConfig = PretrainConfig(), on_step: StepCallback | None = None
) -> Path:
    """Build, pretrain and save the tiny VLM into `out_dir`, calling `on_step(step, losses, policy)` per step.

    The policy (temperature 0.8, 24 new tokens) can be played between steps, e.g. to draw a learning curve.
    """
    out = Path(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as start:
            torch.manual_seed(config.seed)
            model, processor = new_qwen2_5_vl(config.seed, TINY_SIZES["pretrain"])
            with quiet_hf():
                model.save_pretrained(start)
                processor.save_pretrained(start)
            policy = HFVLMPolicy(
                start, device="cpu", dtype=torch.float32, max_new_tokens=24, seed=config.seed
            )
            trainer = Pretrainer(policy, config)
            for step in range(config.steps):
                losses = trainer.step(step)
                if on_step is not None:
                    on_step(step, losses, policy)
            with quiet_hf():
                policy.model.save_pretrained(out)
                policy.processor.save_pretrained(out)
    finally:
        torch.set_num_threads(threads)
    return out
