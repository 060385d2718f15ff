"""algorithms: how a VLM learns the spy game (Iterative-SPO rollouts, advantages, loss, one trainer).

The names below load on first use: most of these modules import torch, and `import algorithms` alone
should not.
"""

from __future__ import annotations

from vz_env.lazy import lazy_exports

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
    "evaluate": "algorithms.eval.head_to_head",
    "play_league": "algorithms.eval.league",
    "bradley_terry": "algorithms.eval.ratings",
    "plot_run": "algorithms.plot",
    "read_metrics": "algorithms.metrics",
    "warm_start": "algorithms.sft",
    "export_run": "algorithms.export",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports("algorithms", _HOMES, globals())
