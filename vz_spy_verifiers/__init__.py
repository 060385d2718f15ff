"""The spy game's verifiers plugin: `vf-eval vz-spy-verifiers` finds its taskset, env and harness here."""

from algorithms.engines.verifiers_env import SpyEnv, SpyTaskset, TurnHarness

__all__ = ["SpyEnv", "SpyTaskset", "TurnHarness"]
