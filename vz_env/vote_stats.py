"""Vote statistics from judged turns: one count of every report's decision figures (trainer, evaluations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vz_env.turn import Phase, Role, Turn


@dataclass(frozen=True)
class VoteStats:
    """Counts over a set of decision turns; each rate is a share of `votes` (0.0 when there are none)."""

    votes: int = 0
    spy_named: int = 0
    abstained: int = 0
    invalid: int = 0
    valid: int = 0
    well_formed: int = 0

    @property
    def accuracy(self) -> float:
        """Decision accuracy: votes naming a spy over all votes (invalid and N/A ones count as wrong)."""
        return self._share(self.spy_named)

    @property
    def na_rate(self) -> float:
        """Votes that abstained (N/A)."""
        return self._share(self.abstained)

    @property
    def invalid_rate(self) -> float:
        """Votes the rules rejected that were not an abstention."""
        return self._share(self.invalid)

    @property
    def valid_rate(self) -> float:
        """Votes the rules accepted (N/A included where the config allows it)."""
        return self._share(self.valid)

    @property
    def well_formed_rate(self) -> float:
        """Votes in the answer format, whatever they named."""
        return self._share(self.well_formed)

    def _share(self, count: int) -> float:
        return count / self.votes if self.votes else 0.0


def vote_stats(turns: Iterable[tuple[Turn, Role]], spies: bool = False) -> VoteStats:
    """The decision turns' counts; a spy's vote counts only with `spies` (accuracy is the civilians')."""
    votes = [t for t, role in turns if t.phase == Phase.DECISION and (spies or role != Role.SPY)]
    return VoteStats(
        votes=len(votes),
        spy_named=sum(t.voted_spy for t in votes),
        abstained=sum(t.abstain for t in votes),
        invalid=sum(not t.valid and not t.abstain for t in votes),
        valid=sum(t.valid for t in votes),
        well_formed=sum(t.format_ok for t in votes),
    )
