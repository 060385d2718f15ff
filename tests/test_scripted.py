"""Scripted players: the scene bot reads only its own scene record; the random bot always plays validly."""

import json
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from agents.base import decode_history, decode_phase, decode_role, decode_scene
from agents.scripted import RandomAgent, SceneBot, clue_attributes, fits_scene
from vz_env import Clue, Phase, Role, spy_v0
from vz_env.parsing import parse_clue, parse_vote

SCENE = {
    "objects": [
        {"shape": "cube", "color": "red", "material": "metal", "size": "large"},
        {"shape": "sphere", "color": "blue", "material": "rubber", "size": "small"},
    ]
}


def observation(phase, history=(), seat=0, role=1, scene=SCENE):
    return {
        "image": np.zeros((8, 8, 3), np.uint8),
        "prompt": "",
        "phase": phase,
        "round": 1,
        "seat": seat,
        "num_players": 4,
        "role": role,
        "clues": tuple(Clue(1, p, c) for p, c in history),
        "history": json.dumps([{"round": 1, "player": p, "clue": c} for p, c in history]),
        "scene": json.dumps(scene) if scene else "",
    }


def test_clue_attributes_and_synonyms():
    assert clue_attributes("A big shiny red Ball") == {"color": "red", "material": "metal", "shape": "sphere"}
    assert clue_attributes("two cubes") == {"shape": "cube"}
    assert fits_scene({"color": "red", "shape": "cube"}, SCENE["objects"])
    assert not fits_scene({"color": "red", "shape": "sphere"}, SCENE["objects"])


def test_scene_bot_clue_names_an_object_of_its_own_scene():
    clue = parse_clue(SceneBot(seed=0).act(observation(0))).clue
    assert fits_scene(clue_attributes(clue), SCENE["objects"]) and len(clue_attributes(clue)) == 4


def test_scene_bot_votes_for_the_contradicting_player_and_abstains_otherwise():
    history = [
        (2, "a large red metal cube"),
        (3, "a small green rubber cylinder"),
        (4, "a small blue rubber sphere"),
    ]
    vote = parse_vote(SceneBot(seed=0).act(observation(1, history)), 4, 0)
    assert vote.target == 2
    agreeing = [(2, "a large red metal cube"), (3, "a small blue rubber sphere")]
    assert parse_vote(SceneBot(seed=0).act(observation(1, agreeing)), 4, 0).abstain


def test_spy_scene_bot_repeats_objects_others_confirmed():
    history = [(2, "a small blue rubber sphere")]
    clue = parse_clue(SceneBot(seed=1).act(observation(0, history, seat=0, role=2))).clue
    assert clue == "a small blue rubber sphere"


def test_scene_bot_without_a_scene_still_plays_validly():
    assert parse_clue(SceneBot().act(observation(0, scene=None))).valid
    assert parse_vote(SceneBot().act(observation(1, [(2, "x")], scene=None)), 4, 0).abstain


@given(st.integers(0, 10_000))
def test_random_agent_always_gives_parsable_actions(seed):
    agent = RandomAgent(seed=seed)
    assert parse_clue(agent.act(observation(0))).valid
    vote = parse_vote(agent.act(observation(1, [(1, "a"), (2, "b"), (3, "c"), (4, "d")])), 4, 0)
    assert vote.valid or vote.abstain


def test_scene_bots_beat_random_voters_as_civilians():
    env = spy_v0.env()
    wins = 0
    for seed in range(12):
        env.reset(seed=seed)
        bots = {
            a: (RandomAgent(seed) if env.unwrapped.roles[a] == Role.SPY else SceneBot(seed))
            for a in env.agents
        }
        for agent in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            if term or trunc:
                wins += agent == "player_0" and info["winner"] == "civilians"
                env.step(None)
                continue
            env.step(bots[agent].act(obs))
    assert wins >= 8


def test_history_and_scene_decode_to_typed_values():
    obs = observation(1, [(2, "a red cube"), (3, "x")])
    assert decode_history(obs) == [Clue(1, 2, "a red cube"), Clue(1, 3, "x")]
    assert decode_scene(obs) == SCENE and decode_scene(observation(0, scene=None)) == {}
    assert decode_phase(obs) is Phase.DECISION and decode_role(observation(0, role=2)) is Role.SPY


def test_random_agent_votes_among_num_players_seats():
    obs = {**observation(1), "num_players": 12, "seat": 11}
    votes = {parse_vote(RandomAgent(seed).act(obs), 12, 11).target for seed in range(200)}
    assert votes - {None} == set(range(11))


def test_no_policy_decodes_json_itself():
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("agents/*.py"), *root.glob("examples/*.py"), *root.glob("tiny_vlm/*.py")]
    readers = [p.name for p in sources if "json.loads(obs" in p.read_text()]
    assert readers == ["base.py"]
    assert not [p.name for p in sources if '["history"]' in p.read_text()]
