"""Worst-case parse time of one action at the maximum action length, for adversarial shapes (docs/spec.md s3).

Each figure is the best of --repeats timings, in CPU seconds of this process, of parsing one action as the
env does: the answer extracted once, then read as a vote, as a clue, and the reasoning before it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from vz_env.config import SpyConfig
from vz_env.parsing import clue_of, extract_answer, reasoning_before, vote_of


def shapes(length: int) -> dict[str, str]:
    """Adversarial actions of exactly `length` characters."""
    half = length // 2

    def fill(unit: str) -> str:
        return (unit * (length // len(unit) + 1))[:length]

    return {
        "unclosed boxes": fill("\\boxed{"),
        "nested open braces": "\\boxed{" + "{" * (length - 7),
        "many closed boxes": fill("\\boxed{1}"),
        "closed nested braces": ("\\boxed{" + "{" * (half - 4) + "}" * (half - 3))[:length],
        "unclosed answer tags": fill("<answer>"),
        "unclosed wrappers": fill("\\boxed{\\text{$"),
        "closed wrappers": "\\boxed{" + "\\text{" * ((length - 9) // 7) + "3" + "}" * ((length - 9) // 7 + 1),
        "alternating braces": "\\boxed{" + fill("{}")[: length - 8] + "}",
        "box then open braces": "\\boxed{3} " + "{" * (length - 10),
        "plain prose": fill("I think player 3 is odd. "),
    }


def worst_time(parse: Callable[[str], object], text: str, repeats: int) -> float:
    """Best of `repeats` CPU timings of parse(text), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        parse(text)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    """Print the parse time of each shape at the maximum action length, and the worst of them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--length", type=int, default=SpyConfig().max_action_chars)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    config = SpyConfig()

    def parse(text: str) -> None:
        answer = extract_answer(text)
        vote_of(answer, config.num_players, 0)
        clue_of(answer, config.max_clue_chars)
        reasoning_before(text, answer, config.max_reasoning_chars)

    times = {name: worst_time(parse, text, args.repeats) for name, text in shapes(args.length).items()}
    for name, seconds in times.items():
        print(f"{name:>22}: {seconds * 1000:9.3f} ms")
    worst = max(times, key=times.__getitem__)
    print(f"worst at {args.length} chars: {worst} {times[worst] * 1000:.3f} ms")


if __name__ == "__main__":
    main()
