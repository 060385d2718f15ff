"""Role baselines: EMA arithmetic by hand, before/after timing, zero-sum advantages, sync, checkpoints."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.baselines import RoleBaselines
from algorithms.train_config import SPOConfig

# Two zero-sum 4-player games (spy reward + civilian rewards sum to 0).
GAME_1 = (-0.3, [0.2, 0.1, 0.0])  # civilian mean 0.1
GAME_2 = (0.6, [-0.1, -0.3, -0.2])  # civilian mean -0.2


def test_baselines_start_at_zero():
    baselines = RoleBaselines()
    assert (baselines.b_spy, baselines.b_civ) == (0.0, 0.0)


def test_before_timing_subtracts_the_baseline_prior_to_the_game():
    baselines = RoleBaselines()  # alpha 0.95, timing "before"
    spy, civ = baselines.advantages(*GAME_1)
    assert spy == pytest.approx(-0.3)
    assert civ == pytest.approx([0.2, 0.1, 0.0])
    # b_spy = 0.05 * -0.3 = -0.015; b_civ = 0.05 * 0.1 = 0.005
    assert baselines.b_spy == pytest.approx(-0.015)
    assert baselines.b_civ == pytest.approx(0.005)
    spy, civ = baselines.advantages(*GAME_2)
    assert spy == pytest.approx(0.6 + 0.015)
    assert civ == pytest.approx([-0.105, -0.305, -0.205])
    # b_spy = 0.95 * -0.015 + 0.05 * 0.6 = 0.01575; b_civ = 0.95 * 0.005 + 0.05 * -0.2 = -0.00525
    assert baselines.b_spy == pytest.approx(0.01575)
    assert baselines.b_civ == pytest.approx(-0.00525)


def test_after_timing_subtracts_the_updated_baseline():
    baselines = RoleBaselines(SPOConfig(baseline_timing="after"))
    spy, civ = baselines.advantages(*GAME_1)
    assert spy == pytest.approx(-0.3 + 0.015)
    assert civ == pytest.approx([0.195, 0.095, -0.005])
    spy, civ = baselines.advantages(*GAME_2)
    assert spy == pytest.approx(0.6 - 0.01575)
    assert civ == pytest.approx([-0.09475, -0.29475, -0.19475])
    assert (baselines.b_spy, baselines.b_civ) == pytest.approx((0.01575, -0.00525))


def test_alpha_comes_from_the_config():
    baselines = RoleBaselines(SPOConfig(role_ema_alpha=0.5))
    baselines.advantages(*GAME_1)
    assert (baselines.b_spy, baselines.b_civ) == pytest.approx((-0.15, 0.05))


def test_several_spies_share_b_spy_as_their_mean():
    baselines = RoleBaselines(SPOConfig(role_ema_alpha=0.5))
    spies, civ = baselines.advantages([-0.2, -0.4], [0.3, 0.2, 0.1])
    assert spies == pytest.approx([-0.2, -0.4]) and civ == pytest.approx([0.3, 0.2, 0.1])
    assert (baselines.b_spy, baselines.b_civ) == pytest.approx((-0.15, 0.1))
    spies, _ = baselines.advantages([0.0, 0.2], [0.0, -0.1, -0.1])
    assert spies == pytest.approx([0.15, 0.35])


@st.composite
def zero_sum_games(draw):
    """Several games with the same number of civilians, each spy reward = -(sum of civilian rewards)."""
    n_c = draw(st.integers(2, 5))
    civilians = st.lists(st.floats(-2, 2), min_size=n_c, max_size=n_c)
    return [(-sum(civ), civ) for civ in draw(st.lists(civilians, min_size=1, max_size=8))]


@settings(max_examples=50, deadline=None)
@given(games=zero_sum_games(), timing=st.sampled_from(["before", "after"]))
def test_zero_sum_games_get_zero_sum_advantages(games, timing):
    """b_spy + n_c * b_civ stays 0, so each game's advantages sum to 0 like its rewards."""
    baselines = RoleBaselines(SPOConfig(baseline_timing=timing))
    for spy, civ in games:
        spy_adv, civ_adv = baselines.advantages(spy, civ)
        assert spy_adv + sum(civ_adv) == pytest.approx(0.0, abs=1e-9)


def test_sync_with_identity_changes_nothing():
    baselines = RoleBaselines()
    baselines.advantages(*GAME_1)
    before = baselines.state_dict()
    baselines.sync()
    assert baselines.state_dict() == before


def test_sync_averages_across_processes_like_one_ema_of_the_mean_reward():
    """Two simulated workers, one game each, then sync == a single EMA step on the mean rewards."""
    posted = []

    def mean_over_workers(_local: torch.Tensor) -> torch.Tensor:
        return (posted[0] + posted[1]) / 2

    workers = [RoleBaselines(all_reduce=mean_over_workers) for _ in range(2)]
    workers[0].advantages(*GAME_1)
    workers[1].advantages(*GAME_2)
    posted.extend(torch.tensor([w.b_spy, w.b_civ], dtype=torch.float64) for w in workers)
    for worker in workers:
        worker.sync()
    mean_spy, mean_civ = (-0.3 + 0.6) / 2, (0.1 - 0.2) / 2
    for worker in workers:
        assert worker.b_spy == pytest.approx(0.05 * mean_spy)
        assert worker.b_civ == pytest.approx(0.05 * mean_civ)


def test_sync_passes_a_float64_vector_to_all_reduce():
    seen = []
    baselines = RoleBaselines(all_reduce=lambda t: seen.append(t) or t * 2)
    baselines.advantages(*GAME_1)
    baselines.sync()
    assert seen[0].dtype == torch.float64 and seen[0].shape == (2,)
    assert (baselines.b_spy, baselines.b_civ) == pytest.approx((-0.03, 0.01))


def test_state_dict_round_trip_resumes_exactly():
    first = RoleBaselines()
    first.advantages(*GAME_1)
    second = RoleBaselines()
    second.load_state_dict(first.state_dict())
    assert first.advantages(*GAME_2) == second.advantages(*GAME_2)


def test_bad_inputs_are_rejected():
    baselines = RoleBaselines()
    with pytest.raises(ValueError, match="civilian"):
        baselines.advantages(0.1, [])
    with pytest.raises(ValueError, match="finite"):
        baselines.advantages(float("nan"), [0.0])
    with pytest.raises(ValueError, match="b_civ"):
        baselines.load_state_dict({"b_spy": 0.0})
