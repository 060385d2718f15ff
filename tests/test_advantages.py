"""Group advantages: hand values with the sample std, exact zeros for constant groups, group properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.advantages import group_advantages


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
def test_bad_inputs_are_rejected(rewards, group_size, message):
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
            assert torch.all(adv_row * (reward_row - reward_row.mean()) >= 0)
        elif torch.all(reward_row == reward_row[0]):
            assert torch.all(adv_row == 0)
