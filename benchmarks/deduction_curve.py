"""The training phases' curve of a tiny VLM build: held-out odd-clue accuracy per form, by step.

Reads the curve from a finished model's stamp (default: the shipped model) or from a build's work folder
while it runs (its checkpoints), and prints one row per check: step (the play phase's counted on from the
deduction phase's), stage, and the held-out accuracy of each form (the likeliest listed number is the
spy; chance about 0.33 at four players) and of real games' votes (`play`).

    python benchmarks/deduction_curve.py [MODEL_DIR | BUILD_DIR.build]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tiny_vlm.build import CHECKPOINT, DEDUCTION_MODEL, PLAY_CHECKPOINT, joined_curve
from tiny_vlm.deduction import STAGES
from tiny_vlm.shipped import WEIGHTS
from tiny_vlm.stamp import read_stamp


def read_curve(folder: Path) -> tuple[list[dict[str, Any]], str]:
    """The curve and a line saying where it came from and how long the build took."""
    import torch

    for name, phase in ((PLAY_CHECKPOINT, "play"), (CHECKPOINT, "deduction")):
        if (folder / name).is_file():
            checkpoint = torch.load(folder / name, weights_only=False)
            spent = checkpoint["spent"]
            note = f"{phase} checkpoint at step {checkpoint['step']}: {spent['wall_s'] / 3600:.2f} h wall"
            curve = checkpoint["curriculum"]["curve"]
            if phase == "deduction":
                return curve, note
            earlier = read_stamp(folder / DEDUCTION_MODEL) or {}
            return joined_curve(earlier.get("curve", []), curve, earlier["steps"]["deduction"]), note
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
    print(f"{'step':>5}  {'stage':6}" + "".join(f"  {name:>6}" for name in STAGES))
    for point in curve:
        cells = "".join(f"  {point[n]:6.3f}" if n in point else f"  {'':6}" for n in STAGES)
        print(f"{point['step']:5d}  {point['stage']:6}{cells}")


if __name__ == "__main__":
    main()
