"""Clue grounding (docs/spec.md s10): a clue names the colour and shape of an object the speaker sees."""

from __future__ import annotations

import json

import pytest

from agents.scripted import SceneBot
from vz_env import spy_v0
from vz_env.grounding import grounding_rate, is_grounded, named_objects, scene_objects
from vz_env.parsing import parse_clue, parse_vote

SCENE = [
    {"color": "red", "shape": "cube", "size": "large", "material": "metal"},
    {"color": "gray", "shape": "sphere", "size": "small", "material": "rubber"},
]


@pytest.mark.parametrize(
    "clue",
    [
        "a large red metal cube",
        "A RED BLOCK on the left",
        "there is a grey ball",
        "two gray spheres",
        "the cube is red",
        "a blue cylinder and a red box",
    ],
)
def test_clues_naming_an_object_of_the_scene_are_grounded(clue: str) -> None:
    assert is_grounded(clue, SCENE)


@pytest.mark.parametrize(
    "clue",
    [
        "a red sphere",  # colour of one object, shape of another
        "a gray cube and a red ball",  # each phrase pairs its own colour and shape
        "a red thing",  # no shape
        "a cube",  # no colour
        "a blue cylinder",
        "",
        None,
    ],
)
def test_clues_that_do_not_name_an_object_of_the_scene_are_not(clue: str | None) -> None:
    assert not is_grounded(clue, SCENE)


def test_named_objects_pairs_each_shape_with_the_colours_of_its_phrase() -> None:
    assert named_objects("a red cube next to a blue ball that is grey") == {
        ("red", "cube"),
        ("blue", "sphere"),
        ("gray", "sphere"),
    }


def test_scene_objects_and_rates() -> None:
    assert scene_objects({"objects": SCENE}) == SCENE
    assert scene_objects(None) is None and scene_objects({"bars": []}) is None
    assert grounding_rate([True, False, None, True]) == (2, 3)


def _bot_games(num_games: int, reveal_role: bool) -> tuple[float, float]:
    """Grounding of scene bots' clues and civilians' decision accuracy, all seats scene bots."""
    clues = grounded = votes = correct = 0
    for seed in range(num_games):
        env = spy_v0.parallel_env(reveal_role=reveal_role)
        observations, _ = env.reset(seed=seed)
        bots = {agent: SceneBot(seed=10 * seed + i) for i, agent in enumerate(env.agents)}
        spies = {a for a, role in env.unwrapped.roles.items() if str(role) == "spy"}
        while env.agents:
            actions = {a: bots[a].act(observations[a]) for a in env.acting_agents}
            for agent, text in actions.items():
                obs = observations[agent]
                if obs["phase"] == 0:
                    clues += 1
                    grounded += is_grounded(parse_clue(text).clue, json.loads(obs["scene"])["objects"])
                elif agent not in spies:
                    vote = parse_vote(text, len(bots), obs["seat"])
                    votes += 1
                    correct += vote.target is not None and f"player_{vote.target}" in spies
            observations, *_ = env.step(actions)
    return grounded / clues, correct / votes


def test_scene_bots_ground_every_clue_and_deduce_only_when_the_spy_does_not_hide() -> None:
    grounding, revealed = _bot_games(60, reveal_role=True)
    assert grounding == 1.0
    # A known spy keeps to objects others confirmed: scene bots rarely catch it (0.23 on 300 games).
    assert revealed < 0.4
    hidden_grounding, hidden = _bot_games(60, reveal_role=False)
    assert hidden_grounding == 1.0
    # A spy that does not know it is one describes changed objects (measured 0.85 on 300 games).
    assert hidden > 0.75


def test_env_turns_and_evaluation_report_grounding() -> None:
    from agents.scripted import RandomAgent
    from algorithms.eval.head_to_head import evaluate

    report = evaluate(SceneBot(seed=0), RandomAgent(seed=1), 6, seed=3)
    assert report["A"]["clue_grounding"]["rate"] == 1.0 and report["A"]["clue_grounding"]["n"] > 0
    assert report["B"]["clue_grounding"]["rate"] < 0.6
    charts = evaluate(SceneBot(seed=0), RandomAgent(seed=1), 2, env_kwargs={"images": "charts"})
    assert charts["A"]["clue_grounding"]["n"] == 0
