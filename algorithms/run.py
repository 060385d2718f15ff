"""A training run in a folder: config.json, metrics.jsonl, checkpoints, resume with a config check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from algorithms.checkpoint import clean_leftovers
from algorithms.metrics import MetricsLog
from algorithms.train_config import SPOConfig, algorithm_settings
from vz_env.atomic import atomic_write_text
from vz_env.config import SpyConfig
from vz_env.data import resolve_source


def run_config(algo: str, model: str | None, trainer: SPOConfig, env: dict[str, Any]) -> dict[str, Any]:
    """Everything that defines a run, as saved in RUN_DIR/config.json (validated before anything runs).

    `algo` names the preset the trainer settings started from (see `train_config.ALGORITHMS`); the
    `trainer` section, `stage_schedule` included, is what runs.
    """
    algorithm_settings(algo)
    SpyConfig.from_kwargs(**env)
    resolve_source(env.get("images", SpyConfig.images))
    if not all(isinstance(v, (str, int, float, bool, list, tuple, type(None))) for v in env.values()):
        raise ValueError(
            "env settings in a run config must be plain values (a kind name or folder for images)"
        )
    return {"algo": algo, "model": model, "trainer": trainer.to_dict(), "env": _plain(env)}


def config_differences(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Dotted names of the settings that differ between two run configs."""
    differences = []
    for section in sorted(set(saved) | set(wanted)):
        a, b = saved.get(section), wanted.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            differences += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            differences.append(section)
    return differences


MOVED_SETTINGS: dict[str, tuple[str, str]] = {"clue_format_weight": ("trainer", "env")}
"""Settings that changed section since some run folders were written: name -> (old section, new section)."""


def moved_settings(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The run config with each setting that moved section put where it lives now, and a note per move.

    Runs written before a move still resume and export; the resumed run saves its config the new way.
    """
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    notes = []
    for name, (old, new) in MOVED_SETTINGS.items():
        if name not in config.get(old, {}):
            continue
        value = config[old].pop(name)
        target = config.setdefault(new, {})
        if name in target and target[name] != value:
            raise ValueError(
                f"{name} is set under both '{old}' ({value!r}) and '{new}' ({target[name]!r}) in the run "
                f"config; it is an '{new}' setting now: keep that one"
            )
        target[name] = value
        notes.append(f"note: {name} is an '{new}' setting now; the run's '{old}' value {value!r} moved there")
    return config, notes


def load_run_config(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """The config.json of a run folder, settings that moved put where they live now (`moved_settings`).

    ValueError naming the file (and line) when it is missing or broken. Returns the config and the notes
    on what moved.
    """
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise ValueError(f"{run_dir} is not a run folder (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} line {err.lineno} is not valid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    sections = config if isinstance(config, dict) else {}
    if not isinstance(sections.get("trainer"), dict) or not isinstance(sections.get("env", {}), dict):
        raise ValueError(f"{path} is not a run config (expected an object with 'trainer' and 'env' sections)")
    try:
        return moved_settings(config)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def train(
    run_dir: Path,
    config: dict[str, Any],
    resume: bool = False,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
    stop_after: int | None = None,
    accelerator: Any = None,
) -> list[dict[str, Any]]:
    """Train into run_dir (resuming from its latest checkpoint when asked); returns this call's metrics rows.

    `stop_after` ends the call after that many iterations in total (the run can be resumed later).
    """
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from algorithms.colocate import check_engine_fits
    from algorithms.sharding import check_setup
    from algorithms.trainer import Trainer, default_accelerator
    from tiny_vlm.world import resolve_model

    run_dir = Path(run_dir)
    if resume:
        saved, _ = load_run_config(run_dir)
        differing = config_differences(saved, config)
        if differing:
            raise ValueError(
                f"--resume with a different config: {', '.join(differing)} differ from {run_dir}"
            )
    elif (run_dir / "config.json").exists():
        raise ValueError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
    trainer_cfg = SPOConfig.from_dict(config["trainer"])
    processes = accelerator.num_processes if accelerator else None
    check_setup(trainer_cfg, processes)
    accelerator = accelerator or default_accelerator()
    # bf16 mixed precision keeps fp32 weights in the shards: load them in fp32.
    dtype = torch.float32 if trainer_cfg.mixed_precision == "bf16" else None
    model = resolve_model(config["model"])
    if trainer_cfg.rollout_backend == "vllm":
        check_engine_fits(model, trainer_cfg, accelerator.num_processes)
    policy = HFVLMPolicy(model, seed=trainer_cfg.seed, device=accelerator.device, dtype=dtype)
    trainer = Trainer(policy, trainer_cfg, config["env"], accelerator)
    main = trainer.accelerator.is_main_process
    existed = run_dir.is_dir()
    fresh = main and not resume and not (existed and any(run_dir.iterdir()))
    if main:
        if resume:
            clean_leftovers(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    log = MetricsLog(run_dir) if main else None
    if resume and trainer.resume(run_dir) and log is not None:
        log.truncate(trainer.iteration)
    elif resume and log is not None:
        log.truncate(0)
    rows = []
    last = min(trainer_cfg.iterations, stop_after or trainer_cfg.iterations)
    try:
        while trainer.iteration < last:
            row = trainer.run_iteration()
            rows.append(row)
            if log is not None:
                log.write(row)
            if (
                trainer.iteration % trainer_cfg.checkpoint_every == 0
                or trainer.iteration == trainer_cfg.iterations
            ):
                trainer.save(run_dir)
            if on_iteration is not None:
                on_iteration(row)
    except BaseException:
        if fresh and not rows:  # a start that failed leaves nothing to refuse the next start
            shutil.rmtree(run_dir, ignore_errors=True)
            if existed:
                run_dir.mkdir()
        raise
    finally:
        if log is not None:
            log.close()
    return rows


def _plain(env: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in env.items()}
