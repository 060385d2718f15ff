"""A run's checkpoint as a plain Hugging Face folder (adapters merged) that evaluation harnesses load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from agents.hf_quiet import quiet_hf
from algorithms.checkpoint import PREFIX, latest_checkpoint
from algorithms.run import load_run_config
from vz_env.atomic import atomic_folder

EXPORT_RECORD = "vz_spy_export.json"
LEGACY_IMAGE_CONFIG = "preprocessor_config.json"


def checkpoint_folder(run_dir: Path, checkpoint: int | None = None) -> Path:
    """The checkpoint to export: `checkpoint-N`, or the latest one; ValueError names what is missing."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        folder = latest_checkpoint(run_dir)
        if folder is None:
            raise ValueError(f"{run_dir} has no checkpoint yet")
        return folder
    folder = run_dir / f"{PREFIX}{checkpoint}"
    if not (folder / "state.pt").is_file():
        found = sorted(p.name for p in run_dir.glob(f"{PREFIX}*") if (p / "state.pt").is_file())
        raise ValueError(f"{run_dir} has no {folder.name} (checkpoints: {', '.join(found) or 'none'})")
    return folder


def check_export(run_dir: Path, out: Path, checkpoint: int | None = None) -> tuple[dict[str, Any], Path]:
    """The run config and checkpoint folder, after checking every input; nothing is loaded or written."""
    run_dir, out = Path(run_dir), Path(out)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a run folder (no such folder)")
    config, _ = load_run_config(run_dir)
    folder = checkpoint_folder(run_dir, checkpoint)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} already exists; choose a new (or empty) folder")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: parent folder {out.parent} does not exist")
    return config, folder


def export_run(run_dir: Path, out: Path, checkpoint: int | None = None) -> Path:
    """Write the run's weights at a checkpoint, merged into the base model, with its processor, to `out`.

    The folder is built beside `out` under a temporary name and renamed into place once complete
    (`atomic_folder`), so a crash leaves no half-written export.
    """
    from algorithms.sharding import load_full_weights

    config, folder = check_export(run_dir, out, checkpoint)
    with quiet_hf():
        model, processor, base = _load_base(config["model"])
        if (folder / "adapter").is_dir():
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(folder / "adapter")).merge_and_unload()
        else:
            load_full_weights(folder, model)
    out = Path(out)
    with atomic_folder(out) as tmp, quiet_hf():
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        _copy_chat_templates(base, tmp)
        _write_legacy_image_config(processor, tmp)
        record = {"run": str(Path(run_dir).resolve()), "checkpoint": folder.name, "base_model": str(base)}
        (tmp / EXPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return out


def _load_base(model_path: str | None) -> tuple[Any, Any, Path]:
    """The run's base model (in the dtype it was saved in) and processor, on the CPU."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from tiny_vlm.world import resolve_model

    base = Path(resolve_model(model_path)).expanduser()  # None: the run trained the shipped tiny VLM
    if not (base / "config.json").is_file():
        raise ValueError(f"the run's base model {base} is not a Hugging Face model folder")
    model = AutoModelForImageTextToText.from_pretrained(base, dtype="auto", local_files_only=True)
    processor = AutoProcessor.from_pretrained(base, local_files_only=True)
    return model, processor, base


def _write_legacy_image_config(processor: Any, out: Path) -> None:
    """`preprocessor_config.json` with `min_pixels`/`max_pixels`: what transformers 4.x harnesses read."""
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is None or (out / LEGACY_IMAGE_CONFIG).exists():
        return
    image_processor.save_pretrained(out)
    config = json.loads((out / LEGACY_IMAGE_CONFIG).read_text())
    size = config.get("size") or {}
    if "shortest_edge" in size and "longest_edge" in size:
        config.setdefault("min_pixels", size["shortest_edge"])
        config.setdefault("max_pixels", size["longest_edge"])
    (out / LEGACY_IMAGE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def pixel_settings(folder: Path) -> dict[str, int]:
    """A model folder's image `min_pixels`/`max_pixels` (to pass on to the evaluation harness)."""
    path = Path(folder) / LEGACY_IMAGE_CONFIG
    if not path.is_file():
        return {}
    config = json.loads(path.read_text())
    return {k: config[k] for k in ("min_pixels", "max_pixels") if k in config}


def _copy_chat_templates(base: Path, out: Path) -> None:
    """Chat template files of the base folder that `save_pretrained` did not write (kept byte for byte)."""
    for path in base.iterdir():
        if "chat_template" in path.name and path.is_file() and not (out / path.name).exists():
            shutil.copy2(path, out / path.name)
