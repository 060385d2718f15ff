"""Pure parsing of free-text actions into clues and votes (SPEC.md s3); never raises on a string."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_BOXED = "\\boxed{"
_BRACE = re.compile(r"[{}]")
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|texttt)\{(.*)\}$", re.DOTALL)
_VOTE = re.compile(r"^(?:player\s*#?\s*)?([0-9]{1,6})$", re.IGNORECASE)
_ABSTAIN = frozenset({"n/a", "na", "none", "n.a", "n-a"})
_STRIP_CHARS = " \t\r\n*_\"'`()[]"
_TRAILING = ".!?,;:"
_NO_ANSWER = "no \\boxed{...} or <answer> found"


# The results below are plain dataclasses, not frozen ones: the env builds several per action, and a frozen
# dataclass costs several times as much to build. Treat them as read-only values.
@dataclass
class Answer:
    """The final answer found in a response, where it started, and what came before it."""

    text: str
    start: int


@dataclass
class ParsedClue:
    """A clue turn's outcome: the clue shown to others, or why it was invalid."""

    clue: str | None
    valid: bool
    reason: str | None


@dataclass
class ParsedVote:
    """A vote's outcome: the 0-based seat voted for, an abstention, or why it was invalid."""

    target: int | None
    abstain: bool
    valid: bool
    reason: str | None

    @property
    def well_formed(self) -> bool:
        """True for a usable vote or an explicit abstention (the format reward's condition)."""
        return self.valid or self.abstain


def _closing_brace(text: str, pos: int) -> int:
    """Index of the brace that closes a group opened just before pos, or -1 when it never closes."""
    depth = 0
    for match in _BRACE.finditer(text, pos):
        if match.group() == "{":
            depth += 1
        elif depth == 0:
            return match.start()
        else:
            depth -= 1
    return -1


def _last_boxed(text: str) -> Answer | None:
    """The last complete \\boxed{...} with balanced (nested) braces."""
    start = text.rfind(_BOXED)
    while start != -1:
        body = start + len(_BOXED)
        end = text.find("}", body)
        if text.find("{", body, end) != -1:
            end = _closing_brace(text, body)
        if end != -1:
            return Answer(text[body:end], start)
        start = text.rfind(_BOXED, 0, start)
    return None


def _last_answer_tag(text: str) -> Answer | None:
    last = None
    for match in _ANSWER_TAG.finditer(text):
        last = match
    return Answer(last.group(1), last.start()) if last else None


def extract_answer(text: str) -> Answer | None:
    """The last \\boxed{...} or <answer>...</answer> in the text, whichever comes later."""
    boxed = _last_boxed(text)
    tagged = _last_answer_tag(text) if "<" in text else None
    if boxed is None:
        return tagged
    if tagged is None:
        return boxed
    return boxed if boxed.start > tagged.start else tagged


def clean_text(text: str, max_chars: int) -> str:
    """Collapse whitespace, drop control characters and cut to max_chars, so any clue is safe to show."""
    if not text.isprintable():
        text = "".join(
            " " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C"
        )
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= max_chars else collapsed[: max_chars - 1].rstrip() + "…"


def reasoning_of(text: str, max_chars: int) -> str:
    """The thinking before the final answer (the whole text when there is none), cleaned and cut."""
    return reasoning_before(text, extract_answer(text), max_chars)


def reasoning_before(text: str, answer: Answer | None, max_chars: int) -> str:
    """reasoning_of for an answer already extracted from text (so a turn is parsed once)."""
    return clean_text(text[: answer.start] if answer else text, max_chars)


def parse_clue(text: str, max_chars: int = 200) -> ParsedClue:
    """The clue is the last boxed answer, stripped; no answer or an empty one makes it invalid."""
    _require_str(text)
    return clue_of(extract_answer(text), max_chars)


def clue_of(answer: Answer | None, max_chars: int = 200) -> ParsedClue:
    """parse_clue for an answer already extracted from the action text."""
    if answer is None:
        return ParsedClue(None, False, _NO_ANSWER)
    clue = clean_text(_unwrap(answer.text), max_chars)
    if not clue:
        return ParsedClue(None, False, "empty answer")
    return ParsedClue(clue, True, None)


def parse_vote(text: str, num_players: int, voter_seat: int | None = None) -> ParsedVote:
    """A vote names PLAYER 1..N (any N) or abstains with N/A; self-votes and out-of-range are invalid."""
    _require_str(text)
    return vote_of(extract_answer(text), num_players, voter_seat)


def vote_of(answer: Answer | None, num_players: int, voter_seat: int | None = None) -> ParsedVote:
    """parse_vote for an answer already extracted from the action text."""
    if answer is None:
        return ParsedVote(None, False, False, _NO_ANSWER)
    body = _unwrap(answer.text).strip(_STRIP_CHARS).rstrip(_TRAILING).strip(_STRIP_CHARS)
    if body.lower() in _ABSTAIN:
        return ParsedVote(None, True, False, None)
    match = _VOTE.match(body)
    if match is None:
        return ParsedVote(None, False, False, f"not a player number or N/A: {clean_text(body, 40)!r}")
    number = int(match.group(1))
    if not 1 <= number <= num_players:
        return ParsedVote(None, False, False, f"player {number} is out of range 1..{num_players}")
    if voter_seat is not None and number - 1 == voter_seat:
        return ParsedVote(None, False, False, "self-vote")
    return ParsedVote(number - 1, False, True, None)


def _unwrap(text: str) -> str:
    """Remove LaTeX text wrappers such as \\text{...} that models put inside boxes."""
    text = text.strip()
    if not text.startswith("\\"):
        return text
    match = _WRAPPER.match(text)
    while match:
        text = match.group(1).strip()
        match = _WRAPPER.match(text)
    return text


def _require_str(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected the action text as str, got {type(text).__name__}")
