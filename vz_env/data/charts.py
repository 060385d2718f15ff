"""Bar, line and pie chart pairs drawn with PIL, so chart games cost milliseconds and no plotting library."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vz_env.data.base import ImagePair
from vz_env.data.check import is_identical

CHART_TYPES = ("bar", "line", "pie")
EDIT_OPS = ("swap_values", "change_values", "swap_colors", "change_colors", "change_labels")

PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (31, 119, 180),
    "orange": (255, 127, 14),
    "green": (44, 160, 44),
    "red": (214, 39, 40),
    "purple": (148, 103, 189),
    "brown": (140, 86, 75),
    "pink": (227, 119, 194),
    "gray": (127, 127, 127),
    "olive": (188, 189, 34),
    "cyan": (23, 190, 207),
}

X_POINTS: dict[str, list[str]] = {
    "month": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "year": [str(y) for y in range(2012, 2025)],
    "quarter": ["Q1 22", "Q2 22", "Q3 22", "Q4 22", "Q1 23", "Q2 23", "Q3 23", "Q4 23"],
}


class Theme(NamedTuple):
    """What a chart is about: its titles, the names of its items and, for line charts, the x axis."""

    title: str
    x_label: str
    y_label: str
    names: tuple[str, ...]
    x_points: str


THEMES: tuple[Theme, ...] = (
    Theme(
        "Fruit sales",
        "Fruit",
        "Boxes sold",
        ("Apples", "Pears", "Plums", "Grapes", "Lemons", "Cherries", "Figs", "Kiwis", "Mangos"),
        "month",
    ),
    Theme(
        "Museum visitors",
        "Museum",
        "Visitors (k)",
        ("Louvre", "Prado", "Uffizi", "Tate", "MoMA", "Met", "Orsay", "Rijks"),
        "year",
    ),
    Theme(
        "Energy mix",
        "Source",
        "Share (%)",
        ("Solar", "Wind", "Hydro", "Gas", "Coal", "Nuclear", "Biomass", "Oil"),
        "year",
    ),
    Theme(
        "League points",
        "Team",
        "Points",
        ("Foxes", "Owls", "Bears", "Wolves", "Hawks", "Lions", "Sharks", "Eagles"),
        "month",
    ),
    Theme(
        "Rainfall",
        "City",
        "Rain (mm)",
        ("Oslo", "Lima", "Pune", "Cairo", "Perth", "Quito", "Accra", "Hanoi", "Rome"),
        "month",
    ),
    Theme(
        "Book sales",
        "Genre",
        "Copies (k)",
        ("Fantasy", "Crime", "Poetry", "History", "Travel", "Science", "Comics", "Cooking"),
        "quarter",
    ),
    Theme(
        "Website traffic",
        "Channel",
        "Sessions (k)",
        ("Search", "Email", "Social", "Direct", "Ads", "Video", "Partners", "Podcasts"),
        "quarter",
    ),
)

SUPERSAMPLE = 2
WHITE = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)


class ChartSource:
    """Image pairs of a generated chart and the same chart re-drawn with two values or attributes changed."""

    name = "charts"

    def __init__(self, types: tuple[str, ...] = CHART_TYPES, ops: tuple[str, ...] = EDIT_OPS) -> None:
        unknown = sorted(set(types) - set(CHART_TYPES)) + sorted(set(ops) - set(EDIT_OPS))
        if unknown or not types or not ops:
            raise ValueError(
                f"ChartSource takes types from {CHART_TYPES} and ops from {EDIT_OPS}, "
                f"got {types!r} and {ops!r}"
            )
        self.types = tuple(types)
        self.ops = tuple(ops)

    def __repr__(self) -> str:
        return f"ChartSource(types={self.types!r}, ops={self.ops!r})"

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        """The chart pair for `seed`, drawn at `size` (width, height); the same seed gives the same pair."""
        rng = np.random.default_rng(seed)
        record = random_chart(rng, self.types[int(rng.integers(len(self.types)))])
        original = draw_chart(record, size)
        ops = [self.ops[int(i)] for i in rng.permutation(len(self.ops))]
        for op in ops:
            changes, modified_record = edit_chart(rng, record, op)
            modified = draw_chart(modified_record, size)
            if not is_identical(original, modified):
                break
        meta = {"kind": self.name, "seed": seed, "original_scene": record, "modified_scene": modified_record}
        return ImagePair(original, modified, tuple(changes), meta)


def random_chart(rng: np.random.Generator, chart_type: str) -> dict[str, Any]:
    """A chart record (type, title, labels, values, colours, ...) filled with random but plausible data."""
    theme = THEMES[int(rng.integers(len(THEMES)))]
    colors = [str(c) for c in rng.permutation(list(PALETTE))]
    if chart_type == "pie":
        n = int(rng.integers(3, 7))
        return {
            "type": "pie",
            "title": theme.title,
            "labels": _pick(rng, theme.names, n),
            "values": _shares(rng, n),
            "colors": colors[:n],
        }
    if chart_type == "bar":
        n = int(rng.integers(3, 7))
        values = [int(v) for v in rng.choice(np.arange(10, 96, 5), size=n, replace=False)]
        return {
            "type": "bar",
            "title": theme.title,
            "x_label": theme.x_label,
            "y_label": theme.y_label,
            "labels": _pick(rng, theme.names, n),
            "values": values,
            "colors": colors[:n],
            "axis_max": 100,
        }
    n_series = int(rng.integers(2, 4))
    n_points = int(rng.integers(5, 9))
    points = X_POINTS[theme.x_points]
    start = int(rng.integers(len(points) - n_points + 1))
    values = [[int(v) for v in rng.integers(2, 19, size=n_points) * 5] for _ in range(n_series)]
    return {
        "type": "line",
        "title": f"{theme.title} by {theme.x_points}",
        "x_label": theme.x_points.capitalize(),
        "y_label": theme.y_label,
        "labels": points[start : start + n_points],
        "series": _pick(rng, theme.names, n_series),
        "values": values,
        "colors": colors[:n_series],
        "axis_max": 100,
    }


def edit_chart(
    rng: np.random.Generator, record: dict[str, Any], op: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply `op` to two items of a chart record; return the two change records and the edited copy."""
    new = copy.deepcopy(record)
    line = record["type"] == "line"
    if op in ("swap_values", "change_values"):
        series = int(rng.integers(len(record["values"]))) if line else None
        values = new["values"][series] if line else new["values"]
        i, j = _value_pair(rng, values, op)
        before = [values[i], values[j]]
        after = _new_values(rng, record, values, i, j) if op == "change_values" else [values[j], values[i]]
        values[i], values[j] = after
        return [
            _value_change(op, record, series, k, b, a) for k, b, a in zip((i, j), before, after, strict=True)
        ], new
    names = record["series"] if line else record["labels"]
    i, j = (int(k) for k in rng.choice(len(names), size=2, replace=False))
    key, attribute = (
        ("colors", "color")
        if op in ("swap_colors", "change_colors")
        else ("series" if line else "labels", "label")
    )
    if op == "swap_colors":
        new["colors"][i], new["colors"][j] = record["colors"][j], record["colors"][i]
    else:
        pool = list(PALETTE) if attribute == "color" else _theme_names(names)
        unused = [name for name in pool if name not in record[key]]
        new[key][i], new[key][j] = (str(c) for c in rng.choice(unused, size=2, replace=False))
    changes = [
        {
            "op": op,
            "item": names[k],
            "index": k,
            "attribute": attribute,
            "before": record[key][k],
            "after": new[key][k],
        }
        for k in (i, j)
    ]
    return changes, new


