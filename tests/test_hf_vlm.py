"""HFVLMPolicy: plays from local model folders, samples reproducibly, and never emits vision tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.hf_vlm import HFVLMPolicy, ModelLoadError, split_vision_inputs
from agents.tiny_vlm import FAMILIES

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def policies(tiny_dirs: dict[str, str]) -> dict[str, HFVLMPolicy]:
    return {
        family: HFVLMPolicy(path, device="cpu", max_new_tokens=12, seed=0)
        for family, path in tiny_dirs.items()
    }


def observations(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "image": rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8),
            "prompt": f"You are PLAYER {i + 1} of 4. " + "Describe your picture. " * i + "Use \\boxed{}.",
            "phase": 0,
            "seat": i,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_act_batch_returns_one_reply_per_observation(policies, family) -> None:
    replies = policies[family].act_batch(observations(3))
    assert len(replies) == 3 and all(isinstance(r, str) for r in replies)
    assert isinstance(policies[family].act(observations(1)[0]), str)


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_groups_samples_and_shares_their_prompt(policies, family) -> None:
    policy = policies[family]
    gens = policy.generate(observations(2), num_samples=3)
    assert [g.observation_index for g in gens] == [0, 0, 0, 1, 1, 1]
    assert gens[0].prompt is gens[2].prompt and gens[0].prompt is not gens[3].prompt
    assert len(gens[3].prompt) > len(gens[0].prompt)
    for g in gens:
        assert g.completion_ids.dtype == torch.long and 1 <= g.completion_ids.shape[0] <= 12
        assert g.logprobs.shape == g.completion_ids.shape and bool((g.logprobs <= 0).all())
        assert g.finished == (int(g.completion_ids[-1]) in policy.eos_token_ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_encoding_equals_encoding_one_observation_at_a_time(policies, family) -> None:
    policy = policies[family]
    batch = observations(3)
    for together, obs in zip(policy.encode_batch(batch), batch):
        alone = policy.encode(obs)
        for field in ("token_inputs", "vision_inputs"):
            assert getattr(together, field).keys() == getattr(alone, field).keys()
        pairs = [(together.input_ids, alone.input_ids), (together.attention_mask, alone.attention_mask)]
        pairs += [(together.token_inputs[k], alone.token_inputs[k]) for k in alone.token_inputs]
        pairs += [(together.vision_inputs[k], alone.vision_inputs[k]) for k in alone.vision_inputs]
        assert all(torch.equal(a, b) for a, b in pairs)


def test_image_tensors_are_cut_per_observation_or_reported_uncuttable() -> None:
    patches = {"pixel_values": torch.zeros(7, 4), "image_grid_thw": torch.tensor([[1, 2, 2], [1, 1, 3]])}
    assert [s["pixel_values"].shape[0] for s in split_vision_inputs(patches, 2)] == [4, 3]
    assert split_vision_inputs({"pixel_values": torch.zeros(5, 3, 8, 8)}, 2) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_vision_and_control_tokens_are_never_sampled(tiny_dirs, family) -> None:
    policy = HFVLMPolicy(tiny_dirs[family], device="cpu", max_new_tokens=16, seed=1)
    suppressed = torch.tensor(policy.suppressed_token_ids)
    bias = torch.zeros(policy.model.get_output_embeddings().weight.shape[0])
    bias[suppressed] = 20.0
    policy.model.get_output_embeddings().register_forward_hook(lambda module, args, out: out + bias)
    config = policy.model.config
    names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    vision_ids = {getattr(config, name, None) for name in names} - {None}
    assert config.image_token_id in vision_ids and vision_ids <= set(policy.suppressed_token_ids)
    assert not set(policy.eos_token_ids) & set(policy.suppressed_token_ids)
    sampled = torch.cat([g.completion_ids for g in policy.generate(observations(2), num_samples=2)])
    assert sampled.numel() == 4 * 16 and not torch.isin(sampled, suppressed).any()


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_gives_same_samples_without_touching_the_global_rng(tiny_dirs, family) -> None:
    first = HFVLMPolicy(tiny_dirs[family], device="cpu", max_new_tokens=8, seed=7)
    second = HFVLMPolicy(tiny_dirs[family], device="cpu", max_new_tokens=8, seed=7)
    global_state = torch.get_rng_state()
    a = first.generate(observations(2), num_samples=2)
    torch.rand(5)
    b = second.generate(observations(2), num_samples=2)
    assert [g.completion_ids.tolist() for g in a] == [g.completion_ids.tolist() for g in b]
    next_a = first.act_batch(observations(2))
    first.reset(seed=7)
    assert [g.text for g in first.generate(observations(2), num_samples=2)] == [g.text for g in a]
    assert first.act_batch(observations(2)) == next_a
    second.reset(seed=8)
    assert [g.completion_ids.tolist() for g in second.generate(observations(2), num_samples=2)] != [
        g.completion_ids.tolist() for g in a
    ]
    torch.set_rng_state(global_state)
    before = torch.get_rng_state()
    first.act_batch(observations(1))
    assert torch.equal(torch.get_rng_state(), before)


def test_greedy_decoding_is_deterministic(tiny_dirs) -> None:
    policy = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu", temperature=0.0, max_new_tokens=8)
    assert policy.act_batch(observations(2)) == policy.act_batch(observations(2))


def test_greedy_search_ignores_the_checkpoints_sampling_settings(capfd) -> None:
    from tiny_vlm.shipped import shipped_model_path

    # The shipped generation config samples at temperature 0.8; a greedy policy must not inherit it.
    policy = HFVLMPolicy(shipped_model_path(), device="cpu", temperature=0.0, max_new_tokens=4)
    assert policy.model.generation_config.temperature != 1.0
    capfd.readouterr()
    policy.act_batch(observations(1))
    assert "generation flags" not in capfd.readouterr().err


def test_eos_ends_the_completion_and_is_kept_once(tiny_dirs) -> None:
    policy = HFVLMPolicy(tiny_dirs["llava"], device="cpu", max_new_tokens=40, seed=3)
    eos = policy.eos_token_ids[0]
    bias = torch.zeros(policy.model.get_output_embeddings().weight.shape[0])
    bias[eos] = 5.0
    policy.model.get_output_embeddings().register_forward_hook(lambda module, args, out: out + bias)
    gens = policy.generate(observations(3), num_samples=3)
    assert any(g.finished for g in gens)
    assert len({g.completion_ids.shape[0] for g in gens}) > 1
    for g in gens:
        ids = g.completion_ids.tolist()
        assert eos not in ids[:-1]
        assert g.finished == (ids[-1] == eos)
        assert policy.tokenizer.eos_token not in g.text


def test_tiny_names_the_shipped_qwen_model() -> None:
    from algorithms.players import load_player
    from tiny_vlm.shipped import shipped_model_path

    policy = load_player("tiny", max_new_tokens=4)
    assert type(policy.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert Path(policy.model.name_or_path) == shipped_model_path() and policy.label == "tiny"
    assert policy.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_missing_path_raises_model_load_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        HFVLMPolicy(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_model_folders_raise_model_load_error(tmp_path, tiny_dirs) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        HFVLMPolicy(tmp_path)
    text_only = tmp_path / "text-only"
    text_only.mkdir()
    (text_only / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="not an image-text-to-text model"):
        HFVLMPolicy(text_only)
    no_processor = tmp_path / "no-processor"
    no_processor.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy(f"{tiny_dirs['llava']}/{name}", no_processor / name)
    with pytest.raises(ModelLoadError, match="processor") as info:
        HFVLMPolicy(no_processor)
    assert "\n" not in str(info.value)


def test_bad_sampling_settings_raise(tiny_dirs) -> None:
    for kwargs in ({"temperature": -1.0}, {"top_p": 0.0}, {"max_new_tokens": 0}, {"min_new_tokens": 99}):
        with pytest.raises(ValueError):
            HFVLMPolicy(tiny_dirs["llava"], device="cpu", **{"max_new_tokens": 8, **kwargs})
