"""docs/spec.md s4/s5: reward formulas exactly, zero-sum, N/A and invalid votes ignored."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vz_env.config import SpyConfig
from vz_env.parsing import ParsedVote, parse_vote
from vz_env.rewards import (
    civilians_win,
    clue_rewards,
    decision_reward,
    format_weight_of,
    score_vote,
    tally_votes,
    turn_reward,
    voted_for_spy,
)
from vz_env.turn import Phase, Turn


def test_single_spy_formula_by_hand():
    # 4 players, spy = seat 3; votes received: spy 2, civilians 1, 0, 0
    rewards = clue_rewards([1, 0, 0, 2], spies={3}, beta=0.1, lam=0.1)
    mean_c = 1 / 3
    assert rewards[3] == pytest.approx(-0.1 * (2 - mean_c))
    assert rewards[0] == pytest.approx(0.1 * (2 - mean_c) / 3 - 0.1 * (1 - mean_c))
    assert rewards[1] == pytest.approx(0.1 * (2 - mean_c) / 3 - 0.1 * (0 - mean_c))
    assert sum(rewards) == pytest.approx(0.0, abs=1e-12)


def test_two_spies_formula_by_hand():
    received = [3, 1, 0, 0, 2]
    rewards = clue_rewards(received, spies={0, 4}, beta=0.2, lam=0.05)
    mean_c = 1 / 3
    excess = (3 - mean_c) + (2 - mean_c)
    assert rewards[0] == pytest.approx(-0.2 * (3 - mean_c))
    assert rewards[4] == pytest.approx(-0.2 * (2 - mean_c))
    assert rewards[1] == pytest.approx(0.2 * excess / 3 - 0.05 * (1 - mean_c))
    assert sum(rewards) == pytest.approx(0.0, abs=1e-12)


@given(
    st.integers(3, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 12), min_size=n, max_size=n),
            st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 2),
        )
    ),
    st.floats(0, 2),
    st.floats(0, 2),
)
def test_zero_sum_for_any_votes_and_spies(case, beta, lam):
    received, spies = case
    assert sum(clue_rewards(received, spies, beta, lam)) == pytest.approx(0.0, abs=1e-9)


def test_abstentions_and_invalid_votes_are_not_counted():
    votes = [
        parse_vote("\\boxed{2}", 4, 0),
        parse_vote("\\boxed{N/A}", 4, 2),
        parse_vote("\\boxed{2}", 4, 1),  # self-vote: invalid
        parse_vote("\\boxed{9}", 4, 3),
        parse_vote("garbage", 4, 3),
    ]
    assert tally_votes(votes, 4) == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("vote", "expected"),
    [
        (ParsedVote(1, False, True, None), 1.0),
        (ParsedVote(None, True, False, None), -0.5),
        (ParsedVote(2, False, True, None), -1.0),
        (ParsedVote(None, False, False, "self-vote"), -1.0),
    ],
)
def test_decision_reward_without_format_term(vote, expected):
    assert decision_reward(vote, spies={1}) == expected


def test_decision_reward_format_term():
    assert decision_reward(ParsedVote(1, False, True, None), {1}, format_weight=0.3) == pytest.approx(1.3)
    assert decision_reward(ParsedVote(None, True, False, None), {1}, format_weight=0.3) == pytest.approx(-0.2)
    assert decision_reward(ParsedVote(None, False, False, "x"), {1}, format_weight=0.3) == pytest.approx(-1.3)


def test_a_vote_for_any_spy_is_correct():
    assert decision_reward(ParsedVote(4, False, True, None), spies={0, 4}) == 1.0


def test_winner_needs_every_spy_strictly_above_every_civilian():
    assert civilians_win([0, 0, 0, 2], {3})
    assert not civilians_win([2, 0, 0, 2], {3})
    assert civilians_win([0, 0, 3, 2], {2, 3})
    assert civilians_win([0, 1, 3, 2], {2, 3})
    assert not civilians_win([0, 2, 3, 2], {2, 3})


@pytest.mark.parametrize(
    ("answer", "reward", "format_term", "correct"),
    [("3", 1.3, 0.3, True), ("2", -0.7, 0.3, False), ("N/A", -0.2, 0.3, False), ("x", -1.3, -0.3, False)],
)
def test_score_vote_for_a_civilian(answer, reward, format_term, correct):
    score = score_vote(parse_vote(f"\\boxed{{{answer}}}", 4, 0), {2}, False, SpyConfig())
    assert score.decision_reward == pytest.approx(reward) and score.format_reward == pytest.approx(
        format_term
    )
    assert score.voted_spy is correct


def test_score_vote_gives_a_spy_no_decision_reward_and_honours_format_reward_off():
    vote = parse_vote("\\boxed{2}", 4, 2)
    assert score_vote(vote, {2}, True, SpyConfig()).decision_reward is None
    off = SpyConfig(format_reward=False)
    assert format_weight_of(off) == 0.0
    assert score_vote(vote, {1}, False, off).decision_reward == pytest.approx(1.0)
    assert voted_for_spy(vote, {1}) and not voted_for_spy(parse_vote("\\boxed{N/A}", 4, 0), {1})


def test_turn_reward_is_a_clue_s_game_reward_and_format_term_or_a_vote_s_decision_reward():
    clue = Turn("player_1", Phase.CLUE, 1, "", "", True, None, clue="x", format_reward=0.2)
    vote = Turn("player_1", Phase.DECISION, 3, "", "", True, None, vote="player_2", decision_reward=1.3)
    spy_vote = Turn("player_2", Phase.DECISION, 3, "", "", True, None, vote="player_1")
    game = {"player_1": 0.1, "player_2": -0.1}
    assert turn_reward(clue, game) == pytest.approx(0.3)
    assert turn_reward(vote, game) == pytest.approx(1.3) and turn_reward(spy_vote, game) is None
