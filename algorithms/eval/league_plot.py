"""A league's ratings with their 95% intervals as a PNG, best policy on top."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vz_env.atomic import atomic_write_bytes


def plot_ratings(summary: Mapping[str, Any], out: str | Path) -> Path:
    """Draw `summarize`'s ratings (points) and bootstrap intervals (bars) into `out` and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(reversed(summary["policies"]))  # barh draws bottom-up: the best policy ends on top
    ratings = [row["rating"] for row in rows]
    low = [row["rating"] - row["ci95"][0] for row in rows]
    high = [row["ci95"][1] - row["rating"] for row in rows]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(rows)))
    ax.errorbar(ratings, range(len(rows)), xerr=[low, high], fmt="o", capsize=4)
    ax.set_yticks(range(len(rows)), [row["policy"] for row in rows])
    ax.set_xlabel("rating (Bradley-Terry, Elo scale) with 95% bootstrap interval")
    ax.set_title(f"league of {len(rows)} policies, {summary['games']} games")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return atomic_write_bytes(Path(out), buffer.getvalue())
