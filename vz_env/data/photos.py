"""Local edits of any photo (recolour, remove, paste or mirror a region), so real photos become game pairs."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from vz_env.data.base import ImagePair
from vz_env.data.folder import IMAGE_SUFFIXES

EDIT_OPS = ("recolor", "remove", "paste", "mirror")
BOX_SHARE = (0.03, 0.10)  # an edited box covers this share of the image: about one object
BOX_CANDIDATES = 6  # random boxes scored for a centre that stands out, to edit objects rather than sky
MIN_VISIBLE = 8.0  # mean absolute change (levels) inside the box for an edit to count as visible
EDIT_TRIES = 8  # boxes tried before an invisible edit (e.g. on a flat image) is kept anyway
OBJECT_COLOR_RANGE = 70.0  # RGB distance from the centre colour at which a recolour fades out
MAX_GRAIN = (
    3.0  # noise (std, levels) a filled region gets at most: more looks like speckle, none like a smudge
)
CACHE_SIZE = 32  # fitted photos kept in memory, so repeated seeds skip decoding
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera")

Photo = str | Path | np.ndarray | Image.Image
Box = tuple[int, int, int, int]


class PhotoEditSource:
    """Pairs of a photo and the same photo with one object-sized region edited; the box is recorded."""

    name = "photos"

    def __init__(
        self, images: str | Path | Sequence[Photo] | Mapping[str, Photo], ops: tuple[str, ...] = EDIT_OPS
    ) -> None:
        if not ops or set(ops) - set(EDIT_OPS):
            raise ValueError(f"PhotoEditSource ops must come from {EDIT_OPS}, got {ops!r}")
        self.ops = tuple(ops)
        self.labels, self.images = _collect(images)
        if not self.images:
            raise ValueError(f"no images to edit in {images!r} (looked for {', '.join(IMAGE_SUFFIXES)})")
        self.skipped: list[tuple[str, str]] = []
        self._bad: set[int] = set()
        self._cache: OrderedDict[tuple[int, tuple[int, int]], np.ndarray] = OrderedDict()

    def __repr__(self) -> str:
        return f"PhotoEditSource({len(self.images)} images, ops={self.ops!r})"

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        """A photo picked by `seed`, cropped to fill `size`, and its edited twin; same seed, same pair."""
        rng = np.random.default_rng(seed)
        index, original = self._photo(int(rng.integers(len(self.images))), tuple(size))
        for _ in range(EDIT_TRIES):
            op = self.ops[int(rng.integers(len(self.ops)))]
            box = object_box(rng, original)
            modified, change = EDITS[op](original, box, rng)
            x0, y0, x1, y1 = box
            diff = np.abs(modified[y0:y1, x0:x1].astype(np.int16) - original[y0:y1, x0:x1])
            if diff.mean() >= MIN_VISIBLE:
                break
        meta = {"kind": self.name, "seed": seed, "photo": self.labels[index]}
        return ImagePair(original, modified, (change,), meta)

    def _photo(self, index: int, size: tuple[int, int]) -> tuple[int, np.ndarray]:
        """The photo at `index` (or the next readable one) fitted to `size`, from the cache when possible."""
        for step in range(len(self.images)):
            k = (index + step) % len(self.images)
            if k in self._bad:
                continue
            if (k, size) in self._cache:
                self._cache.move_to_end((k, size))
                return k, self._cache[(k, size)]
            try:
                fitted = fit_photo(self.images[k], size)
            except OSError as err:
                self._bad.add(k)
                self.skipped.append((self.labels[k], str(err)))
                warnings.warn(f"skipping photo {self.labels[k]}: {err}", stacklevel=3)
                continue
            self._cache[(k, size)] = fitted
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return k, fitted
        raise ValueError(f"none of the {len(self.images)} photos can be read")


def fit_photo(photo: Photo, size: tuple[int, int]) -> np.ndarray:
    """A photo (file, array or PIL image) as uint8 RGB, centre-cropped to the aspect of `size` and resized."""
    if isinstance(photo, np.ndarray):
        img = Image.fromarray(np.ascontiguousarray(photo))
    elif isinstance(photo, Image.Image):
        img = photo
    else:
        try:
            img = Image.open(photo)
            img.draft("RGB", size)
            img.load()
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise OSError(f"cannot read {Path(photo).name}: {err}") from None
    return np.asarray(ImageOps.fit(img.convert("RGB"), size, Image.Resampling.BILINEAR))


def random_box(rng: np.random.Generator, width: int, height: int) -> Box:
    """An object-sized box [x0, y0, x1, y1) inside the image, at least 4 pixels a side."""
    area = rng.uniform(*BOX_SHARE) * width * height
    aspect = rng.uniform(0.6, 1.6)
    w = int(min(max(round((area * aspect) ** 0.5), 4), width))
    h = int(min(max(round((area / aspect) ** 0.5), 4), height))
    x0 = int(rng.integers(width - w + 1))
    y0 = int(rng.integers(height - h + 1))
    return x0, y0, x0 + w, y0 + h


def object_box(rng: np.random.Generator, image: np.ndarray) -> Box:
    """Of a few random boxes, the one whose centre stands out most from its rim: likely an object."""
    boxes = [random_box(rng, image.shape[1], image.shape[0]) for _ in range(BOX_CANDIDATES)]
    return max(boxes, key=lambda box: _centre_contrast(image[box[1] : box[3], box[0] : box[2]]))


def sample_photos() -> dict[str, np.ndarray]:
    """A few real photos bundled with scikit-image (the optional `photos` extra), for examples and docs."""
    try:
        from skimage import data
    except ImportError:
        raise ImportError("the sample photos come with scikit-image: pip install 'vz-spy[photos]'") from None
    photos = {}
    for name in SAMPLE_PHOTOS:
        image = getattr(data, name)()
        photos[name] = np.stack([image] * 3, axis=2) if image.ndim == 2 else image[..., :3]
    return photos


def recolor(image: np.ndarray, box: Box, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Turn the hue of the object at the box centre: pixels coloured like it, inside a soft ellipse."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    hsv = np.asarray(Image.fromarray(region).convert("HSV")).astype(np.int16)
    shift = int(rng.integers(64, 193))
    hsv[..., 0] = (hsv[..., 0] + shift) % 256
    hsv[..., 1] = np.maximum(hsv[..., 1], 60)
    recolored = np.asarray(Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB"))
    alpha = _ellipse_alpha(y1 - y0, x1 - x0) * _like_centre(region)
    out = _blend(image, box, recolored, alpha)
    return out, {"op": "recolor", "box": list(box), "hue_shift_degrees": round(shift * 360 / 256)}


def remove(image: np.ndarray, box: Box, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Fill a region smoothly from the pixels around it, plus matching grain: cheap inpainting."""
    x0, y0, x1, y1 = box
    src = image.astype(np.float32)
    window = max(1, min(x1 - x0, y1 - y0) // 4)
    sides = [
        src[max(y0 - 1, 0), x0:x1],
        src[min(y1, image.shape[0] - 1), x0:x1],
        src[y0:y1, max(x0 - 1, 0)],
        src[y0:y1, min(x1, image.shape[1] - 1)],
    ]
    top, bottom, left, right = (_smooth(side, window) for side in sides)
    u = np.linspace(0.0, 1.0, x1 - x0, dtype=np.float32)[None, :, None]
    v = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
    corners = (
        (1 - u) * (1 - v) * top[0] + u * (1 - v) * top[-1] + (1 - u) * v * bottom[0] + u * v * bottom[-1]
    )
    fill = (1 - v) * top[None] + v * bottom[None] + (1 - u) * left[:, None] + u * right[:, None] - corners
    residual = np.concatenate([a - b for a, b in zip(sides, (top, bottom, left, right), strict=True)])
    grain = min(1.4826 * float(np.median(np.abs(residual))), MAX_GRAIN)
    fill += rng.normal(0.0, grain, size=fill.shape[:2])[..., None].astype(np.float32)
    out = _blend(image, box, fill, _edge_alpha(y1 - y0, x1 - x0))
    return out, {"op": "remove", "box": list(box)}


def paste(image: np.ndarray, box: Box, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Copy a same-sized patch from elsewhere in the photo over the box (away from it when there is room)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    height, width = image.shape[:2]
    for _ in range(20):
        sx, sy = int(rng.integers(width - w + 1)), int(rng.integers(height - h + 1))
        if sx + w <= x0 or sx >= x1 or sy + h <= y0 or sy >= y1:
            break
    patch = image[sy : sy + h, sx : sx + w]
    out = _blend(image, box, patch, _edge_alpha(h, w))
    return out, {"op": "paste", "box": list(box), "from_box": [sx, sy, sx + w, sy + h]}


def mirror(image: np.ndarray, box: Box, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Flip a region left-right or upside down in place."""
    x0, y0, x1, y1 = box
    axis = "horizontal" if rng.random() < 0.5 else "vertical"
    region = image[y0:y1, x0:x1]
    flipped = region[:, ::-1] if axis == "horizontal" else region[::-1]
    out = _blend(image, box, flipped, _edge_alpha(y1 - y0, x1 - x0))
    return out, {"op": "mirror", "box": list(box), "axis": axis}


EDITS: dict[str, Callable[[np.ndarray, Box, np.random.Generator], tuple[np.ndarray, dict[str, Any]]]] = {
    "recolor": recolor,
    "remove": remove,
    "paste": paste,
    "mirror": mirror,
}


def _blend(image: np.ndarray, box: Box, patch: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The image with `patch` mixed into `box` by `alpha` (0 keeps the photo), so edits have soft edges."""
    x0, y0, x1, y1 = box
    out = image.copy()
    region = image[y0:y1, x0:x1].astype(np.float32)
    mixed = region + (np.asarray(patch, dtype=np.float32) - region) * alpha[..., None]
    out[y0:y1, x0:x1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def _smooth(side: np.ndarray, window: int) -> np.ndarray:
    """A row of pixels (n x 3) averaged over `window` neighbours, so a fill carries no streaks of texture."""
    padded = np.pad(side, ((window, window), (0, 0)), mode="edge")
    sums = np.cumsum(np.concatenate([np.zeros((1, 3), np.float32), padded]), axis=0)
    return (sums[2 * window + 1 :] - sums[: -2 * window - 1]) / (2 * window + 1)


def _edge_alpha(h: int, w: int) -> np.ndarray:
    """1 inside the box, ramping down over its outer fifth, so a pasted region has no hard seam."""
    ramp = max(1.0, 0.2 * min(h, w))
    ys = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
    xs = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
    return np.clip((np.minimum(ys[:, None], xs[None, :]) + 1) / ramp, 0.0, 1.0)


def _ellipse_alpha(h: int, w: int) -> np.ndarray:
    """An ellipse filling the box with a soft rim: the shape of an object rather than of a rectangle."""
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    return np.clip((1.0 - r) / 0.25, 0.0, 1.0)


def _centre_color(region: np.ndarray) -> np.ndarray:
    """Median colour of the middle third of a region."""
    h, w = region.shape[:2]
    return np.median(region[h // 3 : h - h // 3, w // 3 : w - w // 3].reshape(-1, 3), axis=0).astype(
        np.float32
    )


def _centre_contrast(region: np.ndarray) -> float:
    """RGB distance between the median colours of a region's middle third and of its one-pixel rim."""
    rim = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    rim_color = np.median(rim, axis=0).astype(np.float32)
    return float(np.sqrt(((_centre_color(region) - rim_color) ** 2).sum()))


def _like_centre(region: np.ndarray) -> np.ndarray:
    """How close each pixel's colour is to the region's centre (1 near it, 0 beyond OBJECT_COLOR_RANGE)."""
    distance = np.sqrt(((region.astype(np.float32) - _centre_color(region)) ** 2).sum(axis=2))
    return np.clip(1.5 - distance / OBJECT_COLOR_RANGE, 0.0, 1.0)


def _collect(images: str | Path | Sequence[Photo] | Mapping[str, Photo]) -> tuple[list[str], list[Photo]]:
    """(labels, photos) from a folder, a mapping of name -> photo, or a sequence of photos."""
    if isinstance(images, (str, Path)):
        folder = Path(images)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder of photos")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        return [p.name for p in files], list(files)
    if isinstance(images, Mapping):
        return [str(k) for k in images], list(images.values())
    photos = list(images)
    labels = [Path(p).name if isinstance(p, (str, Path)) else f"image {k}" for k, p in enumerate(photos)]
    return labels, photos
