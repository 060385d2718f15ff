"""`vz-spy data`: writes pairs and manifest atomically, checks folders, one-line errors, never loads torch."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vz_env.data.charts import ChartSource
from vz_env.data.writer import encode_png, pair_seed, write_pairs
from vz_spy.cli import main


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def manifest(folder):
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_charts_writes_pngs_and_a_manifest_line_per_pair(tmp_path, capsys):
    out = tmp_path / "charts"
    assert (
        main(["data", "charts", "--num-pairs", "5", "--out", str(out), "--workers", "2", "--size", "96x64"])
        == 0
    )
    assert "wrote 5 charts pairs" in capsys.readouterr().out
    lines = manifest(out)
    assert [r["name"] for r in lines] == [f"00000{i}" for i in range(5)]
    assert len(files_in(out)) == 11
    for i, record in enumerate(lines):
        assert record["seed"] == pair_seed(0, i) and record["kind"] == "charts" and record["problems"] == []
        assert record["size"] == [96, 64] and len(record["changes"]) == 2
        with Image.open(out / record["files"]["modified"]) as img:
            assert img.size == (96, 64)
        expected = ChartSource().pair(record["seed"], (96, 64))
        assert np.array_equal(np.asarray(Image.open(out / record["files"]["original"])), expected.original)


def test_a_rerun_with_the_same_seed_writes_the_same_bytes(tmp_path):
    args = ["data", "charts", "--num-pairs", "3", "--seed", "9", "--workers", "1"]
    main([*args, "--out", str(tmp_path / "a")])
    main([*args, "--out", str(tmp_path / "b")])
    for name in files_in(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_clevr_and_photos_kinds_write_pairs(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(photos / "noise.png")
    assert main(["data", "clevr", "--num-pairs", "2", "--out", str(tmp_path / "c"), "--size", "80x60"]) == 0
    assert (
        main(["data", "photos", "--from", str(photos), "--num-pairs", "2", "--out", str(tmp_path / "p")]) == 0
    )
    assert [r["kind"] for r in manifest(tmp_path / "c")] == ["clevr", "clevr"]
    assert manifest(tmp_path / "p")[0]["meta"]["photo"] == "noise.png"


def test_check_exits_zero_on_a_clean_folder_and_one_on_problems(tmp_path, capsys):
    write_pairs(ChartSource(), tmp_path, 3, size=(64, 48))
    assert main(["data", "check", str(tmp_path)]) == 0
    assert "3 pairs checked" in capsys.readouterr().out
    (tmp_path / "000001_modified.png").write_bytes((tmp_path / "000001_original.png").read_bytes())
    assert main(["data", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "identical      000001" in out and "1 identical" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "charts", "--num-pairs", "0", "--out", "OUT"],
        ["data", "charts", "--num-pairs", "two", "--out", "OUT"],
        ["data", "charts", "--num-pairs", "2"],
        ["data", "charts", "--num-pairs", "2", "--out", "OUT", "--size", "320by240"],
        ["data", "charts", "--num-pairs", "2", "--out", "OUT", "--size", "8x8"],
        ["data", "charts", "--num-pairs", "2", "--out", "OUT", "--workers", "0"],
        ["data", "charts", "--num-pairs", "2", "--out", "OUT", "--bogus"],
        ["data", "photos", "--num-pairs", "2", "--out", "OUT"],
        ["data", "photos", "--num-pairs", "2", "--out", "OUT", "--from", "MISSING"],
        ["data", "check", "MISSING"],
        ["data", "check", "EMPTY"],
        ["data"],
    ],
)
def test_bad_input_fails_with_one_line_and_status_2(argv, tmp_path, capsys):
    (tmp_path / "EMPTY").mkdir()
    argv = [str(tmp_path / a) if a in ("OUT", "MISSING", "EMPTY") else a for a in argv]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err


class StopsAfter:
    """A chart source that is 'interrupted' (Ctrl-C) when asked for its n-th pair."""

    name = "charts"

    def __init__(self, n: int, exc: type[BaseException] = KeyboardInterrupt) -> None:
        self.n, self.exc, self.calls = n, exc, 0

    def pair(self, seed, size):
        self.calls += 1
        if self.calls > self.n:
            raise self.exc
        return ChartSource().pair(seed, size)


@pytest.mark.parametrize(("workers", "exc"), [(1, KeyboardInterrupt), (2, RuntimeError)])
def test_an_interrupted_run_leaves_no_partial_files_and_can_be_rerun(tmp_path, workers, exc):
    write_pairs(ChartSource(), tmp_path, 2, size=(64, 48))
    (tmp_path / ".000001_original.png.x1y2.tmp").write_bytes(b"left by a killed run")
    with pytest.raises(exc):
        write_pairs(StopsAfter(3, exc), tmp_path, 40, size=(64, 48), workers=workers)
    names = files_in(tmp_path)
    assert "manifest.jsonl" not in names
    assert not [n for n in names if n.startswith(".")]
    for name in names:
        with Image.open(tmp_path / name) as img:
            img.load()
    summary = write_pairs(ChartSource(), tmp_path, 4, size=(64, 48), workers=workers)
    assert summary.num_pairs == 4 and len(manifest(tmp_path)) == 4


def test_data_never_imports_torch(tmp_path):
    out = repr(str(tmp_path))
    code = (
        "import sys\n"
        "from vz_spy.cli import main\n"
        f"status = main(['data', 'charts', '--num-pairs', '2', '--out', {out}, '--workers', '1'])\n"
        f"main(['data', 'check', {out}])\n"
        "print(status, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 False False", done.stderr


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 70),
    height=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
    flat=st.booleans(),
)
def test_encoded_pngs_decode_to_the_same_pixels(width, height, seed, flat):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if flat:
        image[:] = image[0, 0]
    with Image.open(io.BytesIO(encode_png(image))) as decoded:
        assert decoded.mode == "RGB" and np.array_equal(np.asarray(decoded), image)
