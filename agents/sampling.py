"""The game's sampling settings, checked once for every sampler (HF, vLLM, served endpoints) without torch."""

from __future__ import annotations


def check_sampling(temperature: float, top_p: float, max_new_tokens: int, min_new_tokens: int) -> None:
    """Raise ValueError on sampling settings no sampler (HF, vLLM or an endpoint) can honour."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if max_new_tokens < 1 or not 0 <= min_new_tokens <= max_new_tokens:
        raise ValueError(
            f"need 1 <= max_new_tokens and 0 <= min_new_tokens <= max_new_tokens, "
            f"got {max_new_tokens} and {min_new_tokens}"
        )
