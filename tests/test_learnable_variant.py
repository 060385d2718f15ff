"""SpyConfig.spy_seat: a fixed spy seat (the learning check's learnable variant), validated like any field."""

from __future__ import annotations

import numpy as np
import pytest

from vz_env import spy_v0
from vz_env.config import SpyConfig
from vz_env.turn import Role

SMALL = {"image_size": (64, 48), "num_rounds": 1}


def roles_over_seeds(seeds: range, **kwargs) -> list[dict[str, str]]:
    env = spy_v0.parallel_env(**SMALL, **kwargs)
    roles = []
    for seed in seeds:
        env.reset(seed=seed)
        roles.append(dict(env.unwrapped.roles))
    return roles


@pytest.mark.parametrize("seat", [0, 2, 3])
def test_spy_seat_fixes_the_spy_in_every_game(seat: int) -> None:
    for roles in roles_over_seeds(range(12), spy_seat=seat):
        assert [a for a, r in roles.items() if r == Role.SPY] == [f"player_{seat}"]


def test_spy_is_drawn_by_default() -> None:
    spies = {a for roles in roles_over_seeds(range(40)) for a, r in roles.items() if r == Role.SPY}
    assert len(spies) == 4


def test_fixed_seat_keeps_the_same_image_pairs() -> None:
    fixed, drawn = spy_v0.parallel_env(**SMALL, spy_seat=1), spy_v0.parallel_env(**SMALL)
    for seed in range(4):
        obs_fixed, _ = fixed.reset(seed=seed)
        obs_drawn, _ = drawn.reset(seed=seed)
        civilian = next(a for a, r in drawn.unwrapped.roles.items() if r == Role.CIVILIAN and a != "player_1")
        assert np.array_equal(obs_fixed[civilian]["image"], obs_drawn[civilian]["image"])


def test_the_fixed_spy_is_told_its_role_and_sees_the_modified_image() -> None:
    env = spy_v0.parallel_env(**SMALL, spy_seat=3)
    observations, _ = env.reset(seed=5)
    assert observations["player_3"]["role"] == 2
    assert not np.array_equal(observations["player_3"]["image"], observations["player_0"]["image"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spy_seat": 4},
        {"spy_seat": -1},
        {"spy_seat": True},
        {"spy_seat": 1.0},
        {"spy_seat": "1"},
        {"spy_seat": 1, "num_players": 5, "num_spies": 2},
    ],
)
def test_bad_spy_seat_is_rejected_with_the_field_named(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="spy_seat"):
        SpyConfig.from_kwargs(**kwargs)
