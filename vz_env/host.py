"""What the AEC and the parallel env share: config, image source, spaces, seeding, game drawing, rendering."""

from __future__ import annotations

from typing import Any

from gymnasium import logger

from vz_env import render
from vz_env.config import SpyConfig
from vz_env.data import resolve_source
from vz_env.rules import SpyGame, agent_names
from vz_env.spaces import FreeText, action_space, observation_space
from vz_env.views import SceneTexts, ViewCache, draw_game, new_rng

RENDER_MODES = ["ansi", "rgb_array", "human"]


class SpyHost:
    """Owns one game at a time; the env classes add the PettingZoo protocol on top."""

    metadata = {"name": "spy_v0", "render_modes": RENDER_MODES, "render_fps": 1, "is_parallelizable": False}

    def _setup(self, render_mode: str | None, kwargs: dict[str, Any]) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES} or None, got {render_mode!r}")
        self.config = SpyConfig.from_kwargs(**kwargs)
        self.source = resolve_source(self.config.images, self.config.size_mismatch)
        self.render_mode = render_mode
        self.possible_agents = agent_names(self.config)
        self.observation_spaces = {a: observation_space(self.config) for a in self.possible_agents}
        self.action_spaces: dict[str, FreeText] = {a: action_space(self.config) for a in self.possible_agents}
        self._rng = new_rng()
        self._scenes = SceneTexts()
        self.game: SpyGame | None = None
        self.skipped_pairs = 0
        self._views: ViewCache | None = None

    def observation_space(self, agent: str):
        return self.observation_spaces[agent]

    def action_space(self, agent: str):
        return self.action_spaces[agent]

    @property
    def roles(self) -> dict[str, str]:
        """Every agent's role, for trainers and evaluators (never shown to the players)."""
        return self._require_game().roles

    @property
    def pair(self):
        """The current game's ImagePair (both images and what changed)."""
        return self._require_game().pair

    def _new_game(self, seed: int | None) -> int:
        if seed is not None:
            self._rng = new_rng(seed)
        self.game, skipped = draw_game(self.config, self.source, self._rng)
        self.skipped_pairs += skipped
        self._views = ViewCache(self.game, self._scenes)
        return skipped

    def _require_game(self) -> SpyGame:
        if self.game is None:
            raise RuntimeError("call reset() before using the env")
        return self.game

    def render(self) -> Any:
        if self.render_mode is None:
            logger.warn("render() was called without a render_mode; pass render_mode= to the env")
            return None
        game = self._require_game()
        if self.render_mode == "ansi":
            return render.transcript(game)
        if self.render_mode == "rgb_array":
            return render.board_image(game)
        render.print_rich(game)
        return None

    def close(self) -> None:
        self.game = None
