"""Policies by name, so the CLI and configs can say `scene`, `random`, a folder, `vllm:...` or
`openai:MODEL@URL;...` (a served model; grammar in agents.endpoint_spec). The shipped tiny VLM (`tiny`)
is resolved to its folder above agents, by `algorithms.players.load_player`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.base import Policy
from agents.endpoint_spec import ENDPOINT_PREFIX, is_endpoint_spec

BOT_NAMES = ("scene", "random")
VLLM_PREFIX = "vllm:"


def load_policy(spec: str, seed: int | None = None, label: str = "", **vlm_kwargs: Any) -> Policy:
    """A policy from a spec: a bot name, a Hugging Face model folder, `vllm:FOLDER` for the same served
    by vLLM (the `vllm` extra), or `openai:MODEL@URL;...`
    for a model behind an OpenAI-compatible endpoint (its sampling settings come from the spec).

    A spec that does not parse or names an unset key variable raises ValueError; an endpoint that is not
    there raises agents.chat_client.EndpointError. Both are one line. The policy's label is `label`, or
    else the spec.
    """
    label = label or spec
    if spec == "scene":
        from agents.scripted import SceneBot

        policy: Policy = SceneBot(seed=seed, label=label)
    elif spec == "random":
        from agents.scripted import RandomAgent

        policy = RandomAgent(seed=seed, label=label)
    elif is_endpoint_spec(spec):
        from agents.endpoint import EndpointPolicy

        policy = EndpointPolicy.from_spec(spec, seed=seed, label=label)
    elif spec.startswith(VLLM_PREFIX):
        from agents.vllm_vlm import VLLMPolicy

        model = spec.removeprefix(VLLM_PREFIX)
        if not Path(model).exists():
            raise ValueError(f"policy {spec!r}: {model!r} is not an existing model folder")
        vllm_kwargs = {k: v for k, v in vlm_kwargs.items() if k != "device"}
        policy = VLLMPolicy(model, seed=seed, label=label, **vllm_kwargs)
    elif Path(spec).exists():
        from agents.hf_vlm import HFVLMPolicy

        policy = HFVLMPolicy(spec, seed=seed, label=label, **vlm_kwargs)
    else:
        raise ValueError(
            f"policy {spec!r} is not one of {', '.join(BOT_NAMES)}, 'tiny', an existing model folder, "
            f"{VLLM_PREFIX}tiny / {VLLM_PREFIX}FOLDER, or {ENDPOINT_PREFIX}MODEL@URL"
        )
    return policy
