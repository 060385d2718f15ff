"""Full fine-tuning across processes: the engine accelerate launched, FSDP2 sharding, sharded checkpoints.

LoRA runs replicate the model (DDP). Full fine-tuning of a model too large for one device shards parameters,
gradients and optimizer states with FSDP2 (`torch.distributed.fsdp.fully_shard`): each decoder layer and
vision block is one shard unit, the root holds the rest. The settings come from the accelerate config the run
was launched with (`fsdp_version: 2`, `fsdp_transformer_layer_cls_to_wrap`, `fsdp_reshard_after_forward`), and
the sharding is applied here rather than in `accelerator.prepare`, so the same code runs on GPUs (NCCL) and on
CPU processes (gloo), where accelerate does not offer FSDP.

Rollouts and no-gradient scoring gather every shard once (`gathered`), so processes whose games take
different numbers of generate calls or tokens never wait on each other; a vLLM engine beside the trainer gets
the weights one tensor at a time (`full_weights`). The run's `mixed_precision` and `cpu_offload` settings
become FSDP2's `MixedPrecisionPolicy` and `CPUOffloadPolicy`. A checkpoint holds the sharded model and
optimizer state (`torch.distributed.checkpoint`), written by every process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vz_env.atomic import TEMP_SUFFIX

if TYPE_CHECKING:
    from algorithms.train_config import SPOConfig

SHARDED = "sharded"  # checkpoint subfolder: torch.distributed.checkpoint of {"model", "optimizer"}
# `.checkpoint-N` + this: written by every process, then moved in; a temporary name `clean_leftovers` knows.
STAGING_SUFFIX = f".{SHARDED}{TEMP_SUFFIX}"
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # what vLLM's LoRAConfig accepts (0.32)
GATHERED = "_vz_spy_gathered"  # set on a sharded model while `gathered` holds its shards together


def launch_engine() -> str:
    """How `accelerate launch` was told to distribute: "fsdp", "deepspeed" or "ddp" (DDP or one process)."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        return "fsdp"
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        return "deepspeed"
    return "ddp"


def check_setup(config: SPOConfig, num_processes: int | None = None) -> None:
    """A one-line ValueError naming the setting to change when this launch cannot run `config`.

    `num_processes` defaults to the launch's WORLD_SIZE, so this runs before any Accelerator exists.
    """
    engine = launch_engine()
    if num_processes is None:
        num_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if engine == "fsdp":
        version = os.environ.get("FSDP_VERSION", "1")
        if config.finetune != "full":
            raise ValueError(
                "the accelerate config asks for FSDP, which vz-spy uses for finetune 'full' only: set "
                "trainer.finetune to 'full', or launch LoRA with examples/accelerate/ddp.yaml"
            )
        if version != "2":
            raise ValueError(
                f"the accelerate config asks for FSDP version {version}: set fsdp_version: 2 "
                "(see examples/accelerate/fsdp2.yaml)"
            )
        if num_processes < 2:
            raise ValueError(
                "FSDP with one process shards nothing: launch with --num_processes 2 or more, or run "
                "finetune 'full' on one process without the FSDP config"
            )
        for key, setting in (
            ("offload_params", "cpu_offload"),
            ("activation_checkpointing", "activation_checkpointing"),
        ):
            if os.environ.get(f"FSDP_{key.upper()}", "false").lower() == "true":
                raise ValueError(
                    f"the accelerate config's fsdp_{key} is not read by vz-spy: set trainer.{setting} to "
                    f"true and fsdp_{key} to false"
                )
    else:
        _check_fsdp_only(config)
    if config.rollout_backend == "vllm" and not _vllm_installed():
        raise ValueError(
            "rollout_backend 'vllm' needs vLLM, which is not installed: pip install 'vz-spy[vllm]', or set "
            "trainer.rollout_backend to 'hf'"
        )
    if (
        config.rollout_backend == "vllm"
        and config.finetune == "lora"
        and config.lora_rank not in VLLM_LORA_RANKS
    ):
        raise ValueError(
            f"trainer.lora_rank {config.lora_rank} cannot be served by vLLM, which takes ranks "
            f"{', '.join(map(str, VLLM_LORA_RANKS))}: set trainer.lora_rank to one of them"
        )
    if engine == "deepspeed" and deepspeed_zero_stage() == 3:
        raise ValueError(
            "DeepSpeed ZeRO-3 is not supported by this trainer yet: launch finetune 'full' with "
            "examples/accelerate/fsdp2.yaml, LoRA with examples/accelerate/ddp.yaml or deepspeed_zero2.yaml"
        )


