"""Pure reward functions (SPEC.md s4, s5, s8) that trainers call directly to score sampled votes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from vz_env.parsing import ParsedVote


def tally_votes(votes: Iterable[ParsedVote], num_players: int) -> list[int]:
    """Valid votes received per seat; abstentions and invalid votes are not counted."""
    received = [0] * num_players
    for vote in votes:
        if vote.valid and vote.target is not None:
            received[vote.target] += 1
    return received


def clue_rewards(
    received: Sequence[int], spies: Collection[int], beta: float = 0.1, lam: float = 0.1
) -> list[float]:
    """Zero-sum clue-stage rewards per seat from the votes each seat received (SPEC s4)."""
    civilians = [seat for seat in range(len(received)) if seat not in spies]
    if not civilians or not spies:
        raise ValueError("clue_rewards needs at least one spy and one civilian")
    mean_civ = sum(received[c] for c in civilians) / len(civilians)
    spy_excess = {s: received[s] - mean_civ for s in spies}
    shared = beta * sum(spy_excess.values()) / len(civilians)
    rewards = []
    for seat in range(len(received)):
        if seat in spies:
            rewards.append(beta * (mean_civ - received[seat]))
        else:
            rewards.append(shared - lam * (received[seat] - mean_civ))
    return rewards


def decision_reward(
    vote: ParsedVote,
    spies: Collection[int],
    correct: float = 1.0,
    abstain: float = -0.5,
    wrong: float = -1.0,
    format_weight: float = 0.0,
) -> float:
    """Verifiable reward of one vote (SPEC s5): correct, abstain, or wrong/invalid, plus the format term."""
    if vote.abstain:
        base = abstain
    elif vote.valid and vote.target in spies:
        base = correct
    else:
        base = wrong
    return base + (format_weight if vote.well_formed else -format_weight)


def clue_format_reward(valid: bool, format_weight: float) -> float:
    """The format term of a clue turn: kept when a clue was found, lost otherwise."""
    return format_weight if valid else -format_weight


def civilians_win(received: Sequence[int], spies: Collection[int]) -> bool:
    """Civilians win when every spy got strictly more valid votes than every civilian (evaluation only)."""
    civilians = [seat for seat in range(len(received)) if seat not in spies]
    return min(received[s] for s in spies) > max(received[c] for c in civilians)
