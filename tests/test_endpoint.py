"""The endpoint policy against a real local HTTP server: whole games, retries, one-line failures, no key."""

import base64
import io
import socket

import numpy as np
import pytest
from chat_server import ChatServer, serving
from PIL import Image

from agents import chat_client
from agents.chat_client import EndpointError
from agents.endpoint import EndpointPolicy
from agents.endpoint_spec import EndpointSpec, parse_endpoint_spec
from agents.registry import load_policy
from agents.scripted import SceneBot
from algorithms.rollout import play_games
from vz_env import Phase, Role
from vz_spy.cli import main

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("VZ_TEST_KEY", KEY)
    sleeps = []
    monkeypatch.setattr(chat_client, "sleep", sleeps.append)  # backoff is recorded, not waited
    return sleeps


def spec_for(server: ChatServer, options: str = "") -> str:
    return f"openai:{server.model}@{server.url};key=VZ_TEST_KEY{options}"


def observation(phase: Phase = Phase.CLUE) -> dict:
    image = np.arange(24 * 32 * 3, dtype=np.uint8).reshape(24, 32, 3)
    return {"image": image, "prompt": "Describe it. \\boxed{your clue}", "phase": phase}


def test_a_spec_names_model_url_key_variable_and_sampling_overrides():
    spec = parse_endpoint_spec(
        "openai:Qwen/Qwen2.5-VL-7B-Instruct@https://host:8000/v1/;key=MY_KEY;temperature=0;top_p=0.9;"
        "max_new_tokens=64;timeout=5;retries=2;concurrency=3"
    )
    assert spec == EndpointSpec(
        model="Qwen/Qwen2.5-VL-7B-Instruct",
        base_url="https://host:8000/v1",
        key="MY_KEY",
        temperature=0.0,
        top_p=0.9,
        max_new_tokens=64,
        timeout=5.0,
        retries=2,
        concurrency=3,
    )
    assert parse_endpoint_spec("openai:m@http://localhost:8000/v1") == EndpointSpec(
        "m", "http://localhost:8000/v1"
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("openai:model", "does not parse"),
        ("openai:@http://h/v1", "does not parse"),
        ("openai:m@ftp://h/v1", "does not parse"),
        ("openai:m@http://h/v1;colour=red", "NAME one of key, temperature"),
        ("openai:m@http://h/v1;temperature", "is not NAME=VALUE"),
        ("openai:m@http://h/v1;max_new_tokens=many", "max_new_tokens='many'"),
        ("openai:m@http://h/v1;concurrency=0", "must be at least 1"),
        ("openai:m@http://h/v1;key=1BAD", "not an environment variable name"),
    ],
)
def test_a_spec_that_does_not_parse_is_one_line(spec, says):
    with pytest.raises(ValueError, match=says) as caught:
        load_policy(spec)
    assert "\n" not in str(caught.value)


def test_an_unset_key_variable_or_bad_sampling_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("VZ_TEST_KEY")
    with pytest.raises(ValueError, match="environment variable VZ_TEST_KEY .* is not set"):
        load_policy("openai:m@http://127.0.0.1:9/v1;key=VZ_TEST_KEY")
    with pytest.raises(ValueError, match="top_p must be in"):
        load_policy("openai:m@http://127.0.0.1:9/v1;top_p=0")


def test_the_request_holds_the_picture_as_png_the_prompt_and_the_sampling_settings():
    with serving(ChatServer()) as server:
        policy = load_policy(spec_for(server, ";temperature=0.5;top_p=0.9;max_new_tokens=32"), seed=3)
        obs = observation()
        assert policy.act(obs) == "My picture has a cube. \\boxed{a large red metal cube}"
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["body"]
    picture, text = body["messages"][0]["content"]
    assert text == {"type": "text", "text": obs["prompt"]}
    header, encoded = picture["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64"
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
    assert np.array_equal(decoded, obs["image"])
    assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == (
        "tiny-served",
        0.5,
        0.9,
        32,
    )
    assert policy.label == spec_for(server, ";temperature=0.5;top_p=0.9;max_new_tokens=32")


def test_a_seeded_policy_sends_the_same_request_seeds_again():
    with serving(ChatServer()) as server:
        policy = load_policy(spec_for(server), seed=7)
        policy.act_batch([observation()] * 3)
        policy.reset(seed=7)
        policy.act_batch([observation()] * 3)
    seeds = [r["body"]["seed"] for r in server.requests]
    assert sorted(seeds[:3]) == sorted(seeds[3:]) and len(set(seeds[:3])) == 3


def test_full_games_with_the_endpoint_in_every_seat_keep_unparseable_replies_as_invalid_turns():
    count = iter(range(10_000))

    def sometimes_silly(body):
        return "I would rather not say." if next(count) % 5 == 4 else ChatServer.reply(body)

    with serving(ChatServer(reply=sometimes_silly)) as server:
        policy = load_policy(spec_for(server, ";concurrency=4"), seed=0)
        rollout = play_games(policy, 3, seed=0, env_kwargs={"image_size": (96, 72)})
    assert len(rollout.games) == 3 and all(g.winner in ("spies", "civilians") for g in rollout.games)
    turns = [s.turn for s in rollout.samples]
    assert len(turns) == len(server.requests) == 3 * (4 * 2 + 3)
    invalid = [t for t in turns if not t.valid and not t.abstain]
    assert invalid and all(t.raw == "I would rather not say." for t in invalid)
    assert any(t.phase == Phase.CLUE and t.clue == "a large red metal cube" for t in turns)
    assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in server.requests)


