"""FSDP2's memory settings on two CPU processes (gloo): bf16 mixed precision, activation checkpointing, CPU
offload, each one iteration on the same samples as fp32 (tests/fsdp_settings_driver.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("fsdp_settings_driver.py")
FSDP2_YAML = DRIVER.parents[1] / "examples" / "accelerate" / "fsdp2.yaml"
# bf16 keeps 8 significant bits (0.4% per rounding); the loss agrees to well within 1% (measured: 0.04%).
BF16_TOLERANCE = 1e-2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def results(tiny_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("fsdp-settings") / "results.json"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP2_YAML)]
    command += ["--num_processes", "2", "--mixed_precision", "no", "--main_process_port", str(_free_port())]
    command += [str(DRIVER), tiny_dirs["qwen2_5_vl"], str(out)]
    root = str(DRIVER.parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": root}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_every_setting_trains_in_step_across_processes(results: dict[str, dict]) -> None:
    assert set(results) == {"fp32", "bf16", "recompute", "offload"}
    for row in results.values():
        assert row["finite"] and not row["skipped"] and row["state_spread"] == 0.0, row
    assert results["fp32"]["loss"] != 0.0


@pytest.mark.slow
def test_bf16_mixed_precision_gives_the_fp32_loss_within_bf16_tolerance(results: dict[str, dict]) -> None:
    fp32, bf16 = results["fp32"]["loss"], results["bf16"]["loss"]
    print(f"loss fp32 {fp32:.6f}, bf16 {bf16:.6f}")
    assert bf16 == pytest.approx(fp32, rel=BF16_TOLERANCE, abs=BF16_TOLERANCE)


@pytest.mark.slow
def test_activation_checkpointing_recomputes_every_block_and_keeps_the_loss(results: dict[str, dict]) -> None:
    row = results["recompute"]
    # Every block of every gradient pass of both epochs ran under checkpoint; no-gradient passes did not.
    assert row["checkpointed"] >= 2 * row["blocks"] > 0 and row["checkpointed"] % row["blocks"] == 0
    assert results["fp32"]["checkpointed"] == 0
    assert row["loss"] == pytest.approx(results["fp32"]["loss"], rel=1e-6, abs=1e-7)


@pytest.mark.slow
def test_cpu_offload_keeps_the_loss(results: dict[str, dict]) -> None:
    assert results["offload"]["loss"] == pytest.approx(results["fp32"]["loss"], rel=1e-6, abs=1e-7)
