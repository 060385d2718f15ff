"""Engine adapters' common ground: seats named by role, rewards as the env gives them, a one-line gate."""

from __future__ import annotations

import asyncio
from importlib import metadata

import pytest

from algorithms.engines import verifiers_version
from algorithms.engines.spy_seats import play_game
from vz_env import Phase, Role, spy_v0

GAME = {"images": "clevr-mini", "image_size": (64, 48)}


def scripted(seat: str, observation: dict) -> str:
    """A clue from every clue seat, a vote for PLAYER 1 from every other seat."""
    return "\\boxed{a red cube}" if seat in ("spy", "civilian") else "\\boxed{1}"


def play(settings: dict, seed: int):
    asked: list[tuple[str, int]] = []

    async def ask(seat: str, observation: dict) -> str:
        asked.append((seat, int(observation["seat"])))
        return scripted(seat, observation)

    return asyncio.run(play_game(settings, seed, ask)), asked


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_turn_is_asked_of_its_role_and_earns_what_the_env_gives(seed):
    played, asked = play(GAME, seed)
    env = spy_v0.env(**GAME)
    env.reset(seed=seed)
    seats = iter(seat for seat, _ in asked)
    for _ in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        env.step(None if terminated or truncated else scripted(next(seats), observation))
    game = env.unwrapped.game
    rewards = game.rewards()
    assert [t.seat for t in played.turns] == [seat for seat, _ in asked]
    for entry in played.turns:
        role = game.role(entry.turn.agent)
        if entry.turn.phase == Phase.CLUE:
            assert entry.seat == ("spy" if role == Role.SPY else "civilian")
            assert entry.reward == rewards[entry.turn.agent]
        else:
            assert entry.seat == "voter" and entry.reward == game.vote_of(entry.turn.agent).decision_reward
    assert played.winner == game.winner()
    assert sum(rewards.values()) == pytest.approx(0.0, abs=1e-12)


def test_public_numbers_stay_the_envs_while_seats_follow_roles():
    spy_numbers = {next(n for seat, n in play(GAME, seed)[1] if seat == "spy") for seed in range(8)}
    assert len(spy_numbers) > 1  # the spy's public number is drawn per game, its seat name is always "spy"


def test_a_spy_vote_earns_no_reward_and_is_not_trainable():
    played, _ = play({**GAME, "spy_votes": True}, 0)
    (spy_vote,) = [t for t in played.turns if t.turn.phase == Phase.DECISION and t.role == Role.SPY]
    assert spy_vote.reward is None and not spy_vote.trainable
    assert spy_vote.info(0, 11, played.winner)["role"] == "spy"


def test_verifiers_missing_is_one_line(monkeypatch):
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(verifiers_version.metadata, "version", missing)
    with pytest.raises(ImportError, match=r"^[^\n]*needs verifiers: pip install 'vz-spy\[verifiers\]'$"):
        verifiers_version.load_verifiers()


def test_an_incompatible_verifiers_is_one_line(monkeypatch):
    monkeypatch.setattr(verifiers_version.metadata, "version", lambda name: "0.3.1")
    with pytest.raises(ImportError, match=r"^[^\n]*needs verifiers 0\.4\.x, found 0\.3\.1: pip install"):
        verifiers_version.load_verifiers()
