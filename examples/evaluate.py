"""Evaluate one policy against another: win rate per role with 95% Wilson intervals, accuracy, N/A rate."""

import argparse

from algorithms.eval.head_to_head import evaluate
from algorithms.players import load_player
from vz_spy.options import default_images

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("a", nargs="?", default="scene", help="scene, random, tiny or a model folder")
parser.add_argument("b", nargs="?", default="random", help="the opponent, same choices")
parser.add_argument("--games", type=int, default=100)
args = parser.parse_args()

# Each seed is played twice, once with A holding the spy seat and once with B, so both sides see both roles.
# Where the tiny VLM plays, the games are in its own world (the miniature scenes), as in `vz-spy eval`.
world = {"images": default_images([args.a, args.b])}
policy_a, policy_b = load_player(args.a, seed=0), load_player(args.b, seed=1)
report = evaluate(policy_a, policy_b, num_games=args.games, seed=0, env_kwargs=world)
print(f"{args.a} (A) vs {args.b} (B), {report['games']} games, 95% Wilson intervals")
for side, spec in (("A", args.a), ("B", args.b)):
    for metric, entry in report[side].items():
        low, high = entry["ci95"]
        print(f"  {spec:>8}  {metric:<22} {entry['rate']:.3f}  [{low:.3f}, {high:.3f}]  n={entry['n']}")
