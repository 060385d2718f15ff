"""Pure parsing of free-text actions into clues and votes (SPEC.md s3); never raises on a string."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_BOXED = "\\boxed{"
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|texttt)\{(.*)\}$", re.DOTALL)
_VOTE = re.compile(r"^(?:player\s*#?\s*)?([0-9]{1,6})$", re.IGNORECASE)
_ABSTAIN = frozenset({"n/a", "na", "none", "n.a", "n-a"})
_STRIP_CHARS = " \t\r\n*_\"'`()[]"
_TRAILING = ".!?,;:"


@dataclass(frozen=True)
class Answer:
    """The final answer found in a response, where it started, and what came before it."""

    text: str
    start: int


@dataclass(frozen=True)
class ParsedClue:
    """A clue turn's outcome: the clue shown to others, or why it was invalid."""

    clue: str | None
    valid: bool
    reason: str | None


@dataclass(frozen=True)
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


def _last_boxed(text: str) -> Answer | None:
    """The last complete \\boxed{...} with balanced (nested) braces."""
    start = text.rfind(_BOXED)
    while start != -1:
        depth = 0
        for i in range(start + len(_BOXED), len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    return Answer(text[start + len(_BOXED) : i], start)
                depth -= 1
        start = text.rfind(_BOXED, 0, start)
    return None


def _last_answer_tag(text: str) -> Answer | None:
    last = None
    for match in _ANSWER_TAG.finditer(text):
        last = match
    return Answer(last.group(1), last.start()) if last else None


def extract_answer(text: str) -> Answer | None:
    """The last \\boxed{...} or <answer>...</answer> in the text, whichever comes later."""
    candidates = [a for a in (_last_boxed(text), _last_answer_tag(text)) if a is not None]
    return max(candidates, key=lambda a: a.start) if candidates else None


def clean_text(text: str, max_chars: int) -> str:
    """Collapse whitespace, drop control characters and cut to max_chars, so any clue is safe to show."""
    kept = "".join(
        " " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    collapsed = " ".join(kept.split())
    return collapsed if len(collapsed) <= max_chars else collapsed[: max_chars - 1].rstrip() + "…"


def reasoning_of(text: str, max_chars: int) -> str:
    """The thinking before the final answer (the whole text when there is none), cleaned and cut."""
    answer = extract_answer(text)
    return clean_text(text[: answer.start] if answer else text, max_chars)


def parse_clue(text: str, max_chars: int = 200) -> ParsedClue:
    """The clue is the last boxed answer, stripped; no answer or an empty one makes it invalid."""
    _require_str(text)
    answer = extract_answer(text)
    if answer is None:
        return ParsedClue(None, False, "no \\boxed{...} or <answer> found")
    clue = clean_text(_unwrap(answer.text), max_chars)
    if not clue:
        return ParsedClue(None, False, "empty answer")
    return ParsedClue(clue, True, None)


def parse_vote(text: str, num_players: int, voter_seat: int | None = None) -> ParsedVote:
    """A vote names PLAYER 1..N (any N) or abstains with N/A; self-votes and out-of-range are invalid."""
    _require_str(text)
    answer = extract_answer(text)
    if answer is None:
        return ParsedVote(None, False, False, "no \\boxed{...} or <answer> found")
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
    match = _WRAPPER.match(text)
    while match:
        text = match.group(1).strip()
        match = _WRAPPER.match(text)
    return text


def _require_str(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected the action text as str, got {type(text).__name__}")