def _check_fsdp_only(config: SPOConfig) -> None:
    """Refuse the settings that only FSDP2 applies when the launch does not shard."""
    fsdp = "launch finetune 'full' with examples/accelerate/fsdp2.yaml on 2 or more processes"
    if config.mixed_precision != "no":
        raise ValueError(
            f"trainer.mixed_precision {config.mixed_precision!r} is FSDP2's MixedPrecisionPolicy: {fsdp}, or "
            "set trainer.mixed_precision to 'no' (replicated runs take accelerate's --mixed_precision bf16)"
        )
    if config.cpu_offload:
        raise ValueError(
            f"trainer.cpu_offload moves FSDP2 shards to the CPU: {fsdp}, or set trainer.cpu_offload to false"
        )


def _vllm_installed() -> bool:
    """Whether the real vLLM package is importable (a folder named vllm on sys.path does not count)."""
    spec = importlib.util.find_spec("vllm")
    return spec is not None and spec.origin is not None


def deepspeed_zero_stage() -> int | None:
    """The ZeRO stage of a DeepSpeed launch: from accelerate's flags, else from the DeepSpeed JSON file."""
    stage = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")
    if stage:
        return int(stage)
    path = os.environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE")
    if not path or not Path(path).is_file():
        return None
    import json

    stage = json.loads(Path(path).read_text()).get("zero_optimization", {}).get("stage")
    return int(stage) if stage is not None else None


def shards_models() -> bool:
    """Whether this launch shards fully fine-tuned models (FSDP2 across more than one process)."""
    return launch_engine() == "fsdp" and torch.distributed.is_initialized()


def layer_classes(model: Any) -> set[str]:
    """The model's repeated block classes: the launch's FSDP layer classes, else its no-split modules."""
    names = os.environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP") or ",".join(model._no_split_modules or [])
    return {name.strip() for name in names.split(",") if name.strip()}


