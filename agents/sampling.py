"""The game's sampling settings as one value that every sampler (HF, vLLM, served endpoints) and the trainer
share, checked once without torch."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sampling:
    """How a policy samples a turn: temperature (0 = greedy), nucleus top_p, and the new-token bounds."""

    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 256
    min_new_tokens: int = 0

    def __post_init__(self) -> None:
        """Raise ValueError on settings no sampler (HF, vLLM or an endpoint) can honour."""
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1 or not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError(
                f"need 1 <= max_new_tokens and 0 <= min_new_tokens <= max_new_tokens, "
                f"got {self.max_new_tokens} and {self.min_new_tokens}"
            )
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "top_p", float(self.top_p))
        object.__setattr__(self, "max_new_tokens", int(self.max_new_tokens))
        object.__setattr__(self, "min_new_tokens", int(self.min_new_tokens))


def sampling_with(sampling: Sampling | None, **given: float | int | None) -> Sampling:
    """`sampling` (default: Sampling()) with the keyword settings a caller gave (not None) in their place."""
    chosen = {name: value for name, value in given.items() if value is not None}
    return replace(sampling or Sampling(), **chosen)
