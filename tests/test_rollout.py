"""Lock-step rollouts: one batched call per policy per step, G samples per vote, rewards settled."""

from collections import Counter

import pytest
from sources import NoiseSource

from agents.base import Policy
from agents.scripted import RandomAgent, SceneBot
from algorithms.rollout import play_games
from vz_env import Phase, Role, SpyConfig

SMALL = {"images": NoiseSource(), "image_size": (48, 32)}


class CountingPolicy(Policy):
    """Records every batched call; clues are valid, votes name PLAYER 1 (or 2 for PLAYER 1 itself)."""

    def __init__(self, name="counting"):
        self.name = name
        self.calls = []

    def act(self, observation):
        raise AssertionError("the engine must use act_batch")

    def act_batch(self, observations):
        self.calls.append(len(observations))
        return [
            "\\boxed{a thing}"
            if o["phase"] == Phase.CLUE
            else ("\\boxed{2}" if o["seat"] == 0 else "\\boxed{1}")
            for o in observations
        ]


def test_one_batched_call_per_step_for_all_games():
    policy = CountingPolicy()
    rollout = play_games(policy, num_games=5, seed=0, group_size=3, env_kwargs=SMALL)
    # 4 players x 2 rounds clue steps, then one decision step: 9 calls in all
    assert policy.calls == [5] * 8 + [5 * 3 * 3]
    assert len(rollout.games) == 5
    assert len(rollout.stage(Phase.CLUE)) == 5 * 8
    assert len(rollout.stage(Phase.DECISION)) == 5 * 3 * 3


def test_samples_carry_roles_groups_and_rewards():
    env_kwargs = {**SMALL, "clue_format_weight": 0.2}
    rollout = play_games(CountingPolicy(), num_games=4, seed=1, group_size=2, env_kwargs=env_kwargs)
    for game_index, record in enumerate(rollout.games):
        clue_samples = [s for s in rollout.stage(Phase.CLUE) if s.game == game_index]
        for s in clue_samples:
            assert s.reward == pytest.approx(record.rewards[s.agent] + 0.2)  # the format term is in
            assert s.role == record.roles[s.agent]
            assert s.turn.valid and s.turn.clue == "a thing" and s.turn.format_reward == pytest.approx(0.2)
            assert s.stage == Phase.CLUE and s.turn.phase == Phase.CLUE and s.group is None
    groups = Counter(s.group for s in rollout.stage(Phase.DECISION))
    assert set(groups.values()) == {2}
    for s in rollout.stage(Phase.DECISION):
        spy = next(a for a, r in rollout.games[s.game].roles.items() if r == Role.SPY)
        expected = 1.3 if s.turn.vote == spy else -1.0 + 0.3
        assert s.turn.voted_spy == (s.turn.vote == spy) and s.reward == pytest.approx(expected)
        assert s.turn.decision_reward == pytest.approx(expected)


def test_seats_can_hold_different_policies():
    a, b = CountingPolicy("a"), CountingPolicy("b")
    rollout = play_games(
        lambda game, agent, role: a if agent in ("player_0", "player_1") else b,
        num_games=3,
        seed=0,
        env_kwargs=SMALL,
    )
    assert {s.policy for s in rollout.samples if s.agent == "player_0"} == {"a"}
    assert {s.policy for s in rollout.samples if s.agent == "player_3"} == {"b"}
    assert rollout.games[0].policies == {"player_0": "a", "player_1": "a", "player_2": "b", "player_3": "b"}
    assert a.calls[0] == 3 and b.calls[0] == 3


def test_observer_mode_uses_observers_as_the_decision_samples():
    policy = CountingPolicy()
    rollout = play_games(
        policy,
        num_games=2,
        seed=0,
        group_size=5,
        env_kwargs={**SMALL, "decision_mode": "observer", "num_observers": 3},
    )
    decision = rollout.stage(Phase.DECISION)
    assert len(decision) == 2 * 3 and {s.role for s in decision} == {Role.OBSERVER}
    assert policy.calls[-1] == 6


def test_seeded_rollouts_repeat():
    def run():
        rollout = play_games(RandomAgent(), num_games=3, seed=7, group_size=2, env_kwargs=SMALL)
        return [(s.agent, s.turn.raw, s.reward) for s in rollout.samples]

    assert run() == run()


def test_scene_bots_on_default_scenes():
    rollout = play_games(SceneBot(), num_games=4, seed=0)
    assert all(record.winner in ("civilians", "spies") for record in rollout.games)
    assert all(s.turn.valid for s in rollout.stage(Phase.CLUE))
    assert all(t.phase in (Phase.CLUE, Phase.DECISION) for r in rollout.games for t in r.transcript)


class SplitVoter(CountingPolicy):
    """Votes PLAYER 2, then N/A, then PLAYER 3, ... over a voter's samples; clues as CountingPolicy."""

    def act_batch(self, observations):
        answers = ["\\boxed{2}", "\\boxed{N/A}", "\\boxed{Player 3 is the spy}", "no answer"]
        return [
            "\\boxed{a thing}" if o["phase"] == Phase.CLUE else answers[i % len(answers)]
            for i, o in enumerate(observations)
        ]


def test_extra_vote_samples_are_judged_by_the_game_like_played_votes():
    rollout = play_games(SplitVoter(), num_games=2, seed=3, group_size=4, env_kwargs=SMALL)
    for s in rollout.stage(Phase.DECISION):
        record = rollout.games[s.game]
        spies = {a for a, r in record.roles.items() if r == Role.SPY}
        turn = s.turn
        assert turn.agent == s.agent and turn.phase == Phase.DECISION
        assert turn.voted_spy == (turn.vote in spies)
        if s.role == Role.SPY:
            assert turn.decision_reward is None and s.reward == 0.0
            continue
        expected = {True: 1.0, False: -1.0}[turn.voted_spy] if not turn.abstain else -0.5
        expected += 0.3 if turn.valid or turn.abstain else -0.3
        assert s.reward == pytest.approx(expected) == turn.decision_reward
    played = [s for s in rollout.stage(Phase.DECISION) if s.sample == 0]
    assert all(s.turn in rollout.games[s.game].transcript for s in played)


def test_game_records_keep_the_public_history_as_players_saw_it():
    class HalfInvalid(CountingPolicy):
        def act_batch(self, observations):
            return [
                "no box" if o["phase"] == Phase.CLUE and o["seat"] == 2 else a
                for o, a in zip(observations, super().act_batch(observations))
            ]

    rollout = play_games(HalfInvalid(), num_games=2, seed=3, env_kwargs=SMALL)
    for record in rollout.games:
        clues = [t for t in record.transcript if t.phase == Phase.CLUE]
        assert [(c.round, c.player) for c in record.history] == [(r, p) for r in (1, 2) for p in (1, 2, 3, 4)]
        assert [c.round for c in record.history] == [t.round for t in clues]
        assert {c.clue for c in record.history if c.player == 3} == {SpyConfig().invalid_clue_text}
        assert all(c.clue == "a thing" for c in record.history if c.player != 3)
