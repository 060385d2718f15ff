"""vz_env: Vision-Zero's "Who is the Spy" game as PettingZoo environments (no torch needed)."""

from vz_env import spy_v0
from vz_env.config import SpyConfig
from vz_env.data import ImagePair, ImageSource, resolve_source
from vz_env.parsing import parse_clue, parse_vote
from vz_env.turn import Clue, Phase, Role, Turn
from vz_env.vote_stats import VoteStats, vote_stats

__all__ = [
    "Clue",
    "ImagePair",
    "ImageSource",
    "Phase",
    "Role",
    "SpyConfig",
    "Turn",
    "VoteStats",
    "parse_clue",
    "parse_vote",
    "resolve_source",
    "spy_v0",
    "vote_stats",
]
__version__ = "0.1.0"
