"""The recipe's second phase: teach the pretrained tiny VLM's votes to single out the odd clue, form by form.

The phase starts from the format phase's saved model (a fresh optimiser, no vision heads) and trains on
odd-clue rows (`tiny_vlm.odd_clues`) in stages of growing prompt length: `short`, `round`, `game`, each
until its held-out accuracy reaches its threshold, then `play`, where the votes of real games (their
pictures, their prompts, the deducing teacher's labels) join the text rows. Every step also rehearses
what the format phase taught (grounded clues of one game, short-prompt pictures, choice rows), so
that grounding and the answer format survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tiny_vlm.data import MINIATURE, Example, Teacher, choice_examples, picture_examples, teacher_games
from tiny_vlm.odd_clues import COLOUR_ONLY, FORMS, odd_clue_examples
from tiny_vlm.pretrain import Pretrainer
from vz_env.data.scenes import CHANGEABLE

STAGES = (*FORMS, "play")
HELD_OUT_ROWS_SEED = 7_000_000
HELD_OUT_GAMES_SEED = 1_500_000_000  # apart from pretraining's and evaluation's game seeds


@dataclass(frozen=True)
class DeductionConfig:
    """Steps, optimiser, stages and batch of the deduction phase.

    `rows_per_step[k]` odd-clue rows train in stage k (`STAGES`); past the first stage, a share
    `earlier_share` of them are drawn from the earlier forms. Stage k < 3 ends when the held-out accuracy
    of its form, measured every `eval_every` steps on `eval_rows` rows, reaches `advance_at[k]`; the votes
    of `eval_games` held-out teacher games are checked too, every fourth time and at every check in
    `play`. In `play`, `vote_games_per_step` teacher games add their votes (labels from the deducing
    teacher). In `play`, a share `label_noise` of labels is drawn spy-blind instead, so that the model
    stays unsure (the earlier stages learn from clean labels, which a noisy start did not);
    `deduce_weight` weighs the cross-entropy at a deducing vote's number (see
    `tiny_vlm.pretrain.Pretrainer`). The learning rate warms up over `warmup_steps`, holds, and decays
    linearly to a tenth over the last `decay_share` of the steps. Each step rehearses the clues of
    `clue_games_per_step` teacher games, `pictures_per_step` short-prompt pictures and
    `choice_rows_per_step` choice rows.
    """

    steps: int = 2200
    learning_rate: float = 1e-3
    warmup_steps: int = 25
    decay_share: float = 0.2
    rows_per_step: tuple[int, ...] = (64, 48, 32, 24)
    earlier_share: float = 0.3
    advance_at: tuple[float, ...] = (0.65, 0.60, 0.60)
    eval_every: int = 50
    eval_rows: int = 200
    eval_games: int = 80
    label_noise: float = 0.4
    deduce_weight: float = 2.0
    vote_games_per_step: int = 4
    clue_games_per_step: int = 1
    pictures_per_step: int = 16
    choice_rows_per_step: int = 4

    def lr_factor(self, step: int) -> float:
        """The learning rate's multiplier at a step of this phase."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_from = self.steps * (1.0 - self.decay_share)
        if step < decay_from:
            return 1.0
        return 1.0 - 0.9 * min(1.0, (step - decay_from) / max(1.0, self.steps - decay_from))


@dataclass
class Curriculum:
    """Where the phase stands: its stage and the held-out accuracies measured so far."""

    stage: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)


