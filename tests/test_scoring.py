"""Re-scoring sampled completions gives back the sampler's log-probs, in any batch layout, with gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.hf_vlm import Generation, HFVLMPolicy
from agents.scoring import collate, completion_logprobs
from agents.tiny_vlm import FAMILIES

pytestmark = pytest.mark.usefixtures("one_thread")

TOLERANCE = 1e-4


def eos_prone(policy: HFVLMPolicy, bias: float = 5.0) -> HFVLMPolicy:
    """Make EOS likely (in sampling and scoring alike), so completions end at different lengths."""
    logits_bias = torch.zeros(policy.model.get_output_embeddings().weight.shape[0])
    logits_bias[policy.eos_token_ids[0]] = bias
    policy.model.get_output_embeddings().register_forward_hook(lambda module, args, out: out + logits_bias)
    return policy


def observations(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "image": rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8),
            "prompt": f"PLAYER {i + 1}: " + "the red cube is left of the sphere. " * (2 * i) + "\\boxed{?}",
        }
        for i in range(n)
    ]


def sampled_logprobs(generations: list[Generation], width: int) -> torch.Tensor:
    out = torch.zeros(len(generations), width)
    for i, g in enumerate(generations):
        out[i, : g.logprobs.shape[0]] = g.logprobs
    return out


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_rescored_logprobs_match_generate(tiny_dirs, family, chunk_size) -> None:
    policy = eos_prone(
        HFVLMPolicy(tiny_dirs[family], device="cpu", temperature=0.7, max_new_tokens=16, seed=0)
    )
    gens = policy.generate(observations(3), num_samples=3)
    assert len({len(g.prompt) for g in gens}) == 3 and len({g.completion_ids.shape[0] for g in gens}) > 1
    batch = collate(gens, policy.pad_token_id)
    with torch.no_grad():
        rescored = completion_logprobs(policy.model, batch, temperature=0.7, chunk_size=chunk_size)
    assert rescored.shape == batch.completion_mask.shape
    expected = sampled_logprobs(gens, rescored.shape[1])
    assert torch.allclose(rescored, expected, atol=TOLERANCE, rtol=0)


def test_shuffled_generations_from_several_calls_still_match(tiny_dirs) -> None:
    policy = eos_prone(HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", max_new_tokens=12, seed=4))
    gens = policy.generate(observations(2), num_samples=2)
    gens += policy.generate(observations(3)[2:], num_samples=3)
    order = [4, 0, 6, 2, 5, 1, 3]
    gens = [gens[i] for i in order]
    with torch.no_grad():
        rescored = completion_logprobs(policy.model, collate(gens, policy.pad_token_id), 0.8, chunk_size=3)
    assert torch.allclose(rescored, sampled_logprobs(gens, rescored.shape[1]), atol=TOLERANCE, rtol=0)


def test_greedy_samples_are_scored_at_temperature_one(tiny_dirs) -> None:
    policy = HFVLMPolicy(tiny_dirs["llava"], device="cpu", temperature=0.0, max_new_tokens=6)
    gens = policy.generate(observations(2))
    with torch.no_grad():
        rescored = completion_logprobs(policy.model, collate(gens, policy.pad_token_id), temperature=0.0)
    assert torch.allclose(rescored, sampled_logprobs(gens, rescored.shape[1]), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_collate_concatenates_prompt_completion_and_one_image_copy_per_row(tiny_dirs, family) -> None:
    policy = eos_prone(HFVLMPolicy(tiny_dirs[family], device="cpu", max_new_tokens=10, seed=2))
    gens = policy.generate(observations(2), num_samples=2)
    batch = collate(gens, policy.pad_token_id)
    assert len(batch) == 4
    for i, g in enumerate(gens):
        p, n = len(g.prompt), g.completion_ids.shape[0]
        assert int(batch.prompt_lengths[i]) == p
        assert torch.equal(batch.input_ids[i, :p], g.prompt.input_ids)
        assert torch.equal(batch.input_ids[i, p : p + n], g.completion_ids)
        assert int(batch.attention_mask[i].sum()) == p + n and bool(batch.attention_mask[i, : p + n].all())
        assert torch.equal(batch.completion_ids[i, :n], g.completion_ids)
        assert float(batch.completion_mask[i].sum()) == n
        for key, value in batch.token_inputs.items():
            assert not bool(value[i, p:].any()), key
    for key, tensor in batch.vision_inputs.items():
        pieces = torch.split(tensor, batch.vision_splits[key])
        assert len(pieces) == 4
        assert torch.equal(pieces[0], pieces[1]) and torch.equal(pieces[0], gens[0].prompt.vision_inputs[key])
        assert torch.equal(pieces[2], gens[2].prompt.vision_inputs[key])
    rows = batch.rows(1, 3)
    assert len(rows) == 2 and rows.vision_splits == {k: v[1:3] for k, v in batch.vision_splits.items()}


def test_completion_logprobs_carry_gradient_and_chunking_does_not_change_them(tiny_dirs) -> None:
    policy = eos_prone(HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", max_new_tokens=8, seed=5))
    gens = policy.generate(observations(3), num_samples=2)
    batch = collate(gens, policy.pad_token_id)
    whole = completion_logprobs(policy.model, batch, temperature=0.8)
    chunked = completion_logprobs(policy.model, batch, temperature=0.8, chunk_size=4)
    assert whole.requires_grad and torch.allclose(whole, chunked, atol=1e-5)
    (chunked * batch.completion_mask).sum().backward()
    lm_head = policy.model.get_output_embeddings().weight
    assert lm_head.grad is not None and float(lm_head.grad.abs().sum()) > 0
    assert bool((whole[batch.completion_mask == 0] == 0).all())


def test_bad_arguments_raise(tiny_dirs) -> None:
    with pytest.raises(ValueError, match="empty"):
        collate([], pad_token_id=0)
    policy = HFVLMPolicy(tiny_dirs["llava"], device="cpu", max_new_tokens=2, seed=0)
    batch = collate(policy.generate(observations(1)), policy.pad_token_id)
    with pytest.raises(ValueError, match="chunk_size"):
        completion_logprobs(policy.model, batch, temperature=0.8, chunk_size=0)
