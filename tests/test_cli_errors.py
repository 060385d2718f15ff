"""Bad input and faults reach a CLI user as one line and a non-zero exit, checked before any long work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from algorithms import checkpoint
from algorithms.metrics import MetricsLog, read_metrics
from vz_env import spy_v0
from vz_env.atomic import atomic_folder, atomic_write_text
from vz_spy.cli import main

LONG_WORK = {
    "train": ("algorithms.run", "train"),
    "data": ("vz_env.data.writer", "write_pairs"),
    "play": ("vz_spy.play", "play_game"),
    "eval": ("algorithms.eval.head_to_head", "evaluate"),
    "plot": ("algorithms.plot", "plot_run"),
    "tiny-model": ("agents.tiny_vlm", "build_tiny_vlm"),
    "sft": ("algorithms.sft", "warm_start"),
}
FOLDER_OUTPUTS = {
    "train": ["train", "--iterations", "1", "--out"],
    "data": ["data", "charts", "--num-pairs", "1", "--workers", "1", "--out"],
    "play": ["play", "--watch", "--seed", "1", "--save-images"],
    "tiny-model": ["tiny-model", "--out"],
    "sft": ["sft", "--out"],
}
FILE_OUTPUTS = {
    "eval": ["eval", "--a", "scene", "--b", "random", "--games", "2", "--json"],
    "plot": ["plot", "RUN", "--out"],
}


def _writable(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


@pytest.fixture
def read_only(tmp_path):
    """A folder this process cannot write in (root ignores permission bits, so then /sys)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    if _writable(folder):
        folder = Path("/sys")
    if _writable(folder):
        pytest.skip("no folder here refuses writes")
    yield folder
    (tmp_path / "read-only").chmod(0o700)


@pytest.fixture
def no_long_work(monkeypatch):
    """Every command's long work fails the test if it is reached."""
    import importlib

    def reached(*args, **kwargs):
        raise AssertionError("the long work started before the bad input was found")

    for module, name in LONG_WORK.values():
        monkeypatch.setattr(importlib.import_module(module), name, reached)


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


def assert_one_line(status: int, err: str, *words: str) -> None:
    assert status == 2, err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def bad_paths(tmp_path: Path, read_only: Path, folder: bool) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    a_folder = tmp_path / "a-folder"
    a_folder.mkdir()
    return {
        "taken": a_file if folder else a_folder,
        "under a file": a_file / "out",
        "not writable": read_only / "out",
        "name too long": tmp_path / ("x" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)),
    }


@pytest.mark.parametrize("kind", ["taken", "under a file", "not writable", "name too long"])
@pytest.mark.parametrize("command", sorted(FOLDER_OUTPUTS))
def test_a_bad_output_folder_is_one_line_before_any_work(
    command, kind, tmp_path, read_only, no_long_work, capsys
):
    path = bad_paths(tmp_path, read_only, folder=True)[kind]
    status, err = run_cli([*FOLDER_OUTPUTS[command], str(path)], capsys)
    assert_one_line(status, err, str(path))


@pytest.mark.parametrize("kind", ["taken", "under a file", "not writable", "name too long"])
@pytest.mark.parametrize("command", sorted(FILE_OUTPUTS))
def test_a_bad_output_file_is_one_line_before_any_work(
    command, kind, tmp_path, read_only, no_long_work, capsys
):
    path = bad_paths(tmp_path, read_only, folder=False)[kind]
    argv = [str(tmp_path) if a == "RUN" else a for a in FILE_OUTPUTS[command]]
    status, err = run_cli([*argv, str(path)], capsys)
    assert_one_line(status, err, str(path))


@pytest.mark.parametrize("command", ["tiny-model", "sft", "train"])
def test_a_model_or_run_folder_that_holds_files_is_refused(command, tmp_path, no_long_work, capsys):
    (tmp_path / "kept.txt").write_text("someone's file")
    status, err = run_cli([*FOLDER_OUTPUTS[command], str(tmp_path)], capsys)
    assert_one_line(status, err, "not an empty folder")
    assert (tmp_path / "kept.txt").read_text() == "someone's file"


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ([1, 2], "JSON object"),
        ({"trainer": [1]}, "trainer"),
        ({"env": "clevr"}, "env"),
        ({"algo": 3}, "algo"),
        ({"trainer": {"iterations": "8"}}, "iterations"),
        ({"trainer": {"group_size": 2.5}}, "group_size"),
        ({"trainer": {"learning_rate": None}}, "learning_rate"),
        ({"env": {"image_size": 5}}, "image_size"),
        ({"env": {"image_size": ["a", "b"]}}, "image_size"),
        ({"env": {"num_players": "4"}}, "num_players"),
        ({"env": {"reveal_role": "yes"}}, "reveal_role"),
    ],
)
def test_train_config_with_wrong_json_types_is_one_line_naming_the_field(
    config, named, tmp_path, no_long_work, capsys
):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    status, err = run_cli(["train", "--config", str(path), "--out", str(tmp_path / "run")], capsys)
    assert_one_line(status, err, named, str(path))


