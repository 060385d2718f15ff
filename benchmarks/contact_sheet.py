"""A contact sheet of image pairs of every kind (original, modified, difference), so a person can judge them.

    python benchmarks/contact_sheet.py                        # -> docs/img/contact_sheet.png
    python benchmarks/contact_sheet.py --photos DIR --out sheet.png

Each kind shows the first pairs `vz-spy data KIND --seed 23` writes (a seed whose first four show every
chart type and photo edit); photos come from --photos DIR or from
scikit-image's sample photos (the `photos` extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vz_env.data import resolve_source
from vz_env.data.base import ImagePair, ImageSource
from vz_env.data.writer import pair_seed
from vz_spy.options import parse_size

KINDS = ("clevr", "charts", "photos")
GAP = 6
CAPTION = 22
BACKGROUND = (245, 245, 245)


def describe(change: dict[str, Any]) -> str:
    """One short line for a change record of any kind."""
    if "box" in change:
        extra = {k: v for k, v in change.items() if k not in ("op", "box")}
        return f"{change['op']} box {change['box']}" + "".join(f" {k}={v}" for k, v in extra.items())
    subject = f"object {change['object']}" if "object" in change else change.get("item", "?")
    if "series" in change:
        subject = f"{change['series']} {subject}"
    return f"{subject} {change['attribute']}: {change['before']} -> {change['after']}"


def difference(pair: ImagePair) -> np.ndarray:
    """Where the images differ, amplified, dark on white."""
    diff = np.abs(pair.original.astype(np.int16) - pair.modified).max(axis=2)
    return np.repeat((255 - np.clip(diff * 3, 0, 255)).astype(np.uint8)[..., None], 3, axis=2)


def sheet(rows: list[tuple[str, ImagePair]], size: tuple[int, int]) -> Image.Image:
    """One row per pair: original, modified, difference, with the kind and changes as a caption."""
    width, height = size
    font = ImageFont.load_default(size=13)
    out = Image.new("RGB", (3 * width + 4 * GAP, len(rows) * (height + CAPTION + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(out)
    for k, (kind, pair) in enumerate(rows):
        top = GAP + k * (height + CAPTION + GAP)
        caption = f"{kind}: " + "; ".join(describe(c) for c in pair.changes)
        draw.text((GAP, top + 4), caption, fill=(30, 30, 30), font=font)
        for column, image in enumerate((pair.original, pair.modified, difference(pair))):
            out.paste(Image.fromarray(image), (GAP + column * (width + GAP), top + CAPTION))
    return out


def make_source(kind: str, photos_dir: Path | None) -> ImageSource:
    if kind != "photos":
        return resolve_source(kind)
    from vz_env.data.photos import PhotoEditSource, sample_photos

    return PhotoEditSource(photos_dir if photos_dir else sample_photos())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/contact_sheet.png"))
    parser.add_argument("--pairs", type=int, default=4, help="pairs per kind (default 4)")
    parser.add_argument(
        "--seed", type=int, default=23, help="run seed, as in vz-spy data --seed (default 23)"
    )
    parser.add_argument("--size", type=parse_size, default=(320, 240))
    parser.add_argument("--photos", type=Path, metavar="DIR", help="photos (default: scikit-image samples)")
    args = parser.parse_args()
    rows = []
    for kind in KINDS:
        source = make_source(kind, args.photos)
        rows += [(kind, source.pair(pair_seed(args.seed, i), args.size)) for i in range(args.pairs)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet(rows, args.size).save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(rows)} pairs)")


if __name__ == "__main__":
    main()
