"""One count of the decision figures: civilian votes only unless asked, invalid apart from N/A, empty is 0."""

from vz_env.turn import Phase, Role, Turn
from vz_env.vote_stats import VoteStats, vote_stats


def vote(agent: str, *, spy: bool = False, abstain: bool = False, valid: bool = True) -> Turn:
    return Turn(
        agent,
        Phase.DECISION,
        1,
        "",
        "",
        valid,
        None,
        abstain=abstain,
        voted_spy=spy,
        format_ok=valid or abstain,
    )


TURNS = [
    (vote("player_1", spy=True), Role.CIVILIAN),
    (vote("player_2", abstain=True), Role.CIVILIAN),
    (vote("player_3", valid=False), Role.CIVILIAN),
    (vote("player_4"), Role.CIVILIAN),
    (vote("player_5", spy=True), Role.SPY),
    (Turn("player_1", Phase.CLUE, 1, "", "", True, None, clue="a red cube"), Role.CIVILIAN),
]


def test_civilian_votes_give_accuracy_na_and_invalid_rates():
    stats = vote_stats(TURNS)
    assert stats == VoteStats(votes=4, spy_named=1, abstained=1, invalid=1, valid=3, well_formed=3)
    assert (stats.accuracy, stats.na_rate, stats.invalid_rate, stats.valid_rate) == (0.25, 0.25, 0.25, 0.75)


def test_spies_votes_count_only_when_asked():
    stats = vote_stats(TURNS, spies=True)
    assert (stats.votes, stats.spy_named, stats.well_formed_rate) == (5, 2, 0.8)


def test_no_votes_give_zero_rates():
    stats = vote_stats(TURNS[-1:])
    assert stats.votes == 0 and (stats.accuracy, stats.na_rate, stats.invalid_rate) == (0.0, 0.0, 0.0)
