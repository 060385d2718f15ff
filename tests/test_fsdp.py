"""Full fine-tuning under FSDP2, two CPU processes (gloo): in sync, resumed equals uninterrupted, exportable.

Launches that cannot run full fine-tuning stop before loading the model, with one line saying what to change.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from algorithms.metrics import TIMING_KEYS, read_metrics
from algorithms.sharding import SHARDED, check_setup, load_full_weights
from algorithms.train_config import SPOConfig
from vz_spy.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "accelerate"
ZERO3_JSON = EXAMPLES / "deepspeed_zero3.json"
ITERATIONS = 3
TRAINER = {
    "iterations": ITERATIONS,
    "games_per_iter": 1,
    "group_size": 2,
    "max_new_tokens": 8,
    "learning_rate": 1e-3,
    "warmup_ratio": 0.0,
    # The untrained tiny model's clues are malformed: the format term gives every clue a non-zero advantage.
    "start_stage": "clue",
    "min_stage_iters": 1,
    "score_chunk": 3,
    "checkpoint_every": 1,
    "finetune": "full",
    "reference": "copy",
}
ENV = {"image_size": [64, 48], "num_players": 4, "num_rounds": 1, "clue_format_weight": 1.0}
# Trains the first two iterations of a run config, as a run killed after its second checkpoint would have.
INTERRUPTED = """
import json, sys
from algorithms.distributed import end_processes
from algorithms.run import train
train(sys.argv[2], json.loads(open(sys.argv[1]).read()), stop_after=2)
end_processes()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(*args: str) -> None:
    """`accelerate launch` with the shipped FSDP2 config, on 2 CPU processes instead of 8 GPUs, in fp32."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(EXAMPLES / "fsdp2.yaml"),
    ]
    command += ["--num_processes", "2", "--mixed_precision", "no", "--main_process_port", str(_free_port())]
    command += list(args)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tiny_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An uninterrupted 3-iteration FSDP2 run, and one stopped after iteration 2 then resumed."""
    root = tmp_path_factory.mktemp("fsdp")
    config = root / "config.json"
    config.write_text(
        json.dumps(
            {"algo": "iterative-spo", "model": tiny_dirs["qwen2_5_vl"], "trainer": TRAINER, "env": ENV}
        )
    )
    driver = root / "interrupted.py"
    driver.write_text(INTERRUPTED)
    straight, resumed = root / "straight", root / "resumed"
    quiet = ("--no-plot", "--versus-games", "0")
    _launch("-m", "vz_spy", "train", "--out", str(straight), "--config", str(config), *quiet)
    _launch(str(driver), str(straight / "config.json"), str(resumed))  # the very config the CLI ran
    assert [r["iteration"] for r in read_metrics(resumed / "metrics.jsonl")] == [1, 2]
    _launch("-m", "vz_spy", "train", "--resume", str(resumed), *quiet)
    return {"straight": straight, "resumed": resumed, "model": Path(tiny_dirs["qwen2_5_vl"])}


def _comparable(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in TIMING_KEYS and not k.startswith("seconds")} for r in rows
    ]


def _checkpoint_tensors(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a sharded checkpoint (model and optimizer), whole."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    target = folder.parent / f"{folder.name}.pt"
    dcp_to_torch_save(str(folder / SHARDED), str(target))
    flat: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, torch.Tensor):
            flat[prefix] = value

    walk("", torch.load(target, weights_only=False))
    target.unlink()
    return flat