def shard(model: Any, frozen: bool = False, bf16: bool = False, cpu_offload: bool = False) -> Any:
    """FSDP2 in place: each layer class of the config (default: the model's no-split modules), then the root.

    `bf16` computes with bf16 copies of the fp32 shards and reduces gradients in fp32; `cpu_offload` keeps the
    shards (and the optimizer step) on the CPU. A trainable model gets `generate` that gathers every shard
    first (see `gathered`). A frozen copy (the KL reference) is sharded the same way and only ever runs inside
    `gathered`; under `bf16` it is stored in bf16, as it computes.
    """
    from torch.distributed.fsdp import (
        CPUOffloadPolicy,
        MixedPrecisionPolicy,
        fully_shard,
        register_fsdp_forward_method,
    )

    policies: dict[str, Any] = {}
    if bf16:
        policies["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if frozen:
            model.to(torch.bfloat16)
    if cpu_offload:
        policies["offload_policy"] = CPUOffloadPolicy(pin_memory=torch.cuda.is_available())
    classes = layer_classes(model)
    reshard = os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() != "false"
    for module in list(model.modules()):
        if type(module).__name__ in classes:
            fully_shard(module, reshard_after_forward=reshard, **policies)
    fully_shard(model, reshard_after_forward=reshard, **policies)
    if not frozen:
        register_fsdp_forward_method(model, "generate")
        _gather_around_generate(model)
    return model


def is_sharded(model: Any) -> bool:
    """Whether `model` is FSDP2-sharded."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


@contextlib.contextmanager
def gathered(model: Any) -> Iterator[Any]:
    """The model with every shard gathered for the block (no communication inside it); as is if unsharded.

    Forward passes inside the block run on full weights, so processes may run different numbers of them
    (generation lengths, scoring chunks differ). Memory: the whole model on every process for the block.
    Blocks nest: an inner one inside an outer one does nothing.
    """
    if not is_sharded(model) or getattr(model, GATHERED, False):  # unsharded, or gathered already
        yield model
        return
    from torch.distributed.fsdp import FSDPModule

    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for unit in units:
        unit.unshard()
    model.set_reshard_after_forward(False)
    setattr(model, GATHERED, True)
    try:
        yield model
    finally:
        setattr(model, GATHERED, False)
        reshard = os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() != "false"
        model.set_reshard_after_forward(reshard)
        for unit in units:
            unit.reshard()


def _gather_around_generate(model: Any) -> None:
    """Make `model.generate` run inside `gathered`: decoding runs on full weights, one gather per call."""
    sharded_generate = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        with gathered(model):
            return sharded_generate(*args, **kwargs)

    model.generate = generate


def prepare_for_training(accelerator: Any, model: Any, optimizer: Any) -> tuple[Any, Any]:
    """accelerate's `prepare` for a replicated model; a sharded one and its optimizer stay as they are."""
    if is_sharded(model):
        return model, optimizer
    return accelerator.prepare(model, optimizer)


def parameter_checksum(parameters: list[Any]) -> float:
    """The sum of every weight, whole (a sharded weight is gathered first: every process must call it)."""
    return sum(float(_whole(p).double().sum()) for p in parameters)


def full_weights(model: Any, dtype: torch.dtype) -> Iterator[tuple[str, torch.Tensor]]:
    """Every weight of a (sharded) model by name, whole and in `dtype`, gathered one tensor at a time.

    A consumer (a vLLM engine loading them) holds one gathered tensor at a time, never a second whole copy of
    the model; every process must consume all of them, in order (each is a collective).
    """
    for name, parameter in model.named_parameters():
        yield name, _whole(parameter, dtype)


def _whole(parameter: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A parameter's full value (a shard is cast first, then gathered on the mesh's device: CPU offload)."""
    from torch.distributed.tensor import DTensor

    tensor = parameter.detach()
    if dtype is not None:
        tensor = tensor.to(dtype)
    if isinstance(tensor, DTensor):
        tensor = tensor.to(tensor.device_mesh.device_type).full_tensor()
    return tensor


def stage_sharded_state(run_dir: Path, iteration: int, model: Any, optimizer: Any) -> Path:
    """Write the sharded model and optimizer state beside the checkpoint-to-be (every process must call it).

    The folder is named like a checkpoint temporary, so a run killed midway has it cleaned on resume.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    staging = Path(run_dir) / f".checkpoint-{iteration}{STAGING_SUFFIX}"
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=str(staging))
    return staging


def load_sharded_state(folder: Path, model: Any, optimizer: Any) -> None:
    """Restore a checkpoint's sharded model and optimizer state (every process must call it)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=str(Path(folder) / SHARDED))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def load_full_weights(folder: Path, model: Any) -> None:
    """Load a full fine-tuning checkpoint's weights into an unsharded model (export, evaluation)."""
    folder = Path(folder)
    if (folder / "model.pt").is_file():
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu"))
        return
    if not (folder / SHARDED).is_dir():
        raise ValueError(f"{folder} holds no model weights (no adapter/, model.pt or {SHARDED}/)")
    import torch.distributed.checkpoint as dcp

    state = {"model": model.state_dict()}
    with warnings.catch_warnings():  # reading a sharded checkpoint in one process is the intent here
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(folder / SHARDED), no_dist=True)
    model.load_state_dict(state["model"])