def test_the_endpoint_mixed_with_scene_bots_plays_the_spy_seats():
    with serving(ChatServer()) as server:
        served = load_policy(spec_for(server), seed=0)
        bot = SceneBot(seed=1)
        rollout = play_games(lambda game, agent, role: served if role == Role.SPY else bot, 4, seed=0)
    assert len(rollout.games) == 4
    spy_turns = [s for s in rollout.samples if s.role == Role.SPY]
    assert {s.policy for s in spy_turns} == {spec_for(server)}
    assert len(server.requests) == len(spy_turns) == 4 * 2  # two clue rounds; the spy does not vote


def test_a_refused_connection_fails_in_one_line_before_any_game():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EndpointError, match=rf"127.0.0.1:{port}/v1/models: cannot connect") as caught:
        load_policy(f"openai:m@http://127.0.0.1:{port}/v1;key=VZ_TEST_KEY")
    assert "\n" not in str(caught.value) and KEY not in str(caught.value)


def test_a_500_is_retried_with_growing_backoff_then_fails_without_the_key(api_key):
    server = ChatServer(failures=[500] * 10, echo_headers=True)  # it even echoes the Authorization header
    with serving(server):
        policy = load_policy(spec_for(server, ";retries=2"))
        with pytest.raises(EndpointError, match="HTTP 500.* after 3 tries") as caught:
            policy.act(observation())
    assert len(server.requests) == 3
    assert KEY not in str(caught.value) and "Bearer ***" in str(caught.value)
    assert len(api_key) == 2 and api_key[0] < api_key[1]


def test_a_429_then_success_is_one_reply():
    with serving(ChatServer(failures=[429])) as server:
        policy = load_policy(spec_for(server))
        assert policy.act(observation()).endswith("\\boxed{a large red metal cube}")
    assert len(server.requests) == 2


def test_a_400_is_not_retried():
    with serving(ChatServer(failures=[400])) as server:
        policy = load_policy(spec_for(server))
        with pytest.raises(EndpointError, match="HTTP 400: .*overloaded"):
            policy.act(observation())
    assert len(server.requests) == 1


def test_a_server_slower_than_the_timeout_fails_in_one_line():
    with serving(ChatServer(delay=1.0)) as server:
        policy = load_policy(spec_for(server, ";timeout=0.2;retries=1"))
        with pytest.raises(EndpointError, match=r"no reply within 0.2s after 2 tries"):
            policy.act(observation())


def test_a_model_the_server_does_not_serve_fails_before_any_game():
    with (
        serving(ChatServer(model="other")) as server,
        pytest.raises(EndpointError, match="does not serve 'wanted' .it serves other."),
    ):
        load_policy(f"openai:wanted@{server.url}")


def test_the_cli_plays_an_endpoint_and_turns_failures_into_one_line(capsys, monkeypatch):
    with serving(ChatServer()) as server:
        assert main(["eval", "--a", spec_for(server), "--b", "scene", "--games", "2", "--size", "96x72"]) == 0
    out = capsys.readouterr()
    assert "win rate" in out.out and KEY not in out.out + out.err
    assert main(["eval", "--a", spec_for(server), "--b", "scene", "--games", "2"]) == 2  # server gone
    err = capsys.readouterr().err
    assert err.startswith("vz-spy eval: error: ") and "cannot connect" in err and err.count("\n") == 1
    monkeypatch.delenv("VZ_TEST_KEY")
    assert main(["eval", "--a", "openai:m@http://127.0.0.1:9/v1;key=VZ_TEST_KEY", "--b", "scene"]) == 2
    assert "VZ_TEST_KEY (key= of the endpoint spec) is not set" in capsys.readouterr().err


def test_a_request_that_fails_mid_batch_stops_the_batch():
    server = ChatServer(failures=[503] * 50)
    with serving(server):
        policy = EndpointPolicy(
            parse_endpoint_spec(f"openai:tiny-served@{server.url};retries=0;concurrency=2")
        )
        with pytest.raises(EndpointError, match="HTTP 503"):
            policy.act_batch([observation()] * 100)
    assert len(server.requests) < 100