def test_train_config_that_is_not_json_names_the_line(tmp_path, no_long_work, capsys):
    path = tmp_path / "config.json"
    path.write_text('{\n  "trainer": {"iterations": 2,}\n}\n')
    status, err = run_cli(["train", "--config", str(path)], capsys)
    assert_one_line(status, err, f"{path} line 2")


def test_a_train_start_with_bad_images_leaves_no_run_folder(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"env": {"images": str(tmp_path / "no-such-pairs")}}))
    run_dir = tmp_path / "run"
    status, err = run_cli(["train", "--config", str(path), "--out", str(run_dir)], capsys)
    assert_one_line(status, err, "no-such-pairs")
    assert not run_dir.exists()


def test_resume_with_a_corrupt_config_names_the_file_and_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{\n  "algo": "iterative-spo",\n  "trainer": {"iterat')
    status, err = run_cli(["train", "--resume", str(tmp_path)], capsys)
    assert_one_line(status, err, f"{tmp_path / 'config.json'} line 3")


def old_run_folder(run_dir: Path, **env: object) -> Path:
    """A run folder as written before clue_format_weight moved from the trainer settings to the env's."""
    from algorithms.run import run_config
    from algorithms.train_config import algorithm_config

    config = run_config("iterative-spo", None, algorithm_config("iterative-spo"), dict(env))
    config["trainer"]["clue_format_weight"] = 0.25
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


def test_resuming_a_run_from_before_a_setting_moved_moves_it_with_a_note(tmp_path, capsys, monkeypatch):
    from algorithms import run
    from algorithms.run import config_differences, load_run_config

    run_dir = old_run_folder(tmp_path / "run")
    started = []
    monkeypatch.setattr(run, "train", lambda run_dir, config, **kwargs: started.append(config) or [])
    status, err = run_cli(["train", "--resume", str(run_dir), "--no-plot"], capsys)
    assert status == 0 and err.count("\n") == 1 and "clue_format_weight is an 'env' setting now" in err, err
    (config,) = started
    assert config["env"]["clue_format_weight"] == 0.25 and "clue_format_weight" not in config["trainer"]
    assert config_differences(load_run_config(run_dir)[0], config) == []


def test_a_moved_setting_set_in_both_places_is_one_line(tmp_path, capsys):
    run_dir = old_run_folder(tmp_path / "run", clue_format_weight=0.5)
    status, err = run_cli(["train", "--resume", str(run_dir)], capsys)
    assert_one_line(status, err, "clue_format_weight", "'env'", "config.json")


def write_metrics(run_dir: Path, rows: int, truncated: bool) -> Path:
    lines = [json.dumps({"iteration": i, "stage": "decision", "loss": 0.1 * i}) for i in range(1, rows + 1)]
    text = "\n".join(lines) + "\n"
    if truncated:
        text += json.dumps({"iteration": rows + 1, "stage": "decision"})[:20]
    path = run_dir / "metrics.jsonl"
    path.write_text(text)
    return path


def test_plot_on_a_truncated_metrics_file_names_the_file_and_line(tmp_path, capsys):
    path = write_metrics(tmp_path, 2, truncated=True)
    status, err = run_cli(["plot", str(tmp_path)], capsys)
    assert_one_line(status, err, f"{path} line 3")


def test_a_truncated_last_metrics_line_does_not_block_a_resume(tmp_path):
    path = write_metrics(tmp_path, 3, truncated=True)
    MetricsLog(tmp_path, tensorboard=False).truncate(2)
    assert [row["iteration"] for row in read_metrics(path)] == [1, 2]
    write_metrics(tmp_path, 3, truncated=False)
    path.write_text(path.read_text().replace('"iteration": 2', '"iteration": 2,,'))
    with pytest.raises(ValueError, match="line 2"):
        MetricsLog(tmp_path, tensorboard=False).truncate(3)


def test_photos_that_cannot_be_read_are_one_line_and_leave_no_folder(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    argv = ["data", "photos", "--from", str(photos), "--num-pairs", "3", "--out", str(out), "--workers", "2"]
    status, err = run_cli(argv, capsys)
    assert_one_line(status, err, "can be read")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_data_workers_stop_quietly_when_the_parent_is_killed(tmp_path):
    out = tmp_path / "pairs"
    code = (
        "from vz_spy.cli import main\n"
        f"main(['data', 'charts', '--num-pairs', '100000', '--workers', '2', '--out', {str(out)!r}])\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    workers = _wait_for_children(parent.pid, 2, lambda: any(tmp_path.glob(".pairs.*.tmp/*.png")))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _wait_until_gone(workers), "worker processes outlived their killed parent"
    assert "Traceback" not in parent.stderr.read()
    assert main(["data", "charts", "--num-pairs", "2", "--workers", "1", "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]


def _wait_for_children(pid: int, count: int, writing, polls: int = 1200) -> list[int]:
    """The pids of a process's children once it has `count` of them and `writing()` says they work."""
    children: list[int] = []
    for _ in range(polls):
        try:
            children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            pytest.fail("the data command ended before it could be killed")
        if len(children) >= count and writing():
            return children
        time.sleep(0.05)
    pytest.fail(f"the data command never started {count} workers")


def _wait_until_gone(pids: list[int], polls: int = 600) -> bool:
    """True once no pid is a live process (a zombie left for init to reap counts as gone)."""
    for _ in range(polls):
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.05)
    return False


def test_parallel_step_with_a_non_dict_says_a_dict_is_expected():
    env = spy_v0.parallel_env()
    env.reset(seed=0)
    with pytest.raises(TypeError, match="dict of actions"):
        env.step("\\boxed{a red cube}")


def make_checkpoint(run_dir: Path, iteration: int, complete: bool = True) -> Path:
    folder = run_dir / f"checkpoint-{iteration}"
    (folder / "adapter").mkdir(parents=True)
    if complete:
        (folder / "state.pt").write_bytes(b"state")
    return folder


def test_resume_after_kill_minus_nine_cleans_every_leftover(tmp_path):
    make_checkpoint(tmp_path, 2, complete=False)  # half deleted
    make_checkpoint(tmp_path, 4)  # older, the pointer had already moved on
    make_checkpoint(tmp_path, 6)
    atomic_write_text(tmp_path / "latest", "checkpoint-6\n")
    (tmp_path / ".latest.k2j4x9.tmp").write_text("checkpoint-8\n")
    (tmp_path / ".checkpoint-8.a1b2c3.tmp").mkdir()
    (tmp_path / "metrics.jsonl").write_text("")
    removed = checkpoint.clean_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-6", "latest", "metrics.jsonl"]
    assert len(removed) == 4 and checkpoint.latest_checkpoint(tmp_path).name == "checkpoint-6"


def test_a_new_checkpoint_the_pointer_never_reached_goes_and_the_named_one_stays(tmp_path):
    make_checkpoint(tmp_path, 4)
    atomic_write_text(tmp_path / "latest", "checkpoint-4\n")
    make_checkpoint(tmp_path, 6)  # renamed into place, killed before the pointer moved
    checkpoint.clean_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "latest"]


def test_save_checkpoint_keeps_one_folder_and_no_temporaries(tmp_path):
    model = torch.nn.Linear(2, 2)
    for iteration in (1, 2, 2):
        checkpoint.save_checkpoint(tmp_path, iteration, model, {"note": iteration})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2", "latest"]
    state = checkpoint.load_checkpoint(checkpoint.latest_checkpoint(tmp_path), model)
    assert state["iteration"] == 2


def test_a_failed_atomic_folder_leaves_nothing_and_the_target_as_it_was(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), atomic_folder(target) as building:
        (building / "weights.bin").write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_folder(target) as building:
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(building / "x.png")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and (target / "x.png").is_file()
    with pytest.raises(FileExistsError), atomic_folder(target):
        pass


def test_a_train_start_that_fails_in_its_first_iteration_leaves_no_run_folder(
    tiny_dirs, tmp_path, monkeypatch
):
    from algorithms.trainer import Trainer

    def out_of_memory(self):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(Trainer, "run_iteration", out_of_memory)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": tiny_dirs["qwen2_5_vl"], "env": {"image_size": [64, 48]}}))
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="out of memory"):
        main(["train", "--config", str(config), "--out", str(run_dir), "--no-plot"])
    assert not run_dir.exists()
