"""Training curves from RUN_DIR/metrics.jsonl to a PNG, with clue-stage iterations shaded."""

from __future__ import annotations

from pathlib import Path

from algorithms.metrics import read_metrics, stages_trained
from vz_env.atomic import atomic_write_bytes
from vz_env.turn import Phase

PANELS = (
    ("rewards by role", ("reward_spy", "reward_civilian", "reward_decision")),
    ("decisions", ("decision_accuracy", "na_rate", "invalid_vote_rate")),
    ("KL to reference", ("kl",)),
    ("loss", ("loss", "pg_loss")),
)


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's curves into `out` (default RUN_DIR/curves.png) and return its path."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir / "metrics.jsonl")
    if not rows:
        raise ValueError(f"{run_dir} has no metrics.jsonl rows to plot")
    x = [row["iteration"] for row in rows]
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(7, 2.2 * len(PANELS)), sharex=True)
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            ax.plot(
                x, [row.get(key) if row.get(key) is not None else float("nan") for row in rows], label=key
            )
        for row, stage in zip(rows, stages_trained(rows), strict=True):
            if stage == Phase.CLUE:
                ax.axvspan(
                    row["iteration"] - 0.5, row["iteration"] + 0.5, color="tab:orange", alpha=0.12, lw=0
                )
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("iteration (shaded: clue stage)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(Path(out) if out else run_dir / "curves.png", buffer.getvalue())
