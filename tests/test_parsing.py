"""SPEC s3: every parsing case named there, plus hypothesis: no string ever raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vz_env.parsing import (
    clean_text,
    clue_of,
    extract_answer,
    parse_clue,
    parse_vote,
    reasoning_before,
    reasoning_of,
    vote_of,
)


def test_last_boxed_answer_wins_over_echoed_examples():
    text = "The prompt said \\boxed{3} as an example. I pick \\boxed{2}."
    assert extract_answer(text).text == "2"


def test_nested_braces_are_kept():
    assert parse_clue("so: \\boxed{a {red} cube}").clue == "a {red} cube"


def test_answer_tag_is_accepted_and_the_later_form_wins():
    assert parse_clue("<answer> a blue sphere </answer>").clue == "a blue sphere"
    assert extract_answer("\\boxed{1} then <answer>2</answer>").text == "2"
    assert extract_answer("<answer>2</answer> then \\boxed{1}").text == "1"


def test_unclosed_last_box_falls_back_to_the_previous_complete_one():
    assert extract_answer("\\boxed{4} and then \\boxed{5").text == "4"


def test_clue_is_stripped_and_missing_clue_is_invalid():
    assert parse_clue("\\boxed{   a small cylinder  }").clue == "a small cylinder"
    missing = parse_clue("I see a cube")
    assert not missing.valid and missing.clue is None and "boxed" in missing.reason
    empty = parse_clue("\\boxed{   }")
    assert not empty.valid and empty.reason == "empty answer"


def test_clue_is_cut_and_cleaned_of_control_characters():
    clue = parse_clue("\\boxed{red\x00 \x1b[31mcube\n\nbig}", max_chars=200).clue
    assert "\x00" not in clue and "\x1b" not in clue and "\n" not in clue
    assert len(parse_clue("\\boxed{" + "x" * 1000 + "}", max_chars=50).clue) == 50


@pytest.mark.parametrize("answer", ["N/A", "NA", "n/a.", "none", "None", " N/A ", "\\text{N/A}"])
def test_abstention_spellings(answer):
    vote = parse_vote(f"\\boxed{{{answer}}}", num_players=4, voter_seat=0)
    assert vote.abstain and not vote.valid and vote.target is None and vote.well_formed


@pytest.mark.parametrize("answer", ["3", "Player 3", "PLAYER 3.", "player3", "**3**", "\\text{PLAYER 3}"])
def test_vote_forms(answer):
    vote = parse_vote(f"thinking \\boxed{{{answer}}}", num_players=4, voter_seat=0)
    assert vote.valid and vote.target == 2


def test_two_digit_players_with_ten_or_more_seats():
    assert parse_vote("\\boxed{Player 10}", num_players=12, voter_seat=0).target == 9
    assert parse_vote("\\boxed{12}", num_players=12, voter_seat=0).target == 11
    assert not parse_vote("\\boxed{13}", num_players=12, voter_seat=0).valid


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("0", "out of range"), ("5", "out of range"), ("1", "self-vote"), ("the spy", "not a player")],
)
def test_invalid_votes(answer, reason):
    vote = parse_vote(f"\\boxed{{{answer}}}", num_players=4, voter_seat=0)
    assert not vote.valid and not vote.abstain and reason in vote.reason and not vote.well_formed


def test_huge_number_is_invalid_not_a_crash():
    assert not parse_vote("\\boxed{" + "9" * 5000 + "}", num_players=4).valid


def test_observer_votes_have_no_self():
    assert parse_vote("\\boxed{1}", num_players=4, voter_seat=None).target == 0


def test_reasoning_is_the_text_before_the_answer():
    assert reasoning_of("I see red. \\boxed{red}", 100) == "I see red."
    assert reasoning_of("no answer at all", 100) == "no answer at all"


def test_non_string_raises_type_error():
    with pytest.raises(TypeError, match="int"):
        parse_vote(3, num_players=4)
    with pytest.raises(TypeError, match="NoneType"):
        parse_clue(None)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(3, 15), st.one_of(st.none(), st.integers(0, 14)))
def test_no_string_ever_raises(text, num_players, seat):
    seat = None if seat is None else seat % num_players
    vote = parse_vote(text, num_players, seat)
    assert vote.target is None or 0 <= vote.target < num_players
    assert vote.target != seat or seat is None
    clue = parse_clue(text)
    assert clue.valid == (clue.clue is not None)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["\\boxed{", "}", "{", "<answer>", "</answer>", "3", "N/A", "x", "\n"]), max_size=30
    )
)
def test_markup_soup_never_raises(parts):
    text = "".join(parts)
    parse_vote(text, 4, 0)
    parse_clue(text)


@given(st.text(max_size=500), st.integers(1, 100))
def test_clean_text_respects_the_limit(text, limit):
    cleaned = clean_text(text, limit)
    assert len(cleaned) <= limit
    assert all(ch == " " or not ch.isspace() for ch in cleaned)


def test_an_unclosed_last_box_with_nested_braces_falls_back_to_the_previous_box():
    assert extract_answer("\\boxed{a {b} c} then \\boxed{d {e}").text == "a {b} c"
    assert extract_answer("\\boxed{x} \\boxed{{}").text == "x"


def test_unicode_spaces_and_line_separators_collapse_to_one_space():
    assert clean_text("a\u00a0\u2028 b\u3000\u3000c", 20) == "a b c"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(3, 15), st.one_of(st.none(), st.integers(0, 14)))
def test_parsing_an_extracted_answer_matches_parsing_the_text(text, num_players, seat):
    answer = extract_answer(text)
    assert clue_of(answer, 50) == parse_clue(text, 50)
    assert vote_of(answer, num_players, seat) == parse_vote(text, num_players, seat)
    assert reasoning_before(text, answer, 80) == reasoning_of(text, 80)