class DeductionTrainer:
    """Draws each step's rows for the current stage, trains on them, and moves on when a stage is learnt."""

    def __init__(self, trainer: Pretrainer, config: DeductionConfig, seed: int) -> None:
        self.trainer = trainer
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng(seed + 1)
        self.teacher = Teacher(seed + 1, config.label_noise)
        self.curriculum = Curriculum()
        self.held_out = {
            form: odd_clue_examples(rng, config.eval_rows, form)
            for form, rng in zip(FORMS, _held_out_rngs(HELD_OUT_ROWS_SEED), strict=True)
        }
        self._held_out_play: list[Example] | None = None

    @property
    def stage(self) -> str:
        """The current stage's name."""
        return STAGES[self.curriculum.stage]

    @property
    def form(self) -> str:
        """The odd-clue form the current stage trains (`game` in `play`)."""
        return FORMS[min(self.curriculum.stage, len(FORMS) - 1)]

    def _row_counts(self) -> tuple[int, int]:
        """This stage's odd-clue rows a step: of its own form, and of earlier forms."""
        k = self.curriculum.stage
        count = self.config.rows_per_step[k]
        earlier = 0 if k == 0 else int(round(self.config.earlier_share * count))
        return count - earlier, earlier

    def examples(self, step: int) -> list[Example]:
        """This step's rows: odd-clue rows of the stage (and of earlier forms), real votes in `play`,
        rehearsal."""
        cfg, k = self.config, self.curriculum.stage
        own, earlier = self._row_counts()
        noise = cfg.label_noise if STAGES[k] == "play" else 0.0
        rows = odd_clue_examples(self.rng, own, self.form, noise)
        for _ in range(earlier):
            form = FORMS[int(self.rng.integers(min(k, len(FORMS))))]
            rows += odd_clue_examples(self.rng, 1, form, noise)
        seed = 20_000_000 + (self.seed * 100_000 + step) * 100
        self.teacher.deduce = False
        clues = teacher_games(
            self.teacher, MINIATURE, seed, self.rng, cfg.clue_games_per_step, clues_only=True
        )
        if STAGES[k] == "play":
            self.teacher.deduce = True
            seed += cfg.clue_games_per_step
            rows += teacher_games(
                self.teacher, MINIATURE, seed, self.rng, cfg.vote_games_per_step, votes_only=True
            )
        seed += cfg.vote_games_per_step
        size = np.asarray(clues[0].observation["image"]).shape[1::-1]
        pictures = picture_examples(MINIATURE, seed, cfg.pictures_per_step, tuple(size))
        return rows + clues + pictures + choice_examples(self.rng, cfg.choice_rows_per_step)

    def step(self, step: int) -> dict[str, float]:
        """One optimiser step; every `eval_every` steps, a held-out check that may end the stage."""
        losses = self.trainer.train_on(self.examples(step))
        if (step + 1) % self.config.eval_every == 0:
            self._check(step + 1)
        return losses

    def held_out_play(self) -> list[Example]:
        """Votes of held-out games whose clues single out one player, labelled by the deducing teacher."""
        if self._held_out_play is None:
            teacher = Teacher(0)
            teacher.deduce = True
            rng = np.random.default_rng(HELD_OUT_GAMES_SEED)
            games = self.config.eval_games
            votes = teacher_games(teacher, MINIATURE, HELD_OUT_GAMES_SEED, rng, games, votes_only=True)
            self._held_out_play = [ex for ex in votes if ex.answer is not None]
        return self._held_out_play

    def _check(self, step: int) -> None:
        k = self.curriculum.stage
        forms = FORMS[: min(k + 1, len(FORMS))]
        point: dict[str, Any] = {"step": step, "stage": STAGES[k]}
        for form in forms:
            point[form] = self.trainer.deduction_accuracy(self.held_out[form])
        if k == len(FORMS) or step % (4 * self.config.eval_every) == 0:
            point["play"] = self.trainer.deduction_accuracy(self.held_out_play())
        self.curriculum.curve.append(point)
        if k < len(FORMS) and point[FORMS[k]] >= self.config.advance_at[k]:
            self.curriculum.stage += 1


class ComparisonTrainer(DeductionTrainer):
    """Odd-clue rows alone, a share `colour_share` of them colour-only, trained with the cross-entropy at
    the vote's number alone (`Pretrainer.train_numbers`): the deduction signal without the answer's other
    tokens and the rehearsal.

    The deduction phase leaves the votes blind to colours (chance on colour-only changes in every form),
    and its loss does not teach them in 1,000 steps where this one does in the `short` form
    (docs/results.md, "Recipe 7"). Its curriculum is the deduction phase's (forms in order, each until
    its held-out accuracy reaches `advance_at`); each check also measures the current form's colour-only
    rows.
    """

    def __init__(self, trainer: Pretrainer, config: DeductionConfig, seed: int, colour_share: float) -> None:
        super().__init__(trainer, config, seed)
        self.colour_share = colour_share
        self.held_out_colour = {
            form: odd_clue_examples(rng, config.eval_rows, form, attributes=COLOUR_ONLY)
            for form, rng in zip(FORMS, _held_out_rngs(HELD_OUT_ROWS_SEED + 100), strict=True)
        }

    def examples(self, step: int) -> list[Example]:
        """This step's odd-clue rows: of the stage's form (`game` in `play`) and (a share `earlier_share`)
        earlier forms, a share `colour_share` of each colour-only."""
        k = self.curriculum.stage
        own, earlier = self._row_counts()
        forms = [self.form] * own
        forms += [FORMS[int(self.rng.integers(min(k, len(FORMS))))] for _ in range(earlier)]
        rows = []
        for form in forms:
            attributes = COLOUR_ONLY if self.rng.random() < self.colour_share else CHANGEABLE
            rows += odd_clue_examples(self.rng, 1, form, attributes=attributes)
        return rows

    def step(self, step: int) -> dict[str, float]:
        """One optimiser step on the numbers alone; every `eval_every` steps, a held-out check."""
        losses = self.trainer.train_numbers(self.examples(step))
        if (step + 1) % self.config.eval_every == 0:
            self._check(step + 1)
        return losses

    def _check(self, step: int) -> None:
        form = self.form
        colour = self.trainer.deduction_accuracy(self.held_out_colour[form])
        super()._check(step)
        self.curriculum.curve[-1][f"{form} colour-only"] = colour


def _held_out_rngs(seed: int) -> list[np.random.Generator]:
    """One generator per form for held-out rows, seeded from `seed` on."""
    return [np.random.default_rng(seed + i) for i in range(len(FORMS))]
