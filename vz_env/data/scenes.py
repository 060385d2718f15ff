"""CLEVR-like scenes ray-cast with numpy, so the spy game gets image pairs in milliseconds, without Blender.

A scene is a few cubes, spheres and cylinders on a grey floor seen from an elevated camera. Each object
is ray-cast only inside its own screen box, supersampled for antialiasing, and painted back to front
over a floor (shaded once per image size) darkened by soft shadows. The spy's twin changes the shape
and/or colour of a few objects in place, so both images share one layout.

Per-pixel work uses only + - * /, sqrt, min and max, which IEEE 754 rounds exactly, never exp, pow or
trig, whose vectorised versions differ between CPUs: a seed gives byte-identical images on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Any

import numpy as np

from vz_env.data.base import ImagePair

SHAPES = ("cube", "sphere", "cylinder")
COLORS: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}
MATERIALS = ("rubber", "metal")
SIZES: dict[str, float] = {"small": 0.35, "large": 0.7}
CHANGEABLE = ("shape", "color")
# The miniature world: one or two large objects, one of them changed. Fewer, larger objects than the
# ordinary scenes, so that a model of two million parameters seeing 35 image tokens per picture can tell
# their shapes apart, and a spy's clue about its changed object always differs from the civilians'.
MINIATURE_WORLD: dict[str, Any] = {"min_objects": 1, "max_objects": 2, "num_changes": 1, "sizes": ("large",)}

_CUBE_HALF = 0.72  # a cube's half side per unit of object radius, so cubes look as big as spheres
_ARENA = 3.0  # object centres lie within +-_ARENA in depth (y) ...
_ARENA_WIDE = 4.1  # ... and within +-_ARENA_WIDE across (x), where the view allows: it widens at the back
_ASPECT = 4.0 / 3.0  # width / height of the image-plane window objects are kept in
_GAP = 0.3  # the least floor clearance between two objects' footprints
_MAX_OVERLAP = 0.08  # the largest share of an object's screen box that another object's box may cover
_FRAME_MARGIN = 0.04  # empty border around the window, as a share of the frame
_PLACE_TRIES = 60  # random spots tried per object before a layout starts over

_PixelBox = tuple[int, int, int, int]  # a pixel box [x0, y0, x1, y1), as PIL crops
_PlaneBox = tuple[Any, Any, Any, Any]  # an image-plane box u0, v0, u1, v1 (floats, or arrays of candidates)
_Spot = tuple[float, float, float, _PlaneBox]  # a placed object: x, y, footprint radius, image-plane box


def _unit(x: float, y: float, z: float) -> tuple[float, float, float]:
    """A vector scaled to length 1."""
    n = math.sqrt(x * x + y * y + z * z)
    return x / n, y / n, z / n


_EYE = (0.0, -9.0, 6.6)  # the camera; it looks along +y, tilted down, with no roll
_FWD = _unit(0.0, 0.6 - _EYE[1], -_EYE[2])
_UP = (0.0, -_FWD[2], _FWD[1])  # the camera's right is +x, so its up is forward turned in the y-z plane
_LIGHT = _unit(-0.55, -0.35, 0.76)  # towards the key light: upper left, a little in front
_SHADOW_DIR = _unit(-_LIGHT[0], -_LIGHT[1], 0.0)  # where shadows fall on the floor
_SHADOW_RUN = 0.8 * math.sqrt(_LIGHT[0] ** 2 + _LIGHT[1] ** 2) / _LIGHT[2]  # shadow length per unit height
_RIM = [
    (math.cos(i * math.pi / 8) / math.cos(math.pi / 16), math.sin(i * math.pi / 8) / math.cos(math.pi / 16))
    for i in range(16)
]  # a 16-gon around the unit circle: its corners' projection encloses a cylinder's


def describe_object(obj: dict[str, Any]) -> str:
    """Plain-English name of a scene object ("a large red metal cube"), the vocabulary of scripted clues."""
    return f"a {obj['size']} {obj['color']} {obj['material']} {obj['shape']}"


class SceneSource:
    """Synthetic CLEVR-like image pairs: the env's built-in source, needing no files and no GPU.

    `attributes` are those an edit may change; `supersample` is the antialiasing factor per axis;
    `sizes` are the object sizes drawn from (small, large). Each pair's meta holds the scene record of
    both images: {"objects": [{"id", "shape", "color", "material", "size", "x", "y", "rotation",
    "pixel_box"}, ...]}, where x, y are floor coordinates
    (the arena spans about -4..4 across and -3..3 in depth, +y away from the camera), rotation is in
    degrees about the vertical, and pixel_box is [x0, y0, x1, y1) around the object's pixels.
    """

    name = "clevr"

    def __init__(
        self,
        *,
        min_objects: int = 3,
        max_objects: int = 6,
        num_changes: int = 2,
        attributes: tuple[str, ...] = CHANGEABLE,
        supersample: int = 2,
        sizes: tuple[str, ...] = tuple(SIZES),
    ) -> None:
        if not 1 <= min_objects <= max_objects <= 10:
            raise ValueError(f"need 1 <= min_objects <= max_objects <= 10, got {min_objects}, {max_objects}")
        if not 1 <= num_changes <= min_objects:
            raise ValueError(f"num_changes must be from 1 to min_objects ({min_objects}), got {num_changes}")
        if not attributes or not set(attributes) <= set(CHANGEABLE):
            raise ValueError(f"attributes must be a non-empty subset of {CHANGEABLE}, got {attributes!r}")
        if supersample < 1:
            raise ValueError(f"supersample must be at least 1, got {supersample}")
        if not sizes or not set(sizes) <= set(SIZES) or len(set(sizes)) != len(sizes):
            raise ValueError(f"sizes must be distinct names from {tuple(SIZES)}, got {sizes!r}")
        self.min_objects = min_objects
        self.max_objects = max_objects
        self.num_changes = num_changes
        self.attributes = tuple(attributes)
        self.supersample = supersample
        self.sizes = tuple(sizes)

    def __repr__(self) -> str:
        return (
            f"SceneSource(min_objects={self.min_objects}, max_objects={self.max_objects}, "
            f"num_changes={self.num_changes}, attributes={self.attributes!r}, "
            f"supersample={self.supersample}, sizes={self.sizes!r})"
        )

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        """A scene and its twin with `num_changes` objects edited in place, both drawn at (width, height)."""
        view = _view(*_check_size(size))
        rng = np.random.default_rng(seed)
        objects = self._objects(rng)
        edited = list(objects)
        changes: list[dict[str, Any]] = []
        for i in sorted(int(i) for i in rng.choice(len(objects), self.num_changes, replace=False)):
            edited[i], edits = edit_object(rng, objects[i], self.attributes)
            changes.extend(edits)
        layers = [_layer(obj, view, self.supersample) for obj in objects]
        twin = [
            _redraw(old, new, layer, view, self.supersample)
            for old, new, layer in zip(objects, edited, layers, strict=True)
        ]
        return ImagePair(
            original=_compose(view, layers),
            modified=_compose(view, twin),
            changes=tuple(changes),
            meta={
                "kind": self.name,
                "seed": int(seed),
                "original_scene": _record(objects, layers),
                "modified_scene": _record(edited, twin),
            },
        )

    def scene(self, seed: int, size: tuple[int, int]) -> tuple[np.ndarray, dict[str, Any]]:
        """The original picture of `pair(seed, size)` and its scene record, without drawing the twin."""
        view = _view(*_check_size(size))
        objects = self._objects(np.random.default_rng(seed))
        layers = [_layer(obj, view, self.supersample) for obj in objects]
        return _compose(view, layers), _record(objects, layers)

    def _objects(self, rng: np.random.Generator) -> list[dict[str, Any]]:
        """A scene's random objects: the first draws from a pair's seed."""
        return _random_objects(rng, int(rng.integers(self.min_objects, self.max_objects + 1)), self.sizes)


def miniature_world() -> SceneSource:
    """The miniature world (`images="clevr-mini"`): the world the default tiny VLM is built for and plays."""
    return SceneSource(**MINIATURE_WORLD)


def render_scene(scene: dict[str, Any], size: tuple[int, int], supersample: int = 2) -> np.ndarray:
    """Draw a scene record at (width, height) as uint8 HxWx3: a record is all an image is made from."""
    view = _view(*_check_size(size))
    return _compose(view, [_layer(obj, view, supersample) for obj in scene["objects"]])


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    """Reject sizes that are not two positive ints, with a message that names the culprit."""
    if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size):
        raise ValueError(f"size must be (width, height) with two positive ints, got {size!r}")
    return int(size[0]), int(size[1])


# Scene records: random objects, laid out so none hides another, and in-place edits.


def _random_objects(rng: np.random.Generator, count: int, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    """A random CLEVR-like object list (ids 0..count-1) of the `allowed` sizes, laid out without occlusion."""
    picks = rng.integers((len(SHAPES), len(COLORS), len(MATERIALS), len(allowed)), size=(count, 4))
    sizes = [allowed[int(p[3])] for p in picks]
    spots = _place(rng, sizes)
    turns = rng.random(count)
    return [
        {
            "id": i,
            "shape": SHAPES[int(p[0])],
            "color": tuple(COLORS)[int(p[1])],
            "material": MATERIALS[int(p[2])],
            "size": size,
            "x": x,
            "y": y,
            "rotation": round(float(turns[i]) * 90.0, 1),
        }
        for i, (p, size, (x, y)) in enumerate(zip(picks, sizes, spots, strict=True))
    ]


def _place(rng: np.random.Generator, sizes: list[str]) -> list[tuple[float, float]]:
    """Floor positions far enough apart, on the floor and on screen, that no object hides another."""
    while True:
        spots: list[_Spot] = []
        for size in sizes:
            spot = _free_spot(rng, size, spots)
            if spot is None:
                break
            spots.append(spot)
        else:
            return [(x, y) for x, y, _, _ in spots]


def _free_spot(rng: np.random.Generator, size: str, spots: list[_Spot]) -> _Spot | None:
    """The first of a batch of random in-view spots that keeps clear of the placed ones; None if none does."""
    radius = _footprint(size)
    u, v = rng.random((2, _PLACE_TRIES))
    xs, ys = np.round((2.0 * u - 1.0) * _ARENA_WIDE, 3), np.round((2.0 * v - 1.0) * _ARENA, 3)
    boxes = _plane_box(xs, ys, radius, 2.0 * SIZES[size])
    ok = _inside(boxes, _WINDOW)
    for sx, sy, sr, other in spots:
        ok &= (xs - sx) ** 2 + (ys - sy) ** 2 >= (radius + sr + _GAP) ** 2
        ok &= _overlap(boxes, other) <= _MAX_OVERLAP
    found = np.flatnonzero(ok)
    if found.size == 0:
        return None
    i = found[0]
    return float(xs[i]), float(ys[i]), radius, tuple(float(b[i]) for b in boxes)


def _overlap(a: _PlaneBox, b: _PlaneBox) -> Any:
    """Share of the smaller of two boxes that the other covers."""
    w = np.maximum(np.minimum(a[2], b[2]) - np.maximum(a[0], b[0]), 0.0)
    h = np.maximum(np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]), 0.0)
    return w * h / np.minimum((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def _inside(box: _PlaneBox, window: _PlaneBox) -> Any:
    """Whether a box lies wholly within a window."""
    return (window[0] <= box[0]) & (window[1] <= box[1]) & (box[2] <= window[2]) & (box[3] <= window[3])


def edit_object(
    rng: np.random.Generator, obj: dict[str, Any], attributes: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Give an object a different value for one or more of the allowed attributes, and say what changed."""
    flips = rng.random(len(attributes)) < 0.5
    picked = [a for a, flip in zip(attributes, flips, strict=True) if flip]
    picked = picked or [attributes[int(rng.integers(len(attributes)))]]
    new = dict(obj)
    changes = []
    for attribute in picked:
        options = [v for v in (SHAPES if attribute == "shape" else tuple(COLORS)) if v != obj[attribute]]
        new[attribute] = options[int(rng.integers(len(options)))]
        changes.append(
            {"object": obj["id"], "attribute": attribute, "before": obj[attribute], "after": new[attribute]}
        )
    return new, changes


