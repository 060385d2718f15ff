"""Photo edits: each changes only its recorded box, visibly; seeds are deterministic; bad photos skipped."""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vz_env.data.check import pair_problems
from vz_env.data.photos import EDIT_OPS, MIN_VISIBLE, PhotoEditSource, fit_photo

SIZE = (160, 120)


def local_photo(width: int = 240, height: int = 180) -> np.ndarray:
    """A made-up 'photo': a colour gradient with a few shapes and some grain, needing no download."""
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.stack([xs * 255 / width, ys * 255 / height, np.full_like(xs, 90.0)], axis=2)
    img[40:90, 30:100] = (200, 40, 40)
    img[((ys - 120) ** 2 + (xs - 170) ** 2) < 35**2] = (30, 60, 200)
    img += np.random.default_rng(0).normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def outside(image: np.ndarray, box: list) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.ones(image.shape[:2], bool)
    mask[y0:y1, x0:x1] = False
    return image[mask]


@pytest.mark.parametrize("op", EDIT_OPS)
def test_each_edit_changes_only_its_box_and_visibly(op):
    source = PhotoEditSource([local_photo()], ops=(op,))
    for seed in range(4):
        pair = source.pair(seed, SIZE)
        (change,) = pair.changes
        assert change["op"] == op
        x0, y0, x1, y1 = box = change["box"]
        assert 0 <= x0 < x1 <= SIZE[0] and 0 <= y0 < y1 <= SIZE[1]
        assert np.array_equal(outside(pair.original, box), outside(pair.modified, box))
        inside = np.abs(pair.modified[y0:y1, x0:x1].astype(int) - pair.original[y0:y1, x0:x1])
        assert inside.mean() >= MIN_VISIBLE
        assert pair_problems(pair) == []


def test_paste_records_where_the_patch_came_from():
    pair = PhotoEditSource([local_photo()], ops=("paste",)).pair(1, SIZE)
    (change,) = pair.changes
    (x0, y0, x1, y1), (sx0, sy0, sx1, sy1) = change["box"], change["from_box"]
    assert (x1 - x0, y1 - y0) == (sx1 - sx0, sy1 - sy0)


def test_same_seed_gives_the_same_pair_and_the_original_is_the_fitted_photo():
    photo = local_photo()
    a = PhotoEditSource([photo]).pair(5, SIZE)
    b = PhotoEditSource([photo]).pair(5, SIZE)
    assert np.array_equal(a.modified, b.modified) and a.changes == b.changes
    assert np.array_equal(a.original, fit_photo(photo, SIZE))


def test_fit_photo_crops_to_the_aspect_and_accepts_grey_and_rgba():
    wide = np.zeros((100, 300), np.uint8)
    assert fit_photo(wide, (50, 50)).shape == (50, 50, 3)
    rgba = np.zeros((40, 40, 4), np.uint8)
    assert fit_photo(rgba, (20, 30)).shape == (30, 20, 3)


def test_a_folder_of_photos_skips_unreadable_ones_with_a_warning(tmp_path):
    Image.fromarray(local_photo()).save(tmp_path / "b_good.png")
    (tmp_path / "a_broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    source = PhotoEditSource(tmp_path)
    assert source.labels == ["a_broken.jpg", "b_good.png"]
    with pytest.warns(UserWarning, match="a_broken.jpg"):
        pairs = [source.pair(seed, SIZE) for seed in range(6)]
    assert {p.meta["photo"] for p in pairs} == {"b_good.png"}
    assert [name for name, _ in source.skipped] == ["a_broken.jpg"]


def test_a_folder_without_photos_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="no images to edit") as err:
        PhotoEditSource(tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="not a folder"):
        PhotoEditSource(tmp_path / "missing")


def test_all_photos_unreadable_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    source = PhotoEditSource(tmp_path)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="none of the 1 photos"):
        source.pair(0, SIZE)


def test_named_photos_keep_their_names():
    pair = PhotoEditSource({"gradient": local_photo()}).pair(0, SIZE)
    assert pair.meta == {"kind": "photos", "seed": 0, "photo": "gradient"}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), width=st.integers(16, 400), height=st.integers(16, 300))
def test_any_seed_and_size_gives_a_pair_with_its_box_inside(seed, width, height):
    pair = PhotoEditSource([local_photo()]).pair(seed, (width, height))
    assert pair.original.shape == (height, width, 3)
    x0, y0, x1, y1 = pair.changes[0]["box"]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_scikit_image_sample_photos_make_good_pairs():
    pytest.importorskip("skimage")
    from vz_env.data.photos import sample_photos

    photos = sample_photos()
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for p in photos.values())
    source = PhotoEditSource(photos)
    for seed in range(4):
        assert pair_problems(source.pair(seed, (320, 240))) == []


def test_sample_photos_without_scikit_image_says_how_to_get_them(monkeypatch):
    from vz_env.data.photos import sample_photos

    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ImportError, match=r"vz-spy\[photos\]"):
        sample_photos()
