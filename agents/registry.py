"""Policies by name, so the CLI and configs can say `scene`, `random`, `tiny`, a folder or `vllm:...`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.base import Policy

BOT_NAMES = ("scene", "random")
VLLM_PREFIX = "vllm:"


def load_policy(spec: str, seed: int | None = None, **vlm_kwargs: Any) -> Policy:
    """A policy from a spec: a bot name, `tiny` (the built-in tiny VLM), a Hugging Face model folder, or
    `vllm:tiny` / `vllm:FOLDER` for the same served by vLLM (the `vllm` extra)."""
    if spec == "scene":
        from agents.scripted import SceneBot

        policy: Policy = SceneBot(seed=seed)
    elif spec == "random":
        from agents.scripted import RandomAgent

        policy = RandomAgent(seed=seed)
    elif spec.startswith(VLLM_PREFIX):
        from agents.vllm_vlm import VLLMPolicy

        model = spec.removeprefix(VLLM_PREFIX)
        if model != "tiny" and not Path(model).exists():
            raise ValueError(f"policy {spec!r}: {model!r} is not 'tiny' or an existing model folder")
        vllm_kwargs = {k: v for k, v in vlm_kwargs.items() if k != "device"}
        policy = VLLMPolicy(None if model == "tiny" else model, seed=seed, **vllm_kwargs)
    elif spec == "tiny" or Path(spec).exists():
        from agents.hf_vlm import HFVLMPolicy

        policy = HFVLMPolicy(None if spec == "tiny" else spec, seed=seed, **vlm_kwargs)
    else:
        raise ValueError(
            f"policy {spec!r} is not one of {', '.join(BOT_NAMES)}, 'tiny', an existing model folder, "
            f"or {VLLM_PREFIX}tiny / {VLLM_PREFIX}FOLDER"
        )
    policy.label = spec
    return policy
