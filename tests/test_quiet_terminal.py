"""`vz-spy train` speaks for itself: no library progress bars or library notes among its own output."""

import json
import warnings

import pytest

from vz_spy.cli import main

LIBRARY_NOISE = (
    "Loading weights",
    "Writing model shards",
    "is_gradient_checkpointing",
    "save_embedding_layers",
)
SHORT_RUN = {
    "trainer": {"games_per_iter": 2, "group_size": 2, "max_new_tokens": 4, "iterations": 1},
    "env": {"image_size": [64, 48]},
}


@pytest.fixture(scope="module")
def tiny_path():
    from agents.tiny_vlm import default_model_path

    return str(default_model_path())


def test_a_short_training_run_prints_no_library_bars_or_warnings(tiny_path, tmp_path, capfd):
    """Load, LoRA wrap, checkpoint, export and the head-to-head loads: every place a library could speak."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(SHORT_RUN))
    argv = ["train", "--model", tiny_path, "--config", str(config), "--versus-games", "2", "--no-plot"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    out, err = capfd.readouterr()
    notes = [str(w.message) for w in caught]
    assert "win rate" in out and (tmp_path / "run" / "checkpoint-1" / "adapter").is_dir()
    for noise in LIBRARY_NOISE:
        assert noise not in err and not any(noise in note for note in notes), (noise, err, notes)
