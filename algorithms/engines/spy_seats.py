"""One spy game played turn by turn for an engine: who answers each turn, and what the rules made of it.

Engines keep baselines per named seat, so a turn is answered by the seat of its role ("spy" or "civilian" for
clues, "voter" or "observer" for decisions) while the prompts keep the env's public player numbers, whose
seats the env draws at random. Every prompt is the env's own observation and every reply is judged by the
env's own rules; this module only records the outcome per turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vz_env import Phase, Role, Turn, spy_v0
from vz_env.rewards import turn_reward

SEATS = ("spy", "civilian", "voter", "observer")
CLUE_SEATS = ("spy", "civilian")
DECISION_SEATS = ("voter", "observer")

Ask = Callable[[str, Mapping[str, Any]], Awaitable[str]]
"""Answers one turn: the seat name and the env's observation in, the reply text out."""


@dataclass
class PlayedTurn:
    """One turn as played: the engine seat that answered, the rules' Turn, and the reward it earns."""

    seat: str
    turn: Turn
    role: Role
    reward: float | None = None

    @property
    def trainable(self) -> bool:
        """Whether the turn carries a reward to learn from (a spy's vote has no decision reward)."""
        return self.reward is not None

    def info(self, seed: int, order: int, winner: str | None) -> dict[str, Any]:
        """The facts an engine's trace keeps: the game, the seat, the role and how the rules judged it."""
        turn = self.turn
        return {
            "seed": seed,
            "order": order,
            "agent": turn.agent,
            "role": str(self.role),
            "phase": str(turn.phase),
            "round": turn.round,
            "valid": turn.valid,
            "reason": turn.reason,
            "clue": turn.clue,
            "vote": turn.vote,
            "abstain": turn.abstain,
            "voted_spy": turn.voted_spy,
            "format_ok": turn.format_ok,
            "winner": winner,
        }


@dataclass
class PlayedGame:
    """A finished game: its seed, every turn in order, and the winner (for evaluation only)."""

    seed: int
    turns: list[PlayedTurn]
    winner: str | None


def seat_of(role: Role, phase: Phase) -> str:
    """The engine seat that answers a turn of a player with `role` in `phase`."""
    if phase == Phase.CLUE:
        return "spy" if role == Role.SPY else "civilian"
    return "observer" if role == Role.OBSERVER else "voter"


async def play_game(settings: Mapping[str, Any], seed: int, ask: Ask) -> PlayedGame:
    """Play the game of `seed` (`settings`: SpyConfig fields), asking `ask` for every turn.

    Each turn earns `vz_env.rewards.turn_reward`, the reward the trainer's samples carry (docs/spec.md s6):
    a clue its player's zero-sum game reward and its format term, a vote its decision reward.
    """
    env = spy_v0.env(**settings)
    env.reset(seed=seed)
    game = env.unwrapped.game
    played: list[PlayedTurn] = []
    for agent in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        role = game.role(agent)
        reply = await ask(seat_of(role, Phase(int(observation["phase"]))), observation)
        env.step(reply)
        turn = game.last_turn(agent)
        played.append(PlayedTurn(seat_of(role, turn.phase), turn, role))
    rewards = game.rewards()
    for entry in played:
        entry.reward = turn_reward(entry.turn, rewards)
    return PlayedGame(seed, played, game.winner())
