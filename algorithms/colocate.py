"""A vLLM engine beside the trainer in every process, on its own device, synced before each rollout.

Under `accelerate launch` every process owns an engine through vLLM's external launcher, as TRL's colocate
mode does. vLLM then joins the process group accelerate created (the world group it builds is that group's
ranks) instead of starting a one-process world of its own beside it, which would clash with the trainer's;
with one engine per process (tensor parallel size 1) it communicates only while it starts (the smallest free
memory across processes sizes every KV cache), never while sampling, so each process samples its own games in
its own number of steps. A weight sync is each process's own business too: LoRA adapters are saved and
served as a new adapter version; full weights are read one tensor at a time (under FSDP2 each gathered from
the shards on every process, the only collective) and loaded in place.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import torch

from algorithms.sharding import full_weights, is_sharded
from algorithms.train_config import SPOConfig

GIB = 2**30


def check_engine_fits(model_folder: str | os.PathLike[str], config: SPOConfig, processes: int) -> None:
    """On a GPU, a one-line ValueError naming `trainer.vllm_memory` when the engine or the trainer cannot fit.

    Counts the folder's parameters from its safetensors headers, so it runs before the model loads.
    """
    if not torch.cuda.is_available():
        return
    total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    problem = fit_problem(count_parameters(model_folder), total, config, processes)
    if problem:
        raise ValueError(problem)


def fit_problem(parameters: int, device_bytes: int, config: SPOConfig, processes: int) -> str | None:
    """What does not fit on one GPU beside the other, by arithmetic on bf16 weights; None when both do.

    The engine's share (`vllm_memory`) must hold its bf16 copy of the weights, with room left for its KV
    cache; the rest must hold what the trainer keeps for the whole run: the bf16 weights under LoRA; under
    full fine-tuning in one process the weights, gradients, AdamW moments and reference copy (10 bytes per
    parameter); under FSDP2 their shards (with bf16 mixed precision fp32 weights, gradients and moments
    plus the bf16 reference: 18 bytes per parameter and process; none on the GPU with CPU offload).
    Activations come on top.
    """
    engine_share = config.vllm_memory * device_bytes
    weights = 2 * parameters
    if config.finetune == "lora":
        trainer = weights
    elif processes == 1:
        trainer = 10 * parameters
    elif config.cpu_offload:
        trainer = 0
    else:
        trainer = (18 if config.mixed_precision == "bf16" else 10) * parameters / processes
    if weights >= engine_share:
        return (
            f"trainer.vllm_memory {config.vllm_memory} gives the engine {engine_share / GIB:.1f} GiB of this "
            f"GPU's {device_bytes / GIB:.1f} GiB, not more than the model's {weights / GIB:.1f} GiB of bf16 "
            "weights (its KV cache needs room too): raise trainer.vllm_memory"
        )
    left = device_bytes - engine_share
    if trainer >= left:
        return (
            f"trainer.vllm_memory {config.vllm_memory} leaves the trainer {left / GIB:.1f} GiB of this GPU's"
            f" {device_bytes / GIB:.1f} GiB, not more than the {trainer / GIB:.1f} GiB its "
            "weights and optimizer states take: lower trainer.vllm_memory (or shard with FSDP2)"
        )
    return None


def count_parameters(model_folder: str | os.PathLike[str]) -> int:
    """The number of weights in a model folder's safetensors files, read from their headers only."""
    total = 0
    for path in Path(model_folder).glob("*.safetensors"):
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def start_engine(policy: Any, config: SPOConfig, accelerator: Any) -> Any:
    """This process's engine on the trained model's folder and device (every process calls it)."""
    from agents.vllm_vlm import VLLMPolicy

    distributed = accelerator.num_processes > 1
    if distributed:  # what vLLM's external launcher reads (accelerate launch sets them; a bare run may not)
        os.environ["RANK"] = str(accelerator.process_index)
        os.environ["LOCAL_RANK"] = str(accelerator.local_process_index)
        os.environ["WORLD_SIZE"] = str(accelerator.num_processes)
    # bf16 mixed precision trains fp32 weights and computes in bf16: the engine serves bf16.
    dtype = torch.bfloat16 if config.mixed_precision == "bf16" else policy.dtype
    engine = VLLMPolicy(
        policy.model.name_or_path,
        sampling=config.sampling,
        dtype=dtype,
        seed=config.seed,
        gpu_memory_utilization=config.vllm_memory,
        enable_lora=config.finetune == "lora",
        max_lora_rank=config.lora_rank,
        external_launcher=distributed,
    )
    accelerator.wait_for_everyone()
    return engine


def sync_engine(engine: Any, train_model: Any, model: Any) -> None:
    """Make the engine serve the trained weights (every process calls it: FSDP2 gathers are collectives).

    `model` is the trained model unwrapped (a peft model under LoRA); a sharded `train_model` is read one
    gathered tensor at a time, so no process holds a second whole copy of the model beside the engine's.
    """
    if is_sharded(train_model):
        engine.load_weights(full_weights(train_model, engine.dtype))
    else:
        engine.sync_weights(model)