# Geometry: object extents, perspective projection and screen boxes.


def _extent(shape: str, size: str) -> tuple[float, float]:
    """(footprint radius, height) of a shape, which layout, bounds and shadows all need."""
    r = SIZES[size]
    if shape == "cube":
        return _CUBE_HALF * r * math.sqrt(2.0), 2.0 * _CUBE_HALF * r
    return r, 2.0 * r


def _footprint(size: str) -> float:
    """The widest footprint any shape of a size has, so an object still fits after a shape change."""
    return max(_extent(shape, size)[0] for shape in SHAPES)


def _to_plane(x: Any, y: Any, z: Any) -> tuple[Any, Any]:
    """Perspective projection of world points to the normalised image plane (v grows downwards)."""
    dy, dz = y - _EYE[1], z - _EYE[2]
    depth = dy * _FWD[1] + dz * _FWD[2]
    return (x - _EYE[0]) / depth, -(dy * _UP[1] + dz * _UP[2]) / depth


def _points_box(points: list[tuple[float, float, float]]) -> _PlaneBox:
    """Image-plane box around world points."""
    us, vs = zip(*(_to_plane(*p) for p in points), strict=True)
    return min(us), min(vs), max(us), max(vs)


def _plane_box(x: Any, y: Any, radius: float, height: float) -> _PlaneBox:
    """Image-plane box around an upright square prism: it encloses any shape of that footprint and height.

    Its corners are projected edge by edge: the camera has no roll, so the four edges along x (front or
    back, bottom or top) each have one depth, and the sides' extremes lie at the nearest or furthest one.
    """
    edges = [(y + b - _EYE[1], z - _EYE[2]) for b in (-radius, radius) for z in (0.0, height)]
    depths = [dy * _FWD[1] + dz * _FWD[2] for dy, dz in edges]
    vs = [-(dy * _UP[1] + dz * _UP[2]) / depth for (dy, dz), depth in zip(edges, depths, strict=True)]
    nearest, furthest = depths[1], depths[2]  # the front top edge and the back bottom edge
    left, right = x - radius - _EYE[0], x + radius - _EYE[0]
    return (
        np.minimum(left / nearest, left / furthest),
        reduce(np.minimum, vs),
        np.maximum(right / nearest, right / furthest),
        reduce(np.maximum, vs),
    )


