"""Pins the CLEVR-like scene source: deterministic pairs, in-place edits, unhidden objects, JSON records."""

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vz_env.data import resolve_source
from vz_env.data.base import ImagePair, ImageSource
from vz_env.data.scenes import COLORS, MATERIALS, SHAPES, SIZES, SceneSource, describe_object, render_scene

SIZE = (160, 120)
GOLDEN_DIGEST = (
    "6ae7ac93440a0189accc2d0c90d7663472652f6f37cc9ee77dd71c52df92e1cc"  # seed 3 at 64x48, both images
)


@pytest.fixture(scope="module")
def pairs() -> list[ImagePair]:
    return [SceneSource().pair(seed, SIZE) for seed in range(40)]


def _objects(pair: ImagePair, which: str) -> list[dict]:
    return pair.scene_of(which)["objects"]


def _overlap(a: list[int], b: list[int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def test_clevr_kind_resolves_to_the_scene_source():
    source = resolve_source("clevr")
    assert isinstance(source, SceneSource)
    assert isinstance(source, ImageSource)
    assert source.name == "clevr"


def test_the_miniature_world_holds_few_large_objects_one_of_them_changed():
    source = resolve_source("clevr-mini")
    assert isinstance(source, SceneSource)
    counts = set()
    for seed in range(40):
        pair = source.pair(seed, (320, 240))
        objects = pair.meta["original_scene"]["objects"]
        counts.add(len(objects))
        assert {obj["size"] for obj in objects} == {"large"}
        assert len({change["object"] for change in pair.changes}) == 1
    assert counts == set(range(source.min_objects, source.max_objects + 1))
    assert source.max_objects <= SceneSource().min_objects


def test_sizes_limits_the_object_sizes_and_keeps_the_default_scenes():
    small = SceneSource(sizes=("small",)).pair(3, (160, 120))
    assert {obj["size"] for obj in small.meta["original_scene"]["objects"]} == {"small"}
    both = SceneSource(sizes=("small", "large")).pair(7, (160, 120))
    assert np.array_equal(both.original, SceneSource().pair(7, (160, 120)).original)


def test_same_seed_gives_byte_identical_pairs():
    a, b = SceneSource().pair(7, SIZE), SceneSource().pair(7, SIZE)
    assert a.original.tobytes() == b.original.tobytes()
    assert a.modified.tobytes() == b.modified.tobytes()
    assert a.changes == b.changes
    assert a.meta == b.meta


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), width=st.integers(16, 200), height=st.integers(16, 200))
def test_scene_is_the_pairs_original_without_its_twin(seed: int, width: int, height: int):
    for source in (SceneSource(), resolve_source("clevr-mini")):
        pair = source.pair(seed, (width, height))
        image, record = source.scene(seed, (width, height))
        assert image.tobytes() == pair.original.tobytes()
        assert record == pair.meta["original_scene"]


def test_images_do_not_drift_across_versions_or_machines():
    pair = SceneSource().pair(3, (64, 48))
    digest = hashlib.sha256(pair.original.tobytes() + pair.modified.tobytes()).hexdigest()
    assert digest == GOLDEN_DIGEST


def test_different_seeds_give_different_images(pairs):
    assert len({p.original.tobytes() for p in pairs}) == len(pairs)


def test_images_are_uint8_of_the_requested_size(pairs):
    for pair in pairs:
        assert pair.original.shape == pair.modified.shape == (SIZE[1], SIZE[0], 3)
        assert pair.original.dtype == pair.modified.dtype == np.uint8
        assert pair.size == SIZE


def test_scenes_hold_three_to_six_clevr_objects(pairs):
    counts = {len(_objects(p, "original")) for p in pairs}
    assert counts <= {3, 4, 5, 6} and len(counts) > 1
    for pair in pairs:
        for obj in _objects(pair, "original"):
            assert obj["shape"] in SHAPES and obj["color"] in COLORS
            assert obj["material"] in MATERIALS and obj["size"] in SIZES


def test_exactly_two_objects_change_in_place(pairs):
    for pair in pairs:
        before, after = _objects(pair, "original"), _objects(pair, "modified")
        assert [o["id"] for o in before] == [o["id"] for o in after]
        differing = set()
        for old, new in zip(before, after, strict=True):
            for key in ("x", "y", "size", "material", "rotation"):
                assert old[key] == new[key]
            differing |= {(old["id"], a) for a in ("shape", "color") if old[a] != new[a]}
        assert {(c["object"], c["attribute"]) for c in pair.changes} == differing
        assert len({obj for obj, _ in differing}) == 2
        for change in pair.changes:
            assert change["before"] != change["after"]
            assert before[change["object"]][change["attribute"]] == change["before"]
            assert after[change["object"]][change["attribute"]] == change["after"]


