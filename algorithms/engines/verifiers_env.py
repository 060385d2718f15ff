"""The spy game as a verifiers v1 environment, so prime-rl (and the other engines on verifiers) train on it.

A task is a game seed; the game settings are SpyConfig fields (`--env.taskset.game.images clevr-mini`).
An episode plays one game through `algorithms.engines.spy_seats.play_game`: each turn is one run of the
seat of its role (`spy`, `civilian`, `voter`, `observer`), prompted with the env's own observation (its
picture as a PNG data URL, then its prompt), and judged by the env's own rules. When the game ends, every
clue trace gets its player's zero-sum game reward and every vote trace its decision reward, with the
role and the rules' verdict in `trace.info["vz_spy"]`. `train` picks the stage whose traces train.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import count
from typing import Any, Literal

from PIL import Image
from pydantic import Field, field_validator

from algorithms.engines.spy_seats import CLUE_SEATS, DECISION_SEATS, PlayedTurn, play_game
from algorithms.engines.verifiers_harness import TurnHarness
from algorithms.engines.verifiers_version import load_verifiers
from vz_env import SpyConfig, resolve_source

vf = load_verifiers()

LOCAL = {"runtime": {"type": "subprocess"}}  # a turn runs no code: the host is its runtime
TRAINS = {"both": CLUE_SEATS + DECISION_SEATS, "clue": CLUE_SEATS, "decision": DECISION_SEATS}


def checked_game(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` once SpyConfig accepts them and their image source loads (one line when either fails)."""
    config = SpyConfig.from_kwargs(**settings)
    source = resolve_source(config.images, config.size_mismatch)
    source.pair(0, config.image_size)
    return dict(settings)


def turn_prompt(observation: Mapping[str, Any]) -> list[Any]:
    """The turn's user message: the observation's picture (a PNG data URL), then its prompt."""
    picture = vf.ImageUrlContentPart(
        image_url=vf.ImageUrlSource(url=image_data_url(Image.fromarray(observation["image"])))
    )
    return [vf.UserMessage(content=[picture, vf.TextContentPart(text=observation["prompt"])])]


def image_data_url(image: Image.Image) -> str:
    """verifiers' own PNG data-URL encoding."""
    from verifiers.v1.utils.image import image_data_url as encode

    return encode(image)


class SpyTasksetConfig(vf.TasksetConfig):
    """Which games: SpyConfig fields by name, and the seeds."""

    game: dict[str, Any] = Field(default_factory=dict)
    """SpyConfig fields (images: a kind or a folder of pairs); the defaults are the paper's game."""
    first_seed: int = 0
    """Seed of the first game; task i plays seed first_seed + i."""
    num_games: int | None = Field(None, ge=1)
    """Games in the taskset; None: as many as asked for."""

    @field_validator("game")
    @classmethod
    def _game_loads(cls, game: dict[str, Any]) -> dict[str, Any]:
        return checked_game(game)


class SpyGameData(vf.TaskData):
    """One game: its seed and settings (the rest of a turn's prompt comes from the env)."""

    seed: int
    game: dict[str, Any] = Field(default_factory=dict)


class SpyGameTask(vf.Task[SpyGameData]):
    """A game seed; its turns are the env's own tasks."""


class SpyTaskset(vf.Taskset[SpyGameTask, SpyTasksetConfig]):
    """Game seeds first_seed, first_seed + 1, ... with the configured settings."""

    INFINITE = True

    def load(self) -> Iterator[SpyGameTask]:
        seeds = count(self.config.first_seed)
        if self.config.num_games is not None:
            seeds = iter(range(self.config.first_seed, self.config.first_seed + self.config.num_games))
        for seed in seeds:
            yield SpyGameTask(
                SpyGameData(name=f"game#{seed}", seed=seed, game=self.config.game), self.config.task
            )


class SpyEnvConfig(vf.EnvConfig):
    """A seat per role (the engine's baselines key on them) and the stage that trains."""

    spy: vf.AgentConfig = vf.AgentConfig(**LOCAL)
    civilian: vf.AgentConfig = vf.AgentConfig(**LOCAL)
    voter: vf.AgentConfig = vf.AgentConfig(**LOCAL)
    observer: vf.AgentConfig = vf.AgentConfig(**LOCAL)
    train: Literal["both", "clue", "decision"] = "both"
    """Whose traces train: both stages, the clue seats only (rae) or the decision seats only (grpo)."""


class SpyEnv(vf.Env[SpyEnvConfig]):
    """Plays one game per episode and puts the rules' rewards on the seats' traces."""

    async def setup(self, agents: Any) -> None:
        for seat in CLUE_SEATS + DECISION_SEATS:
            getattr(agents, seat).trainable = seat in TRAINS[self.config.train]

    async def run(self, task: SpyGameTask, agents: Any) -> None:
        traces: list[Any] = []

        async def ask(seat: str, observation: Mapping[str, Any]) -> str:
            turn = vf.Task(
                vf.TaskData(idx=task.data.idx, name=task.data.name, prompt=turn_prompt(observation))
            )
            trace = await getattr(agents, seat).run(turn)
            if not trace.ok:
                error = trace.last_error
                raise RuntimeError(f"the {seat} seat's turn failed: {error.message if error else 'no reply'}")
            traces.append(trace)
            return trace.last_reply

        game = await play_game(task.data.game, task.data.seed, ask)
        for order, (played, trace) in enumerate(zip(game.turns, traces, strict=True)):
            record(trace, played, game.seed, order, game.winner)


def record(trace: Any, played: PlayedTurn, seed: int, order: int, winner: str | None) -> None:
    """Put one turn's reward and facts on its trace; a turn without a reward (a spy's vote) trains nothing."""
    trace.info["vz_spy"] = played.info(seed, order, winner)
    if played.reward is None:
        trace.agent.trainable = False
        return
    name = "game_reward" if played.seat in CLUE_SEATS else "decision_reward"
    trace.record_reward(name, played.reward)


__all__ = ["SpyEnv", "SpyTaskset", "TurnHarness"]