def _outline(obj: dict[str, Any]) -> _PlaneBox:
    """A tight image-plane box around an object, so it is ray-cast over as few samples as possible."""
    r, h = _extent(obj["shape"], obj["size"])
    if obj["shape"] == "sphere":
        return _sphere_box(obj["x"], obj["y"], r)
    if obj["shape"] == "cube":
        turn = math.radians(obj["rotation"]) + math.pi / 4
        c, s = r * math.cos(turn), r * math.sin(turn)
        rim = [(c, s), (-s, c), (-c, -s), (s, -c)]
    else:
        rim = [(r * a, r * b) for a, b in _RIM]
    return _points_box([(obj["x"] + a, obj["y"] + b, z) for a, b in rim for z in (0.0, h)])


def _sphere_box(x: float, y: float, r: float) -> _PlaneBox:
    """Exact image-plane box of a sphere on the floor, from the planes through the eye that touch it."""
    dx, dy, dz = x - _EYE[0], y - _EYE[1], r - _EYE[2]
    depth = dy * _FWD[1] + dz * _FWD[2]
    up = dy * _UP[1] + dz * _UP[2]
    scale = depth * depth - r * r
    spread_u, spread_v = r * math.sqrt(dx * dx + scale), r * math.sqrt(up * up + scale)
    return (
        (dx * depth - spread_u) / scale,
        -(up * depth + spread_v) / scale,
        (dx * depth + spread_u) / scale,
        -(up * depth - spread_v) / scale,
    )


