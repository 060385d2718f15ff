"""Players by spec, the shipped tiny VLM included: `tiny` and `vllm:tiny` are resolved here, above agents."""

from __future__ import annotations

from typing import Any

from agents.base import Policy
from agents.registry import load_policy
from tiny_vlm.world import resolve_model


def load_player(spec: str, seed: int | None = None, **vlm_kwargs: Any) -> Policy:
    """`agents.registry.load_policy` for any spec it takes, and `tiny` / `vllm:tiny` for the shipped model."""
    return load_policy(resolve_model(spec), seed=seed, label=spec, **vlm_kwargs)