@pytest.mark.parametrize("num_changes", [1, 3])
def test_num_changes_sets_how_many_objects_change(num_changes):
    for seed in range(5):
        pair = SceneSource(num_changes=num_changes).pair(seed, (64, 48))
        assert len({c["object"] for c in pair.changes}) == num_changes


def test_attributes_limits_what_may_change():
    for seed in range(5):
        pair = SceneSource(attributes=("color",)).pair(seed, (64, 48))
        assert {c["attribute"] for c in pair.changes} == {"color"}


def test_pixels_differ_only_around_changed_objects_and_their_shadows(pairs):
    for pair in pairs:
        diff = (pair.original != pair.modified).any(axis=2)
        allowed = np.zeros_like(diff)
        for obj_id in {c["object"] for c in pair.changes}:
            for which in ("original", "modified"):
                x0, y0, x1, y1 = _objects(pair, which)[obj_id]["pixel_box"]
                assert diff[y0:y1, x0:x1].any()
                w, h = x1 - x0, y1 - y0
                allowed[max(0, y0 - h) : y1 + h, max(0, x0 - w) : x1 + w] = True
        assert not (diff & ~allowed).any()


def test_each_image_is_the_render_of_its_scene_record(pairs):
    for pair in pairs[:5]:
        assert np.array_equal(render_scene(pair.scene_of("original"), SIZE), pair.original)
        assert np.array_equal(render_scene(pair.scene_of("modified"), SIZE), pair.modified)


def test_records_round_trip_through_json(pairs):
    for pair in pairs:
        assert json.loads(json.dumps(pair.meta)) == pair.meta
        assert json.loads(json.dumps(pair.changes)) == list(pair.changes)
        assert pair.meta["kind"] == "clevr"


def test_objects_are_visible_and_do_not_hide_each_other(pairs):
    for pair in pairs:
        for which in ("original", "modified"):
            boxes = [o["pixel_box"] for o in _objects(pair, which)]
            for i, a in enumerate(boxes):
                assert a[2] > a[0] and a[3] > a[1]
                for b in boxes[i + 1 :]:
                    assert _overlap(a, b) <= 0.2


def test_objects_further_back_look_higher_and_smaller():
    ball = {
        "shape": "sphere",
        "color": "red",
        "material": "rubber",
        "size": "large",
        "x": 0.0,
        "rotation": 0.0,
    }
    scene = {"objects": [{**ball, "id": 0, "y": -2.0}, {**ball, "id": 1, "y": 2.0}]}
    image = render_scene(scene, SIZE).astype(int)
    red = (image[:, :, 0] - image[:, :, 2]) > 40
    rows = np.flatnonzero(red.any(axis=1))
    gaps = np.flatnonzero(np.diff(rows) > 1)
    assert gaps.size == 1
    back, front = rows[: gaps[0] + 1], rows[gaps[0] + 1 :]
    assert back.max() < front.min() and back.size < front.size


def test_describe_object_names_size_colour_material_and_shape():
    obj = {"shape": "cube", "color": "red", "material": "metal", "size": "large"}
    assert describe_object(obj) == "a large red metal cube"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_changes": 4},
        {"min_objects": 5, "max_objects": 4},
        {"attributes": ("material",)},
        {"supersample": 0},
        {"sizes": ()},
        {"sizes": ("huge",)},
        {"sizes": ("large", "large")},
    ],
)
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        SceneSource(**kwargs)


@pytest.mark.parametrize("size", [(0, 10), (10,), (32.0, 24)])
def test_bad_sizes_are_rejected(size):
    with pytest.raises(ValueError, match="size"):
        SceneSource().pair(0, size)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**63),
    size=st.sampled_from([(64, 48), (100, 75), (320, 240), (640, 480), (48, 64), (200, 50), (7, 5)]),
)
def test_any_seed_and_size_renders_a_pair_of_that_size(seed, size):
    pair = SceneSource().pair(seed, size)
    assert pair.size == size
    for obj in _objects(pair, "original"):
        x0, y0, x1, y1 = obj["pixel_box"]
        assert 0 <= x0 <= x1 <= size[0] and 0 <= y0 <= y1 <= size[1]
