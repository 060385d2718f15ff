"""algorithms: how a VLM learns the spy game (Iterative-SPO rollouts, advantages, loss, one trainer).

The names below load on first use: most of these modules import torch, and `import algorithms` alone
should not.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "ALGORITHMS": "algorithms.train_config",
    "SPOConfig": "algorithms.train_config",
    "algorithm_config": "algorithms.train_config",
    "SFTConfig": "algorithms.sft_config",
    "Rollout": "algorithms.rollout",
    "TurnSample": "algorithms.rollout",
    "play_games": "algorithms.rollout",
    "RoleBaselines": "algorithms.advantages",
    "group_advantages": "algorithms.advantages",
    "policy_loss": "algorithms.loss",
    "StageController": "algorithms.stage",
    "Trainer": "algorithms.trainer",
    "train": "algorithms.run",
    "evaluate": "algorithms.evaluate",
    "plot_run": "algorithms.plot",
    "read_metrics": "algorithms.metrics",
    "warm_start": "algorithms.sft",
    "export_run": "algorithms.export",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module 'algorithms' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
