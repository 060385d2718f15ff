"""Where the default tiny VLM plays, and how a spec names it (resolved here, above the policies)."""

from __future__ import annotations

WORLD = "clevr-mini"  # the image source (vz_env.data.scenes.miniature_world) the default model is built for
NAMES = frozenset({"tiny", "vllm:tiny"})  # policy specs that name the shipped model: through HF, through vLLM


def resolve_model(spec: str | None) -> str:
    """A policy spec with the shipped model's folder for `tiny` (and None), `vllm:FOLDER` for `vllm:tiny`."""
    from tiny_vlm.shipped import shipped_model_path

    if spec is None or spec == "tiny":
        return str(shipped_model_path())
    if spec == "vllm:tiny":
        return f"vllm:{shipped_model_path()}"
    return spec
