"""Iterative-SPO (SPEC s6): alternate clue and decision training as the stage controller decides."""

from __future__ import annotations

from algorithms.trainer import Trainer


class IterativeSPO(Trainer):
    """Starts in the decision stage; the controller's EMAs of accuracy and N/A rate pick each next stage."""

    name = "iterative-spo"

    def current_stage(self) -> str:
        return self.controller.stage

    def observe_decisions(self, accuracy: float, na_rate: float) -> None:
        self.controller.update(accuracy, na_rate)
