"""Baseline: clue-stage self-play only, with role baselines (zero-sum game rewards), never the votes."""

from __future__ import annotations

from algorithms.rollout import CLUE_STAGE
from algorithms.trainer import Trainer


class SelfPlayClue(Trainer):
    """Every iteration trains the clue turns on role-baselined game rewards; votes are played, not trained."""

    name = "selfplay-clue"

    def current_stage(self) -> str:
        return CLUE_STAGE
