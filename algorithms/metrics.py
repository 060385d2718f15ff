"""Per-iteration metrics: one JSON line each in RUN_DIR/metrics.jsonl, and TensorBoard when installed."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vz_env.atomic import atomic_write_text
from vz_env.settings import named
from vz_env.turn import Phase

if TYPE_CHECKING:
    import torch

TIMING_KEYS = ("seconds_rollout", "seconds_scoring", "seconds_update", "seconds_total")


class MetricsLog:
    """Appends one line per iteration; on resume it first drops lines past the checkpoint's iteration."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self._tb = _tensorboard_writer(Path(run_dir) / "tensorboard") if tensorboard else None

    def truncate(self, iterations: int) -> None:
        """Keep only the lines of iterations 1..`iterations` (what the checkpoint being resumed has seen)."""
        rows = read_metrics(self.path, drop_partial_last=True)
        kept = [row for row in rows if row["iteration"] <= iterations]
        atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in kept))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(_finite(row)) + "\n")
        if self._tb is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, row["iteration"])
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path, drop_partial_last: bool = False) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl (an empty list when it does not exist yet).

    A line that is not a JSON object is a ValueError naming the file and the line, except, with
    `drop_partial_last`, a last line cut short by a killed run, which is left out.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if drop_partial_last and number == len(lines):
                break
            raise ValueError(
                f"{path} line {number} is not valid JSON ({err.msg}); was the run killed?"
            ) from None
        if not isinstance(row, dict) or "iteration" not in row:
            raise ValueError(f"{path} line {number} is not a metrics row")
        rows.append(row)
    return rows


def stages_trained(rows: list[dict[str, Any]]) -> list[Phase]:
    """The stage each metrics row trained, read back from the name the row keeps for old runs and plots."""
    return [named(Phase, row["stage"]) for row in rows]


def pool_across_processes(
    metrics: dict[str, Any], gather: Callable[[torch.Tensor], torch.Tensor]
) -> dict[str, Any]:
    """The metrics over every process: ints (counts) summed, floats averaged, anything else kept as it is.

    The keys come from the row itself, so a new metric is pooled without being listed anywhere. `gather`
    takes this process's [1, K] float64 tensor and returns the [P, K] stack of every process's (a collective:
    every process calls it, with the same keys, which rows built by the same code have).
    """
    import torch

    keys = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    if not keys:
        return dict(metrics)
    local = torch.tensor([[float(metrics[k]) for k in keys]], dtype=torch.float64)
    stacked = gather(local).to(torch.float64)
    sums, means = stacked.sum(0).tolist(), stacked.mean(0).tolist()
    pooled = {k: int(sums[i]) if isinstance(metrics[k], int) else means[i] for i, k in enumerate(keys)}
    return {k: pooled.get(k, v) for k, v in metrics.items()}


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and inf are not JSON: they are written as null (and the row says the update was skipped)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
