"""The PettingZoo envs: PettingZoo's own checks, seeding, infos, roles, bad input."""

import gc
import json
import subprocess
import sys

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test
from sources import NoiseSource

from vz_env import Clue, Phase, Role, Turn, spy_v0
from vz_env.views import SceneTexts

SMALL = {"images": NoiseSource(), "image_size": (48, 32)}


def play(env, clue="hmm \\boxed{a thing}", vote="\\boxed{1}"):
    """Play one AEC game to the end with fixed texts; returns the final infos and rewards."""
    for _ in env.agent_iter():
        obs, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        env.step(clue if obs["phase"] == Phase.CLUE else vote)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"decision_mode": "observer", "num_observers": 3},
        {"num_players": 5, "num_spies": 2},
        {"reveal_role": False},
    ],
)
def test_pettingzoo_api_test(kwargs):
    api_test(spy_v0.env(**SMALL, **kwargs), num_cycles=50)


@pytest.mark.parametrize("kwargs", [{}, {"decision_mode": "observer", "num_observers": 2}])
def test_pettingzoo_parallel_api_test(kwargs):
    parallel_api_test(spy_v0.parallel_env(**SMALL, **kwargs), num_cycles=50)


def test_pettingzoo_seed_tests():
    seed_test(lambda: spy_v0.env(**SMALL), num_cycles=20)
    parallel_seed_test(lambda: spy_v0.parallel_env(**SMALL))


def test_pettingzoo_render_test():
    render_test(lambda render_mode=None: spy_v0.env(render_mode=render_mode, **SMALL))


def test_default_env_needs_no_arguments():
    env = spy_v0.env()
    env.reset(seed=0)
    obs = env.observe(env.agent_selection)
    assert obs["image"].shape == (240, 320, 3) and obs["image"].dtype == np.uint8
    assert env.observation_space(env.agent_selection).contains(obs)


def test_same_seed_same_game_different_seed_varies():
    def game(seed):
        env = spy_v0.env(**SMALL)
        env.reset(seed=seed)
        obs = env.observe("player_0")
        return env.unwrapped.roles, obs["prompt"], env.unwrapped.pair.original.tobytes()

    assert game(7) == game(7)
    assert len({str(game(s)[0]) + str(hash(game(s)[2])) for s in range(12)}) > 1


def test_infos_carry_parsed_clues_votes_and_outcome():
    env = spy_v0.env(**SMALL)
    env.reset(seed=3)
    spy = next(a for a, r in env.unwrapped.roles.items() if r == Role.SPY)
    spy_number = int(spy.split("_")[1]) + 1
    env.step("I see noise \\boxed{noisy}")
    turn = env.infos["player_0"]["turn"]
    assert isinstance(turn, Turn) and turn.phase == Phase.CLUE
    assert turn.clue == "noisy" and turn.valid and turn.reasoning == "I see noise"
    env.step("no box")
    assert env.infos["player_1"]["turn"].valid is False
    assert "boxed" in env.infos["player_1"]["turn"].reason
    assert env.infos["player_2"]["turn"] is None
    play(env, vote=f"\\boxed{{{spy_number}}}")
    assert env.agents == []


def test_observation_carries_the_rules_clues_typed_and_as_json_text():
    env = spy_v0.env(**SMALL)
    env.reset(seed=3)
    env.step('hmm \\boxed{a "red" cube}')
    env.step("no box")
    obs = env.observe("player_2")
    assert obs["clues"] == tuple(env.unwrapped.game.history()) and isinstance(obs["clues"][0], Clue)
    texts = json.loads(obs["history"])
    assert [Clue(e["round"], e["player"], e["clue"]) for e in texts] == list(obs["clues"])
    space = env.observation_space("player_2")["clues"]
    space.seed(0)
    assert all(space.contains(space.sample()) for _ in range(20))
    assert not space.contains([*obs["clues"]]) and not space.contains((Clue(9, 1, "x"),))


def test_final_rewards_and_winner_in_aec():
    env = spy_v0.env(**SMALL)
    env.reset(seed=3)
    spy = next(a for a, r in env.unwrapped.roles.items() if r == Role.SPY)
    target = f"\\boxed{{{int(spy.split('_')[1]) + 1}}}"
    totals = {}
    for agent in env.agent_iter():
        obs, reward, term, trunc, info = env.last()
        if term:
            totals[agent] = (reward, info)
            env.step(None)
            continue
        env.step("\\boxed{x}" if obs["phase"] == Phase.CLUE else target)
    assert sum(r for r, _ in totals.values()) == pytest.approx(0.0, abs=1e-12)
    assert totals[spy][0] < 0
    for agent, (reward, info) in totals.items():
        assert info["winner"] == "civilians"
        assert info["game_reward"] == reward
        if agent != spy:
            turn = info["turn"]
            assert turn.vote == spy and turn.voted_spy and turn.decision_reward == pytest.approx(1.3)


