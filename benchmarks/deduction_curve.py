"""The training phases' curve of a tiny VLM build: held-out odd-clue accuracy per form, by step.

Reads the curve from a finished model's stamp (default: the shipped model) or from a build's work folder
while it runs (its checkpoints), and prints one row per check: step (each phase's counted on from the
earlier phases'), stage, and the held-out accuracy of each form (the likeliest listed number is the
spy; chance about 0.33 at four players), of real games' votes (`play`) and, in the compare phase, of the
current form's colour-only rows.

    python benchmarks/deduction_curve.py [MODEL_DIR | BUILD_DIR.build]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tiny_vlm.build import (
    CHECKPOINT,
    COMPARE_CHECKPOINT,
    COMPARE_MODEL,
    DEDUCTION_MODEL,
    PLAY_CHECKPOINT,
    joined_curve,
    trained_steps,
)
from tiny_vlm.deduction import STAGES
from tiny_vlm.odd_clues import FORMS
from tiny_vlm.shipped import WEIGHTS
from tiny_vlm.stamp import read_stamp


def read_curve(folder: Path) -> tuple[list[dict[str, Any]], str]:
    """The curve and a line saying where it came from and how long the build took."""
    import torch

    phases = ((PLAY_CHECKPOINT, COMPARE_MODEL), (COMPARE_CHECKPOINT, DEDUCTION_MODEL), (CHECKPOINT, None))
    for name, before in phases:
        if (folder / name).is_file():
            checkpoint = torch.load(folder / name, weights_only=False)
            spent = checkpoint["spent"]
            note = f"{name} at step {checkpoint['step']}: {spent['wall_s'] / 3600:.2f} h wall"
            curve = checkpoint["curriculum"]["curve"]
            if before is None:
                return curve, note
            earlier = read_stamp(folder / before) or {}
            return joined_curve(earlier.get("curve", []), curve, trained_steps(earlier)), note
    stamp = read_stamp(folder)
    if stamp is None or "curve" not in stamp:
        raise SystemExit(f"{folder} holds neither a build checkpoint nor a stamped recipe build")
    note = (
        f"{stamp['version']}: {stamp['wall_hours']} h wall, {stamp['cpu_hours']} h CPU; {stamp['hardware']}"
    )
    return stamp["curve"], note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(WEIGHTS), help="model or build folder")
    args = parser.parse_args()
    curve, note = read_curve(Path(args.folder))
    print(note)
    columns = [*STAGES, *(f"{form} colour-only" for form in FORMS)]
    print(f"{'step':>5}  {'stage':6}" + "".join(f"  {name:>6}" for name in columns))
    for point in curve:
        cells = "".join(f"  {point[n]:6.3f}" if n in point else f"  {'':6}" for n in columns)
        print(f"{point['step']:5d}  {point['stage']:6}{cells}")


if __name__ == "__main__":
    main()
