"""Every Iterative-SPO trainer constant of SPEC.md s6 in one frozen config object, validated up front."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

BASELINE_TIMINGS = ("before", "after")
LOSS_NORMS = ("sequence", "token", "constant")
STAGE_SCHEDULES = ("adaptive", "alternate")
STAGES = ("decision", "clue")
LR_SCHEDULES = ("cosine", "linear", "constant")
FINETUNE_MODES = ("lora", "full")
REFERENCES = ("disable-adapter", "copy")
DEFAULT_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def _rule(default: Any, allowed: str, check: Callable[[Any], bool]) -> Any:
    """A field whose value must pass `check`; `allowed` words the rule for the error message."""
    return field(default=default, metadata={"allowed": allowed, "check": check})


def _one_of(default: str, options: tuple[str, ...]) -> Any:
    """A string field restricted to `options`."""
    return _rule(default, f"one of {options}", lambda v: v in options)


def _fraction(default: float) -> Any:
    """A number field in [0, 1] (EMA factors, rates, thresholds)."""
    return _rule(default, "in [0, 1]", lambda v: 0 <= v <= 1)


def _positive(default: float) -> Any:
    """A number field strictly above 0."""
    return _rule(default, "> 0", lambda v: v > 0)


def _at_least(default: float, low: float) -> Any:
    """A number field at or above `low`."""
    return _rule(default, f">= {low}", lambda v: v >= low)


@dataclass(frozen=True)
class SPOConfig:
    """Iterative-SPO settings (SPEC.md s6) with the paper's values as defaults.

    To add a setting, declare it with a rule helper (`_one_of`, `_fraction`, `_positive`, `_at_least`, or
    `_rule` for anything else); type and value checks, `from_dict` and `to_dict` pick it up from there.
    """

    # Role Advantage Estimation (clue stage).
    role_ema_alpha: float = _fraction(0.95)
    baseline_timing: str = _one_of("before", BASELINE_TIMINGS)

    # Group-normalised advantages (decision stage).
    group_size: int = _at_least(8, 2)
    adv_eps: float = _positive(1e-8)

    # Policy loss.
    clip_eps: float = _rule(0.2, "in (0, 1)", lambda v: 0 < v < 1)
    beta_kl: float = _at_least(0.04, 0)
    loss_norm: str = _one_of("sequence", LOSS_NORMS)

    # Stage switching.
    stage_ema_rho: float = _fraction(0.95)
    switch_to_clue_acc: float = _fraction(0.9)
    switch_to_clue_na: float = _fraction(0.1)
    switch_to_decision_err: float = _fraction(0.4)
    switch_to_decision_na: float = _fraction(0.5)
    min_stage_iters: int = _at_least(5, 1)
    stage_schedule: str = _one_of("adaptive", STAGE_SCHEDULES)
    alternate_every: int = _at_least(5, 1)
    start_stage: str = _one_of("decision", STAGES)

    # Optimisation.
    temperature: float = _positive(0.8)
    learning_rate: float = _positive(1e-5)
    lr_schedule: str = _one_of("cosine", LR_SCHEDULES)
    warmup_ratio: float = _rule(0.1, "in [0, 1)", lambda v: 0 <= v < 1)
    iterations: int = _at_least(100, 1)
    ppo_epochs: int = _at_least(1, 1)
    max_grad_norm: float = _positive(1.0)
    weight_decay: float = _at_least(0.0, 0)

    # Rollouts (games are self-play: every seat is the policy being trained).
    games_per_iter: int = _at_least(8, 1)
    max_new_tokens: int = _at_least(128, 1)
    min_new_tokens: int = _at_least(0, 0)
    top_p: float = _rule(1.0, "in (0, 1]", lambda v: 0 < v <= 1)
    seed: int = _at_least(0, 0)

    # Model side: LoRA through peft (or full fine-tuning) and where the KL reference comes from.
    finetune: str = _one_of("lora", FINETUNE_MODES)
    reference: str = _one_of("disable-adapter", REFERENCES)
    lora_rank: int = _at_least(16, 1)
    lora_alpha: float = _positive(32.0)
    lora_dropout: float = _rule(0.0, "in [0, 1)", lambda v: 0 <= v < 1)
    lora_targets: str = _rule(DEFAULT_LORA_TARGETS, "a non-empty regex", lambda v: bool(v))
    score_chunk: int = _at_least(16, 1)
    checkpoint_every: int = _at_least(10, 1)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _checked_type(f.name, hints[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            check = f.metadata.get("check")
            if check is not None and not check(value):
                raise ValueError(f"{f.name} must be {f.metadata['allowed']}, got {value!r}")
        if self.finetune == "full" and self.reference != "copy":
            raise ValueError("reference must be 'copy' when finetune is 'full' (no adapters to disable)")
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"min_new_tokens must be <= max_new_tokens ({self.max_new_tokens})")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SPOConfig:
        """Build a config from a mapping (e.g. parsed JSON); unknown keys are rejected, valid ones listed."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown {cls.__name__} field(s) {', '.join(unknown)}; valid names: {', '.join(valid)}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict of every field; `from_dict(to_dict())` gives an equal config."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _checked_type(name: str, hint: Any, value: Any) -> Any:
    """The value, if it matches the field's type (ints are accepted and converted for float fields)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is bool and not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    if hint is int and not (is_number and isinstance(value, int)):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if hint is float:
        if not is_number or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {type(value).__name__} {value!r}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    return value
