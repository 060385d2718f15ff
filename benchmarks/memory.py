"""Peak memory of one training iteration: LoRA with the adapters-off reference vs a separate reference copy.

A Qwen2.5-VL with random weights (274M parameters by default) is built from the tiny VLM's config and
processor. Each variant then runs one Iterative-SPO iteration (rollout, reference scoring, update)
through `algorithms.run.train` in its own subprocess and reports its peak resident set size. The model is
wide and shallow and completions are scored one per forward pass (`score_chunk` 1), so that weights, not
activations, dominate. The ratio compares the memory each variant adds on top of the Python/torch runtime
(peak RSS minus the RSS after imports); total peaks are printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

VARIANTS = ("disable-adapter", "copy")
HEAD_DIM = 128
RUN_SETTINGS: dict[str, Any] = {
    "trainer": {
        "iterations": 2,
        "games_per_iter": 1,
        "group_size": 2,
        "max_new_tokens": 8,
        "score_chunk": 1,
        "checkpoint_every": 10,
    },
    "env": {"image_size": [160, 120]},
}
# glibc raises its mmap threshold after large frees and then keeps freed tensors in the heap, so RSS would
# track the allocator's history rather than live memory; a fixed threshold returns large blocks at once.
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "OMP_NUM_THREADS": "2"}


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB, from /proc on Linux."""
    # VmHWM belongs to this process image; Linux's ru_maxrss keeps the parent's size across fork and exec.
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
        1024 * 1024 if sys.platform == "darwin" else 1024
    )
    return peak, peak


def build_model(folder: Path, hidden: int, layers: int, intermediate: int) -> int:
    """Save a Qwen2.5-VL of this text size with the tiny test model's vision tower; returns the size."""
    import dataclasses

    from agents.tiny_vlm import TINY_SIZES, new_qwen2_5_vl

    heads = hidden // HEAD_DIM
    size = dataclasses.replace(
        TINY_SIZES["test"],
        text_hidden=hidden,
        text_layers=layers,
        text_heads=heads,
        text_kv_heads=2 if heads % 2 == 0 else 1,
        text_intermediate=intermediate,
        head_dim=HEAD_DIM,
    )
    model, processor = new_qwen2_5_vl(0, size)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def measure(model: Path, reference: str, out: Path) -> dict[str, float]:
    """One training iteration with this reference variant, in this process; memory in MiB."""
    import accelerate  # noqa: F401  (the libraries' code counts as runtime, not as training memory)
    import peft  # noqa: F401
    import transformers.models.qwen2_5_vl.modeling_qwen2_5_vl  # noqa: F401

    import agents.hf_vlm  # noqa: F401
    import algorithms.trainer  # noqa: F401
    from algorithms.run import run_config, train
    from algorithms.train_config import SPOConfig

    runtime, _ = rss_mib()
    trainer = SPOConfig.from_dict({**RUN_SETTINGS["trainer"], "reference": reference})
    config = run_config("iterative-spo", str(model), trainer, RUN_SETTINGS["env"])
    rows = train(out, config, stop_after=1)
    _, peak = rss_mib()
    return {
        "runtime_mib": runtime,
        "peak_mib": peak,
        "added_mib": peak - runtime,
        "seconds": rows[0]["seconds_total"],
    }


def child(*args: str) -> Any:
    """Run this script with `args` in a fresh process and return the JSON it prints last."""
    command = [sys.executable, __file__, *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **CHILD_ENV}, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hidden", type=int, default=2048, help=f"text hidden size, a multiple of {HEAD_DIM}"
    )
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--intermediate", type=int, default=5632)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build_model(Path(args.build), args.hidden, args.layers, args.intermediate)))
        return
    if args.measure:
        print(json.dumps(measure(Path(args.model), args.measure, Path(args.out))))
        return
    with tempfile.TemporaryDirectory(prefix="vz-memory-") as tmp:
        model = Path(tmp) / "model"
        sizes = (
            "--hidden",
            str(args.hidden),
            "--layers",
            str(args.layers),
            "--intermediate",
            str(args.intermediate),
        )
        parameters = child("--build", str(model), *sizes)
        print(f"model: Qwen2.5-VL, random weights, {parameters / 1e6:.1f}M parameters, fp32 on the CPU")
        results = {}
        for variant in VARIANTS:
            results[variant] = r = child(
                "--measure", variant, "--model", str(model), "--out", f"{tmp}/{variant}"
            )
            print(
                f"reference={variant:16s} peak RSS {r['peak_mib']:6.0f} MiB"
                f"  runtime {r['runtime_mib']:5.0f} MiB  training adds {r['added_mib']:5.0f} MiB"
                f"  ({r['seconds']:.0f} s)"
            )
    shared, copy = results["disable-adapter"], results["copy"]
    print(f"ratio of total peaks: {shared['peak_mib'] / copy['peak_mib']:.2f}")
    print(f"ratio: {shared['added_mib'] / copy['added_mib']:.2f}")


if __name__ == "__main__":
    main()
