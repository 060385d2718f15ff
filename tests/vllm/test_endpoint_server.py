"""The endpoint policy against vLLM's OpenAI-compatible server, started and stopped here on the tiny VLM."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.endpoint import EndpointPolicy
from agents.endpoint_spec import parse_endpoint_spec
from agents.hf_vlm import HFVLMPolicy
from agents.vllm_vlm import VLLMPolicy
from algorithms.rollout import play_games
from vz_env import Role

pytestmark = pytest.mark.vllm

START_TIMEOUT_S = 1200  # a loaded 2-core machine took 10 minutes to start it
GAME = {"image_size": (160, 120)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    """Poll /models until the server answers; a server that exits first fails with its log's end."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"vLLM's server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as reply:
                if json.load(reply)["data"]:
                    return
        except OSError:
            time.sleep(2)
    pytest.fail(f"vLLM's server did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tiny_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """vLLM's OpenAI server on the random tiny Qwen2.5-VL (float32, the in-process engine's settings);
    yields (model name, base URL) and stops it after the module's tests."""
    model = tiny_dirs["qwen2_5_vl"]
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--seed", "0",
        "--max-model-len", "4096", "--enforce-eager", "--generation-config", "vllm",
        "--no-enable-chunked-prefill", "--max-num-batched-tokens", "8192",
        "--limit-mm-per-prompt", '{"image": 1, "video": 0}', "--uvicorn-log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    with log.open("w") as out:
        # Its own process group: stopping the server stops its engine-core process too, even mid-start.
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_serving(process, url, log)
        yield model, url
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after a minute."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(process.pid, signal.SIGKILL)


def endpoint(server: tuple[str, str], options: str = "", **kwargs) -> EndpointPolicy:
    model, url = server
    spec = f"openai:{model}@{url};max_new_tokens=16;timeout=600{options}"  # a loaded CPU is slow
    return EndpointPolicy(parse_endpoint_spec(spec), **kwargs)


def test_full_games_with_the_served_model_in_every_seat(server):
    rollout = play_games(endpoint(server, ";concurrency=4", seed=0), 2, seed=0, env_kwargs=GAME)
    assert len(rollout.games) == 2 and all(g.winner in ("spies", "civilians") for g in rollout.games)
    assert len(rollout.samples) == 2 * (4 * 2 + 3)
    assert any(s.turn.raw for s in rollout.samples)  # the tiny model talks (nonsense: mostly invalid turns)


def test_the_served_model_mixed_with_the_local_tiny_vlm(server, tiny_dirs):
    served = endpoint(server, seed=0, label="served")
    local = HFVLMPolicy(
        tiny_dirs["qwen2_5_vl"], max_new_tokens=16, device="cpu", dtype="float32", seed=0, label="local"
    )

    def seats(game, agent, role):
        return served if role == Role.SPY else local

    rollout = play_games(seats, 2, seed=0, env_kwargs=GAME)
    assert len(rollout.games) == 2
    assert {s.policy for s in rollout.samples if s.role == Role.SPY} == {"served"}
    assert {s.policy for s in rollout.samples if s.role != Role.SPY} == {"local"}


def test_greedy_replies_equal_the_in_process_engine(server, tiny_dirs, observations):
    """Same model, same prompts, greedy, the same ids allowed and the same stop ids: the same text."""
    local = VLLMPolicy(tiny_dirs["qwen2_5_vl"], temperature=0, max_new_tokens=16, dtype="float32", seed=0)
    try:
        expected = local.act_batch(observations)
        same_rules = {
            "allowed_token_ids": local.allowed_token_ids,
            "stop_token_ids": list(local.eos_token_ids),
            "skip_special_tokens": True,
        }
    finally:
        local.close()
    served = endpoint(server, ";temperature=0", extra_body=same_rules).act_batch(observations)
    assert served == expected
