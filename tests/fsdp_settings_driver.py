"""Run by tests/test_fsdp_settings.py under `accelerate launch` (FSDP2, 2 CPU processes): one iteration per
memory setting on the same samples, written to a JSON file by the main process.

    accelerate launch --config_file examples/accelerate/fsdp2.yaml ... tests/fsdp_settings_driver.py MODEL OUT
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from agents.hf_vlm import HFVLMPolicy
from algorithms import recompute
from algorithms.distributed import end_processes
from algorithms.sharding import layer_classes
from algorithms.train_config import SPOConfig
from algorithms.trainer import Trainer, default_accelerator

TRAINER = {
    "iterations": 1,
    "games_per_iter": 1,
    "group_size": 2,
    "max_new_tokens": 8,
    "learning_rate": 1e-3,
    "warmup_ratio": 0.0,
    # Two epochs: the reported (second) epoch's loss depends on the first step's gradients.
    "ppo_epochs": 2,
    "start_stage": "clue",
    "min_stage_iters": 1,
    "score_chunk": 3,
    "finetune": "full",
    "reference": "copy",
}
ENV = {"image_size": (64, 48), "num_players": 4, "num_rounds": 1, "clue_format_weight": 1.0}
SETTINGS: dict[str, dict[str, Any]] = {
    "fp32": {},
    "bf16": {"mixed_precision": "bf16"},
    "recompute": {"activation_checkpointing": True},
    "offload": {"cpu_offload": True},
}


def main(model: str, out: str) -> None:
    """Train one iteration per setting on the first setting's samples (each process its own games)."""
    accelerator = default_accelerator()
    calls: list[int] = []
    plain = recompute.checkpoint

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return plain(*args, **kwargs)

    recompute.checkpoint = counted
    rollout = None
    results: dict[str, dict[str, Any]] = {}
    for name, settings in SETTINGS.items():
        config = SPOConfig.from_dict({**TRAINER, **settings})
        policy = HFVLMPolicy(model, seed=0, device="cpu", dtype="float32")
        blocks = sum(type(m).__name__ in layer_classes(policy.model) for m in policy.model.modules())
        trainer = Trainer(policy, config, ENV, accelerator)
        rollout = rollout or trainer._rollout()
        trainer._rollout = lambda played=rollout: played
        before = len(calls)
        row = trainer.run_iteration()
        results[name] = {
            "loss": row["loss"],
            "finite": math.isfinite(row["loss"]),
            "skipped": row["skipped"],
            "state_spread": row["state_spread"],
            "checkpointed": len(calls) - before,
            "blocks": blocks,
        }
    if accelerator.is_main_process:
        with open(out, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    end_processes()
