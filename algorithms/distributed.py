"""The trainer's process group (DDP, FSDP2 or DeepSpeed through accelerate) behind one small collaborator.

Every method that talks to other processes is a collective: every process calls it, in the same order. With
one process each is a no-op, so the trainer reads the same on a laptop and on a cluster.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from algorithms.metrics import pool_across_processes

Pass = tuple[int, int, float]
"""One forward/backward pass of an epoch: rows begin..end-1 of the batch, and the weight of their loss."""

WORKERS_SETTLE_SECONDS = 0.1
"""How long an ending process leaves the GIL to gloo's worker threads (many 5 ms GIL switch intervals)."""


def end_processes() -> None:
    """End a multi-process run before exit: a gloo thread still freeing tensors then aborts the process.

    A one-process group is left to its owner (vLLM's in-process engine holds one and tears it down itself).
    """
    if not torch.distributed.is_initialized() or torch.distributed.get_world_size() < 2:
        return
    torch.distributed.barrier()
    # Joins gloo's worker threads, unless something else holds the group (FSDP2: DTensor's caches) ...
    torch.distributed.destroy_process_group()
    # ... then those get the GIL to free the tensors of the last collectives.
    time.sleep(WORKERS_SETTLE_SECONDS)


class Processes:
    """What the trainer asks of its processes: means, gathered counts, agreement, pooled rows, grad sync."""

    def __init__(self, accelerator: Any) -> None:
        self.accelerator = accelerator

    @property
    def alone(self) -> bool:
        """Whether this is the only process (no collective does anything)."""
        return self.accelerator.num_processes == 1

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of a CPU tensor over every process."""
        if self.alone:
            return values
        return self.accelerator.reduce(values.to(self.accelerator.device), "mean").cpu()

    def counts(self, value: int) -> list[int]:
        """One integer from every process, in rank order."""
        if self.alone:
            return [value]
        return self.accelerator.gather(torch.tensor([value], device=self.accelerator.device)).tolist()

    def all_agree(self, flag: bool) -> bool:
        """Whether the flag holds on every process."""
        return min(self.counts(int(flag))) == 1

    def pooled(self, metrics: dict[str, Any], state: Callable[[], Sequence[float]]) -> dict[str, Any]:
        """Metrics over every process (counts summed, the rest averaged), and how far `state()` differs."""
        if self.alone:
            return metrics
        pooled = pool_across_processes(
            metrics, lambda t: self.accelerator.gather(t.to(self.accelerator.device)).cpu()
        )
        return {**pooled, "world_size": self.accelerator.num_processes, "state_spread": self._spread(state())}

    def _spread(self, state: Sequence[float]) -> float:
        """The largest difference between processes in any entry of their states (0 when all agree)."""
        values = torch.tensor(list(state))
        states = self.accelerator.gather(values.to(self.accelerator.device)[None]).cpu()
        return float((states.max(0).values - states.min(0).values).abs().max())

    @contextlib.contextmanager
    def accumulating(self, model: Any, last: bool) -> Iterator[None]:
        """A forward/backward pass whose gradients sync across processes (DeepSpeed: step) only when last."""
        self.accelerator.sync_gradients = last
        try:
            with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                yield
        finally:
            self.accelerator.sync_gradients = True


def lockstep_passes(batch: Any, counts: list[int], chunk: int, loss_norm: str) -> list[Pass]:
    """An epoch's passes, `chunk` rows each, as many on every process as the busiest one needs.

    DDP communicates in every backward pass, so a process with fewer chunks repeats its last chunk with
    weight 0. A chunk's weight is its share of the batch's tokens ("token" norm) or rows.
    """
    chunks = [(b, min(b + chunk, len(batch))) for b in range(0, len(batch), chunk)]
    tokens = float(batch.completion_mask.sum())
    passes = []
    for index in range(max(math.ceil(n / chunk) for n in counts)):
        begin, end = chunks[min(index, len(chunks) - 1)]
        if index >= len(chunks):
            weight = 0.0
        elif loss_norm == "token":
            weight = float(batch.completion_mask[begin:end].sum()) / tokens
        else:
            weight = (end - begin) / len(batch)
        passes.append((begin, end, weight))
    return passes
