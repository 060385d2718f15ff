"""agents: policies that play the spy game (scripted bots, a terminal human, Hugging Face VLMs, endpoints).

The names below load on first use, so `import agents` costs nothing and never imports torch; only the
VLM names (`HFVLMPolicy`, `build_tiny_vlm`, ...) bring torch and transformers in.
"""

from __future__ import annotations

from vz_env.lazy import lazy_exports

_HOMES = {
    "Clue": "vz_env.turn",
    "Policy": "agents.base",
    "decode_history": "agents.base",
    "decode_phase": "agents.base",
    "decode_role": "agents.base",
    "decode_scene": "agents.base",
    "RandomAgent": "agents.scripted",
    "SceneBot": "agents.scripted",
    "HumanAgent": "agents.human",
    "PlayerQuit": "agents.human",
    "BOT_NAMES": "agents.registry",
    "load_policy": "agents.registry",
    "EndpointPolicy": "agents.endpoint",
    "EndpointError": "agents.chat_client",
    "HFVLMPolicy": "agents.hf_vlm",
    "ModelLoadError": "agents.hf_vlm",
    "build_tiny_vlm": "agents.tiny_vlm",
    "default_model_path": "agents.tiny_vlm",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports("agents", _HOMES, globals())
