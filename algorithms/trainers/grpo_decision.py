"""Baseline: decision-stage RLVR only (GRPO on the verifiable vote reward), never the clue stage."""

from __future__ import annotations

from algorithms.rollout import DECISION_STAGE
from algorithms.trainer import Trainer


class GRPODecision(Trainer):
    """Every iteration trains the G group-normalised vote samples; clues are played but not trained."""

    name = "grpo-decision"

    def current_stage(self) -> str:
        return DECISION_STAGE