def draw_chart(record: dict[str, Any], size: tuple[int, int]) -> np.ndarray:
    """Render a chart record as a uint8 HxWx3 array of `size` (width, height)."""
    width, height = size
    img = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), WHITE)
    canvas = _Canvas(img)
    canvas.text((img.width / 2, canvas.unit * 3), record["title"], canvas.title_font, "ma")
    plot_right = canvas.legend(record)
    if record["type"] == "pie":
        canvas.pie(record, plot_right)
    else:
        canvas.axes_chart(record, plot_right)
    return np.asarray(img.reduce(SUPERSAMPLE))


class _Canvas:
    """Layout and drawing helpers for one supersampled chart image (sizes scale with the image)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.width, self.height = image.size
        self.unit = max(min(self.width / 320, self.height / 240), 0.05)
        self.title_font = max(1, round(13 * self.unit))
        self.font = max(1, round(10 * self.unit))
        self.small_font = max(1, round(9 * self.unit))
        self.top = self.unit * 22

    def text(
        self, xy: tuple[float, float], text: str, font: int, anchor: str, fill: tuple[int, int, int] = INK
    ) -> None:
        """Stamp `text` in the font of pixel size `font`, placed by a PIL text anchor ("ma", "lm", ...)."""
        mask, left, top = _text_mask(text, font, anchor)
        self.image.paste(fill, (round(xy[0]) + left, round(xy[1]) + top), mask)

    def legend(self, record: dict[str, Any]) -> float:
        """Draw the legend down the right side; return where the plot area must end."""
        u = self.unit
        left = self.width * 0.74
        names = record["series"] if record["type"] == "line" else record["labels"]
        y = self.top + 6 * u
        for name, color in zip(names, record["colors"], strict=True):
            rgb = PALETTE[color]
            if record["type"] == "line":
                self.draw.line([(left, y), (left + 12 * u, y)], fill=rgb, width=max(1, round(2 * u)))
            else:
                self.draw.rectangle([left + 2 * u, y - 4 * u, left + 10 * u, y + 4 * u], fill=rgb)
            self.text((left + 15 * u, y), name, self.small_font, "lm")
            y += 14 * u
        return left - 8 * u

    def axes_chart(self, record: dict[str, Any], right: float) -> None:
        """Bar or line chart with y ticks, grid lines, axis titles and (for lines) x tick labels."""
        u = self.unit
        axis_max = record["axis_max"]
        step = axis_max // 4
        left = _text_mask(str(axis_max), self.small_font, "ls")[0].width + 8 * u
        top = self.top + 12 * u
        bottom = self.height - (30 if record["type"] == "line" else 19) * u
        self.text((left - 4 * u, top - 5 * u), record["y_label"], self.small_font, "ld")
        self.text(((left + right) / 2, self.height - 2 * u), record["x_label"], self.font, "md")

        def y_of(value: float) -> float:
            return bottom - (bottom - top) * value / axis_max

        for tick in range(0, axis_max + 1, step):
            y = y_of(tick)
            self.draw.line([(left, y), (right, y)], fill=GRID, width=max(1, round(u)))
            self.text((left - 3 * u, y), str(tick), self.small_font, "rm")
        if record["type"] == "bar":
            self._bars(record, left, right, y_of)
        else:
            self._lines(record, left, right, bottom, y_of)
        self.draw.line([(left, top), (left, bottom), (right, bottom)], fill=INK, width=max(1, round(u)))

    def _bars(self, record: dict[str, Any], left: float, right: float, y_of: Any) -> None:
        slot = (right - left) / len(record["values"])
        for k, (value, color) in enumerate(zip(record["values"], record["colors"], strict=True)):
            x0 = left + slot * (k + 0.2)
            x1 = left + slot * (k + 0.8)
            self.draw.rectangle([x0, y_of(value), x1, y_of(0)], fill=PALETTE[color])
            self.text(((x0 + x1) / 2, y_of(value) - 2 * self.unit), str(value), self.small_font, "md")

    def _lines(self, record: dict[str, Any], left: float, right: float, bottom: float, y_of: Any) -> None:
        u = self.unit
        n = len(record["labels"])
        slot = (right - left) / n
        xs = [left + slot * (k + 0.5) for k in range(n)]
        for x, label in zip(xs, record["labels"], strict=True):
            self.text((x, bottom + 3 * u), label, self.small_font, "ma")
        radius = 2.5 * u
        for values, color in zip(record["values"], record["colors"], strict=True):
            points = [(x, y_of(v)) for x, v in zip(xs, values, strict=True)]
            self.draw.line(points, fill=PALETTE[color], width=max(1, round(2 * u)), joint="curve")
            for x, y in points:
                self.draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=PALETTE[color])

    def pie(self, record: dict[str, Any], right: float) -> None:
        """Pie chart starting at 12 o'clock, clockwise, with percentages on slices big enough to hold them."""
        u = self.unit
        cx, cy = right / 2 + 4 * u, (self.top + self.height) / 2
        radius = max(min(right / 2 - 6 * u, (self.height - self.top) / 2 - 6 * u), u)
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        angle = -90.0
        for value, color in zip(record["values"], record["colors"], strict=True):
            sweep = 360.0 * value / 100
            self.draw.pieslice(
                box, angle, angle + sweep, fill=PALETTE[color], outline=WHITE, width=max(1, round(u))
            )
            if value >= 6:
                mid = math.radians(angle + sweep / 2)
                at = (cx + 0.64 * radius * math.cos(mid), cy + 0.64 * radius * math.sin(mid))
                self.text(at, f"{value}%", self.small_font, "mm", _text_color(PALETTE[color]))
            angle += sweep


