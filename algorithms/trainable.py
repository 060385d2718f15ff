"""The policy interface the trainer needs, declared once (`agents.hf_vlm.HFVLMPolicy` satisfies it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch

from agents.sampling import Sampling


class TrainablePolicy(Protocol):
    """A VLM policy the trainer samples from, re-scores and updates.

    The trainer never sets anything on it: it asks `with_model` for the same player around the model it
    prepared (adapters, sharding) with the run's sampling settings, and trains that one.
    """

    model: Any
    sampling: Sampling
    pad_token_id: int
    dtype: torch.dtype
    name: str
    label: str

    def with_model(self, model: Any, sampling: Sampling) -> TrainablePolicy:
        """The same player (processor, device, label, sampling stream) around `model`, with `sampling`."""
        ...

    def generate(self, observations: Sequence[Mapping[str, Any]], num_samples: int = 1) -> list[Any]:
        """Sampled actions with their token ids and log-probs (`agents.hf_vlm.Generation`), for training."""
        ...

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Action texts for many observations (evaluation and the other seats)."""
        ...

    def reset(self, seed: int | None = None) -> None:
        """Reseed the policy's sampling stream for a new set of games."""
        ...
