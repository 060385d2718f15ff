"""benchmarks/oracle_votes.py labels each civilian vote with the spy, so its diagnostic measures deduction."""

import dataclasses
import re

from benchmark_scripts import load_benchmark

from tiny_vlm.data import MINIATURE


def test_each_vote_names_the_player_whose_clue_is_the_odd_one_in_one_object_scenes():
    oracle = load_benchmark("oracle_votes")
    votes = oracle.oracle_votes(dataclasses.replace(MINIATURE, max_objects=1), seed=3, num_games=6)
    assert len(votes) == 18  # the three civilians of each 4-player game vote
    for vote in votes:
        clues = dict(re.findall(r"Round 1, PLAYER (\d+): (.+)", vote.observation["prompt"]))
        odd = [int(p) for p, clue in clues.items() if list(clues.values()).count(clue) == 1]
        target = int(vote.target.removeprefix("\\boxed{").removesuffix("}"))
        assert odd == [target]
        assert target in vote.choices and target != vote.observation["seat"] + 1
