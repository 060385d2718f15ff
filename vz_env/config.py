"""One frozen config object holding every game constant of SPEC.md, validated before anything runs."""

from __future__ import annotations

import dataclasses
import string
import typing
from dataclasses import dataclass
from typing import Any

from vz_env import prompts

DECISION_MODES = ("vote", "observer")
SPY_IMAGES = ("modified", "blank")
BROKEN_PAIR_POLICIES = ("keep", "skip")
SIZE_MISMATCH_POLICIES = ("resize", "report")


@dataclass(frozen=True)
class SpyConfig:
    """Rules, rewards and prompts of one "Who is the Spy" game (SPEC.md s2-s5, s8)."""

    num_players: int = 4
    num_spies: int = 1
    # A fixed spy seat (0-based) instead of a drawn one: a learnable variant where votes need no perception.
    spy_seat: int | None = None
    num_rounds: int = 2
    reveal_role: bool = True
    spy_image: str = "modified"
    decision_mode: str = "vote"
    num_observers: int = 8
    spy_votes: bool = False

    clue_beta: float = 0.1
    clue_lambda: float = 0.1
    reward_correct: float = 1.0
    reward_abstain: float = -0.5
    reward_wrong: float = -1.0
    format_reward: bool = True
    format_weight: float = 0.3

    images: Any = "clevr"
    image_size: tuple[int, int] = (320, 240)
    broken_pairs: str = "keep"
    size_mismatch: str = "resize"

    max_clue_chars: int = 200
    max_reasoning_chars: int = 600
    max_action_chars: int = 8192
    invalid_clue_text: str = "(no valid clue)"

    clue_prompt: str = prompts.CLUE_PROMPT
    vote_prompt: str = prompts.VOTE_PROMPT
    observer_prompt: str = prompts.OBSERVER_PROMPT
    role_spy: str = prompts.ROLE_SPY
    role_civilian: str = prompts.ROLE_CIVILIAN
    role_hidden: str = prompts.ROLE_HIDDEN

    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SpyConfig:
        """Build a config from keyword arguments, rejecting unknown names with the valid ones listed."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown SpyConfig field(s) {', '.join(unknown)}; valid names: {', '.join(valid)}"
            )
        if "image_size" in kwargs and isinstance(kwargs["image_size"], list):
            kwargs["image_size"] = tuple(kwargs["image_size"])
        return cls(**kwargs)

    def replace(self, **kwargs: Any) -> SpyConfig:
        """A copy with some fields changed (validated like a new config)."""
        merged = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        merged.update(kwargs)
        return SpyConfig.from_kwargs(**merged)

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    @property
    def num_civilians(self) -> int:
        return self.num_players - self.num_spies

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (an image-source object is shown by its repr)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "images" and not isinstance(value, str):
                value = repr(value)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def _check_types(cfg: SpyConfig) -> None:
    hints = typing.get_type_hints(SpyConfig)
    for f in dataclasses.fields(cfg):
        hint = hints[f.name]
        value = getattr(cfg, f.name)
        if hint is bool and not isinstance(value, bool):
            raise ValueError(f"{f.name} must be a bool, got {type(value).__name__} {value!r}")
        if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{f.name} must be an int, got {type(value).__name__} {value!r}")
        if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{f.name} must be a number, got {type(value).__name__} {value!r}")
        if hint is str and not isinstance(value, str):
            raise ValueError(f"{f.name} must be a str, got {type(value).__name__} {value!r}")
    size = cfg.image_size
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        raise ValueError(f"image_size must be a (width, height) pair of ints, got {size!r}")


def _require(ok: bool, name: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_values(cfg: SpyConfig) -> None:
    _require(3 <= cfg.num_players <= 99, "num_players", "between 3 and 99", cfg.num_players)
    _require(
        1 <= cfg.num_spies < cfg.num_players - 1,
        "num_spies",
        f"at least 1 and below num_players - 1 (= {cfg.num_players - 1})",
        cfg.num_spies,
    )
    _require(
        cfg.spy_seat is None
        or (type(cfg.spy_seat) is int and 0 <= cfg.spy_seat < cfg.num_players and cfg.num_spies == 1),
        "spy_seat",
        f"None or a seat in 0..{cfg.num_players - 1} (with num_spies 1)",
        cfg.spy_seat,
    )
    _require(cfg.num_rounds >= 1, "num_rounds", "at least 1", cfg.num_rounds)
    _require(cfg.num_observers >= 1, "num_observers", "at least 1", cfg.num_observers)
    _require(cfg.spy_image in SPY_IMAGES, "spy_image", f"one of {SPY_IMAGES}", cfg.spy_image)
    _require(
        cfg.decision_mode in DECISION_MODES, "decision_mode", f"one of {DECISION_MODES}", cfg.decision_mode
    )
    _require(
        cfg.broken_pairs in BROKEN_PAIR_POLICIES,
        "broken_pairs",
        f"one of {BROKEN_PAIR_POLICIES}",
        cfg.broken_pairs,
    )
    _require(
        cfg.size_mismatch in SIZE_MISMATCH_POLICIES,
        "size_mismatch",
        f"one of {SIZE_MISMATCH_POLICIES}",
        cfg.size_mismatch,
    )
    for name in ("clue_beta", "clue_lambda", "format_weight"):
        _require(getattr(cfg, name) >= 0, name, "non-negative", getattr(cfg, name))
    width, height = cfg.image_size
    _require(
        16 <= width <= 4096 and 16 <= height <= 4096,
        "image_size",
        "between 16 and 4096 pixels",
        cfg.image_size,
    )
    for name in ("max_clue_chars", "max_reasoning_chars"):
        _require(getattr(cfg, name) >= 1, name, "at least 1", getattr(cfg, name))
    _require(cfg.max_action_chars >= 16, "max_action_chars", "at least 16", cfg.max_action_chars)
    for name, fields in prompts.TEMPLATE_FIELDS.items():
        _check_template(name, getattr(cfg, name), fields)


def _check_template(name: str, template: str, allowed: frozenset[str]) -> None:
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as err:
        raise ValueError(f"{name} is not a valid format template: {err}") from None
    unknown = sorted(used - allowed)
    if unknown:
        raise ValueError(
            f"{name} uses unknown placeholder(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
