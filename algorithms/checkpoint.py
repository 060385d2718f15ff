"""Checkpoints written atomically: a new folder is completed, then the `latest` pointer moves to it."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vz_env.atomic import atomic_write_text

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


def save_checkpoint(run_dir: Path, iteration: int, model: Any, state: dict[str, Any]) -> Path:
    """Write weights (adapters only with LoRA) and trainer state; older checkpoints go once this one is in."""
    run_dir = Path(run_dir)
    final = run_dir / f"{PREFIX}{iteration}"
    tmp = run_dir / f".{PREFIX}{iteration}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if hasattr(model, "peft_config"):
        model.save_pretrained(tmp / "adapter")
    else:
        torch.save(model.state_dict(), tmp / "model.pt")
    torch.save({**state, "iteration": iteration, "rng": rng_states()}, tmp / "state.pt")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    atomic_write_text(run_dir / LATEST, final.name + "\n")
    for old in run_dir.glob(f"{PREFIX}*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The folder the `latest` pointer names, or None when the run has no checkpoint yet."""
    pointer = Path(run_dir) / LATEST
    if not pointer.exists():
        return None
    folder = Path(run_dir) / pointer.read_text().strip()
    return folder if (folder / "state.pt").exists() else None


def load_checkpoint(folder: Path, model: Any) -> dict[str, Any]:
    """Restore the weights into `model` and return the trainer state (RNG states are restored too)."""
    folder = Path(folder)
    if hasattr(model, "peft_config"):
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(model, load_peft_weights(str(folder / "adapter"), device="cpu"))
    else:
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu"))
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
    set_rng_states(state["rng"])
    return state
