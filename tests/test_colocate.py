"""Whether a colocated vLLM engine and the trainer fit one GPU, decided before the model loads."""

from __future__ import annotations

import pytest

from algorithms.colocate import GIB, count_parameters, fit_problem
from algorithms.train_config import SPOConfig

H100 = 80 * GIB
QWEN_7B = 8_300_000_000
FULL = {"finetune": "full", "reference": "copy"}


def test_parameters_are_counted_from_the_safetensors_headers(tiny_dirs: dict[str, str]) -> None:
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_dirs["qwen2_5_vl"], local_files_only=True)
    assert count_parameters(tiny_dirs["qwen2_5_vl"]) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("settings", "processes", "message"),
    [
        ({"vllm_memory": 0.15}, 8, "raise trainer.vllm_memory"),  # 12 GiB for 15.5 GiB of weights
        ({"vllm_memory": 0.9}, 8, "lower trainer.vllm_memory"),  # 8 GiB left for 15.5 GiB
        ({**FULL, "vllm_memory": 0.3}, 1, "lower trainer.vllm_memory"),  # 77 GiB of full fine-tuning
        ({**FULL, "mixed_precision": "bf16", "vllm_memory": 0.3}, 2, "lower trainer.vllm_memory"),  # 70 GiB
    ],
)
def test_what_does_not_fit_names_vllm_memory(settings: dict, processes: int, message: str) -> None:
    problem = fit_problem(QWEN_7B, H100, SPOConfig(**settings), processes)
    assert problem is not None and message in problem and "\n" not in problem


@pytest.mark.parametrize(
    ("settings", "processes"),
    [
        ({"vllm_memory": 0.3}, 8),  # LoRA: 15.5 GiB of weights beside a 24 GiB engine
        ({**FULL, "mixed_precision": "bf16", "vllm_memory": 0.3}, 8),  # 17.4 GiB of shards
        ({**FULL, "mixed_precision": "bf16", "cpu_offload": True, "vllm_memory": 0.3}, 2),
    ],
)
def test_the_planned_setups_fit(settings: dict, processes: int) -> None:
    assert fit_problem(QWEN_7B, H100, SPOConfig(**settings), processes) is None