@functools.lru_cache(maxsize=4096)
def _text_mask(text: str, size: int, anchor: str) -> tuple[Image.Image, int, int]:
    """A text's rendered mask and its offset from the anchor point, kept: most chart text repeats."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text, anchor=anchor)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)))
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font, anchor=anchor)
    return mask, left, top


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font (Aileron) at a pixel size: no system fonts needed, the same everywhere."""
    return ImageFont.load_default(size=size)


def _text_color(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return INK if luminance > 150 else WHITE


def _pick(rng: np.random.Generator, names: tuple[str, ...], n: int) -> list[str]:
    return [str(names[int(k)]) for k in rng.choice(len(names), size=n, replace=False)]


def _theme_names(names: list[str]) -> tuple[str, ...]:
    """The name pool a chart's labels came from, so a changed label stays on topic."""
    return next(theme.names for theme in THEMES if names[0] in theme.names)


def _shares(rng: np.random.Generator, n: int) -> list[int]:
    """n whole percentages, multiples of 5 and at least 5, summing to 100."""
    cuts = np.sort(rng.choice(np.arange(5, 100, 5), n - 1, replace=False))
    return [int(s) for s in np.diff(np.concatenate([[0], cuts, [100]]))]


def _value_pair(rng: np.random.Generator, values: list[int], op: str) -> tuple[int, int]:
    """Two indices whose swap (or change) is clearly visible: swaps prefer values at least 15 apart."""
    n = len(values)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if op == "swap_values":
        far = [p for p in pairs if abs(values[p[0]] - values[p[1]]) >= 15]
        pairs = far or [p for p in pairs if values[p[0]] != values[p[1]]] or pairs
    else:  # a pie slice gives at least 5 and keeps 5, so one of the two must hold 10 or more
        pairs = [p for p in pairs if max(values[p[0]], values[p[1]]) >= 10]
    i, j = pairs[int(rng.integers(len(pairs)))]
    return (i, j) if rng.random() < 0.5 else (j, i)


def _new_values(
    rng: np.random.Generator, record: dict[str, Any], values: list[int], i: int, j: int
) -> list[int]:
    """New values for items i and j; a pie moves a share between them, so the total stays 100."""
    if record["type"] == "pie":
        donor, taker = (i, j) if values[i] > values[j] else (j, i)
        moved = {donor: -1, taker: 1}
        delta = int(rng.choice(np.arange(5, values[donor], 5)))
        return [values[k] + moved[k] * delta for k in (i, j)]
    choices = [
        np.array([v for v in range(5, record["axis_max"] + 1, 5) if abs(v - values[k]) >= 20]) for k in (i, j)
    ]
    return [int(rng.choice(c)) for c in choices]


def _value_change(
    op: str, record: dict[str, Any], series: int | None, index: int, before: int, after: int
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "op": op,
        "item": record["labels"][index],
        "index": index,
        "attribute": "value",
        "before": before,
        "after": after,
    }
    if series is not None:
        change["series"] = record["series"][series]
    return change
