"""The embedded default model: the tiny VLM pretrained on this machine, built on first use and cached.

Wherever a model is asked for without a path (`vz-spy train`, `play --model`, `eval`, the examples), this
is the one. It lives in $VZ_SPY_CACHE (default ~/.cache/vz-spy) and is rebuilt, with a one-line message,
when its folder is missing, partial, corrupt or from an older builder (see `agents.model_cache`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from agents.model_cache import build_atomically, cached_build, write_stamp
from agents.pretrain import PretrainConfig, StepCallback, pretrain
from agents.tiny_vlm import BUILDER_VERSION, cache_dir

PRETRAIN_VERSION = 4
VERSION = f"tiny-vlm-{BUILDER_VERSION}/pretrain-{PRETRAIN_VERSION}"
FOLDER = "tiny-qwen2-5-vl-pretrained"


def pretrained_model_path(config: PretrainConfig | None = None) -> Path:
    """The cached pretrained tiny VLM's folder, built (minutes on two cores) when missing or not trusted."""
    config = config or PretrainConfig()
    return cached_build(
        cache_dir() / FOLDER,
        version_of(config),
        lambda folder: _pretrain_into(folder, config, None),
        "the pretrained tiny VLM (one-time, about twenty minutes on two CPU cores)",
        {"pretrain_config": dataclasses.asdict(config)},
    )


def build_pretrained(
    out: str | Path, config: PretrainConfig | None = None, on_step: StepCallback | None = None
) -> Path:
    """Pretrain into a new or empty `out`, atomically, stamped like the cached one (default: progress bar)."""
    config = config or PretrainConfig()
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder")

    def build(folder: Path) -> None:
        _pretrain_into(folder, config, on_step)
        write_stamp(folder, version_of(config), {"pretrain_config": dataclasses.asdict(config)})

    if out.is_dir():
        out.rmdir()
    return build_atomically(out, build)


def version_of(config: PretrainConfig) -> str:
    """The stamp's version: the builders' versions and a digest of the pretraining config."""
    text = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return f"{VERSION}/config-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _pretrain_into(folder: Path, config: PretrainConfig, on_step: StepCallback | None) -> None:
    """Pretrain into `folder`, with `on_step` or else a progress bar on stderr."""
    if on_step is not None:
        pretrain(folder, config, on_step)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("pretraining the tiny VLM"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}  loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("pretrain", total=config.steps, loss=float("nan"))
        pretrain(
            folder,
            config,
            lambda step, losses, _policy: bar.update(task, completed=step + 1, loss=losses["loss"]),
        )
