"""A fixed pool of pre-generated pairs, so games can be played without paying for image generation."""

from __future__ import annotations

from vz_env.data.base import ImagePair, ImageSource


class PooledSource:
    """Draws `count` pairs from a source once; afterwards pair(seed) picks one of them by seed."""

    def __init__(self, source: ImageSource, size: tuple[int, int], count: int = 64, seed: int = 0) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.name = f"pooled-{source.name}"
        self.size = tuple(size)
        self.pairs = [source.pair(seed + i, self.size) for i in range(count)]

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        if tuple(size) != self.size:
            raise ValueError(f"this pool holds {self.size} pairs, asked for {tuple(size)}")
        return self.pairs[seed % len(self.pairs)]
