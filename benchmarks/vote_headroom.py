"""How much can self-play's votes gain without learning to deduce? The start's own headroom, measured.

Self-play's decision stage rewards a civilian vote that names the spy; on a model that already ranks the
spy first more often than it samples it, the cheapest gain is sharpening (sampling nearer the argmax).
This script measures that headroom on the main job's start and world (the "tiny" preset's env):
  1. civilian votes naming the spy in self-play, at the game's temperature and greedy, split by the
     number of objects in the scene (in one-object scenes the spy's clue is the odd one; with two, the
     players may describe different objects), beside the votes a voter comparing those games' clues
     perfectly would cast (`tiny_vlm.data.odd_player`: the player whose clues differ from their round's
     majority, else N/A): how much of the deduction the clues allow the start makes;
  2. the start sampling at --cold-temperature against itself at the game's temperature, head to head on
     the held-out seeds of `vz-spy train`'s final check: the win rate a perfectly sharpened start would
     reach, an upper bound for what sharpening alone gives the main job.

    nice python benchmarks/vote_headroom.py [--games 200] [--cold-temperature 0.3] [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

import torch

from agents.hf_vlm import HFVLMPolicy
from agents.sampling import sampling_with
from algorithms.eval.head_to_head import evaluate
from algorithms.eval.versus_start import VERSUS_SEED
from algorithms.presets import PRESETS
from algorithms.rollout import GameRecord, play_games
from algorithms.train_config import SPOConfig
from tiny_vlm import resolve_model
from tiny_vlm.data import odd_player
from vz_env import spy_v0
from vz_env.rules import player_name
from vz_env.turn import Phase, Role
from vz_env.vote_stats import vote_stats

HELD_OUT_SEED = 1_000_000_000
BATCH = 25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="start model folder (default: the shipped tiny VLM)")
    parser.add_argument("--games", type=int, default=200, help="self-play games and head-to-head games")
    parser.add_argument(
        "--cold-temperature", type=float, default=0.3, help="the sharpened side's temperature"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args(argv)


def votes_by_objects(policy: HFVLMPolicy, games: int, env: dict[str, Any]) -> dict[int, Counter]:
    """Per object count of the scene: civilian votes, those naming the spy, those a perfect clue comparer
    would name the spy with, games, civilian wins."""
    counts: dict[int, Counter] = {}
    for start in range(0, games, BATCH):
        rollout = play_games(policy, min(BATCH, games - start), HELD_OUT_SEED + start, env_kwargs=env)
        for game in rollout.games:
            probe = spy_v0.parallel_env(**env)
            probe.reset(seed=game.seed)
            objects = len(probe.unwrapped.game.pair.scene_of("original")["objects"])
            tally = counts.setdefault(objects, Counter())
            tally["games"] += 1
            tally["civilian_wins"] += game.winner == "civilians"
            votes = vote_stats((turn, game.roles[turn.agent]) for turn in game.transcript)
            tally["votes"] += votes.votes
            tally["spy_named"] += votes.spy_named
            tally["odd_named"] += odd_votes_naming_spy(game)
    return counts


def odd_votes_naming_spy(game: GameRecord) -> int:
    """How many of the game's civilian voters would name a spy by comparing its clues (`odd_player`)."""
    seat = {player_name(i): i + 1 for i in range(len(game.roles))}
    spies = {seat[agent] for agent, role in game.roles.items() if role == Role.SPY}
    voters = [
        t.agent for t in game.transcript if t.phase == Phase.DECISION and game.roles[t.agent] != Role.SPY
    ]
    return sum(odd_player(game.history, seat[agent]) in spies for agent in voters)


def show_votes(label: str, counts: dict[int, Counter]) -> None:
    """One line per object count, then all scenes together."""
    total = sum(counts.values(), Counter())
    for objects, tally in [*sorted(counts.items()), ("all", total)]:
        print(
            f"  {label:10s} objects {objects}: civilian votes naming the spy "
            f"{tally['spy_named'] / tally['votes']:.3f} ({tally['votes']} votes; comparing the clues "
            f"perfectly: {tally['odd_named'] / tally['votes']:.3f}), civilians win "
            f"{tally['civilian_wins'] / tally['games']:.3f} ({tally['games']} games)",
            flush=True,
        )


def sharpened_line(report: dict[str, Any], cold: float, warm: float) -> str:
    """The sharpened start's win rate against the start, per role, and both sides' civilian votes."""
    mine, theirs = report["A"], report["B"]
    low, high = mine["win_rate"]["ci95"]
    return (
        f"  start at T={cold} against the start at T={warm}, {report['games']} games (seats and roles "
        f"swapped): win rate {mine['win_rate']['rate']:.3f} [{low:.3f}, {high:.3f}]; as spy "
        f"{mine['win_rate_as_spy']['rate']:.3f}, as civilian {mine['win_rate_as_civilian']['rate']:.3f}; "
        f"votes naming the spy {mine['decision_accuracy']['rate']:.3f} (T={warm}: "
        f"{theirs['decision_accuracy']['rate']:.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    env = dict(PRESETS["tiny"]["env"])
    game = SPOConfig.from_dict(PRESETS["tiny"]["trainer"]).sampling
    model = resolve_model(args.model)
    began = time.perf_counter()

    def policy(temperature: float) -> HFVLMPolicy:
        sampling = sampling_with(game, temperature=temperature)
        return HFVLMPolicy(model, sampling=sampling, seed=0, label=f"T={temperature}")

    start = policy(game.temperature)
    print(f"start: {model}; {args.games} self-play games per sampling, the main job's world", flush=True)
    show_votes(f"T={game.temperature}", votes_by_objects(start, args.games, env))
    show_votes("greedy", votes_by_objects(policy(0.0), args.games, env))
    report = evaluate(policy(args.cold_temperature), start, args.games, VERSUS_SEED, env)
    print(sharpened_line(report, args.cold_temperature, game.temperature))
    print(f"vote headroom: {(time.perf_counter() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
