"""Build the default tiny VLM by its recipe, over as many sittings as it takes: checkpointed and resumable.

The recipe has two phases. The format phase (`tiny_vlm.pretrain`) teaches the model to see and to answer
in the game's format; its model is saved, stamped, in the build's work folder (`OUT.build/format`). The
deduction phase (`tiny_vlm.deduction`) starts from it and writes a checkpoint (weights, optimiser,
schedule, every RNG, the curriculum) every `checkpoint_every` steps, atomically. Running the same build
again resumes from the last checkpoint and gives the same model as an uninterrupted run. The finished
model is written to OUT atomically with a stamp: recipe, steps, seed, hardware, wall and CPU hours, the
curriculum's curve and the SHA-256 of every file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiny_vlm.deduction import STAGES, Curriculum, DeductionConfig, DeductionTrainer
from tiny_vlm.pretrain import PretrainConfig, Pretrainer, StepCallback, pretrain
from tiny_vlm.stamp import build_atomically, read_stamp, stamp_problem, write_stamp
from vz_env.atomic import atomic_write_bytes

RECIPE_VERSION = 5
FORMAT_VERSION = "tiny-vlm-3/pretrain-4"  # the format phase's recipe (the default model of pretrain-4)
CHECKPOINT = "deduction-checkpoint.pt"
TIMING = "format-timing.json"

ProgressCallback = Callable[[str, int, int, dict[str, float]], None]


@dataclass(frozen=True)
class Recipe:
    """The default tiny VLM's whole recipe: the format phase, then the deduction phase."""

    format: PretrainConfig = field(default_factory=PretrainConfig)
    deduction: DeductionConfig = field(default_factory=DeductionConfig)

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON-able data (what checkpoints and stamps record)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


def work_folder(out: Path) -> Path:
    """Where a build of `out` keeps its format-phase model and its checkpoint between sittings."""
    return out.with_name(out.name + ".build")


def build(
    out: str | Path,
    recipe: Recipe | None = None,
    on_progress: ProgressCallback | None = None,
    checkpoint_every: int = 50,
    stop_after: int | None = None,
) -> Path | None:
    """Build (or resume building) the recipe's model into `out`; None when `stop_after` steps of the
    deduction phase ended this sitting first (its checkpoint then holds them).

    `on_progress(phase, step, total, losses)` is called after every step.
    """
    recipe = recipe or Recipe()
    out = Path(out).expanduser().resolve()
    work = work_folder(out)
    work.mkdir(parents=True, exist_ok=True)
    fmt = work / "format"
    if stamp_problem(fmt, format_version(recipe.format)) is not None:
        _format_phase(fmt, recipe.format, on_progress)
    return _deduction_phase(out, work, recipe, on_progress, checkpoint_every, stop_after)


def _format_phase(folder: Path, config: PretrainConfig, on_progress: ProgressCallback | None) -> None:
    wall, cpu = time.time(), time.process_time()
    progress: StepCallback | None = None
    if on_progress is not None:

        def progress(step: int, losses: dict[str, float], _policy: Any) -> None:
            on_progress("format", step + 1, config.steps, losses)

    def stamped(tmp: Path) -> None:
        pretrain(tmp, config, progress)
        write_stamp(tmp, format_version(config), {"pretrain_config": dataclasses.asdict(config)})

    build_atomically(folder, stamped)
    timing = {"wall_s": time.time() - wall, "cpu_s": time.process_time() - cpu}
    atomic_write_bytes(folder.parent / TIMING, json.dumps(timing).encode())


def _deduction_phase(
    out: Path,
    work: Path,
    recipe: Recipe,
    on_progress: ProgressCallback | None,
    checkpoint_every: int,
    stop_after: int | None,
) -> Path | None:
    import torch

    from agents.hf_vlm import HFVLMPolicy

    cfg = recipe.deduction
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.format.threads)
    try:
        torch.manual_seed(recipe.format.seed)
        policy = HFVLMPolicy(
            work / "format", device="cpu", dtype=torch.float32, max_new_tokens=24, seed=recipe.format.seed
        )
        phase_config = dataclasses.replace(recipe.format, learning_rate=cfg.learning_rate, aux_weight=0.0)
        pretrainer = Pretrainer(policy, phase_config, cfg.lr_factor, cfg.deduce_weight)
        deducer = DeductionTrainer(pretrainer, cfg, recipe.format.seed)
        state = _resume(work / CHECKPOINT, recipe, pretrainer, deducer)
        first, spent = state["step"], dict(state["spent"])
        wall, cpu = time.time(), time.process_time()
        for done_here, step in enumerate(range(first, cfg.steps), start=1):
            losses = deducer.step(step)
            if on_progress is not None:
                on_progress(f"deduction ({deducer.stage})", step + 1, cfg.steps, losses)
            finished = step + 1 == cfg.steps
            stopping = stop_after is not None and done_here >= stop_after
            if (step + 1) % checkpoint_every == 0 or finished or stopping:
                now = {
                    "wall_s": spent["wall_s"] + time.time() - wall,
                    "cpu_s": spent["cpu_s"] + time.process_time() - cpu,
                }
                _save_checkpoint(work / CHECKPOINT, recipe, pretrainer, deducer, step + 1, now)
            if stopping and not finished:
                return None
        spent = torch.load(work / CHECKPOINT, weights_only=False)["spent"]
        return _write_model(out, work, recipe, policy, deducer.curriculum, spent)
    finally:
        torch.set_num_threads(threads)


