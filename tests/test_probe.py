"""The visual probe's questions and answers, and the fixed spy-detection test."""

import pytest

from algorithms.eval.probe_questions import probe_questions, questions_for_scene
from vz_env.data.scenes import COLORS, SHAPES

OBJECTS = [
    {"size": "large", "color": "red", "shape": "cube", "material": "metal"},
    {"size": "large", "color": "blue", "shape": "cube", "material": "rubber"},
    {"size": "small", "color": "blue", "shape": "sphere", "material": "rubber"},
]


def test_questions_name_an_object_that_their_attributes_single_out():
    questions = {q.kind: q for q in questions_for_scene(None, OBJECTS, seed=0)}
    color, shape = questions["color"], questions["shape"]
    # Only the small sphere has a unique (size, shape); two large cubes do not.
    assert "What colour is the small sphere?" in color.prompt
    assert color.options[color.answer] == "small blue sphere"
    assert len(color.options) == 4 and len(set(color.options)) == 4
    assert all(o.split()[1] in COLORS and o.endswith(" sphere") for o in color.options)
    assert shape.options[shape.answer].split()[2] in SHAPES
    assert sorted(o.split()[2] for o in shape.options) == sorted(SHAPES)
    assert all(o in shape.prompt for o in shape.options)


def test_a_scene_of_lookalikes_gets_no_question():
    twins = [dict(OBJECTS[0]), dict(OBJECTS[0])]
    assert questions_for_scene(None, twins, seed=0) == []


def test_probe_is_a_pure_function_of_its_seed():
    a, b = probe_questions(6, seed=5, image_size=(64, 48)), probe_questions(6, seed=5, image_size=(64, 48))
    assert [(q.prompt, q.options, q.answer) for q in a] == [(q.prompt, q.options, q.answer) for q in b]
    assert (a[0].image == b[0].image).all() and a[0].image.shape == (48, 64, 3)
    # Answers are spread over the option positions, not always first.
    assert len({q.answer for q in probe_questions(40, image_size=(32, 24))}) > 2


def test_probe_report_scores_every_option_of_the_tiny_vlm(tiny_dirs, one_thread):
    from agents.hf_vlm import HFVLMPolicy
    from algorithms.eval.probe import option_logprobs, probe_report

    policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], seed=0)
    questions = probe_questions(3, image_size=(64, 48))
    scores = option_logprobs(policy, questions, chunk=5)
    assert [len(s) for s in scores] == [len(q.options) for q in questions]
    assert all(v < 0 for s in scores for v in s)
    # Chunking changes a score only by float rounding (padding changes the kernels' summation order).
    rechunked = option_logprobs(policy, questions, chunk=64)
    assert [len(s) for s in rechunked] == [len(s) for s in scores]
    assert sum(rechunked, []) == pytest.approx(sum(scores, []), rel=1e-5)
    report = probe_report(policy, questions)
    assert report["accuracy"]["n"] == len(questions)
    assert report["accuracy_color"]["n"] + report["accuracy_shape"]["n"] == len(questions)
    assert 0.25 <= report["chance"] <= 1 / 3


def test_scene_bot_voters_find_the_spy_bot_that_does_not_know_it_is_one():
    from agents.scripted import SceneBot
    from algorithms.eval.detection import detection_test

    report = detection_test(SceneBot(seed=1), 24, env_kwargs={"image_size": (64, 48)})
    assert report["decision_accuracy"]["n"] == 24 * 3
    assert report["decision_accuracy"]["rate"] > 0.7
    assert report["invalid_vote_rate"]["rate"] == 0.0


def test_detection_test_shows_clue_bots_no_role_and_sends_votes_to_the_policy():
    from agents.base import Policy, decode_phase, decode_role
    from algorithms.eval.detection import PhaseSplit, detection_test
    from algorithms.rollout import play_games
    from vz_env.turn import Phase, Role

    class Recorder(Policy):
        name = "recorder"

        def __init__(self, answer: str) -> None:
            self.answer, self.seen = answer, []

        def act(self, observation):
            self.seen.append((decode_phase(observation), decode_role(observation)))
            return self.answer

    abstainer = Recorder("\\boxed{N/A}")
    assert detection_test(abstainer, 2, env_kwargs={"image_size": (32, 24)})["na_rate"]["rate"] == 1.0
    clues, votes = Recorder("\\boxed{a red cube}"), Recorder("\\boxed{N/A}")
    play_games(PhaseSplit(clues, votes), 2, env_kwargs={"image_size": (32, 24)})
    assert clues.seen and all(p == Phase.CLUE and r == Role.HIDDEN for p, r in clues.seen)
    assert votes.seen and all(p == Phase.DECISION and r != Role.HIDDEN for p, r in votes.seen)


@pytest.mark.parametrize("kind", ["color", "shape"])
def test_every_kind_appears_in_a_default_probe(kind):
    assert any(q.kind == kind for q in probe_questions(10, image_size=(32, 24)))