def _arena_window() -> tuple[float, float, float, float]:
    """Image-plane window objects are kept in: the arena's depth, _ASPECT times as wide. Frames fit it."""
    _, v0, _, v1 = (float(v) for v in _plane_box(0.0, 0.0, _ARENA + SIZES["large"], 2.0 * SIZES["large"]))
    half = (v1 - v0) * _ASPECT / 2.0
    return -half, v0, half, v1


_WINDOW = _arena_window()


# Per-size view: projection to pixels, view rays, and the shaded floor.


@dataclass(frozen=True)
class _View:
    """What every scene of one image size shares: the projection to pixels, the floor and its coordinates."""

    width: int
    height: int
    focal: float
    cu: float
    cv: float
    floor: np.ndarray  # (H, W, 3) float32 0..255: the shaded empty floor
    gx: np.ndarray  # (H, W) float32: floor x seen at each pixel (far away above the horizon)
    gy: np.ndarray  # (H, W) float32: floor y seen at each pixel

    def box(self, plane: _PlaneBox, pad: int = 1) -> _PixelBox:
        """Integer pixel box around an image-plane box, padded and clipped to the frame."""
        x0 = max(0, math.floor(self.cu + self.focal * plane[0]) - pad)
        y0 = max(0, math.floor(self.cv + self.focal * plane[1]) - pad)
        x1 = min(self.width, math.ceil(self.cu + self.focal * plane[2]) + pad)
        y1 = min(self.height, math.ceil(self.cv + self.focal * plane[3]) + pad)
        return x0, y0, max(x0, x1), max(y0, y1)

    def rays(self, box: _PixelBox, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """View rays through a k-by-k grid of samples in every pixel of a box (see _rays)."""
        return _rays(self.focal, self.cu, self.cv, box, k)


def _rays(
    focal: float, cu: float, cv: float, box: _PixelBox, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unnormalised view-ray directions as a (1, w) x array and (h, 1) y and z arrays.

    With no camera roll, x varies only along a row and y, z only down a column: kept that thin, every
    product with a constant stays cheap, and sums broadcast to the full grid only where they must.
    """
    x0, y0, x1, y1 = box
    us = x0 + (np.arange((x1 - x0) * k, dtype=np.float32) + 0.5) / k
    vs = y0 + (np.arange((y1 - y0) * k, dtype=np.float32) + 0.5) / k
    yn = ((vs - cv) / focal)[:, None]
    return ((us - cu) / focal)[None, :], _FWD[1] - yn * _UP[1], _FWD[2] - yn * _UP[2]


@lru_cache(maxsize=16)
def _view(width: int, height: int) -> _View:
    """The view of one image size, cached: the floor is shaded once per size, not once per image."""
    u0, v0, u1, v1 = _WINDOW
    usable = 1.0 - 2.0 * _FRAME_MARGIN
    focal = min(width * usable / (u1 - u0), height * usable / (v1 - v0))
    cu = width / 2.0 - focal * (u0 + u1) / 2.0
    cv = height / 2.0 - focal * (v0 + v1) / 2.0
    dx, dy, dz = _rays(focal, cu, cv, (0, 0, width, height), 1)
    below = dz < -1e-4
    t = np.where(below, -_EYE[2] / np.where(below, dz, -1.0), np.float32(1e4))
    gx = np.broadcast_to(_EYE[0] + t * dx, (height, width)).astype(np.float32)
    gy = np.broadcast_to(_EYE[1] + t * dy, (height, width)).astype(np.float32)
    floor = _floor(gx, gy)
    for a in (floor, gx, gy):
        a.setflags(write=False)
    return _View(width, height, focal, cu, cv, floor, gx, gy)


def _floor(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Grey studio floor under a broad soft spot of light, darker towards the back as in CLEVR renders."""
    sx, sy = gx + 1.5, gy - 0.5
    tone = 92.0 + 43.0 / (1.0 + (sx * sx + sy * sy) / 30.0)
    return tone[:, :, None] * np.array([1.0, 1.0, 1.02], dtype=np.float32)


# Ray casting: where each view ray meets an object, and the surface normal there.

_Hit = tuple[np.ndarray, np.ndarray, tuple[Any, Any, Any]]  # hit mask, distance along the ray, normal


def _hit_sphere(obj: dict[str, Any], d: tuple[np.ndarray, ...]) -> _Hit:
    """Ray-sphere hits, distances (in units of the ray direction) and surface normals."""
    r = SIZES[obj["size"]]
    ox, oy, oz = _EYE[0] - obj["x"], _EYE[1] - obj["y"], _EYE[2] - r
    a = d[0] * d[0] + (d[1] * d[1] + d[2] * d[2])
    b = d[0] * ox + (d[1] * oy + d[2] * oz)
    disc = b * b - a * (ox * ox + oy * oy + oz * oz - r * r)
    t = (-b - np.sqrt(np.abs(disc))) / a
    return disc > 0, t, ((ox + t * d[0]) / r, (oy + t * d[1]) / r, (oz + t * d[2]) / r)


def _hit_cylinder(obj: dict[str, Any], d: tuple[np.ndarray, ...]) -> _Hit:
    """Ray-cylinder hits on the body or the top (the eye is above every top), distances and normals."""
    r, h = _extent("cylinder", obj["size"])
    ox, oy = _EYE[0] - obj["x"], _EYE[1] - obj["y"]
    a = d[0] * d[0] + d[1] * d[1]
    b = d[0] * ox + d[1] * oy
    disc = b * b - a * (ox * ox + oy * oy - r * r)
    ts = (-b - np.sqrt(np.abs(disc))) / a
    zs = _EYE[2] + ts * d[2]
    tt = (h - _EYE[2]) / d[2]
    px, py = ox + tt * d[0], oy + tt * d[1]
    top = px * px + py * py <= r * r
    hit = top | ((disc > 0) & (zs >= 0) & (zs <= h))
    on_top = top.astype(np.float32)
    on_side = (1.0 - on_top) / r
    return hit, ts + on_top * (tt - ts), ((ox + ts * d[0]) * on_side, (oy + ts * d[1]) * on_side, on_top)


def _hit_cube(obj: dict[str, Any], d: tuple[np.ndarray, ...]) -> _Hit:
    """Ray-box hits by the slab method in the cube's own turned frame, distances and face normals.

    Seen from one eye, every ray entering through an x (or y) slab enters the same face, the one on the
    eye's side, so the normals need no per-pixel signs; and the eye is above, so the z face is the top.
    """
    s = _CUBE_HALF * SIZES[obj["size"]]
    turn = math.radians(obj["rotation"])
    c, n = math.cos(turn), math.sin(turn)
    wx, wy = _EYE[0] - obj["x"], _EYE[1] - obj["y"]
    origin = (c * wx + n * wy, -n * wx + c * wy, _EYE[2] - s)
    local = (c * d[0] + n * d[1], -n * d[0] + c * d[1], d[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        slabs = [((-s - o) / v, (s - o) / v) for o, v in zip(origin, local, strict=True)]
    near = [np.minimum(t0, t1) for t0, t1 in slabs]
    far = [np.maximum(t0, t1) for t0, t1 in slabs]
    entry = np.maximum(np.maximum(near[0], near[1]), near[2])
    exit_ = np.minimum(np.minimum(far[0], far[1]), far[2])
    on_x = near[0] >= np.maximum(near[1], near[2])
    fx = on_x.astype(np.float32)
    fy = (~on_x & (near[1] >= near[2])).astype(np.float32)
    sx, sy = math.copysign(1.0, origin[0]), math.copysign(1.0, origin[1])
    normal = (fx * (c * sx) - fy * (n * sy), fx * (n * sx) + fy * (c * sy), 1.0 - fx - fy)
    return (entry <= exit_) & (exit_ > 0), entry, normal


_HITS = {"sphere": _hit_sphere, "cylinder": _hit_cylinder, "cube": _hit_cube}


# Shading and compositing.


@dataclass(frozen=True)
class _Sprite:
    """An object drawn into its own box: premultiplied colour and see-through share, ready to paint.

    Both are full (h, w, 3) arrays: numpy multiplies those many times faster than broadcast (h, w, 1) ones.
    """

    box: _PixelBox
    color: np.ndarray  # float32 0..255, already multiplied by coverage
    keep: np.ndarray  # float32 1 - coverage: how much of what lies behind shows through

    def tight_box(self) -> list[int]:
        """The pixel box of the pixels the object actually covers."""
        x0, y0, _, _ = self.box
        covered = self.keep[:, :, 0] < 1.0
        rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
        if rows.size == 0:
            return [x0, y0, x0, y0]
        return [x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1]


@dataclass(frozen=True)
class _Layer:
    """What one object adds to an image: its shadow, its sprite, and how far back it stands."""

    depth: float
    shadow: tuple[_PixelBox, np.ndarray]  # pixel box and (h, w, 3) factor on the floor
    sprite: _Sprite


def _layer(
    obj: dict[str, Any], view: _View, k: int, shadow: tuple[_PixelBox, np.ndarray] | None = None
) -> _Layer:
    """Render an object's sprite, and its shadow unless one is given."""
    depth = (obj["y"] - _EYE[1]) * _FWD[1] - _EYE[2] * _FWD[2]
    return _Layer(depth, shadow or _shadow(obj, view), _sprite(obj, view, k))


def _redraw(old: dict[str, Any], new: dict[str, Any], layer: _Layer, view: _View, k: int) -> _Layer:
    """An object's layer after an edit: the same if it was not edited; a recoloured one keeps its shadow."""
    if new is old:
        return layer
    return _layer(new, view, k, layer.shadow if new["shape"] == old["shape"] else None)


def _sprite(obj: dict[str, Any], view: _View, k: int) -> _Sprite:
    """Ray-cast one object over its screen box at k-by-k samples per pixel and average them down."""
    box = view.box(_outline(obj))
    d = view.rays(box, k)
    hit, t, normal = _HITS[obj["shape"]](obj, d)
    cover = hit.astype(np.float32)
    body, shine = _shade(obj, d, normal, _EYE[2] + t * d[2])
    body, shine, keep = _pool(body * cover, k), _pool(shine * cover, k) * 255.0, 1.0 - _pool(cover, k)
    keep = np.stack([keep, keep, keep], axis=2)
    color = np.stack([body * c + shine for c in COLORS[obj["color"]]], axis=2)
    return _Sprite(box, np.minimum(color, 255.0 - 255.0 * keep), keep)


def _shade(
    obj: dict[str, Any], d: tuple[np.ndarray, ...], n: tuple[Any, ...], z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Light on a surface as (factor on the colour, white highlight): matte rubber, or metal that mirrors.

    `z` is the height of each surface point: low down, metal mirrors the dark floor beside it, higher up
    the brighter floor further away, which gives flat metal faces the gradient that marks them as metal.
    """
    inv = 1.0 / np.sqrt(d[0] * d[0] + (d[1] * d[1] + d[2] * d[2]))
    toward = n[0] * _LIGHT[0] + n[1] * _LIGHT[1] + n[2] * _LIGHT[2]
    facing = (d[0] * n[0] + d[1] * n[1] + d[2] * n[2]) * inv
    view_light = (d[0] * _LIGHT[0] + (d[1] * _LIGHT[1] + d[2] * _LIGHT[2])) * inv
    glint = np.clip(view_light - 2.0 * facing * toward, 0.0, 1.0)
    lit = np.clip(toward, 0.0, None)
    if obj["material"] == "metal":
        floor = 0.06 + 0.75 * _smooth(z * (1.4 / _extent(obj["shape"], obj["size"])[1]) - 0.2)
        mirror = floor + (1.0 - floor) * _smooth((d[2] * inv - 2.0 * facing * n[2]) * 3.0 + 0.5)
        return 0.05 + 0.15 * lit + 0.85 * mirror + 0.5 * glint * glint, 1.2 * _power(glint, 6)
    return 0.32 + 0.1 * n[2] + 0.75 * lit, 0.08 * _power(glint, 3)


def _power(x: np.ndarray, times: int) -> np.ndarray:
    """x to the power 2**times by repeated squaring (np.power differs between CPUs; products do not)."""
    for _ in range(times):
        x = x * x
    return x


def _smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1], for soft edges."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pool(a: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k-by-k block, summed in a fixed order so every machine rounds the same way."""
    out = a[0::k, 0::k].copy()
    for i in range(k):
        for j in range(k):
            if i or j:
                out += a[i::k, j::k]
    return out * (1.0 / (k * k))


def _shadow(obj: dict[str, Any], view: _View) -> tuple[_PixelBox, np.ndarray]:
    """Soft floor shadow of an object: a capsule cast away from the light, plus contact darkening."""
    radius, height = _extent(obj["shape"], obj["size"])
    x, y = obj["x"], obj["y"]
    run = height * _SHADOW_RUN
    soft = 0.45 * radius
    reach = radius + soft
    ends = ((x, y), (x + _SHADOW_DIR[0] * run, y + _SHADOW_DIR[1] * run))
    corners = [(ex + a * reach, ey + b * reach, 0.0) for ex, ey in ends for a in (-1, 1) for b in (-1, 1)]
    box = view.box(_points_box(corners))
    x0, y0, x1, y1 = box
    gx, gy = view.gx[y0:y1, x0:x1] - x, view.gy[y0:y1, x0:x1] - y
    along = np.clip(gx * _SHADOW_DIR[0] + gy * _SHADOW_DIR[1], 0.0, run)
    ax, ay = gx - along * _SHADOW_DIR[0], gy - along * _SHADOW_DIR[1]
    cast = _smooth((reach - np.sqrt(ax * ax + ay * ay)) / (2.0 * soft))
    contact = _smooth((1.25 * radius - np.sqrt(gx * gx + gy * gy)) / (0.6 * radius))
    light = 1.0 - np.minimum(0.45 * cast + 0.25 * contact, 0.7)
    return box, np.stack([light, light, light], axis=2)


def _compose(view: _View, layers: list[_Layer]) -> np.ndarray:
    """Darken the floor with every shadow, paint the objects back to front, and round to uint8.

    Nothing can pass 255 (shadows only darken, and each sprite's colour is capped by its coverage),
    so rounding is a plain add-and-truncate.
    """
    frame = view.floor.copy()
    for layer in layers:
        (x0, y0, x1, y1), factor = layer.shadow
        frame[y0:y1, x0:x1] *= factor
    for layer in sorted(layers, key=lambda item: -item.depth):
        (x0, y0, x1, y1), sprite = layer.sprite.box, layer.sprite
        patch = frame[y0:y1, x0:x1]
        patch *= sprite.keep
        patch += sprite.color
    frame += 0.5
    return frame.astype(np.uint8)


def _record(objects: list[dict[str, Any]], layers: list[_Layer]) -> dict[str, Any]:
    """The JSON scene record of one image: its objects, each with its on-screen box."""
    return {
        "objects": [
            {**obj, "pixel_box": layer.sprite.tight_box()} for obj, layer in zip(objects, layers, strict=True)
        ]
    }