def _resume(path: Path, recipe: Recipe, pretrainer: Pretrainer, deducer: DeductionTrainer) -> dict[str, Any]:
    """Load the checkpoint into the trainers when it is this recipe's; the state to start from."""
    import torch

    fresh = {"step": 0, "spent": {"wall_s": 0.0, "cpu_s": 0.0}}
    if not path.is_file():
        return fresh
    checkpoint = torch.load(path, weights_only=False)
    if not continues(checkpoint["recipe"], recipe, checkpoint["step"]):
        raise ValueError(f"{path} holds a build of another recipe; remove it to start this one afresh")
    pretrainer.model.load_state_dict(checkpoint["model"])
    pretrainer.heads.load_state_dict(checkpoint["heads"])
    pretrainer.optimizer.load_state_dict(checkpoint["optimizer"])
    pretrainer.schedule.load_state_dict(checkpoint["schedule"])
    deducer.rng.bit_generator.state = checkpoint["rng"]
    deducer.teacher._rng.bit_generator.state = checkpoint["teacher_rng"]
    deducer.curriculum = Curriculum(**checkpoint["curriculum"])
    torch.set_rng_state(checkpoint["torch_rng"])
    return {"step": checkpoint["step"], "spent": checkpoint["spent"]}


def continues(saved: dict[str, Any], recipe: Recipe, step: int) -> bool:
    """Whether a checkpoint of recipe `saved` at `step` is one of `recipe`'s: the same recipe, or one whose
    deduction phase is longer or shorter but whose learning rate had not started to decay by `step` under
    either length (so both builds ran the same steps so far: a build can be lengthened while it runs)."""
    wanted = recipe.as_dict()
    if saved == wanted:
        return True
    if {**saved, "deduction": {**saved["deduction"], "steps": 0}} != {
        **wanted,
        "deduction": {**wanted["deduction"], "steps": 0},
    }:
        return False
    shorter = min(saved["deduction"]["steps"], recipe.deduction.steps)
    return step <= shorter * (1.0 - recipe.deduction.decay_share)


def _save_checkpoint(
    path: Path,
    recipe: Recipe,
    pretrainer: Pretrainer,
    deducer: DeductionTrainer,
    step: int,
    spent: dict[str, float],
) -> None:
    import io

    import torch

    state = {
        "recipe": recipe.as_dict(),
        "step": step,
        "spent": spent,
        "model": pretrainer.model.state_dict(),
        "heads": pretrainer.heads.state_dict(),
        "optimizer": pretrainer.optimizer.state_dict(),
        "schedule": pretrainer.schedule.state_dict(),
        "rng": deducer.rng.bit_generator.state,
        "teacher_rng": deducer.teacher._rng.bit_generator.state,
        "curriculum": dataclasses.asdict(deducer.curriculum),
        "torch_rng": torch.get_rng_state(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _write_model(
    out: Path, work: Path, recipe: Recipe, policy: Any, curriculum: Curriculum, spent: dict[str, float]
) -> Path:
    """Save the finished model to `out`, atomically, with its stamp."""
    format_timing = json.loads((work / TIMING).read_text()) if (work / TIMING).is_file() else {}
    wall = spent["wall_s"] + format_timing.get("wall_s", 0.0)
    cpu = spent["cpu_s"] + format_timing.get("cpu_s", 0.0)
    extra = {
        "recipe_version": RECIPE_VERSION,
        "recipe": recipe.as_dict(),
        "steps": {"format": recipe.format.steps, "deduction": recipe.deduction.steps},
        "seed": recipe.format.seed,
        "hardware": hardware(),
        "wall_hours": round(wall / 3600, 3),
        "cpu_hours": round(cpu / 3600, 3),
        "format_phase_timed": bool(format_timing),
        "stages": list(STAGES),
        "curve": curriculum.curve,
    }

    def save(folder: Path) -> None:
        from agents.hf_quiet import quiet_hf

        with quiet_hf():
            policy.model.save_pretrained(folder)
            policy.processor.save_pretrained(folder)
        write_stamp(folder, recipe_version_of(recipe), extra)

    if out.exists() and read_stamp(out) is None and any(out.iterdir()):
        raise FileExistsError(f"{out} already exists and is not a model this build wrote")
    return build_atomically(out, save)


def format_version(config: PretrainConfig) -> str:
    """The format-phase model's stamp version: the phase's recipe version and a digest of its config."""
    return f"{FORMAT_VERSION}/config-{_digest(dataclasses.asdict(config))}"


def recipe_version_of(recipe: Recipe) -> str:
    """The stamp's version of a recipe build: the recipe's version and a digest of its settings."""
    return f"tiny-vlm-recipe-{RECIPE_VERSION}/{_digest(recipe.as_dict())}"


def _digest(settings: dict[str, Any]) -> str:
    """Twelve hex digits of the SHA-256 of settings written as sorted JSON."""
    import hashlib

    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def hardware() -> str:
    """One line naming the CPU, its cores and torch's version and threads: where a build ran."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
