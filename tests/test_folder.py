"""Folders of user pairs: found by name or manifest, served by seed, bad files named and skipped."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vz_env.data import resolve_source
from vz_env.data.charts import ChartSource
from vz_env.data.folder import FolderSource, list_pairs
from vz_env.data.writer import pair_seed, write_pairs

SIZE = (64, 48)


def save(path: Path, color: tuple[int, int, int], size: tuple[int, int] = SIZE, dot: bool = False) -> None:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = color
    if dot:
        img[5:15, 5:15] = (255, 255, 255)
    Image.fromarray(img).save(path)


def make_pair(folder: Path, name: str, color=(10, 120, 200), size=SIZE, modified_size=None) -> None:
    save(folder / f"{name}_original.png", color, size)
    save(folder / f"{name}_modified.png", color, modified_size or size, dot=True)


def test_pairs_are_served_in_name_order_by_seed_modulo_count(tmp_path):
    for k, name in enumerate(["b", "a", "c"]):
        make_pair(tmp_path, name, color=(k * 50, 0, 0))
    source = FolderSource(tmp_path)
    assert len(source) == 3 and [p.name for p in source.pairs] == ["a", "b", "c"]
    assert source.pair(4, SIZE).meta["name"] == "b"
    pair = source.pair(2, (32, 24))
    assert pair.meta["name"] == "c" and pair.meta["kind"] == "folder" and pair.size == (32, 24)


def test_resolve_source_takes_a_folder(tmp_path):
    make_pair(tmp_path, "x")
    assert isinstance(resolve_source(tmp_path), FolderSource)


def test_an_unreadable_file_is_named_skipped_and_counted(tmp_path):
    make_pair(tmp_path, "good")
    make_pair(tmp_path, "bad")
    (tmp_path / "bad_modified.png").write_bytes(b"definitely not a png")
    with pytest.warns(UserWarning, match="bad_modified.png"):
        source = FolderSource(tmp_path)
    assert [p.name for p in source.pairs] == ["good"]
    assert [name for name, _ in source.skipped] == ["bad"]


def test_a_truncated_file_is_skipped_when_first_read(tmp_path):
    make_pair(tmp_path, "a")
    make_pair(tmp_path, "b")
    data = (tmp_path / "a_original.png").read_bytes()
    (tmp_path / "a_original.png").write_bytes(data[: len(data) // 2])
    source = FolderSource(tmp_path)
    with pytest.warns(UserWarning, match="a_original.png"):
        pair = source.pair(0, SIZE)
    assert pair.meta["name"] == "b" and len(source) == 1 and len(source.skipped) == 1


def test_a_broken_pair_does_not_move_any_other_seed(tmp_path):
    for k, name in enumerate("abcde"):
        make_pair(tmp_path, name, color=(k * 40, 0, 0))
    clean = {seed: FolderSource(tmp_path).pair(seed, SIZE).meta["name"] for seed in range(10)}
    data = (tmp_path / "b_modified.png").read_bytes()
    (tmp_path / "b_modified.png").write_bytes(data[: len(data) // 2])  # the header still reads
    source = FolderSource(tmp_path)
    with pytest.warns(UserWarning, match="b_modified.png"):
        assert source.pair(1, SIZE).meta["name"] == "c"
    served = {seed: source.pair(seed, SIZE).meta["name"] for seed in (9, 3, 6, 0, 2, 4, 5, 7, 8)}
    for seed, name in served.items():
        assert name == ("c" if clean[seed] == "b" else clean[seed])
    assert len(source) == 4


def test_size_mismatch_is_resized_or_reported(tmp_path):
    make_pair(tmp_path, "odd", size=(64, 48), modified_size=(80, 40))
    make_pair(tmp_path, "even")
    pair = FolderSource(tmp_path, size_mismatch="resize").pair(1, SIZE)
    assert pair.meta["name"] == "odd" and pair.modified.shape == (48, 64, 3)
    with pytest.warns(UserWarning, match="odd: sizes differ"):
        reported = FolderSource(tmp_path, size_mismatch="report")
    assert [p.name for p in reported.pairs] == ["even"]
    with pytest.raises(ValueError, match="size_mismatch"):
        FolderSource(tmp_path, size_mismatch="crop")


def test_a_folder_without_pairs_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="no usable image pairs") as err:
        FolderSource(tmp_path)
    assert "\n" not in str(err.value)
    save(tmp_path / "lonely_original.png", (0, 0, 0))
    with pytest.warns(UserWarning, match="lonely"), pytest.raises(ValueError, match="1 skipped"):
        FolderSource(tmp_path)


def test_a_written_folder_comes_back_with_its_changes_and_scene_records(tmp_path):
    write_pairs(ChartSource(), tmp_path, 3, seed=5, size=(160, 120))
    source = FolderSource(tmp_path)
    pair = source.pair(1, (160, 120))
    fresh = ChartSource().pair(pair_seed(5, 1), (160, 120))
    assert np.array_equal(pair.original, fresh.original) and np.array_equal(pair.modified, fresh.modified)
    assert list(pair.changes) == [dict(c) for c in fresh.changes]
    assert pair.scene_of("original") == fresh.scene_of("original")


def test_recorded_boxes_follow_a_resize(tmp_path):
    photo = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    from vz_env.data.photos import PhotoEditSource

    write_pairs(PhotoEditSource([photo]), tmp_path, 1, size=(160, 120))
    full = FolderSource(tmp_path).pair(0, (160, 120)).changes[0]["box"]
    half = FolderSource(tmp_path).pair(0, (80, 60)).changes[0]["box"]
    assert half == [round(v / 2) for v in full]


def test_a_broken_manifest_line_is_a_one_line_error(tmp_path):
    (tmp_path / "manifest.jsonl").write_text('{"name": "a"}\n')
    with pytest.raises(ValueError, match="line 1 is not a pair record"):
        list_pairs(tmp_path)


NAMES = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" -_.()'"),
    min_size=1,
    max_size=24,
).filter(lambda s: not s.startswith(".") and s.strip() == s)


@settings(max_examples=30, deadline=None)
@given(names=st.lists(NAMES, min_size=1, max_size=4, unique_by=str.casefold))
def test_any_file_names_are_paired_by_name(names):
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            make_pair(Path(folder), name)
        listing = list_pairs(folder)
        assert sorted(p.name for p in listing.pairs) == sorted(names) and listing.unpaired == []
        assert FolderSource(folder).pair(0, SIZE).size == SIZE


def test_env_passes_its_size_mismatch_policy_to_a_folder(tmp_path):
    from PIL import Image

    from vz_env import spy_v0

    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "a_original.png")
    Image.new("RGB", (32, 24), (10, 200, 10)).save(tmp_path / "a_modified.png")
    Image.new("RGB", (64, 48), (200, 10, 10)).save(tmp_path / "b_original.png")
    Image.new("RGB", (64, 48), (10, 10, 200)).save(tmp_path / "b_modified.png")
    assert len(spy_v0.env(images=str(tmp_path), image_size=(64, 48)).unwrapped.source) == 2
    reported = spy_v0.env(images=str(tmp_path), image_size=(64, 48), size_mismatch="report").unwrapped.source
    assert len(reported) == 1
