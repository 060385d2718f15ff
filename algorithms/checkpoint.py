"""Checkpoints written atomically: a new folder is completed, then the `latest` pointer moves to it."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algorithms.sharding import SHARDED
from vz_env.atomic import atomic_folder, atomic_write_text, remove_temporaries

LATEST = "latest"
PREFIX = "checkpoint-"


def rng_states() -> dict[str, Any]:
    """Every global RNG the run touches, so a resumed run draws the same numbers."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    run_dir: Path, iteration: int, model: Any, state: dict[str, Any], sharded: Path | None = None
) -> Path:
    """Write weights (adapters only with LoRA) and trainer state; older checkpoints go once this one is in.

    `sharded`: a folder of sharded model and optimizer state (FSDP2) already written by every process; it
    is moved in as the checkpoint's weights.
    """
    run_dir = Path(run_dir)
    final = run_dir / f"{PREFIX}{iteration}"
    with atomic_folder(final, replace=True) as tmp:
        if sharded is not None:
            Path(sharded).rename(tmp / SHARDED)
        elif hasattr(model, "peft_config"):
            model.save_pretrained(tmp / "adapter", save_embedding_layers=False)  # the base's are unchanged
        else:
            torch.save(model.state_dict(), tmp / "model.pt")
        torch.save({**state, "iteration": iteration, "rng": rng_states()}, tmp / "state.pt")
    atomic_write_text(run_dir / LATEST, final.name + "\n")
    _remove_other_checkpoints(run_dir, keep=final)
    return final


def clean_leftovers(run_dir: Path) -> list[str]:
    """Delete what a save killed midway left (temporaries, checkpoints the `latest` pointer does not name).

    A kill can land after the new checkpoint was renamed in but before the pointer moved (the new one
    goes; the run resumes from the one named), after the pointer moved (the older one goes), or while an
    older one was being deleted (its remains go). Returns the names removed.
    """
    run_dir = Path(run_dir)
    removed = remove_temporaries(run_dir, rf"{LATEST}|{PREFIX}\d+")
    pointed = latest_checkpoint(run_dir)
    return removed + _remove_other_checkpoints(run_dir, keep=pointed)


def _remove_other_checkpoints(run_dir: Path, keep: Path | None) -> list[str]:
    removed = []
    for old in sorted(run_dir.glob(f"{PREFIX}*")):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The folder the `latest` pointer names, or None when the run has no checkpoint yet."""
    pointer = Path(run_dir) / LATEST
    if not pointer.exists():
        return None
    name = pointer.read_text().strip()
    folder = Path(run_dir) / name
    return folder if name.startswith(PREFIX) and (folder / "state.pt").exists() else None


def load_checkpoint(folder: Path, model: Any) -> dict[str, Any]:
    """Restore the weights into `model` and return the trainer state (RNG states are restored too)."""
    folder = Path(folder)
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(model, load_peft_weights(str(folder / "adapter"), device="cpu"))
    elif not (folder / SHARDED).is_dir():  # sharded weights are loaded by every process (sharding.py)
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu"))
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
    set_rng_states(state["rng"])
    return state
