"""docs/spec.md s3: every parsing case named there, plus hypothesis: no string ever raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vz_env import parsing
from vz_env.config import SpyConfig
from vz_env.parsing import (
    boxed,
    clean_text,
    clip_middle,
    clue_of,
    extract_answer,
    keep_ends,
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


def test_an_unclosed_final_box_is_no_answer_even_after_a_closed_one():
    assert extract_answer("\\boxed{4} and then \\boxed{5") is None
    assert extract_answer("\\boxed{a {b} c} then \\boxed{d {e}") is None
    assert extract_answer("\\boxed{x} \\boxed{{}") is None
    assert extract_answer("<answer>2</answer> then <answer>3") is None
    vote = parse_vote("I think \\boxed{3}. Wait, maybe \\boxed{", 4, 0)
    assert not vote.valid and not vote.abstain and "boxed" in vote.reason


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


def test_long_reasoning_keeps_its_conclusion():
    text = "First I looked. " + "blah " * 500 + "So PLAYER 3 is the spy. \\boxed{3}"
    reasoning = reasoning_of(text, 90)
    assert len(reasoning) == 90 and reasoning.startswith("First I looked.")
    assert reasoning.endswith("So PLAYER 3 is the spy.")
    assert keep_ends("abcdefghij", 7) == "ab…ghij" and keep_ends("short", 7) == "short"
    assert clip_middle("a\n\n b", 10) == "a b"


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


def test_unicode_spaces_and_line_separators_collapse_to_one_space():
    assert clean_text("a\u00a0\u2028 b\u3000\u3000c", 20) == "a b c"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(3, 15), st.one_of(st.none(), st.integers(0, 14)))
def test_parsing_an_extracted_answer_matches_parsing_the_text(text, num_players, seat):
    answer = extract_answer(text)
    assert clue_of(answer, 50) == parse_clue(text, 50)
    assert vote_of(answer, num_players, seat) == parse_vote(text, num_players, seat)
    assert reasoning_before(text, answer, 80) == reasoning_of(text, 80)


@pytest.mark.parametrize(
    "answer",
    [
        "Player 3 is the spy",
        "3 (the spy)",
        "$3$",
        "$\\text{Player } 3$",
        "\\mathrm{PLAYER\\ 3}",
        "\\textbf{3}",
        "\\text{\\textbf{Player 3}}",
        "\uff13",  # fullwidth digit three
        "Player\u200b 3",  # zero-width space
        "\u200fPLAYER 3\u200e",  # bidi marks
        "player 3, player 03",
    ],
)
def test_one_named_player_is_a_vote(answer):
    vote = parse_vote(f"My reasoning. \\boxed{{{answer}}}", num_players=4, voter_seat=0)
    assert vote.valid and vote.target == 2, vote.reason


@pytest.mark.parametrize("answer", ["Player 2 or Player 3", "2 or 3", "PLAYER 2, then player 4"])
def test_two_named_players_are_invalid(answer):
    vote = parse_vote(f"\\boxed{{{answer}}}", num_players=4, voter_seat=0)
    assert not vote.valid and not vote.abstain and "more than one player" in vote.reason


def test_player_mentions_win_over_other_numbers():
    assert parse_vote("\\boxed{Player 3, who named 2 cubes}", 4, 0).target == 2


def test_normalisation_reaches_the_box_itself():
    assert extract_answer("\\bo\u200bxed\uff5b\uff14\uff5d").text == "4"
    assert parse_clue("\\boxed{$\\text{a red cube}$}").clue == "a red cube"
    assert parse_clue("\\boxed{\\text{a} and \\text{b}}").clue == "\\text{a} and \\text{b}"


def _shapes(length: int) -> list[str]:
    """Adversarial actions of about `length` characters."""
    return [
        "\\boxed{" * (length // 7),
        "<answer>" * (length // 8),
        "\\boxed{" + "{" * length,
        "\\boxed{" + "{}" * (length // 2) + "}",
        "\\boxed{1}" * (length // 9),
        "\\boxed{" + "\\text{" * (length // 6) + "3" + "}" * (length // 6 + 1),
        "\\boxed{" + "$" * length + "}",
        "\\boxed{" + "1 " * (length // 2) + "}",
    ]


def _scanned(text: str, monkeypatch) -> tuple[int, int]:
    """(passes, characters read) of every scan that can read to the end of the text, for one parse."""
    passes: list[int] = []
    closing = parsing._closing_brace

    def counted_closing(body: str, pos: int) -> int:
        passes.append(len(body) - pos)
        return closing(body, pos)

    class Counted:
        def __init__(self, pattern):
            self.pattern = pattern

        def finditer(self, body, pos=0, *args):
            passes.append(len(body) - pos)
            return self.pattern.finditer(body, pos, *args)

        def search(self, body, pos=0, *args):
            passes.append(len(body) - pos)
            return self.pattern.search(body, pos, *args)

        def __getattr__(self, name):
            return getattr(self.pattern, name)

    monkeypatch.setattr(parsing, "_closing_brace", counted_closing)
    for name in ("_ANSWER_OPEN", "_ANSWER_CLOSE", "_PLAYER", "_NUMBER"):
        monkeypatch.setattr(parsing, name, Counted(getattr(parsing, name)))
    answer = extract_answer(text)
    vote_of(answer, 4, 0)
    clue_of(answer)
    monkeypatch.undo()
    return len(passes), sum(passes)


@pytest.mark.parametrize("shape", range(len(_shapes(64))))
def test_parsing_makes_a_bounded_number_of_passes(shape, monkeypatch):
    """Linear time, checked structurally: the passes over the text do not multiply as it grows."""
    short, long = _shapes(1024)[shape], _shapes(8192)[shape]
    short_passes, short_read = _scanned(short, monkeypatch)
    long_passes, long_read = _scanned(long, monkeypatch)
    assert long_passes == short_passes <= 2 * parsing._MAX_LAYERS + 6
    assert long_read <= long_passes * len(long)


@settings(max_examples=100, deadline=200)
@given(
    st.lists(
        st.sampled_from(["\\boxed{", "}", "{", "<answer>", "</answer>", "$", "\\text{", "3", "\u200b", " "]),
        min_size=1,
        max_size=20,
    ),
    st.integers(1, 1000),
)
def test_no_max_length_input_takes_long(units, repeat):
    """Hypothesis' deadline (200 ms, generous: it is no benchmark) guards against quadratic shapes."""
    text = ("".join(units) * repeat)[: SpyConfig().max_action_chars]
    answer = extract_answer(text)
    vote_of(answer, 4, 0)
    clue_of(answer)
    reasoning_before(text, answer, 600)


@pytest.mark.parametrize("answer", ["3", "N/A", "a large {red} cube", ""])
def test_boxed_writes_what_the_parser_reads_back(answer):
    assert boxed(answer) == "\\boxed{" + answer + "}"
    assert extract_answer(f"I think so. {boxed(answer)}").text == answer
