"""Trainers by name: a new algorithm is one module here plus one line in TRAINERS."""

from __future__ import annotations

import importlib

TRAINERS: dict[str, str] = {
    "iterative-spo": "algorithms.trainers.iterative_spo:IterativeSPO",
    "grpo-decision": "algorithms.trainers.grpo_decision:GRPODecision",
    "selfplay-clue": "algorithms.trainers.selfplay_clue:SelfPlayClue",
}


def trainer_class(name: str) -> type:
    """The trainer class registered under `name`."""
    if name not in TRAINERS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(TRAINERS)}")
    module, _, cls = TRAINERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
