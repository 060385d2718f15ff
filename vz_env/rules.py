"""The spy game as a plain state machine: whose turn, what was said, who voted for whom, who scored what."""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

import numpy as np

from vz_env import prompts
from vz_env.config import SpyConfig
from vz_env.data.base import ImagePair
from vz_env.grounding import is_grounded, scene_objects
from vz_env.parsing import (
    Answer,
    ParsedVote,
    clip_middle,
    clue_of,
    find_answer,
    keep_ends,
    normalize,
    vote_of,
)
from vz_env.rewards import (
    civilians_win,
    clue_format_reward,
    clue_rewards,
    score_vote,
    tally_votes,
)
from vz_env.turn import Clue, Phase, Role, Turn

# Enum member lookups cost about 250 ns each on CPython 3.11; the per-action paths use these aliases.
_CLUE, _DECISION, _DONE = Phase.CLUE, Phase.DECISION, Phase.DONE
_CIVILIAN, _HIDDEN, _OBSERVER, _SPY = Role.CIVILIAN, Role.HIDDEN, Role.OBSERVER, Role.SPY


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


@lru_cache(maxsize=256)
def _with_counts(template: str, num_players: int, num_spies: int, num_rounds: int) -> str:
    """A role template with the game's counts filled in (cached: it is the same for every game)."""
    return template.format(num_players=num_players, num_spies=num_spies, num_rounds=num_rounds, history="")


@lru_cache(maxsize=1024)
def split_template(template: str, fixed: tuple[tuple[str, Any], ...]) -> tuple[str, ...] | None:
    """The template cut once into literal texts (fixed fields filled in) alternating with other field names.

    Filling those in is a join, much cheaper than str.format reading a long template again for every
    prompt. None when a field has a conversion or a format spec: such a template is left to str.format.
    """
    values = dict(fixed)
    pieces = [""]
    for literal, name, spec, conversion in string.Formatter().parse(template):
        pieces[-1] += literal
        if name is None:
            continue
        if spec or conversion:
            return None
        if name in values:
            pieces[-1] += str(values[name])
        else:
            pieces += [name, ""]
    return tuple(pieces)


