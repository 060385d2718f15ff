"""benchmarks/gpu_check.py in its --dry-run mode (tiny sizes on the CPU), so the GPU script cannot rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
STEPS = [
    "build + save",
    "generate: HF lock-step",
    "generate: vLLM",
    "train: LoRA",
    "train: LoRA + vLLM",
    "train: full FT (+ref copy)",
    "train: full FT (+ref copy) + vLLM",
]


@pytest.mark.slow
def test_dry_run_measures_every_step_of_every_size(tiny_dirs: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    command = [sys.executable, str(SCRIPT), "--dry-run", "--tokenizer-from", tiny_dirs["qwen2_5_vl"]]
    command += ["--json", str(out), "--workdir", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, cwd=SCRIPT.parents[1]
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [(r["size"], r["step"]) for r in rows] == [
        (s, step) for s in ("tiny-a", "tiny-b") for step in STEPS
    ]
    for row in rows:
        if "vLLM" in row["step"] and row["seconds"] is None:
            assert row["note"] == "vllm not installed"
            continue
        assert row["seconds"] is not None and row["seconds"] > 0, row
        assert "skipped" not in row["note"] and "out of" not in row["note"]
    generation = [r for r in rows if r["step"] == "generate: HF lock-step"]
    assert all(r["tokens_per_s"] > 0 for r in generation)
    assert "train: full FT (+ref copy)" in done.stdout and "tok/s" in done.stdout  # the table is printed
    assert list(tmp_path.iterdir()) == [out]  # model folders are removed


def test_dry_run_refuses_unknown_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--sizes", "70b"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "unknown size(s) 70b" in done.stderr
