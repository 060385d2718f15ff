"""Two CPU processes under `accelerate launch` (DDP over gloo) train as one: same weights, baselines, EMAs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from algorithms.metrics import read_metrics

ITERATIONS = 2
GAMES_PER_ITER = 1
PLAYERS, ROUNDS = 4, 2
LEARNING_RATE = 1e-3
RUN_CONFIG = {
    "algo": "iterative-spo",
    # Start in the clue stage with a clue format term: the untrained tiny model's clues are all malformed,
    # so the format term gives every sample a non-zero advantage (the baselines start at 0) and each process
    # a different, non-zero gradient to synchronise.
    "trainer": {
        "iterations": ITERATIONS,
        "games_per_iter": GAMES_PER_ITER,
        "group_size": 2,
        "max_new_tokens": 8,
        "learning_rate": LEARNING_RATE,
        "warmup_ratio": 0.0,
        "lr_schedule": "cosine",
        "start_stage": "clue",
        "min_stage_iters": 1,
        "score_chunk": 3,
        "checkpoint_every": 1,
    },
    "env": {
        "image_size": [160, 120],
        "num_players": PLAYERS,
        "num_rounds": ROUNDS,
        "clue_format_weight": 0.3,
    },
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 2-process training run (the expensive part), shared by the checks below."""
    root = tmp_path_factory.mktemp("ddp")
    config = root / "config.json"
    from agents.tiny_vlm import default_model_path

    # The random-weight tiny VLM, built here once (not the pretrained default, which takes minutes).
    config.write_text(json.dumps({**RUN_CONFIG, "model": str(default_model_path())}))
    out = root / "run"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "vz_spy",
        "train",
        "--out",
        str(out),
        "--config",
        str(config),
        "--no-plot",
        "--versus-games",
        "0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_two_processes_complete_and_only_main_writes(run_dir: Path) -> None:
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == list(range(1, ITERATIONS + 1))
    assert (run_dir / "config.json").exists()
    assert [p.name for p in run_dir.glob("checkpoint-*")] == [f"checkpoint-{ITERATIONS}"]


@pytest.mark.slow
def test_processes_agree_on_weights_baselines_and_emas(run_dir: Path) -> None:
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert all(r["world_size"] == 2 for r in rows)
    assert all(r["state_spread"] == 0.0 for r in rows)
    assert rows[0]["stage"] == "clue" and rows[0]["loss"] != 0.0  # a real gradient was synchronised
    assert rows[1]["kl"] > 0.0  # and it moved the weights away from the reference


@pytest.mark.slow
def test_metrics_pool_both_processes_and_lr_steps_once_per_iteration(run_dir: Path) -> None:
    first = read_metrics(run_dir / "metrics.jsonl")[0]
    assert first["trained_samples"] == 2 * GAMES_PER_ITER * PLAYERS * ROUNDS
    assert first["lr"] == pytest.approx(LEARNING_RATE / 2)  # cosine over 2 iterations, after 1 step


def _end_one_of_two(rank: int, store: str) -> None:
    import torch.distributed as dist

    from algorithms.distributed import end_processes

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    end_processes()
    assert not dist.is_initialized()
    end_processes()  # nothing left to end: a no-op


def test_ending_a_run_destroys_a_multi_process_group_and_leaves_a_one_process_group(tmp_path: Path) -> None:
    import torch.distributed as dist
    import torch.multiprocessing

    from algorithms.distributed import end_processes

    torch.multiprocessing.spawn(_end_one_of_two, args=(str(tmp_path / "two"),), nprocs=2)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'one'}", rank=0, world_size=1)
    try:
        end_processes()
        assert dist.is_initialized()  # its owner's to end
    finally:
        dist.destroy_process_group()
