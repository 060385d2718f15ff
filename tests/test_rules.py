"""The rules core alone: turn order, what each player may see, voting, observers, rewards."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sources import NoiseSource

from vz_env.config import SpyConfig
from vz_env.parsing import parse_vote
from vz_env.prompts import candidates_text
from vz_env.rewards import score_vote
from vz_env.rules import SpyGame
from vz_env.turn import Phase, Role, Turn

CLUE, DECISION, DONE = Phase.CLUE, Phase.DECISION, Phase.DONE

PAIR = NoiseSource().pair(0, (32, 24))


def new_game(spies=frozenset({2}), **kwargs):
    return SpyGame(SpyConfig(image_size=(32, 24), **kwargs), frozenset(spies), PAIR)


def play_clues(game, text="thinking about {agent} \\boxed{clue of {agent}}"):
    while game.phase == CLUE:
        agent = game.pending[0]
        game.act(agent, text.replace("{agent}", agent))


def test_seat_order_and_rounds():
    game = new_game(num_rounds=3)
    order = []
    while game.phase == CLUE:
        order.append((game.round, game.pending[0]))
        game.act(game.pending[0], "\\boxed{x}")
    assert order == [(r, f"player_{i}") for r in (1, 2, 3) for i in range(4)]
    assert game.phase == DECISION


def test_acting_out_of_turn_is_refused():
    game = new_game()
    with pytest.raises(ValueError, match="not player_1's turn"):
        game.act("player_1", "\\boxed{x}")


def test_prompt_shows_every_earlier_clue_and_only_own_reasoning():
    game = new_game()
    for i in range(4):
        game.act(f"player_{i}", f"SECRET{i} reasoning \\boxed{{CLUE{i}}}")
    prompt = game.prompt("player_1")
    assert all(f"CLUE{i}" in prompt for i in range(4))
    assert "SECRET1" in prompt
    assert not any(f"SECRET{i}" in prompt for i in (0, 2, 3))


def test_no_role_of_another_player_leaks():
    game = new_game(spies={2})
    play_clues(game)
    for agent in ("player_0", "player_1", "player_3"):
        prompt = game.prompt(agent)
        assert "Your role: NOT SPY" in prompt and "Your role: SPY" not in prompt
        assert "PLAYER 3 is" not in prompt and "(spy)" not in prompt
        assert np.array_equal(game.image(agent), PAIR.original)
    assert "Your role: SPY" in game.prompt("player_2")
    assert np.array_equal(game.image("player_2"), PAIR.modified)


def test_hidden_roles():
    game = new_game(reveal_role=False)
    assert game.known_role("player_2") == Role.HIDDEN
    assert "do not know your role" in game.prompt("player_2")
    assert "do not know your role" in game.prompt("player_0")


def test_votes_are_private():
    game = new_game(spies={3})
    play_clues(game)
    before = {v: game.prompt(v) for v in game.pending}
    game.act("player_0", "I accuse \\boxed{2}")
    for voter in game.pending:
        assert game.prompt(voter) == before[voter]


def test_spy_does_not_vote_by_default_and_may_when_configured():
    assert new_game(spies={1}).voters == ["player_0", "player_2", "player_3"]
    assert new_game(spies={1}, spy_votes=True).voters == [f"player_{i}" for i in range(4)]


def test_blank_spy_image():
    game = new_game(spy_image="blank")
    assert (game.image("player_2") == 255).all()


def test_game_ends_after_decision_with_zero_sum_rewards():
    game = new_game(spies={2})
    assert all(r == 0 for r in game.rewards().values())
    play_clues(game)
    game.act("player_0", "\\boxed{3}")
    game.act("player_1", "\\boxed{3}")
    assert game.phase == DECISION and all(r == 0 for r in game.rewards().values())
    game.act("player_3", "\\boxed{N/A}")
    assert game.phase == DONE
    rewards = game.rewards()
    assert rewards["player_2"] == pytest.approx(-0.1 * 2)
    assert sum(rewards.values()) == pytest.approx(0.0, abs=1e-12)
    assert game.winner() == "civilians"
    assert game.vote_of("player_3").decision_reward == pytest.approx(-0.5 + 0.3)


def test_invalid_clue_is_shown_as_placeholder_and_loses_format_reward():
    assert new_game().act("player_0", "no box here").format_reward == 0.0  # off by default (the paper)
    game = new_game(clue_format_weight=0.3)
    turn = game.act("player_0", "no box here")
    assert not turn.valid and turn.format_reward == pytest.approx(-0.3)
    assert game.history()[0].clue == game.config.invalid_clue_text


def test_observer_mode():
    game = new_game(spies={1}, decision_mode="observer", num_observers=3)
    assert game.agents[-3:] == ["observer_0", "observer_1", "observer_2"]
    play_clues(game)
    assert game.pending == ["observer_0", "observer_1", "observer_2"]
    assert "PLAYER 2" in game.prompt("observer_0")
    assert np.array_equal(game.image("observer_0"), PAIR.original)
    for k in range(3):
        game.act(f"observer_{k}", "\\boxed{2}")
    rewards = game.rewards()
    assert rewards["player_1"] < 0 and all(rewards[f"observer_{k}"] == 0 for k in range(3))
    assert sum(rewards.values()) == pytest.approx(0.0, abs=1e-12)
    assert game.vote_of("observer_0").decision_reward == pytest.approx(1.3)


@pytest.mark.parametrize("num_players", range(3, 13))
def test_any_table_size_plays_to_the_end(num_players):
    game = SpyGame(
        SpyConfig(num_players=num_players, image_size=(32, 24)), frozenset({num_players - 1}), PAIR
    )
    play_clues(game)
    for voter in game.pending:
        game.act(voter, f"\\boxed{{Player {num_players}}}")
    assert game.votes_received()[-1] == num_players - 1
    assert game.winner() == "civilians"
    assert sum(game.rewards().values()) == pytest.approx(0.0, abs=1e-12)


def test_two_spies():
    game = new_game(spies={0, 3}, num_players=6, num_spies=2)
    play_clues(game)
    assert game.voters == ["player_1", "player_2", "player_4", "player_5"]
    for voter in game.voters:
        game.act(voter, "\\boxed{4}")
    assert game.winner() == "spies"
    assert game.vote_of("player_1").decision_reward == pytest.approx(1.3)
    assert sum(game.rewards().values()) == pytest.approx(0.0, abs=1e-12)


def test_non_string_action_names_agent_and_type():
    with pytest.raises(TypeError, match="player_0.*int"):
        new_game().act("player_0", 5)


def test_long_actions_are_parsed_whole_and_stored_with_both_ends():
    game = new_game(max_action_chars=64, max_reasoning_chars=40)
    turn = game.act("player_0", "start " + "x" * 10_000 + " so my conclusion: \\boxed{late}")
    assert turn.valid and turn.clue == "late"
    assert len(turn.raw) == 64 and turn.raw.startswith("start ") and turn.raw.endswith("\\boxed{late}")
    assert len(turn.reasoning) == 40 and turn.reasoning.endswith("so my conclusion:")
    assert "so my conclusion:" in game.prompt("player_0")


def test_prompts_equal_str_format_of_the_templates():
    clue = "P{seat}/{num_players} {{literal}} {role}|{history}|{own_reasoning}|{round} of {num_rounds}"
    game = new_game(clue_prompt=clue, vote_prompt="V{seat} {history} {own_reasoning} {role}")
    game.act("player_0", "I think \\boxed{a {red} cube}")
    role = game.config.role_civilian.format(num_spies=1)
    history = "Round 1, PLAYER 1: a {red} cube"
    expected = clue.format(
        seat=2, num_players=4, role=role, history=history, own_reasoning="(none yet)", round=1, num_rounds=2
    )
    assert game.prompt("player_1") == expected
    assert game.prompt("player_0").endswith("|Round 1: I think|1 of 2")
    play_clues(game)
    assert game.prompt("player_1").startswith(f"V2 {history}\n")


def test_templates_with_format_specs_are_filled_by_str_format():
    game = new_game(clue_prompt="[{seat:>3}] {history!r} {round}")
    assert game.prompt("player_0") == "[  1] '(none yet)' 1"


def test_turns_are_typed_records_of_the_game():
    game = new_game()
    turn = game.act("player_0", "why \\boxed{red}")
    assert isinstance(turn, Turn) and turn.phase is Phase.CLUE and turn.round == 1
    assert turn.clue == "red" and turn.reasoning == "why" and turn.decision_reward is None
    assert game.last_turn("player_0") is turn and game.last_turn("player_1") is None


def test_roles_and_phases_are_int_enums_with_the_observation_codes():
    game = new_game(decision_mode="observer", num_observers=1)
    assert game.roles == {
        "player_0": Role.CIVILIAN,
        "player_1": Role.CIVILIAN,
        "player_2": Role.SPY,
        "player_3": Role.CIVILIAN,
        "observer_0": Role.OBSERVER,
    }
    assert (Role.HIDDEN, Role.CIVILIAN, Role.SPY) == (0, 1, 2) and (CLUE, DECISION, DONE) == (0, 1, 2)
    assert str(Role.SPY) == "spy" and str(Phase.DECISION) == "decision"


def test_vote_turns_record_whether_a_spy_was_named():
    game = new_game(spies={1, 2}, num_spies=2)
    play_clues(game)
    right = game.act("player_0", "\\boxed{Player 3 is the spy}")
    wrong = game.act("player_3", "\\boxed{1}")
    assert right.voted_spy and right.vote == "player_2" and right.decision_reward == pytest.approx(1.3)
    assert not wrong.voted_spy and wrong.decision_reward == pytest.approx(-1 + 0.3)


def test_judging_a_vote_records_nothing_and_scores_like_the_played_vote():
    game = new_game()
    play_clues(game)
    judged = game.judge_vote("player_0", "\\boxed{3}")
    assert game.turns[-1].phase == CLUE and game.pending == ["player_0", "player_1", "player_3"]
    played = game.act("player_0", "\\boxed{3}")
    assert judged == played and played.voted_spy
    spy_vote = game.judge_vote("player_2", "\\boxed{1}")
    assert spy_vote.decision_reward is None and spy_vote.format_reward == pytest.approx(0.3)


def test_score_vote_is_the_rules_scoring():
    game = new_game()
    play_clues(game)
    turn = game.act("player_1", "\\boxed{N/A}")
    score = score_vote(parse_vote("\\boxed{N/A}", 4, 1), game.spies, False, game.config)
    assert (score.decision_reward, score.format_reward, score.voted_spy) == (
        turn.decision_reward,
        turn.format_reward,
        turn.voted_spy,
    )


@given(num_players=st.integers(2, 40), data=st.data())
def test_candidates_name_every_other_player_once(num_players, data):
    seat = data.draw(st.integers(1, num_players))
    answers = candidates_text(seat, num_players).split(", ")
    named = [parse_vote(answer, num_players, seat - 1) for answer in answers]
    assert all(vote.well_formed and not vote.abstain for vote in named)
    assert [vote.target + 1 for vote in named] == [p for p in range(1, num_players + 1) if p != seat]


def test_the_vote_prompt_lists_whom_the_voter_may_name():
    game = new_game(num_players=5)
    play_clues(game)
    listed = "answer with one of \\boxed{1}, \\boxed{3}, \\boxed{4}, \\boxed{5}, or \\boxed{N/A}"
    assert listed in game.prompt("player_1")
    assert "\\boxed{5}" not in game.prompt("player_4")
