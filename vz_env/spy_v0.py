"""PettingZoo entry module for the spy game, as in PettingZoo's classic envs: env, raw_env, parallel_env."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import wrappers

from vz_env.aec_env import raw_env
from vz_env.parallel_env import SpyParallelEnv


def env(render_mode: str | None = None, **kwargs: Any):
    """The AEC env wrapped in PettingZoo's order-enforcing checks; kwargs are SpyConfig fields."""
    return wrappers.OrderEnforcingWrapper(raw_env(render_mode=render_mode, **kwargs))


def parallel_env(render_mode: str | None = None, **kwargs: Any) -> SpyParallelEnv:
    """The parallel env (simultaneous decision stage); kwargs are SpyConfig fields."""
    return SpyParallelEnv(render_mode=render_mode, **kwargs)


__all__ = ["env", "parallel_env", "raw_env"]
