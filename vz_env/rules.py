"""The spy game as a plain state machine: whose turn, what was said, who voted for whom, who scored what."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vz_env import prompts
from vz_env.config import SpyConfig
from vz_env.data.base import ImagePair
from vz_env.parsing import ParsedVote, parse_clue, parse_vote, reasoning_of
from vz_env.rewards import civilians_win, clue_format_reward, clue_rewards, decision_reward, tally_votes

CLUE, DECISION, DONE = "clue", "decision", "done"
PHASES = (CLUE, DECISION, DONE)
SPY, CIVILIAN, OBSERVER = "spy", "civilian", "observer"


def player_name(seat: int) -> str:
    return f"player_{seat}"


def observer_name(index: int) -> str:
    return f"observer_{index}"


def agent_names(config: SpyConfig) -> list[str]:
    """Every agent of a game: the players, then the observers in observer mode."""
    names = [player_name(i) for i in range(config.num_players)]
    if config.decision_mode == "observer":
        names += [observer_name(k) for k in range(config.num_observers)]
    return names


@dataclass(frozen=True)
class Turn:
    """One action as the game understood it: everything a trainer or evaluator needs, nothing re-parsed."""

    agent: str
    phase: str
    round: int
    raw: str
    reasoning: str
    valid: bool
    reason: str | None
    clue: str | None = None
    vote: str | None = None
    abstain: bool = False
    format_ok: bool = False
    format_reward: float = 0.0
    decision_reward: float | None = None


class SpyGame:
    """One game over one image pair with a fixed set of spies; knows nothing of PettingZoo."""

    def __init__(self, config: SpyConfig, spies: frozenset[int], pair: ImagePair) -> None:
        if not spies or len(spies) != config.num_spies or not all(0 <= s < config.num_players for s in spies):
            raise ValueError(f"spies must be {config.num_spies} seat(s) in 0..{config.num_players - 1}")
        self.config = config
        self.spies = frozenset(spies)
        self.pair = pair
        self.players = [player_name(i) for i in range(config.num_players)]
        self.agents = agent_names(config)
        self.seat_of = {name: i for i, name in enumerate(self.players)}
        self.turns: list[Turn] = []
        self._clue_order = [name for _ in range(config.num_rounds) for name in self.players]
        self._clue_index = 0
        self._voters = self._decision_voters()
        self._votes: dict[str, Turn] = {}
        self._parsed_votes: dict[str, ParsedVote] = {}
        self._history_lines: list[str] = []
        self._reasoning_lines: dict[str, list[str]] = {name: [] for name in self.agents}
        self._spy_view = np.full_like(pair.original, 255) if config.spy_image == "blank" else pair.modified
        self._format_values = {
            "num_players": config.num_players,
            "num_spies": config.num_spies,
            "num_rounds": config.num_rounds,
        }
        self._roles_text = {
            SPY: config.role_spy.format(**self._format_values, history=""),
            CIVILIAN: config.role_civilian.format(**self._format_values, history=""),
            None: config.role_hidden.format(**self._format_values, history=""),
        }
        self._rewards: dict[str, float] | None = None

    def _decision_voters(self) -> list[str]:
        if self.config.decision_mode == "observer":
            return [observer_name(k) for k in range(self.config.num_observers)]
        return [p for i, p in enumerate(self.players) if self.config.spy_votes or i not in self.spies]

    @property
    def phase(self) -> str:
        if self._clue_index < len(self._clue_order):
            return CLUE
        return DECISION if len(self._votes) < len(self._voters) else DONE

    @property
    def round(self) -> int:
        """The current clue round, 1-based; num_rounds once the clue stage is over."""
        return min(self._clue_index // self.config.num_players + 1, self.config.num_rounds)

    @property
    def voters(self) -> list[str]:
        return list(self._voters)

    @property
    def pending(self) -> list[str]:
        """Agents whose action the game waits for now (one clue giver, or every voter yet to vote)."""
        phase = self.phase
        if phase == CLUE:
            return [self._clue_order[self._clue_index]]
        if phase == DECISION:
            return [v for v in self._voters if v not in self._votes]
        return []

    def role(self, agent: str) -> str:
        seat = self.seat_of.get(agent)
        if seat is None:
            return OBSERVER
        return SPY if seat in self.spies else CIVILIAN

    @property
    def roles(self) -> dict[str, str]:
        return {name: self.role(name) for name in self.agents}

    def image(self, agent: str) -> np.ndarray:
        """What the agent sees: spies the modified (or blank) picture, everyone else the original."""
        return self._spy_view if self.role(agent) == SPY else self.pair.original

    def history(self) -> list[dict]:
        """The public clue history (clue text only), players numbered from 1 as the models see them."""
        return [
            {
                "round": t.round,
                "player": self.seat_of[t.agent] + 1,
                "clue": t.clue or self.config.invalid_clue_text,
            }
            for t in self.turns
            if t.phase == CLUE
        ]

    def known_role(self, agent: str) -> str | None:
        """The agent's own role as it may know it: only when reveal_role is on, never for observers."""
        role = self.role(agent)
        return role if self.config.reveal_role and role != OBSERVER else None

    def prompt(self, agent: str) -> str:
        """The ready prompt for the agent's next action (or for its view of a finished game)."""
        values = dict(self._format_values, history="\n".join(self._history_lines) or prompts.NO_CLUES_YET)
        if self.role(agent) == OBSERVER:
            return self.config.observer_prompt.format(**values)
        values["seat"] = self.seat_of[agent] + 1
        values["role"] = self._roles_text[self.known_role(agent)]
        values["own_reasoning"] = "\n".join(self._reasoning_lines[agent]) or prompts.NO_REASONING_YET
        if self.phase == CLUE:
            return self.config.clue_prompt.format(**values, round=self.round)
        return self.config.vote_prompt.format(**values)

    def act(self, agent: str, text: str) -> Turn:
        """Record the agent's action text; any string is accepted, unusable ones are marked invalid."""
        if not isinstance(text, str):
            raise TypeError(f"action of {agent} must be a str, got {type(text).__name__}")
        if agent not in self.pending:
            raise ValueError(f"it is not {agent}'s turn (waiting for {', '.join(self.pending) or 'nobody'})")
        text = text[: self.config.max_action_chars]
        turn = self._clue_turn(agent, text) if self.phase == CLUE else self._vote_turn(agent, text)
        self.turns.append(turn)
        if turn.reasoning:
            self._reasoning_lines[agent].append(f"Round {turn.round}: {turn.reasoning}")
        if self.phase == DONE:
            self._rewards = self._final_rewards()
        return turn

    def _clue_turn(self, agent: str, text: str) -> Turn:
        cfg = self.config
        parsed = parse_clue(text, cfg.max_clue_chars)
        round_ = self.round
        self._clue_index += 1
        shown = parsed.clue if parsed.valid else cfg.invalid_clue_text
        self._history_lines.append(f"Round {round_}, PLAYER {self.seat_of[agent] + 1}: {shown}")
        return Turn(
            agent=agent,
            phase=CLUE,
            round=round_,
            raw=text,
            reasoning=reasoning_of(text, cfg.max_reasoning_chars),
            valid=parsed.valid,
            reason=parsed.reason,
            clue=parsed.clue,
            format_ok=parsed.valid,
            format_reward=clue_format_reward(parsed.valid, cfg.format_weight) if cfg.format_reward else 0.0,
        )

    def _vote_turn(self, agent: str, text: str) -> Turn:
        cfg = self.config
        vote = parse_vote(text, cfg.num_players, self.seat_of.get(agent))
        weight = cfg.format_weight if cfg.format_reward else 0.0
        turn = Turn(
            agent=agent,
            phase=DECISION,
            round=cfg.num_rounds + 1,
            raw=text,
            reasoning=reasoning_of(text, cfg.max_reasoning_chars),
            valid=vote.valid,
            reason=vote.reason,
            vote=player_name(vote.target) if vote.target is not None else None,
            abstain=vote.abstain,
            format_ok=vote.well_formed,
            format_reward=weight if vote.well_formed else -weight,
            decision_reward=None
            if self.role(agent) == SPY
            else decision_reward(
                vote, self.spies, cfg.reward_correct, cfg.reward_abstain, cfg.reward_wrong, weight
            ),
        )
        self._votes[agent] = turn
        self._parsed_votes[agent] = vote
        return turn

    def votes_received(self) -> list[int]:
        """Valid votes received per seat so far (only final once the game is done)."""
        return tally_votes(self._parsed_votes.values(), self.config.num_players)

    def _final_rewards(self) -> dict[str, float]:
        cfg = self.config
        per_seat = clue_rewards(self.votes_received(), self.spies, cfg.clue_beta, cfg.clue_lambda)
        rewards = {name: 0.0 for name in self.agents}
        rewards.update(zip(self.players, per_seat))
        return rewards

    def rewards(self) -> dict[str, float]:
        """The zero-sum game rewards once the game is done; all zero before."""
        return dict(self._rewards) if self._rewards is not None else {name: 0.0 for name in self.agents}

    def winner(self) -> str | None:
        """ "civilians" or "spies" once the game is done (evaluation only; rewards don't use it)."""
        if self.phase != DONE:
            return None
        return "civilians" if civilians_win(self.votes_received(), self.spies) else "spies"

    def vote_of(self, agent: str) -> Turn | None:
        return self._votes.get(agent)
