"""VLLMPolicy: its samples re-score under HF, a seeded policy replays, and weight syncs serve new weights."""

import gc
import shutil
from pathlib import Path

import pytest
import torch

from agents.hf_vlm import HFVLMPolicy
from agents.scoring import collate, completion_logprobs
from agents.vllm_vlm import VLLMPolicy

pytestmark = pytest.mark.vllm


def hf_logprobs(hf: HFVLMPolicy, generations, temperature: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """HF re-scoring of the samples: the trainer's log-probs [B, T], and per sample the log-probs over the
    ids the sampler may draw (special ids removed), which is the distribution vLLM samples from."""
    batch = collate(generations, hf.pad_token_id)
    with torch.no_grad():
        trainer = completion_logprobs(hf.model, batch, temperature)
        logits = hf.model(**batch.model_inputs("cpu", torch.float32)).logits.float()
    allowed = []
    for row, g in enumerate(generations):
        start = int(batch.prompt_lengths[row]) - 1
        scaled = logits[row, start : start + g.completion_ids.numel()] / temperature
        scaled[:, hf.suppressed_token_ids] = float("-inf")
        allowed.append(scaled.log_softmax(-1).gather(1, g.completion_ids[:, None]).squeeze(1))
    return trainer, allowed


def test_samples_rescore_under_hf_in_fp32(qwen_engine, tiny_dirs, observations):
    qwen_engine.reset(seed=1)
    generations = qwen_engine.generate(observations, num_samples=2)
    hf = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", dtype="float32")
    assert len(generations) == 2 * len(observations)
    for g in generations:
        assert g.from_engine and 1 <= g.completion_ids.numel() <= 16
        assert not set(g.completion_ids.tolist()[:-1]) & set(hf.suppressed_token_ids)
        assert torch.equal(g.prompt.input_ids, hf.encode(observations[g.observation_index]).input_ids)
    trainer, allowed = hf_logprobs(hf, generations, qwen_engine.sampling.temperature)
    sampler_gap = max(float((a - g.logprobs).abs().max()) for a, g in zip(allowed, generations))
    trainer_gap = max(
        float((trainer[i, : g.logprobs.numel()] - g.logprobs).abs().max()) for i, g in enumerate(generations)
    )
    print(f"largest |vLLM - HF| log-prob: {sampler_gap:.2e} (sampler's), {trainer_gap:.2e} (trainer's)")
    assert sampler_gap < 1e-4
    # The trainer's distribution keeps the special ids' mass: engine log-probs are never below it, and the
    # gap is that mass (what the truncated importance weight corrects).
    assert all(
        (g.logprobs >= trainer[i, : g.logprobs.numel()] - 1e-4).all() for i, g in enumerate(generations)
    )
    assert trainer_gap < 0.1


def test_a_seeded_policy_replays_whole_games(qwen_engine):
    from algorithms.rollout import play_games

    # Many prompts per call, long vote prompts: the engine schedules them over several steps.
    env = {"image_size": (320, 240)}
    first = play_games(qwen_engine, 4, seed=0, group_size=4, env_kwargs=env)
    again = play_games(qwen_engine, 4, seed=0, group_size=4, env_kwargs=env)
    ids = [s.generation.completion_ids.tolist() for s in first.samples]
    assert ids == [s.generation.completion_ids.tolist() for s in again.samples]
    assert len({tuple(i) for i in ids}) > 1


def saved_copy(model, source: str, out) -> str:
    """A model folder holding `model`'s weights and the source folder's processor files."""
    model.save_pretrained(out)
    for path in Path(source).iterdir():
        if not (out / path.name).exists():
            shutil.copy(path, out / path.name)
    return str(out)


def samples(policy: VLLMPolicy, observations, seed: int) -> list:
    policy.reset(seed=seed)
    return policy.generate(observations, num_samples=2)


def same_samples(a: list, b: list) -> bool:
    return all(torch.equal(x.completion_ids, y.completion_ids) for x, y in zip(a, b)) and len(a) == len(b)


def test_a_full_weight_sync_samples_what_a_fresh_load_samples(qwen_engine, tiny_dirs, observations, tmp_path):
    path = tiny_dirs["qwen2_5_vl"]
    before = samples(qwen_engine, observations, seed=3)
    hf = HFVLMPolicy(path, device="cpu", dtype="float32")
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        for parameter in hf.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    new_folder = saved_copy(hf.model, path, tmp_path / "new")
    qwen_engine.sync_weights(hf.model)
    synced = samples(qwen_engine, observations, seed=3)  # the same images again: caches were reset
    qwen_engine.sync_weights(HFVLMPolicy(path, device="cpu", dtype="float32").model)
    restored = samples(qwen_engine, observations, seed=3)
    qwen_engine.close()
    fresh = VLLMPolicy(new_folder, seed=0, max_new_tokens=16, dtype="float32")
    try:
        reloaded = samples(fresh, observations, seed=3)
    finally:
        fresh.close()
    assert not same_samples(before, synced)
    assert same_samples(synced, reloaded)
    assert max(float((s.logprobs - r.logprobs).abs().max()) for s, r in zip(synced, reloaded)) < 1e-4
    assert same_samples(restored, before)


def test_a_lora_sync_samples_what_a_fresh_load_of_the_merged_model_samples(tiny_dirs, observations, tmp_path):
    from algorithms.model_setup import make_trainable
    from algorithms.train_config import SPOConfig

    path = tiny_dirs["qwen2_5_vl"]
    config = SPOConfig(lora_rank=8)
    model = make_trainable(HFVLMPolicy(path, device="cpu", dtype="float32").model, config)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.3)
    engine = VLLMPolicy(path, seed=0, max_new_tokens=16, dtype="float32", enable_lora=True, max_lora_rank=8)
    try:
        base = samples(engine, observations, seed=4)
        engine.sync_weights(model)
        first = samples(engine, observations, seed=4)
        engine.sync_weights(model)  # a second version of the same weights: same samples
        second = samples(engine, observations, seed=4)
    finally:
        engine.close()
    merged = saved_copy(model.merge_and_unload(), path, tmp_path / "merged")
    gc.collect()
    fresh = VLLMPolicy(merged, seed=0, max_new_tokens=16, dtype="float32")
    try:
        reloaded = samples(fresh, observations, seed=4)
    finally:
        fresh.close()
    assert not same_samples(base, first)
    assert same_samples(first, second)
    assert same_samples(first, reloaded)


def test_a_bad_model_path_is_a_load_error(tmp_path):
    from agents.hf_vlm import ModelLoadError

    with pytest.raises(ModelLoadError, match="no config.json"):
        VLLMPolicy(tmp_path)
