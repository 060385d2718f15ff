"""Run by tests/vllm/test_colocated.py under `accelerate launch` (2 CPU processes, gloo): a vLLM-backed run
with an engine in every process, straight, stopped after its first iteration, or resumed; a straight run then
compares its engine's log-probs of fixed completions with Hugging Face re-scoring of the trained weights.

    accelerate launch ... tests/vllm/colocated_driver.py lora|full straight|interrupted|resumed MODEL RUN_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from agents.scoring import collate, completion_logprobs
from algorithms import trainer as trainer_module
from algorithms.colocate import sync_engine
from algorithms.run import run_config, train
from algorithms.sharding import gathered
from algorithms.train_config import algorithm_config
from vz_env import spy_v0

# The untrained model's clues are malformed: with the clue format term every clue has an advantage.
ENV = {"image_size": (64, 48), "num_players": 4, "num_rounds": 1, "clue_format_weight": 1.0}
TRAINER = {
    "iterations": 2,
    "games_per_iter": 1,
    "group_size": 2,
    "max_new_tokens": 8,
    "learning_rate": 1e-2,
    "warmup_ratio": 0.0,
    "score_chunk": 4,
    "checkpoint_every": 1,
    "rollout_backend": "vllm",
}
SAMPLES = 4  # fixed completions per acting player of the first turn
SCENARIOS: dict[str, dict[str, Any]] = {
    "lora": {"lora_rank": 8},
    "full": {"finetune": "full", "reference": "copy"},
}


def main(scenario: str, mode: str, model: str, run_dir: Path) -> None:
    """Train as `mode` says; after a straight run, write this process's log-prob comparison beside it."""
    config = run_config(
        "selfplay-clue",
        model,
        algorithm_config("selfplay-clue", {**TRAINER, **SCENARIOS[scenario]}),
        ENV,
    )
    trainers: list[Any] = []
    start = trainer_module.Trainer.__init__

    def recorded(self: Any, *args: Any, **kwargs: Any) -> None:
        start(self, *args, **kwargs)
        trainers.append(self)

    trainer_module.Trainer.__init__ = recorded
    if mode == "interrupted":
        train(run_dir, config, stop_after=1)
        return
    train(run_dir, config, resume=mode == "resumed")
    if mode == "straight":
        trainer = trainers[-1]
        report = compare_logprobs(trainer)
        rank = trainer.accelerator.process_index
        (run_dir / f"logprobs-{rank}.json").write_text(json.dumps(report))


def compare_logprobs(trainer: Any) -> dict[str, float]:
    """Sync the engine, sample fixed completions, and score them with the engine and with Hugging Face."""
    engine = trainer.sampler
    sync_engine(engine, trainer.train_model, trainer.policy.model)
    env = spy_v0.parallel_env(**ENV)
    observations, _ = env.reset(seed=100 + trainer.accelerator.process_index)
    observations = [observations[agent] for agent in env.acting_agents for _ in range(SAMPLES)]
    generations = engine.generate(observations)
    engine_logprobs = prompt_logprobs(engine, observations, generations)
    batch = collate(generations, trainer.policy.pad_token_id)
    with torch.no_grad(), gathered(trainer.train_model):
        trained = completion_logprobs(trainer.policy.model, batch, 1.0)
    with torch.no_grad(), trainer.reference.model() as reference:
        start = completion_logprobs(reference, batch, 1.0)
    mask = batch.completion_mask.bool()
    return {
        "max_diff": float((engine_logprobs - trained)[mask].abs().max()),
        "moved": float((engine_logprobs - start)[mask].abs().max()),
        "tokens": int(mask.sum()),
    }


def prompt_logprobs(engine: Any, observations: list[Any], generations: list[Any]) -> torch.Tensor:
    """The engine's log-probs [B, T] of each completion, read as prompt tokens at temperature 1."""
    from vllm import SamplingParams

    pad = engine.tokenizer.convert_tokens_to_ids(engine.processor.image_token)
    requests = []
    for observation, generation in zip(observations, generations):
        _, image = engine._chat_input(observation)
        ids = generation.prompt.input_ids.tolist() + generation.completion_ids.tolist()
        # One image placeholder, as the chat text has it: the engine expands it as the processor did.
        ids = [t for i, t in enumerate(ids) if not (t == pad and i > 0 and ids[i - 1] == pad)]
        requests.append({"prompt_token_ids": ids, "multi_modal_data": {"image": image}})
    params = SamplingParams(max_tokens=1, temperature=1.0, prompt_logprobs=0)
    outputs = engine.llm.generate(requests, params, lora_request=engine.lora_request, use_tqdm=False)
    width = max(g.completion_ids.numel() for g in generations)
    logprobs = torch.zeros(len(generations), width)
    for row, (output, generation) in enumerate(zip(outputs, generations)):
        offset = generation.prompt.input_ids.numel()
        assert len(output.prompt_token_ids) == offset + generation.completion_ids.numel()
        for k, token in enumerate(generation.completion_ids.tolist()):
            logprobs[row, k] = output.prompt_logprobs[offset + k][token].logprob
    return logprobs


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
