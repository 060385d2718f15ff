"""The format warm-start's settings, apart from the torch code so `vz-spy sft --help` stays light."""

from __future__ import annotations

from dataclasses import dataclass

from vz_env.settings import at_least, positive, validate


@dataclass(frozen=True)
class SFTConfig:
    """Warm-start settings; the defaults suit the built-in tiny VLM (use ~1e-5 for a real checkpoint)."""

    games: int = at_least(32, 1, "bot games whose turns are learned from")
    epochs: int = at_least(4, 1, "passes over those turns")
    learning_rate: float = positive(5e-3, "learning rate (5e-3 suits the tiny VLM; ~1e-5 for real ones)")
    batch_size: int = at_least(16, 1, "turns per optimizer step")
    max_grad_norm: float = positive(1.0, "gradient norm clipping")
    seed: int = at_least(0, 0, "seed of the bot games, the teacher's votes and the model")

    def __post_init__(self) -> None:
        validate(self)
