"""vz_env: Vision-Zero's "Who is the Spy" game as PettingZoo environments (no torch needed)."""

from vz_env import spy_v0
from vz_env.config import SpyConfig

__all__ = ["SpyConfig", "spy_v0"]
__version__ = "0.1.0"
