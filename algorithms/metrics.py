"""Per-iteration metrics: one JSON line each in RUN_DIR/metrics.jsonl, and TensorBoard when installed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vz_env.atomic import atomic_write_text

TIMING_KEYS = ("seconds_rollout", "seconds_scoring", "seconds_update", "seconds_total")


class MetricsLog:
    """Appends one line per iteration; on resume it first drops lines past the checkpoint's iteration."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self._tb = _tensorboard_writer(Path(run_dir) / "tensorboard") if tensorboard else None

    def truncate(self, iterations: int) -> None:
        """Keep only the lines of iterations 1..`iterations` (what the checkpoint being resumed has seen)."""
        kept = [row for row in read_metrics(self.path) if row["iteration"] <= iterations]
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


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl (an empty list when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and inf are not JSON: they are written as null (and the row says the update was skipped)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
