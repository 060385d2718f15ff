"""Per-request sampling seeds from one reseedable stream, so a served or engine policy replays its samples."""

from __future__ import annotations

import random

SEED_BOUND = 2**31  # per-request seeds are drawn below this bound (vLLM and OpenAI servers take any int)


class RequestSeeds:
    """The seed of each request, drawn in order from a stream that `reset(seed)` restarts; None unseeded."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random()
        self._seeded = False
        self.reset(seed)

    def reset(self, seed: int | None) -> None:
        """Restart the stream from `seed` (None keeps it as it is)."""
        if seed is not None:
            self._rng.seed(int(seed))
            self._seeded = True

    def next(self) -> int | None:
        """The next request's seed, or None when the policy was never seeded (the server's own randomness)."""
        return self._rng.randrange(SEED_BOUND) if self._seeded else None