def test_roles_only_through_unwrapped_and_own_observation():
    env = spy_v0.env(**SMALL)
    env.reset(seed=1)
    roles = env.unwrapped.roles
    assert sorted(roles.values()) == [Role.CIVILIAN, Role.CIVILIAN, Role.CIVILIAN, Role.SPY]
    for agent, role in roles.items():
        obs = env.observe(agent)
        assert obs["role"] == role and obs["num_players"] == 4
        assert "roles" not in env.infos[agent]
    hidden = spy_v0.env(reveal_role=False, **SMALL)
    hidden.reset(seed=1)
    assert all(hidden.observe(a)["role"] == Role.HIDDEN for a in hidden.possible_agents)


def test_scene_record_is_own_image_only():
    env = spy_v0.env(**SMALL)
    env.reset(seed=1)
    for agent, role in env.unwrapped.roles.items():
        expected = "black" if role == Role.SPY else "noise"
        assert expected in env.observe(agent)["scene"]


def test_non_string_action_raises_type_error_naming_agent():
    env = spy_v0.env(**SMALL)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="player_0.*int"):
        env.step(3)
    par = spy_v0.parallel_env(**SMALL)
    par.reset(seed=0)
    with pytest.raises(TypeError, match="player_0.*bytes"):
        par.step({"player_0": b"x"})


def test_parallel_env_votes_in_one_step():
    env = spy_v0.parallel_env(**SMALL)
    obs, infos = env.reset(seed=5)
    steps = 0
    while env.agents:
        acting = env.acting_agents
        assert acting == [a for a in env.agents if infos[a]["acting"]]
        actions = {a: ("\\boxed{clue}" if obs[a]["phase"] == Phase.CLUE else "\\boxed{N/A}") for a in acting}
        obs, rewards, terms, truncs, infos = env.step(actions)
        steps += 1
    assert steps == 4 * 2 + 1
    assert all(terms.values())
    voters = [a for a in infos if env.unwrapped.roles[a] != Role.SPY]
    assert len(voters) == 3
    assert all(
        infos[a]["turn"].abstain and infos[a]["turn"].decision_reward == pytest.approx(-0.2) for a in voters
    )


def test_parallel_env_requires_acting_agents_actions():
    env = spy_v0.parallel_env(**SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="player_0"):
        env.step({})
    with pytest.raises(TypeError, match="dict of actions.*str"):
        env.step("\\boxed{clue}")


def test_render_modes_produce_transcript_and_board():
    env = spy_v0.env(render_mode="rgb_array", **SMALL)
    env.reset(seed=2)
    play(env)
    board = env.render()
    assert board.ndim == 3 and board.shape[2] == 3 and board.shape[1] >= 2 * 48
    text = spy_v0.env(render_mode="ansi", **SMALL)
    text.reset(seed=2)
    play(text)
    assert "Winner:" in text.render() and "(spy)" in text.render()


def test_vz_env_never_imports_torch():
    code = "import sys, vz_env; e = vz_env.spy_v0.env(); e.reset(seed=0); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class RecordingSource(NoiseSource):
    """A NoiseSource that remembers the seeds the env asked it for."""

    def __init__(self):
        self.seeds = []

    def pair(self, seed, size):
        self.seeds.append(seed)
        return super().pair(seed, size)


def test_seeded_draws_are_pinned_so_every_machine_plays_the_same_game():
    source = RecordingSource()
    env = spy_v0.env(images=source, image_size=(48, 32))
    env.reset(seed=0)
    spy = [a for a, r in env.unwrapped.roles.items() if r == Role.SPY]
    assert spy == ["player_3"] and source.seeds == [6827046333291546]
    env.reset(seed=np.int64(7))
    assert env.unwrapped.roles["player_1"] == Role.SPY and source.seeds[-1] == 1358728566951068


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seeds_are_refused(seed):
    env = spy_v0.env(**SMALL)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        env.reset(seed=seed)


def test_scene_json_is_encoded_once_per_pooled_pair_and_forgotten_with_it():
    scenes = SceneTexts()
    pair = NoiseSource().pair(0, (16, 16))
    text = scenes.get(pair, "original")
    assert json.loads(text) == pair.scene_of("original") and scenes.get(pair, "original") is text
    assert len(scenes) == 1
    del pair
    gc.collect()
    assert len(scenes) == 0
