"""Pure reward functions (docs/spec.md s4, s5, s8) that trainers call directly to score sampled votes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from vz_env.config import SpyConfig
from vz_env.parsing import ParsedVote
from vz_env.turn import Phase, Turn


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
    """Zero-sum clue-stage rewards per seat from the votes each seat received (docs/spec.md s4)."""
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


def voted_for_spy(vote: ParsedVote, spies: Collection[int]) -> bool:
    """Whether a vote is a correct one: valid and for any of the spies."""
    return vote.valid and vote.target in spies


def decision_reward(
    vote: ParsedVote,
    spies: Collection[int],
    correct: float = 1.0,
    abstain: float = -0.5,
    wrong: float = -1.0,
    format_weight: float = 0.0,
) -> float:
    """Verifiable reward of one vote (docs/spec.md s5): correct, N/A or wrong/invalid, plus a format term."""
    if vote.abstain:
        base = abstain
    elif voted_for_spy(vote, spies):
        base = correct
    else:
        base = wrong
    return base + (format_weight if vote.well_formed else -format_weight)


def clue_format_reward(valid: bool, format_weight: float) -> float:
    """The format term of a clue turn: kept when a clue was found, lost otherwise."""
    return format_weight if valid else -format_weight


def turn_reward(turn: Turn, game_rewards: Mapping[str, float]) -> float | None:
    """The whole reward a turn trains on (docs/spec.md s6), composed once for every trainer and engine.

    A clue turn earns its player's zero-sum game reward plus its format term (`clue_format_weight`); a vote
    its decision reward (format term included); a spy's vote nothing (None).
    """
    if turn.phase == Phase.CLUE:
        return game_rewards[turn.agent] + turn.format_reward
    return turn.decision_reward


def format_weight_of(config: SpyConfig) -> float:
    """The format term's weight a game uses: config.format_weight when format_reward is on, else 0."""
    return config.format_weight if config.format_reward else 0.0


@dataclass
class VoteScore:
    """What one vote earns: its decision reward (None for a spy's vote), its format term, its correctness."""

    decision_reward: float | None
    format_reward: float
    voted_spy: bool


def score_vote(vote: ParsedVote, spies: Collection[int], voter_is_spy: bool, config: SpyConfig) -> VoteScore:
    """The one scoring of a vote (docs/spec.md s5), for played votes and for extra sampled ones alike.

    A spy's vote (spy_votes=True) earns no decision reward; it still has a format term.
    """
    weight = format_weight_of(config)
    reward = None
    if not voter_is_spy:
        reward = decision_reward(
            vote, spies, config.reward_correct, config.reward_abstain, config.reward_wrong, weight
        )
    return VoteScore(
        decision_reward=reward,
        format_reward=weight if vote.well_formed else -weight,
        voted_spy=voted_for_spy(vote, spies),
    )


def civilians_win(received: Sequence[int], spies: Collection[int]) -> bool:
    """Civilians win when every spy got strictly more valid votes than every civilian (evaluation only)."""
    civilians = [seat for seat in range(len(received)) if seat not in spies]
    return min(received[s] for s in spies) > max(received[c] for c in civilians)