@pytest.mark.slow
def test_two_processes_train_all_weights_in_sync_and_checkpoint_shards(runs: dict[str, Path]) -> None:
    rows = read_metrics(runs["straight"] / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == list(range(1, ITERATIONS + 1))
    assert all(r["world_size"] == 2 and r["state_spread"] == 0.0 for r in rows)
    assert rows[0]["stage"] == "clue" and rows[0]["loss"] != 0.0  # a real gradient was reduced
    assert rows[1]["kl"] > 0.0  # it moved the weights away from the frozen reference copy
    checkpoint = runs["straight"] / f"checkpoint-{ITERATIONS}"
    assert sorted(p.name for p in (checkpoint / SHARDED).glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    assert not list(runs["straight"].glob(".*"))  # no staging folder left behind


@pytest.mark.slow
def test_resumed_after_second_iteration_equals_uninterrupted(runs: dict[str, Path]) -> None:
    straight = read_metrics(runs["straight"] / "metrics.jsonl")
    resumed = read_metrics(runs["resumed"] / "metrics.jsonl")
    assert [r["iteration"] for r in resumed] == list(range(1, ITERATIONS + 1))
    assert _comparable(resumed) == _comparable(straight)
    name = f"checkpoint-{ITERATIONS}"
    a = _checkpoint_tensors(runs["straight"] / name)
    b = _checkpoint_tensors(runs["resumed"] / name)
    assert a.keys() == b.keys() and any(k.startswith(".optimizer.state") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sharded_run_exports_to_a_plain_folder(runs: dict[str, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "export"
    assert main(["export", str(runs["straight"]), "--out", str(out)]) == 0
    exported = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    expected = AutoModelForImageTextToText.from_pretrained(runs["model"], local_files_only=True)
    base = {k: v.clone() for k, v in expected.state_dict().items()}
    load_full_weights(runs["straight"] / f"checkpoint-{ITERATIONS}", expected)
    state = exported.state_dict()
    assert all(torch.equal(state[k], v) for k, v in expected.state_dict().items())
    assert any(not torch.equal(state[k], base[k]) for k in base)


@pytest.mark.parametrize(
    ("env", "finetune", "processes", "message"),
    [
        ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}, "full", 1, "FSDP with one process"),
        ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "1"}, "full", 2, "set fsdp_version: 2"),
        ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}, "lora", 2, "finetune 'full' only"),
        ({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}, "full", 2, "ZeRO-3"),
        (
            {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_CONFIG_FILE": str(ZERO3_JSON)},
            "lora",
            2,
            "examples/accelerate/fsdp2.yaml",
        ),
    ],
)
def test_launches_that_cannot_run_the_finetune_mode_name_the_fix(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], finetune: str, processes: int, message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reference = "copy" if finetune == "full" else "disable-adapter"
    with pytest.raises(ValueError, match=message):
        check_setup(SPOConfig(finetune=finetune, reference=reference), processes)


FSDP2 = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}
FULL = {"finetune": "full", "reference": "copy"}


@pytest.mark.parametrize(
    ("env", "settings", "message"),
    [
        ({}, {"mixed_precision": "bf16"}, "set trainer.mixed_precision to 'no'"),
        ({}, {**FULL, "cpu_offload": True}, "set trainer.cpu_offload to false"),
        (FSDP2, {**FULL, "rollout_backend": "vllm"}, "set trainer.rollout_backend to 'hf'"),
        ({**FSDP2, "FSDP_OFFLOAD_PARAMS": "true"}, FULL, "set trainer.cpu_offload to true"),
        ({**FSDP2, "FSDP_ACTIVATION_CHECKPOINTING": "true"}, FULL, "set trainer.activation_checkpointing"),
    ],
)
def test_settings_that_cannot_run_in_this_launch_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], settings: dict, message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("algorithms.sharding._vllm_installed", lambda: False)
    with pytest.raises(ValueError, match=message) as refused:
        check_setup(SPOConfig(**settings), 2)
    assert "\n" not in str(refused.value)


def test_a_lora_rank_vllm_cannot_serve_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("algorithms.sharding._vllm_installed", lambda: True)
    check_setup(SPOConfig(rollout_backend="vllm", lora_rank=8), 2)
    with pytest.raises(ValueError, match="set trainer.lora_rank to one of them"):
        check_setup(SPOConfig(rollout_backend="vllm", lora_rank=4), 2)


def test_fsdp2_takes_bf16_offload_and_checkpointing(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FSDP2.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("algorithms.sharding._vllm_installed", lambda: True)
    settings = {"mixed_precision": "bf16", "cpu_offload": True, "activation_checkpointing": True}
    check_setup(SPOConfig(**FULL, **settings, rollout_backend="vllm"), 2)


def test_full_finetuning_with_fsdp_on_one_process_stops_before_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "2")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": str(tmp_path / "no-such-model"), "trainer": TRAINER, "env": ENV}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "FSDP with one process" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # stopped before the (missing) model was loaded


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--cpu-offload", "trainer.cpu_offload"), ("--mixed-precision=bf16", "trainer.mixed_precision")],
)
def test_fsdp2_only_settings_without_fsdp_stop_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, message: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": str(tmp_path / "no-such-model"), "trainer": TRAINER, "env": ENV}))
    assert main(["train", "--config", str(config), flag, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
