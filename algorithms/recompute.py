"""Activation checkpointing: a model's repeated blocks keep only their inputs and are recomputed in backward.

Applied per module instance, so it needs neither training mode (Hugging Face's own checkpointing runs only
in it, and the trainer keeps its model in eval mode: no dropout) nor a wrapper module that would rename the
parameters (torch's `checkpoint_wrapper`). FSDP2's hooks sit on `__call__` and stay outside the recompute.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint


def recompute_blocks(model: Any, classes: set[str]) -> int:
    """Checkpoint every module whose class is named in `classes`; returns how many were."""
    blocks = [m for m in model.modules() if type(m).__name__ in classes]
    for block in blocks:
        block.forward = functools.partial(_recomputed, block.forward)
    return len(blocks)


def _recomputed(forward: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`forward` under non-reentrant checkpointing when a backward pass will follow; plainly otherwise."""
    if not torch.is_grad_enabled():
        return forward(*args, **kwargs)
    return checkpoint(forward, *args, use_reentrant=False, **kwargs)
