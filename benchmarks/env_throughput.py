"""Complete 4-player games per second (scripted actions, pooled images) and scene pairs per second.

Every figure is the best of --repeats runs, counted in CPU seconds of this process (one core), so that
other work on a shared machine does not count against it; the wall-clock rate of that run is shown beside.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from vz_env import spy_v0
from vz_env.data import resolve_source
from vz_env.data.pool import PooledSource

CLUE = "I see it. \\boxed{a large red metal cube}"
VOTES = ("\\boxed{2}", "\\boxed{N/A}", "\\boxed{Player 3}", "garbage")
TARGET = 5000
SIZE = (320, 240)


def play_aec(env, games: int) -> None:
    """The standard AEC loop (agent_iter / last / step)."""
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


def play_parallel(env, games: int) -> None:
    """The parallel env: one step per clue turn, one step for all votes."""
    for seed in range(games):
        obs, _ = env.reset(seed=seed)
        while env.agents:
            acting = env.acting_agents
            obs, *_ = env.step({a: CLUE if obs[a]["phase"] == 0 else VOTES[i] for i, a in enumerate(acting)})


def best_rate(run: Callable[[int], None], count: int, repeats: int) -> tuple[float, float]:
    """(per CPU second, per wall second) of the run with the most per CPU second."""
    best = (0.0, 0.0)
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        run(count)
        rates = (count / (time.process_time() - cpu), count / (time.perf_counter() - wall))
        best = max(best, rates)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--games", type=int, default=1000, help="games per run")
    parser.add_argument("--pairs", type=int, default=50, help="scene pairs per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure; the best is shown")
    args = parser.parse_args()
    pool = PooledSource(resolve_source("clevr"), SIZE, count=32)
    scenes = resolve_source("clevr")
    envs = {
        "aec games/s (env(): OrderEnforcingWrapper, the standard loop)": (spy_v0.env, play_aec),
        "aec games/s (raw_env, no wrapper)": (spy_v0.raw_env, play_aec),
        "parallel games/s (parallel_env)": (spy_v0.parallel_env, play_parallel),
    }
    print(f"4 players, 2 rounds, scripted actions, pooled {SIZE[0]}x{SIZE[1]} images, one core")
    for label, (make, play) in envs.items():
        env = make(images=pool, image_size=SIZE)
        play(env, 50)
        cpu, wall = best_rate(lambda n, env=env, play=play: play(env, n), args.games, args.repeats)
        verdict = "reaches" if cpu >= TARGET else "below"
        print(f"{label}: {cpu:,.0f} (wall {wall:,.0f}); {verdict} the {TARGET:,} target")
    cpu, wall = best_rate(lambda n: [scenes.pair(seed, SIZE) for seed in range(n)], args.pairs, args.repeats)
    print(f"scene pairs/s at {SIZE[0]}x{SIZE[1]}: {cpu:,.1f} (wall {wall:,.1f})")


if __name__ == "__main__":
    main()
