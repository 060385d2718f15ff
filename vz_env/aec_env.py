"""The spy game as a PettingZoo AEC environment: a thin turn-taking shell over the rules core."""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv

from vz_env.host import SpyHost
from vz_env.turn import Phase
from vz_env.views import agent_info, agent_infos


class raw_env(SpyHost, AECEnv):  # noqa: N801  (PettingZoo's naming convention)
    """Clue givers act in seat order for num_rounds rounds, then the voters (or observers) one by one."""

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        AECEnv.__init__(self)
        self._setup(render_mode, kwargs)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        skipped = self._new_game(seed)
        game = self.game
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = agent_infos(game, self.agents, skipped)
        self.agent_selection = game.pending[0]

    def observe(self, agent: str) -> dict[str, Any]:
        return self._views.observation(agent)

    def step(self, action: str | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        game = self._require_game()
        if not isinstance(action, str):
            raise TypeError(f"action of {agent} must be a str, got {type(action).__name__}")
        self._cumulative_rewards[agent] = 0.0
        game.act(agent, action)
        if game.phase == Phase.DONE:
            self.rewards = game.rewards()
            self.terminations = dict.fromkeys(self.agents, True)
            self.infos = agent_infos(game, self.agents)
            self._accumulate_rewards()
            self.agent_selection = self.agents[0]
        else:
            self.infos[agent] = agent_info(game, agent)
            self.agent_selection = game.pending[0]
        if self.render_mode == "human":
            self.render()
