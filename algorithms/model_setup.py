"""The trainable model and its KL reference: LoRA adapters (reference = adapters off) or full fine-tuning.

Under an FSDP2 launch a fully fine-tuned model and its frozen reference copy are sharded the same way
(`algorithms.sharding`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch

from agents.hf_quiet import quiet_hf
from algorithms.recompute import recompute_blocks
from algorithms.sharding import gathered, layer_classes, shard, shards_models
from algorithms.train_config import SPOConfig


def make_trainable(model: Any, config: SPOConfig) -> Any:
    """Wrap the model with LoRA adapters on the matching modules (or unfreeze it all for full fine-tuning)."""
    if config.finetune == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_targets,
        bias="none",
        init_lora_weights=True,
    )
    try:
        with quiet_hf():
            return get_peft_model(model, lora)
    except ValueError as err:
        message = f"lora_targets {config.lora_targets!r} matched no usable module"
        hint = suggested_lora_targets(model, config.lora_targets)
        if hint:
            message += f" (for this model's language model set lora_targets to {hint!r})"
        raise ValueError(f"{message}: {err}") from None


def suggested_lora_targets(model: Any, targets: str) -> str | None:
    """`targets` with its `language_model` part renamed to where this model keeps its decoder, if elsewhere.

    Idefics3 (SmolVLM) names its decoder `text_model`: targets naming `language_model` alone miss it.
    """
    get_decoder = getattr(model, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    name = next((n for n, module in model.named_modules() if module is decoder), "")
    leaf = name.rsplit(".", 1)[-1]
    if not leaf or leaf == "language_model" or "language_model" not in targets:
        return None
    return targets.replace("language_model", leaf)


class Reference:
    """Where the frozen reference log-probs come from: the same model with adapters off, or a copy."""

    def __init__(self, model: Any, frozen_copy: Any = None) -> None:
        self._model = model
        self._copy = frozen_copy

    @contextlib.contextmanager
    def model(self) -> Iterator[Any]:
        """The reference model for the duration of the block (adapters re-enabled afterwards).

        A sharded copy has every shard gathered for the block, so processes may score different numbers
        of chunks.
        """
        if self._copy is not None:
            with gathered(self._copy) as reference:
                yield reference
        else:
            with self._model.disable_adapter():
                yield self._model


def prepare_model(model: Any, config: SPOConfig) -> tuple[Any, Reference]:
    """The trainable model and its reference; a reference copy is taken before any adapter is added.

    Adapter initialisation draws from a generator seeded with `config.seed`, so the same config gives
    the same starting adapters whatever ran before in the process. Activation checkpointing recomputes the
    trained model's blocks (not the reference's: it never runs backward). Full fine-tuning under an FSDP2
    launch shards both the model and its reference copy (before the optimizer sees the parameters).
    """
    frozen_copy = None
    if config.reference == "copy":
        frozen_copy = copy.deepcopy(model).eval()
        for parameter in frozen_copy.parameters():
            parameter.requires_grad_(False)
    if config.activation_checkpointing:
        recompute_blocks(model, layer_classes(model))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        trainable = make_trainable(model, config)
    if config.finetune == "full" and shards_models():
        memory = {"bf16": config.mixed_precision == "bf16", "cpu_offload": config.cpu_offload}
        trainable = shard(trainable, **memory)
        frozen_copy = shard(frozen_copy, frozen=True, **memory)
    return trainable, Reference(trainable, frozen_copy)


def trainable_parameters(model: Any) -> list[Any]:
    """The parameters the optimizer updates (adapters only with LoRA)."""
    return [p for p in model.parameters() if p.requires_grad]
