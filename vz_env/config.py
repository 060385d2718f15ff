"""One frozen config object holding every game constant of docs/spec.md, validated before anything runs."""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass
from typing import Any

from vz_env import prompts
from vz_env.settings import at_least, from_mapping, one_of, setting, to_plain_dict, validate

DECISION_MODES = ("vote", "observer")
SPY_IMAGES = ("modified", "blank")
BROKEN_PAIR_POLICIES = ("keep", "skip")
SIZE_MISMATCH_POLICIES = ("resize", "report")


@dataclass(frozen=True)
class SpyConfig:
    """Rules, rewards and prompts of one "Who is the Spy" game (docs/spec.md s2-s5, s8)."""

    num_players: int = setting(
        4, "players per game, spies included", "between 3 and 99", lambda v: 3 <= v <= 99
    )
    num_spies: int = setting(1, "spies per game (fewer than num_players - 1)")
    spy_seat: int | None = setting(
        None,
        "a fixed 0-based spy seat instead of a drawn one (a learnable variant: votes need no perception)",
    )
    num_rounds: int = at_least(2, 1, "clue rounds before the vote")
    reveal_role: bool = setting(True, "tell each player its role in the prompt")
    spy_image: str = one_of(
        "modified", SPY_IMAGES, "what the spy sees: the 'modified' picture, or a 'blank' one"
    )
    decision_mode: str = one_of(
        "vote", DECISION_MODES, "who names the spy: the players 'vote', or K outside 'observer' samples"
    )
    num_observers: int = at_least(8, 1, "K: observer samples per game in decision_mode 'observer'")
    spy_votes: bool = setting(False, "whether the spy votes too")

    clue_beta: float = at_least(0.1, 0, "beta: weight of the votes a spy draws in the zero-sum clue reward")
    clue_lambda: float = at_least(
        0.1, 0, "lambda: weight of a civilian's own votes received in the clue reward"
    )
    reward_correct: float = setting(1.0, "decision reward of a vote naming a spy")
    reward_abstain: float = setting(-0.5, "decision reward of an N/A vote")
    reward_wrong: float = setting(-1.0, "decision reward of a wrong or invalid vote")
    format_reward: bool = setting(
        True, "add the format term (+w well formed, -w otherwise) to decision rewards"
    )
    format_weight: float = at_least(0.3, 0, "w: size of the format term")
    clue_format_weight: float = at_least(
        0.0,
        0,
        "clue format term: +w for a well-formed clue, -w otherwise, part of the clue's reward that the role "
        "baseline tracks (0: the paper's zero-sum game reward alone)",
    )

    images: Any = setting(
        "clevr", "image pairs: a kind (clevr, clevr-mini, charts), a folder of pairs, or an ImageSource"
    )
    image_size: tuple[int, int] = setting((320, 240), "(width, height) of the pictures, 16-4096 pixels each")
    broken_pairs: str = one_of(
        "keep",
        BROKEN_PAIR_POLICIES,
        "blank or identical pairs: 'keep' them (the paper tolerates some) or 'skip'",
    )
    size_mismatch: str = one_of(
        "resize",
        SIZE_MISMATCH_POLICIES,
        "a folder pair whose two images differ in size: 'resize' or 'report' (skip)",
    )

    max_clue_chars: int = at_least(200, 1, "longest clue kept, in characters")
    max_reasoning_chars: int = at_least(
        600, 1, "characters of a player's own earlier reasoning shown back to it"
    )
    max_action_chars: int = at_least(
        8192, 16, "characters of an action text kept (start and end; all of it is parsed)"
    )
    invalid_clue_text: str = setting("(no valid clue)", "placeholder shown to others for an invalid clue")

    clue_prompt: str = setting(prompts.CLUE_PROMPT, "template of the clue-turn prompt")
    vote_prompt: str = setting(prompts.VOTE_PROMPT, "template of the vote prompt")
    observer_prompt: str = setting(prompts.OBSERVER_PROMPT, "template of the observer prompt")
    role_spy: str = setting(prompts.ROLE_SPY, "role line shown to a spy")
    role_civilian: str = setting(prompts.ROLE_CIVILIAN, "role line shown to a civilian")
    role_hidden: str = setting(prompts.ROLE_HIDDEN, "role line shown when reveal_role is off")

    def __post_init__(self) -> None:
        validate(self)
        _check_values(self)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SpyConfig:
        """Build a config from keyword arguments, rejecting unknown names with the valid ones listed."""
        return from_mapping(cls, kwargs)

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
        out = to_plain_dict(self)
        if not isinstance(self.images, str):
            out["images"] = repr(self.images)
        return out


def _require(ok: bool, name: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_values(cfg: SpyConfig) -> None:
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
    width, height = cfg.image_size
    _require(
        16 <= width <= 4096 and 16 <= height <= 4096,
        "image_size",
        "between 16 and 4096 pixels",
        cfg.image_size,
    )
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
