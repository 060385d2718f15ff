"""Chart pairs: deterministic; every chart type and edit visibly changes the picture as recorded."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vz_env.data import resolve_source
from vz_env.data.charts import CHART_TYPES, EDIT_OPS, PALETTE, ChartSource
from vz_env.data.check import pair_problems

SIZE = (320, 240)


def apply_changes(record: dict, changes: tuple) -> dict:
    """The chart record the change list describes, built from the original record and the changes alone."""
    out = json.loads(json.dumps(record))
    for change in changes:
        k = change["index"]
        if change["attribute"] == "value":
            values = (
                out["values"][out["series"].index(change["series"])] if "series" in change else out["values"]
            )
            assert values[k] == change["before"]
            values[k] = change["after"]
        elif change["attribute"] == "color":
            assert out["colors"][k] == change["before"]
            out["colors"][k] = change["after"]
        else:
            key = "series" if record["type"] == "line" else "labels"
            assert out[key][k] == change["before"] == change["item"]
            out[key][k] = change["after"]
    return out


def test_same_seed_gives_the_same_pair():
    a, b = ChartSource().pair(7, SIZE), ChartSource().pair(7, SIZE)
    assert np.array_equal(a.original, b.original) and np.array_equal(a.modified, b.modified)
    assert a.changes == b.changes and a.meta == b.meta


def test_different_seeds_give_different_charts():
    pairs = [ChartSource().pair(seed, SIZE) for seed in range(5)]
    assert len({p.original.tobytes() for p in pairs}) == 5


@pytest.mark.parametrize("chart_type", CHART_TYPES)
@pytest.mark.parametrize("op", EDIT_OPS)
def test_every_type_and_edit_changes_the_picture_as_recorded(chart_type, op):
    source = ChartSource(types=(chart_type,), ops=(op,))
    for seed in range(3):
        pair = source.pair(seed, SIZE)
        assert pair.size == SIZE
        assert pair_problems(pair) == []
        assert len(pair.changes) == 2 and all(c["op"] == op for c in pair.changes)
        original, modified = pair.scene_of("original"), pair.scene_of("modified")
        assert original["type"] == chart_type
        assert apply_changes(original, pair.changes) == modified
        assert all(c["before"] != c["after"] for c in pair.changes)


def test_records_name_palette_colours_and_pies_sum_to_100():
    for seed in range(40):
        pair = ChartSource().pair(seed, (64, 48))
        for which in ("original", "modified"):
            record = pair.scene_of(which)
            assert set(record["colors"]) <= set(PALETTE)
            assert len(set(record["colors"])) == len(record["colors"])
            if record["type"] == "pie":
                assert sum(record["values"]) == 100 and min(record["values"]) >= 5
            else:
                flat = np.ravel(record["values"])
                assert flat.min() >= 5 and flat.max() <= record["axis_max"]


def test_meta_is_json_ready_and_names_the_kind():
    pair = ChartSource().pair(3, SIZE)
    assert pair.meta["kind"] == "charts" and pair.meta["seed"] == 3
    json.dumps({"changes": pair.changes, "meta": pair.meta})


def test_charts_is_a_registered_kind():
    assert isinstance(resolve_source("charts"), ChartSource)


def test_unknown_types_or_ops_are_rejected():
    with pytest.raises(ValueError, match="ChartSource takes"):
        ChartSource(types=("radar",))
    with pytest.raises(ValueError, match="ChartSource takes"):
        ChartSource(ops=())


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    width=st.integers(16, 700),
    height=st.integers(16, 500),
)
def test_any_seed_and_size_draws_two_different_images(seed, width, height):
    pair = ChartSource().pair(seed, (width, height))
    assert pair.original.shape == (height, width, 3)
    assert not np.array_equal(pair.original, pair.modified)
