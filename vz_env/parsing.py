"""Pure parsing of free-text actions into clues and votes (docs/spec.md s3): linear time, never raises on str.

Reading an action makes a fixed number of passes over it (NFKC, a few regex scans, one vectorised brace
count per unwrapped layer, at most _MAX_LAYERS), so 8,192 characters of unclosed boxes parse in well under
a millisecond, as fast as a short answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

_BOXED = "\\boxed{"
_OPEN, _CLOSE = ord("{"), ord("}")
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
# Invisible format characters models and copy-paste leave in text: soft hyphen, zero-width and bidi marks.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_WRAPPER_OPEN = re.compile(r"\\(?:text|textbf|textit|texttt|mathrm|mathbf|mathit|operatorname)\s*\{")
_MATH_COMMAND = re.compile(r"\\(?:text|textbf|textit|texttt|mathrm|mathbf|mathit|operatorname)\s*")
_MATH_CHARS = str.maketrans("{}$", "   ")
_PLAYER = re.compile(r"player\s*(?:#|no\.?|number)?\s*(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_FIRST_WORD = re.compile(r"[^\s,;:!?()\[\]*\"'`]+")
_ABSTAIN = frozenset({"n/a", "na", "none", "n.a", "n-a"})
_STRIP_CHARS = " \t\r\n*_\"'`()[]"
_TRAILING = ".!?,;:"
_MAX_DIGITS = 6
_MAX_LAYERS = 8
_NO_ANSWER = "no complete final \\boxed{...} or <answer>...</answer> found"


# The results below are plain dataclasses, not frozen ones: the env builds several per action, and a frozen
# dataclass costs several times as much to build. Treat them as read-only values.
@dataclass
class Answer:
    """The final answer found in a (normalised) response, and where its opening mark starts."""

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


def normalize(text: str) -> str:
    """Unicode NFKC (fullwidth digits and braces become ASCII) without invisible format characters."""
    if text.isascii():
        return text
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def _closing_brace(text: str, pos: int) -> int:
    """Index of the brace that closes a group opened just before pos, or -1 when it never closes.

    Without nesting it is two finds; with nesting, one vectorised pass of running brace depths.
    """
    first_close = text.find("}", pos)
    if first_close == -1 or text.find("{", pos, first_close) == -1:
        return first_close
    codes = np.frombuffer(text[pos:].encode("utf-32-le", "surrogatepass"), np.uint32)
    depth = np.cumsum((codes == _OPEN).astype(np.int32) - (codes == _CLOSE))
    below = np.flatnonzero(depth < 0)
    return pos + int(below[0]) if below.size else -1


def _last_answer_open(text: str) -> int:
    """Start of the last <answer> tag (any case), or -1."""
    start = -1
    for match in _ANSWER_OPEN.finditer(text):
        start = match.start()
    return start


def boxed(answer: str) -> str:
    """`answer` written the way `find_answer` reads it back, so the package writes the format in one place."""
    return f"{_BOXED}{answer}}}"


def find_answer(text: str) -> Answer | None:
    """The answer of an already normalised text: the body of its last opening mark, if that mark closes.

    Only the LAST \\boxed{ or <answer> counts: when it never closes (a cut-off generation) there is no
    answer, even when an earlier box closed, since an earlier box is often a hypothesis later revised.
    """
    box = text.rfind(_BOXED)
    tagged = _last_answer_open(text) if "<" in text else -1
    if box > tagged:
        body = box + len(_BOXED)
        end = _closing_brace(text, body)
        return Answer(text[body:end], box) if end != -1 else None
    if tagged == -1:
        return None
    close = _ANSWER_CLOSE.search(text, tagged)
    return Answer(text[tagged + len("<answer>") : close.start()], tagged) if close else None


def extract_answer(text: str) -> Answer | None:
    """find_answer of the normalised text."""
    return find_answer(normalize(text))


def clean_text(text: str, max_chars: int) -> str:
    """Collapse whitespace, drop control characters and cut to max_chars, so any clue is safe to show."""
    collapsed = _printable(text)
    return collapsed if len(collapsed) <= max_chars else collapsed[: max_chars - 1].rstrip() + "…"


def keep_ends(text: str, max_chars: int) -> str:
    """text itself when short enough, else its first third and its end joined by "…" (max_chars in all)."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 3
    tail = max_chars - head - 1
    return text[:head] + "…" + (text[-tail:] if tail > 0 else "")


def clip_middle(text: str, max_chars: int) -> str:
    """text cleaned of control characters and runs of whitespace, then bounded by keep_ends."""
    return keep_ends(_printable(text), max_chars)


def _printable(text: str) -> str:
    if not text.isprintable():
        text = "".join(
            " " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C"
        )
    return " ".join(text.split())


def reasoning_of(text: str, max_chars: int) -> str:
    """The thinking before the final answer (the whole text when there is none), cleaned and bounded."""
    return reasoning_before(text, extract_answer(text), max_chars)


def reasoning_before(text: str, answer: Answer | None, max_chars: int) -> str:
    """reasoning_of for an answer already extracted from text (so a turn is parsed once)."""
    normalised = normalize(text)
    return clip_middle(normalised[: answer.start] if answer else normalised, max_chars)


def parse_clue(text: str, max_chars: int = 200) -> ParsedClue:
    """The clue is the last boxed answer, stripped; no answer or an empty one makes it invalid."""
    _require_str(text)
    return clue_of(extract_answer(text), max_chars)


def clue_of(answer: Answer | None, max_chars: int = 200) -> ParsedClue:
    """parse_clue for an answer already extracted from the action text."""
    if answer is None:
        return ParsedClue(None, False, _NO_ANSWER)
    clue = clean_text(unwrap(answer.text), max_chars)
    if not clue:
        return ParsedClue(None, False, "empty answer")
    return ParsedClue(clue, True, None)


def parse_vote(text: str, num_players: int, voter_seat: int | None = None) -> ParsedVote:
    """A vote names exactly one of PLAYER 1..N (any N) or abstains with N/A; anything else is invalid."""
    _require_str(text)
    return vote_of(extract_answer(text), num_players, voter_seat)


def vote_of(answer: Answer | None, num_players: int, voter_seat: int | None = None) -> ParsedVote:
    """parse_vote for an answer already extracted from the action text."""
    if answer is None:
        return ParsedVote(None, False, False, _NO_ANSWER)
    body = unwrap(answer.text)
    body = (_MATH_COMMAND.sub(" ", body) if "\\" in body else body).translate(_MATH_CHARS)
    numbers = _named_players(_PLAYER, body) or _named_players(_NUMBER, body)
    if not numbers:
        word = _FIRST_WORD.search(body.strip(_STRIP_CHARS))
        if word and word.group().rstrip(_TRAILING).lower() in _ABSTAIN:
            return ParsedVote(None, True, False, None)
        shown = clean_text(body.strip(_STRIP_CHARS), 40)
        return ParsedVote(None, False, False, f"not a player number or N/A: {shown!r}")
    if len(numbers) > 1:
        named = ", ".join(sorted(numbers, key=lambda n: (len(n), n))[:4])
        return ParsedVote(None, False, False, f"names more than one player ({named})")
    key = numbers.pop()
    number = int(key) if len(key) <= _MAX_DIGITS else num_players + 1
    if not 1 <= number <= num_players:
        return ParsedVote(
            None, False, False, f"player {key[: _MAX_DIGITS + 1]} is out of range 1..{num_players}"
        )
    if voter_seat is not None and number - 1 == voter_seat:
        return ParsedVote(None, False, False, "self-vote")
    return ParsedVote(number - 1, False, True, None)


def _named_players(pattern: re.Pattern, body: str) -> set[str]:
    """The distinct numbers the pattern finds (without leading zeros), stopping once two are found."""
    found: set[str] = set()
    for match in pattern.finditer(body):
        found.add(match.group(match.lastindex or 0).lstrip("0") or "0")
        if len(found) > 1:
            break
    return found


def unwrap(text: str) -> str:
    """The text without the markup that encloses all of it: $...$, \\text{...}, \\mathrm{...} and the like.

    At most _MAX_LAYERS layers are peeled, each checked by one linear pass, so unwrapping stays linear.
    """
    if not text or (text[0] not in "$\\" and not text[0].isspace() and not text[-1].isspace()):
        return text
    start, end = 0, len(text)
    for _ in range(_MAX_LAYERS):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 2 and text[start] == "$" and text[end - 1] == "$":
            start, end = start + 1, end - 1
            continue
        opener = _WRAPPER_OPEN.match(text, start, end) if text.startswith("\\", start) else None
        if opener is None or text[end - 1] != "}" or _closing_brace(text[:end], opener.end()) != end - 1:
            break
        start, end = opener.end(), end - 1
    return text[start:end].strip()


def _require_str(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"expected the action text as str, got {type(text).__name__}")
