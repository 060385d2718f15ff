"""The spy game as a PettingZoo parallel env: all votes in one step, for lock-step batched rollouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pettingzoo import ParallelEnv

from vz_env.host import SpyHost
from vz_env.turn import Phase
from vz_env.views import agent_infos


class SpyParallelEnv(SpyHost, ParallelEnv):
    """Each step takes the actions of the agents whose turn it is (infos[a]["acting"]); others are ignored.

    Clue turns stay sequential (one acting player per step, as the rules require); the decision stage
    is a single step in which every voter acts at once, privately.
    """

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        self._setup(render_mode, kwargs)

    @property
    def acting_agents(self) -> list[str]:
        """Agents whose action the next step needs."""
        return self._require_game().pending

    def reset(self, seed: int | None = None, options: dict | None = None):
        skipped = self._new_game(seed)
        self.agents = list(self.possible_agents)
        return self._observations(), agent_infos(self.game, self.agents, skipped)

    def _observations(self) -> dict[str, dict[str, Any]]:
        observe = self._views.observation
        return {a: observe(a) for a in self.agents}

    def step(self, actions: dict[str, str]):
        game = self._require_game()
        if not isinstance(actions, Mapping):
            raise TypeError(f"step() expects a dict of actions (agent -> text), got {type(actions).__name__}")
        if game.phase == Phase.DONE:
            raise RuntimeError("the game is over; call reset()")
        acting = game.pending
        missing = [a for a in acting if a not in actions]
        if missing:
            raise ValueError(f"step() needs actions for the acting agent(s) {', '.join(missing)}")
        for agent in acting:
            if not isinstance(actions[agent], str):
                raise TypeError(f"action of {agent} must be a str, got {type(actions[agent]).__name__}")
        for agent in acting:
            game.act(agent, actions[agent])
        done = game.phase == Phase.DONE
        observations = self._observations()
        rewards = game.rewards()
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        infos = agent_infos(game, self.agents)
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos
