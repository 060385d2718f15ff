"""Advantages: group normalisation (hand values, constant groups, properties, keyed groups) and role
baselines (EMA arithmetic by hand, before/after timing, zero-sum advantages, sync, checkpoints)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.advantages import RoleBaselines, group_advantages, keyed_group_advantages
from algorithms.train_config import SPOConfig


def test_hand_computed_group_uses_sample_std():
    # Rewards 1, -1, 1, -0.5: mean 0.125; deviations .875, -1.125, .875, -.625;
    # squares sum 0.765625 + 1.265625 + 0.765625 + 0.390625 = 3.1875; sample var 3.1875 / 3 = 1.0625.
    std = math.sqrt(1.0625)
    adv = group_advantages([1.0, -1.0, 1.0, -0.5], group_size=4)
    assert adv.tolist() == pytest.approx([0.875 / std, -1.125 / std, 0.875 / std, -0.625 / std], rel=1e-6)


def test_two_value_group_gives_plus_minus_one_over_sqrt_two():
    # [1, -1]: mean 0, sample std sqrt(2) (population std would give exactly +-1).
    adv = group_advantages([1.0, -1.0], group_size=2, eps=0.0)
    assert adv.tolist() == pytest.approx([1 / math.sqrt(2), -1 / math.sqrt(2)])


def test_groups_are_consecutive_and_independent():
    adv = group_advantages([0.0, 2.0, 10.0, 30.0], group_size=2)
    assert adv.tolist() == pytest.approx([-1 / math.sqrt(2), 1 / math.sqrt(2)] * 2)


def test_constant_group_is_exactly_zero_next_to_a_varied_one():
    adv = group_advantages([-0.5, -0.5, -0.5, 1.0, -1.0, 1.0], group_size=3)
    assert adv[:3].tolist() == [0.0, 0.0, 0.0]
    assert adv[3:].abs().min() > 0.5


def test_round_off_only_group_counts_as_constant():
    noisy = [0.1 + 0.2, 0.3, 0.3 + 1e-12, 0.3]
    assert group_advantages(noisy, group_size=4).tolist() == [0.0] * 4
    assert group_advantages(torch.tensor(noisy, dtype=torch.float32), 4).tolist() == [0.0] * 4


def test_group_of_one_is_zero():
    assert group_advantages([3.0, -1.0], group_size=1).tolist() == [0.0, 0.0]


def test_dtype_follows_input_or_default():
    assert group_advantages([1, 0], 2).dtype == torch.get_default_dtype()
    assert group_advantages(torch.tensor([1.0, 0.0], dtype=torch.float64), 2).dtype == torch.float64
    assert group_advantages(torch.tensor([True, False]), 2).dtype == torch.get_default_dtype()


@pytest.mark.parametrize(
    ("rewards", "group_size", "message"),
    [
        ([1.0, 0.0, 1.0], 2, "groups of 2"),
        ([[1.0, 0.0]], 2, "1-D"),
        ([1.0, 0.0], 0, "group_size"),
        ([1.0, float("nan")], 2, "finite"),
    ],
)
def test_bad_group_inputs_are_rejected(rewards, group_size, message):
    with pytest.raises(ValueError, match=message):
        group_advantages(rewards, group_size)


rewards_and_groups = st.integers(2, 8).flatmap(
    lambda g: st.tuples(
        st.lists(
            st.sampled_from([1.0, -0.5, -1.0, 1.3, 0.7, -0.2]) | st.floats(-5, 5), min_size=g, max_size=8 * g
        ).map(lambda r, g=g: r[: len(r) // g * g]),
        st.just(g),
    )
)


@settings(max_examples=100, deadline=None)
@given(rewards_and_groups)
def test_each_group_has_mean_zero_and_unit_sample_std_or_is_all_zero(case):
    """Advantages keep each reward's side of its group mean, centred, with sample std 1."""
    rewards, group_size = case
    adv = group_advantages(rewards, group_size).to(torch.float64).reshape(-1, group_size)
    groups = torch.tensor(rewards, dtype=torch.float64).reshape(-1, group_size)
    for adv_row, reward_row in zip(adv, groups):
        assert abs(float(adv_row.mean())) < 1e-5
        if reward_row.std() > 1e-3:
            assert float(adv_row.std()) == pytest.approx(1.0, rel=1e-4)
            # A reward at its group's mean may land a float32 rounding either side of it.
            assert torch.all(adv_row * (reward_row - reward_row.mean()) >= -1e-6)
        elif torch.all(reward_row == reward_row[0]):
            assert torch.all(adv_row == 0)


def test_keyed_groups_need_not_be_adjacent():
    rewards = [1.0, 0.0, -1.0, 2.0, 1.0, 5.0]
    keys = [("g", "a"), ("g", "b"), ("g", "a"), ("g", "b"), ("g", "a"), ("g", "c")]
    adv = keyed_group_advantages(rewards, keys)
    # Group a: 1, -1, 1 (mean 1/3); group b: 0, 2 (+-1/sqrt 2); group c alone: 0.
    expected_a = group_advantages([1.0, -1.0, 1.0], 3).tolist()
    assert adv[[0, 2, 4]].tolist() == pytest.approx(expected_a)
    assert adv[[1, 3]].tolist() == pytest.approx([-1 / math.sqrt(2), 1 / math.sqrt(2)])
    assert adv[5].item() == 0.0 and adv.dtype == torch.float32
    with pytest.raises(ValueError, match="group keys"):
        keyed_group_advantages([1.0], [])


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


def test_a_format_bonus_inside_the_tracked_reward_is_absorbed_not_paid():
    """Every turn well formed (+0.3): once the baselines have seen it, the advantages are the game's alone."""
    plain, with_format = RoleBaselines(), RoleBaselines()
    for game in range(300):
        spy, civilians = (-0.3, [0.1] * 3) if game % 3 else (0.6, [-0.2] * 3)  # the spy is mostly caught
        spy_adv, civ_adv = plain.advantages(spy, civilians)
        spy_fmt, civ_fmt = with_format.advantages(spy + 0.3, [c + 0.3 for c in civilians])
    assert spy_fmt == pytest.approx(spy_adv, abs=1e-6) and civ_fmt == pytest.approx(civ_adv, abs=1e-6)
    assert spy_fmt < 0  # a caught spy (game 299) is not rewarded, format term or not


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


def test_bad_baseline_inputs_are_rejected():
    baselines = RoleBaselines()
    with pytest.raises(ValueError, match="civilian"):
        baselines.advantages(0.1, [])
    with pytest.raises(ValueError, match="finite"):
        baselines.advantages(float("nan"), [0.0])
    with pytest.raises(ValueError, match="b_civ"):
        baselines.load_state_dict({"b_spy": 0.0})
