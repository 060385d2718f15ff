"""The spy game as a verifiers environment, played by `vf-eval` against an in-process chat server."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from served_games import picture_of, replay, run_eval

GAME = {"images": "clevr-mini", "image_size": [64, 48]}
REPLIES = [
    "I see a cube. \\boxed{a red cube}",
    "\\boxed{2}",
    "no answer here",
    "\\boxed{N/A}",
    "\\boxed{PLAYER 3}",
]


@pytest.fixture
def chat_server() -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible chat server that cycles through REPLIES and keeps every request body."""
    served: dict[str, Any] = {"requests": []}
    replies = itertools.cycle(REPLIES)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": "fake-vlm", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                served["requests"].append(body)
                text = next(replies)
            message = {"role": "assistant", "content": text}
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            choice = {"index": 0, "finish_reason": "stop", "message": message}
            self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "fake-vlm",
                        "choices": [choice], "usage": usage})  # fmt: skip

        def _send(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield served
    httpd.shutdown()
    thread.join()


def test_traces_carry_the_rewards_roles_and_pictures_the_env_gives_the_same_replies(chat_server, tmp_path):
    episodes = run_eval(chat_server["url"], "fake-vlm", tmp_path, GAME, 2)
    assert sorted(e["task"]["data"]["seed"] for e in episodes) == [0, 1] and all(e["ok"] for e in episodes)
    for episode in episodes:
        expected = replay(episode)
        traces = sorted(episode["traces"], key=lambda t: t["info"]["vz_spy"]["order"])
        assert len(traces) == 4 * 2 + 3  # two clue rounds of four players, three civilian votes
        for trace, want in zip(traces, expected, strict=True):
            info = trace["info"]["vz_spy"]
            assert trace["agent"]["name"] == want["seat"] and trace["agent"]["trainable"]
            assert (info["agent"], info["role"], info["valid"]) == (
                want["agent"],
                want["role"],
                want["valid"],
            )
            (reward,) = trace["rewards"].values()
            assert reward["score"] == pytest.approx(want["reward"], abs=1e-12)
            assert np.array_equal(picture_of(trace), want["observation"]["image"])
            texts = [
                part["text"] for part in trace["nodes"][0]["message"]["content"] if part["type"] == "text"
            ]
            assert texts == [want["observation"]["prompt"]]
        clue_rewards = [t["rewards"]["game_reward"]["score"] for t in traces if "game_reward" in t["rewards"]]
        assert sum(clue_rewards) == pytest.approx(0.0, abs=1e-9)  # zero-sum over both rounds
        assert {t["agent"]["name"] for t in traces} == {"spy", "civilian", "voter"}
        assert not all(info["valid"] for info in (t["info"]["vz_spy"] for t in traces))
    sent = chat_server["requests"]
    assert len(sent) == 22
    for body in sent:
        (message,) = body["messages"]
        assert [part["type"] for part in message["content"]] == ["image_url", "text"]
        assert message["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_train_decision_leaves_the_clue_seats_untrainable(chat_server, tmp_path):
    (episode,) = run_eval(chat_server["url"], "fake-vlm", tmp_path, GAME, 1, "--env.train", "decision")
    trainable = {t["agent"]["name"]: t["agent"]["trainable"] for t in episode["traces"]}
    assert trainable == {"spy": False, "civilian": False, "voter": True}


def test_a_spy_vote_is_played_and_recorded_but_trains_nothing(chat_server, tmp_path):
    (episode,) = run_eval(chat_server["url"], "fake-vlm", tmp_path, {**GAME, "spy_votes": True}, 1)
    votes = [t for t in episode["traces"] if t["info"]["vz_spy"]["phase"] == "decision"]
    spy_votes = [t for t in votes if t["info"]["vz_spy"]["role"] == "spy"]
    assert len(votes) == 4 and len(spy_votes) == 1
    assert spy_votes[0]["rewards"] == {} and not spy_votes[0]["agent"]["trainable"]
    assert replay(episode)  # the recorded replies still replay as the same game


def test_observer_mode_names_the_decision_seats_observers(chat_server, tmp_path):
    game = {**GAME, "decision_mode": "observer", "num_observers": 2}
    (episode,) = run_eval(chat_server["url"], "fake-vlm", tmp_path, game, 1)
    expected = replay(episode)
    traces = sorted(episode["traces"], key=lambda t: t["info"]["vz_spy"]["order"])
    assert [t["agent"]["name"] for t in traces][-2:] == ["observer", "observer"]
    for trace, want in zip(traces, expected, strict=True):
        (reward,) = trace["rewards"].values()
        assert reward["score"] == pytest.approx(want["reward"], abs=1e-12)


@pytest.mark.parametrize(
    ("game", "message"),
    [
        ({"images": "/no/such/folder"}, "neither a kind (clevr, clevr-mini, charts) nor an existing folder"),
        ({"images": "broken"}, "no usable image pairs"),
        ({"num_player": 3}, "num_player"),
    ],
)
def test_a_game_that_cannot_be_built_is_one_line_before_any_turn(tmp_path, game, message):
    from algorithms.engines.verifiers_env import SpyTasksetConfig

    if game.get("images") == "broken":
        (tmp_path / "a_original.png").write_bytes(b"not a png")
        (tmp_path / "a_modified.png").write_bytes(b"not a png")
        game = {"images": str(tmp_path)}
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        SpyTasksetConfig(game=game)
    (error,) = refused.value.errors()
    assert "\n" not in error["msg"]
