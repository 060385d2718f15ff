"""Pictures in a true-colour terminal: two pixel rows per character cell with the upper-half block."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


def fit_width(image: np.ndarray, columns: int) -> np.ndarray:
    """Resize so the picture is `columns` cells wide (two pixel rows per cell, so the aspect ratio holds)."""
    height, width = image.shape[:2]
    rows = max(2, round(height * columns / width / 2) * 2)
    return np.asarray(Image.fromarray(image).resize((columns, rows), Image.Resampling.BOX))


def rich_image(image: np.ndarray, columns: int = 64) -> Any:
    """A rich renderable of the picture (rich is imported here so the env stays light)."""
    from rich.text import Text

    small = fit_width(image, columns)
    text = Text()
    for row, (top, bottom) in enumerate(zip(small[0::2], small[1::2])):
        if row:
            text.append("\n")
        for t, b in zip(top, bottom):
            text.append("▀", style=f"rgb({t[0]},{t[1]},{t[2]}) on rgb({b[0]},{b[1]},{b[2]})")
    return text
