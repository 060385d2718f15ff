"""Policies by name, so the command line and configs can say `scene`, `random`, `tiny` or a model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.base import Policy

BOT_NAMES = ("scene", "random")


def load_policy(spec: str, seed: int | None = None, **vlm_kwargs: Any) -> Policy:
    """A policy from a spec: a bot name, `tiny` (the built-in tiny VLM) or a Hugging Face model folder."""
    if spec == "scene":
        from agents.scripted import SceneBot

        policy: Policy = SceneBot(seed=seed)
    elif spec == "random":
        from agents.scripted import RandomAgent

        policy = RandomAgent(seed=seed)
    elif spec == "tiny" or Path(spec).exists():
        from agents.hf_vlm import HFVLMPolicy

        policy = HFVLMPolicy(None if spec == "tiny" else spec, seed=seed, **vlm_kwargs)
    else:
        raise ValueError(
            f"policy {spec!r} is not one of {', '.join(BOT_NAMES)}, 'tiny', or an existing model folder"
        )
    policy.label = spec
    return policy
