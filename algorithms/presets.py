"""Run presets: named trainer and env settings that the command line, benchmarks and examples start from."""

from __future__ import annotations

from typing import Any

from algorithms.train_config import DEFAULT_LORA_TARGETS
from tiny_vlm.world import WORLD

# LoRA on the output head too: a tiny model's vote tokens move much faster with it.
TINY_LORA_TARGETS = f"({DEFAULT_LORA_TARGETS})|lm_head"

PRESETS: dict[str, dict[str, Any]] = {
    # The main job: the shipped tiny VLM on the ordinary game, about ten minutes on two CPU cores.
    # Both stages train: the stage patience (docs/spec.md s6's P, 10 here rather than the paper's 20) ends a
    # stage that no threshold ends, and bias-corrected EMAs let the thresholds act from the start.
    "tiny": {
        "trainer": {
            "iterations": 30,
            "games_per_iter": 8,
            "group_size": 8,
            "max_new_tokens": 16,
            "learning_rate": 1e-3,
            "lr_schedule": "constant",
            "warmup_ratio": 0.0,
            "lora_targets": TINY_LORA_TARGETS,
            "min_stage_iters": 3,
            "stage_patience": 10,
            "stage_ema_bias_correction": True,
            "checkpoint_every": 10,
        },
        # The miniature world, the shipped tiny VLM's (tiny_vlm.world.WORLD). An abstention scores like a
        # wrong vote (the paper: -0.5), so that training sharpens the votes rather than teaching to abstain.
        "env": {"images": WORLD, "reward_abstain": -1.0},
    },
    "paper": {"trainer": {"iterations": 100, "games_per_iter": 32, "max_new_tokens": 512}, "env": {}},
}
DEFAULT_PRESET = "tiny"
