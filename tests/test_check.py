"""The broken-pair checker: blank and identical pairs in memory; each problem kind in a folder, counted."""

import numpy as np
from PIL import Image

from vz_env.data.base import ImagePair
from vz_env.data.charts import ChartSource
from vz_env.data.check import check_folder, pair_problems
from vz_env.data.writer import write_pairs

H, W = 120, 160


def textured(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_a_good_pair_has_no_problems():
    original = textured()
    modified = original.copy()
    modified[10:16, 10:16] = 255 - modified[10:16, 10:16]
    assert pair_problems(ImagePair(original, modified)) == []


def test_a_blank_image_on_either_side_is_blank():
    flat = np.full((H, W, 3), 200, np.uint8)
    assert pair_problems(ImagePair(textured(), flat)) == ["blank"]
    assert pair_problems(ImagePair(flat, textured())) == ["blank"]
    assert pair_problems(ImagePair(flat, flat.copy())) == ["blank", "identical"]


def test_copies_and_compression_noise_are_identical():
    original = textured()
    noisy = np.clip(original + np.random.default_rng(1).integers(-12, 13, original.shape), 0, 255)
    assert pair_problems(ImagePair(original, original.copy())) == ["identical"]
    assert pair_problems(ImagePair(original, noisy.astype(np.uint8))) == ["identical"]


def save_pair(folder, name, original, modified):
    Image.fromarray(original).save(folder / f"{name}_original.png")
    Image.fromarray(modified).save(folder / f"{name}_modified.png")


def test_a_plain_folder_reports_each_problem_by_name_with_counts(tmp_path):
    good = textured(1)
    changed = good.copy()
    changed[:20, :20] = 0
    save_pair(tmp_path, "good", good, changed)
    save_pair(tmp_path, "blank", good, np.zeros_like(good))
    save_pair(tmp_path, "same", good, good)
    save_pair(tmp_path, "mismatch", good, textured(2)[:, :100])
    save_pair(tmp_path, "broken", good, changed)
    (tmp_path / "broken_modified.png").write_bytes(b"\x89PNG truncated")
    Image.fromarray(good).save(tmp_path / "alone_original.png")
    report = check_folder(tmp_path, workers=2)
    assert report.pairs == 5 and not report.ok
    assert report.counts == {"blank": 1, "identical": 1, "unreadable": 1, "size-mismatch": 1, "unpaired": 1}
    by_problem = {f.problem: f for f in report.findings}
    assert by_problem["blank"].name == "blank" and by_problem["identical"].name == "same"
    assert "broken_modified.png" in by_problem["unreadable"].detail
    assert by_problem["size-mismatch"].detail == "original 160x120, modified 100x120"
    assert by_problem["unpaired"].name == "alone_original.png"


def test_a_written_folder_checks_clean_and_a_missing_file_is_unreadable(tmp_path):
    seen = []
    write_pairs(ChartSource(), tmp_path, 4, size=(W, H))
    report = check_folder(tmp_path, on_pair=lambda: seen.append(1))
    assert report.ok and report.pairs == 4 and len(seen) == 4
    (tmp_path / "000002_modified.png").unlink()
    report = check_folder(tmp_path)
    assert [(f.name, f.problem) for f in report.findings] == [("000002", "unreadable")]