class SpyGame:
    """One game over one image pair with a fixed set of spies; knows nothing of PettingZoo."""

    def __init__(self, config: SpyConfig, spies: frozenset[int], pair: ImagePair) -> None:
        if not spies or len(spies) != config.num_spies or not all(0 <= s < config.num_players for s in spies):
            raise ValueError(f"spies must be {config.num_spies} seat(s) in 0..{config.num_players - 1}")
        self.config = config
        self.spies = frozenset(spies)
        self.pair = pair
        self.agents = agent_names(config)
        self.players = self.agents[: config.num_players]
        self.seat_of = {name: i for i, name in enumerate(self.players)}
        self.turns: list[Turn] = []
        self._role_of = {name: _SPY if i in self.spies else _CIVILIAN for i, name in enumerate(self.players)}
        self._clue_order = self.players * config.num_rounds
        self._clue_index = 0
        self._round = 1
        self._voters = self._decision_voters()
        self._phase = _CLUE
        self._pending = [self._clue_order[0]]
        self._votes: dict[str, Turn] = {}
        self._parsed_votes: dict[str, ParsedVote] = {}
        self._last_turn: dict[str, Turn] = {}
        self._history: list[Clue] = []
        self._history_text = ""
        self._reasoning_text: dict[str, str] = {}
        self._spy_view = np.full_like(pair.original, 255) if config.spy_image == "blank" else pair.modified
        self._prompt_values: dict[str, tuple[tuple[str, Any], ...]] = {}
        self._rewards: dict[str, float] | None = None

    def _decision_voters(self) -> list[str]:
        if self.config.decision_mode == "observer":
            return [observer_name(k) for k in range(self.config.num_observers)]
        return [p for i, p in enumerate(self.players) if self.config.spy_votes or i not in self.spies]

    @property
    def phase(self) -> Phase:
        """The current stage of the game."""
        return self._phase

    @property
    def round(self) -> int:
        """The current clue round, 1-based; num_rounds once the clue stage is over."""
        return self._round

    @property
    def voters(self) -> list[str]:
        return list(self._voters)

    @property
    def pending(self) -> list[str]:
        """Agents whose action the game waits for now (one clue giver, or every voter yet to vote)."""
        return list(self._pending)

    def is_pending(self, agent: str) -> bool:
        """Whether the game waits for this agent's action now (pending without building the list)."""
        return agent in self._pending

    def role(self, agent: str) -> Role:
        """The agent's true role (SPY, CIVILIAN or OBSERVER), for trainers and evaluators."""
        return self._role_of.get(agent, _OBSERVER)

    @property
    def roles(self) -> dict[str, Role]:
        """Every agent's true role."""
        return {name: self.role(name) for name in self.agents}

    def image(self, agent: str) -> np.ndarray:
        """What the agent sees: spies the modified (or blank) picture, everyone else the original."""
        return self._spy_view if self._role_of.get(agent) == _SPY else self.pair.original

    def history(self) -> list[Clue]:
        """The public clue history, oldest first, players numbered from 1 as the models see them."""
        return list(self._history)

    def known_role(self, agent: str) -> Role:
        """The agent's own role as it may know it: HIDDEN unless reveal_role is on, always for observers."""
        role = self.role(agent)
        return role if self.config.reveal_role and role != _OBSERVER else _HIDDEN

    def last_turn(self, agent: str) -> Turn | None:
        """The agent's latest turn, if it has acted."""
        return self._last_turn.get(agent)

    def prompt(self, agent: str) -> str:
        """The ready prompt for the agent's next action (or for its view of a finished game)."""
        cfg = self.config
        values: dict[str, Any] = {"history": self._history_text or prompts.NO_CLUES_YET}
        if agent not in self._role_of:
            return self._render(agent, cfg.observer_prompt, values)
        values["own_reasoning"] = self._reasoning_text.get(agent) or prompts.NO_REASONING_YET
        if self._phase == _CLUE:
            values["round"] = self._round
            return self._render(agent, cfg.clue_prompt, values)
        return self._render(agent, cfg.vote_prompt, values)

    def _render(self, agent: str, template: str, values: dict[str, Any]) -> str:
        """The template filled with the agent's fixed prompt values and these."""
        fixed = self._prompt_values.get(agent) or self._fixed_values(agent)
        pieces = split_template(template, fixed)
        if pieces is None:
            return template.format_map(dict(fixed, **values))
        parts = list(pieces)
        parts[1::2] = map(str, map(values.__getitem__, pieces[1::2]))
        return "".join(parts)

    def _fixed_values(self, agent: str) -> tuple[tuple[str, Any], ...]:
        """A player's prompt values that stay the same all game: counts, seat, role text, whom it may name."""
        cfg = self.config
        values: tuple[tuple[str, Any], ...] = (
            ("num_players", cfg.num_players),
            ("num_spies", cfg.num_spies),
            ("num_rounds", cfg.num_rounds),
        )
        if agent in self._role_of:
            seat = self.seat_of[agent] + 1
            values += (
                ("seat", seat),
                ("role", self._role_text(agent)),
                ("candidates", prompts.candidates_text(seat, cfg.num_players)),
            )
        self._prompt_values[agent] = values
        return values

    def _role_text(self, agent: str) -> str:
        """The role line of a player's prompt: its own role when revealed, else the hidden-role text."""
        cfg = self.config
        templates = {_SPY: cfg.role_spy, _CIVILIAN: cfg.role_civilian}
        template = templates.get(self.known_role(agent), cfg.role_hidden)
        return _with_counts(template, cfg.num_players, cfg.num_spies, cfg.num_rounds)

    def act(self, agent: str, text: str) -> Turn:
        """Record the agent's action text; any string is accepted, unusable ones are marked invalid."""
        if not isinstance(text, str):
            raise TypeError(f"action of {agent} must be a str, got {type(text).__name__}")
        if agent not in self._pending:
            raise ValueError(f"it is not {agent}'s turn (waiting for {', '.join(self._pending) or 'nobody'})")
        if self._phase == _CLUE:
            turn = self.judge_clue(agent, text)
            shown = turn.clue if turn.valid else self.config.invalid_clue_text
            clue = Clue(turn.round, self.seat_of[agent] + 1, shown)
            self._history.append(clue)
            self._history_text = f"{self._history_text}\n{clue.line}" if self._history_text else clue.line
        else:
            turn, vote = self._judge_vote(agent, text)
            self._votes[agent] = turn
            self._parsed_votes[agent] = vote
        self.turns.append(turn)
        self._last_turn[agent] = turn
        if turn.reasoning:
            line = f"Round {turn.round}: {turn.reasoning}"
            earlier = self._reasoning_text.get(agent)
            self._reasoning_text[agent] = f"{earlier}\n{line}" if earlier else line
        self._advance(agent)
        return turn

    def _read(self, text: str) -> tuple[str, Answer | None, str]:
        """The whole text parsed once: its bounded copy, its final answer and its bounded reasoning."""
        normalised = normalize(text)
        answer = find_answer(normalised)
        reasoning = clip_middle(
            normalised[: answer.start] if answer else normalised, self.config.max_reasoning_chars
        )
        return keep_ends(text, self.config.max_action_chars), answer, reasoning

    def judge_clue(self, agent: str, text: str) -> Turn:
        """The clue Turn this text makes in the current round, recording nothing."""
        cfg = self.config
        raw, answer, reasoning = self._read(text)
        parsed = clue_of(answer, cfg.max_clue_chars)
        return Turn(
            agent=agent,
            phase=_CLUE,
            round=self._round,
            raw=raw,
            reasoning=reasoning,
            valid=parsed.valid,
            reason=parsed.reason,
            clue=parsed.clue,
            format_ok=parsed.valid,
            format_reward=clue_format_reward(parsed.valid, cfg.clue_format_weight),
            grounded=self._grounded(agent, parsed.clue),
        )

    def _grounded(self, agent: str, clue: str | None) -> bool | None:
        """Whether the clue names an object of the agent's scene record; else None (docs/spec.md s10)."""
        spy = self._role_of.get(agent) == _SPY
        if spy and self.config.spy_image == "blank":
            return None
        objects = scene_objects(self.pair.scene_of("modified" if spy else "original"))
        return None if objects is None else is_grounded(clue, objects)

    def judge_vote(self, agent: str, text: str) -> Turn:
        """The decision Turn this text makes for the agent, scored, recording nothing (in any phase).

        The env records the played vote with it; a trainer scores extra sampled votes with it.
        """
        return self._judge_vote(agent, text)[0]

    def _judge_vote(self, agent: str, text: str) -> tuple[Turn, ParsedVote]:
        cfg = self.config
        raw, answer, reasoning = self._read(text)
        vote = vote_of(answer, cfg.num_players, self.seat_of.get(agent))
        score = score_vote(vote, self.spies, self.role(agent) == _SPY, cfg)
        turn = Turn(
            agent=agent,
            phase=_DECISION,
            round=cfg.num_rounds + 1,
            raw=raw,
            reasoning=reasoning,
            valid=vote.valid,
            reason=vote.reason,
            vote=player_name(vote.target) if vote.target is not None else None,
            abstain=vote.abstain,
            voted_spy=score.voted_spy,
            format_ok=vote.well_formed,
            format_reward=score.format_reward,
            decision_reward=score.decision_reward,
        )
        return turn, vote

    def _advance(self, agent: str) -> None:
        """Move to the next clue giver, to the vote once every clue is given, or end after the last vote."""
        if self._phase == _CLUE:
            self._clue_index += 1
            if self._clue_index < len(self._clue_order):
                self._pending = [self._clue_order[self._clue_index]]
                self._round = self._clue_index // self.config.num_players + 1
            else:
                self._phase, self._pending = _DECISION, list(self._voters)
            return
        self._pending.remove(agent)
        if not self._pending:
            self._phase = _DONE
            self._rewards = self._final_rewards()

    def votes_received(self) -> list[int]:
        """Valid votes received per seat so far (only final once the game is done)."""
        return tally_votes(self._parsed_votes.values(), self.config.num_players)

    def _final_rewards(self) -> dict[str, float]:
        cfg = self.config
        per_seat = clue_rewards(self.votes_received(), self.spies, cfg.clue_beta, cfg.clue_lambda)
        rewards = dict.fromkeys(self.agents, 0.0)
        rewards.update(zip(self.players, per_seat))
        return rewards

    def rewards(self) -> dict[str, float]:
        """The zero-sum game rewards once the game is done; all zero before."""
        return dict(self._rewards) if self._rewards is not None else dict.fromkeys(self.agents, 0.0)

    def winner(self) -> str | None:
        """ "civilians" or "spies" once the game is done (evaluation only; rewards don't use it)."""
        if self._phase != _DONE:
            return None
        return "civilians" if civilians_win(self.votes_received(), self.spies) else "spies"

    def vote_of(self, agent: str) -> Turn | None:
        return self._votes.get(agent)
