"""A vLLM engine in each of two trainer processes (gloo, CPU): DDP + LoRA and FSDP2 + full fine-tuning.

Each scenario launches three runs of tests/vllm/colocated_driver.py: straight (2 iterations), stopped after
the first, and that one resumed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from algorithms.metrics import TIMING_KEYS, read_metrics

pytestmark = pytest.mark.vllm

DRIVER = Path(__file__).with_name("colocated_driver.py")
ROOT = DRIVER.parents[2]
LAUNCH = {
    "lora": ["--multi_gpu", "--num_machines", "1", "--dynamo_backend", "no"],
    "full": ["--config_file", str(ROOT / "examples" / "accelerate" / "fsdp2.yaml")],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(scenario: str, mode: str, model: str, run_dir: Path) -> None:
    command = [sys.executable, "-m", "accelerate.commands.launch", *LAUNCH[scenario]]
    command += ["--num_processes", "2", "--mixed_precision", "no", "--main_process_port", str(_free_port())]
    command += [str(DRIVER), scenario, mode, model, str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module", params=["lora", "full"])
def runs(request: pytest.FixtureRequest, tiny_dirs: dict[str, str], tmp_path_factory) -> dict[str, Path]:
    """A straight run and one stopped after its first iteration then resumed, of one scenario."""
    root = tmp_path_factory.mktemp(f"colocated-{request.param}")
    model = tiny_dirs["qwen2_5_vl"]
    _launch(request.param, "straight", model, root / "straight")
    _launch(request.param, "interrupted", model, root / "resumed")
    _launch(request.param, "resumed", model, root / "resumed")
    return {"straight": root / "straight", "resumed": root / "resumed"}


def _comparable(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in TIMING_KEYS and not k.startswith("seconds")} for r in rows
    ]


def test_processes_sample_with_their_engines_and_agree(runs: dict[str, Path]) -> None:
    rows = read_metrics(runs["straight"] / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == [1, 2]
    assert all(r["world_size"] == 2 and r["state_spread"] == 0.0 for r in rows)
    assert all(r["tokens_generated"] > 0 and r["is_weight_mean"] < 1.0 for r in rows)  # engine samples
    assert rows[0]["loss"] != 0.0 and rows[1]["kl"] > 0.0  # a real gradient moved the weights


def test_after_a_sync_each_engine_scores_like_the_trained_weights(runs: dict[str, Path]) -> None:
    for rank in (0, 1):
        report = json.loads((runs["straight"] / f"logprobs-{rank}.json").read_text())
        print(f"rank {rank}: {report}")
        assert report["tokens"] > 0
        assert report["max_diff"] < 1e-4  # engine vs Hugging Face re-scoring, fp32
        assert report["moved"] > 1e-3  # and those are not the starting weights


def test_a_resumed_run_equals_an_uninterrupted_one(runs: dict[str, Path]) -> None:
    straight = read_metrics(runs["straight"] / "metrics.jsonl")
    resumed = read_metrics(runs["resumed"] / "metrics.jsonl")
    assert [r["iteration"] for r in resumed] == [1, 2]
    assert _comparable(resumed) == _comparable(straight)
