"""Complete 4-player games per second (scripted actions, pooled images) and scene pairs per second."""

from __future__ import annotations

import argparse
import time

from vz_env import spy_v0
from vz_env.data import resolve_source
from vz_env.data.pool import PooledSource

CLUE = "I see it. \\boxed{a large red metal cube}"
VOTES = ("\\boxed{2}", "\\boxed{N/A}", "\\boxed{Player 3}", "garbage")


def aec_games_per_second(source: PooledSource, size: tuple[int, int], games: int) -> float:
    """The standard AEC loop (agent_iter / last / step), including the order-enforcing wrapper."""
    env = spy_v0.env(images=source, image_size=size)
    start = time.perf_counter()
    for seed in range(games):
        env.reset(seed=seed)
        turn = 0
        for _ in env.agent_iter():
            obs, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            env.step(CLUE if obs["phase"] == 0 else VOTES[turn % len(VOTES)])
            turn += 1
    return games / (time.perf_counter() - start)


def parallel_games_per_second(source: PooledSource, size: tuple[int, int], games: int) -> float:
    """The parallel env (one step per clue turn, one step for all votes)."""
    env = spy_v0.parallel_env(images=source, image_size=size)
    start = time.perf_counter()
    for seed in range(games):
        obs, _ = env.reset(seed=seed)
        while env.agents:
            acting = env.acting_agents
            obs, *_ = env.step({a: CLUE if obs[a]["phase"] == 0 else VOTES[i] for i, a in enumerate(acting)})
    return games / (time.perf_counter() - start)


def scene_pairs_per_second(size: tuple[int, int], pairs: int) -> float:
    source = resolve_source("clevr")
    start = time.perf_counter()
    for seed in range(pairs):
        source.pair(seed, size)
    return pairs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--games", type=int, default=5000)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    size = (320, 240)
    pool = PooledSource(resolve_source("clevr"), size, count=32)
    aec = aec_games_per_second(pool, size, args.games)
    par = parallel_games_per_second(pool, size, args.games)
    scenes = scene_pairs_per_second(size, args.pairs)
    print(f"aec games/s (4 players, 2 rounds, pooled images, one core): {aec:,.0f}")
    print(f"parallel games/s (same): {par:,.0f}")
    print(f"scene pairs/s at 320x240 (one core): {scenes:,.1f}")
    print(f"ratio aec games/s to target 5000: {aec / 5000:.2f}")


if __name__ == "__main__":
    main()
