"""Each VLM family researchers train plays full games, re-scores its samples, takes a LoRA step, exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from lora_step import ENV, TRAINER

from agents.hf_vlm import HFVLMPolicy
from agents.scoring import collate, completion_logprobs
from agents.tiny_families import installed_families
from agents.tiny_vlm import FAMILIES, build_tiny_vlm
from algorithms.export import export_run
from algorithms.model_setup import make_trainable
from algorithms.rollout import play_games
from algorithms.run import run_config, train
from algorithms.train_config import SPOConfig

pytestmark = pytest.mark.usefixtures("one_thread")

NEW_FAMILIES = installed_families()  # Qwen3.5 only where the installed transformers has it
ALL_FAMILIES = (*FAMILIES, *NEW_FAMILIES)


@pytest.fixture(scope="module")
def family_dirs(tiny_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The session's two test families and a fresh tiny build of every other family."""
    root = tmp_path_factory.mktemp("families")
    return {**tiny_dirs, **{f: str(build_tiny_vlm(root / f, family=f)) for f in NEW_FAMILIES}}


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_full_games_in_every_seat_re_score_to_their_sampled_logprobs(family_dirs, family) -> None:
    policy = HFVLMPolicy(family_dirs[family], device="cpu", max_new_tokens=6, seed=0)
    rollout = play_games(policy, 1, seed=0, group_size=2, env_kwargs=ENV)
    assert len(rollout.games) == 1 and rollout.games[0].winner  # the game ran to its end
    generations = [s.generation for s in rollout.samples if s.generation is not None]
    assert len(generations) == len(rollout.samples) >= ENV["num_players"] * 2
    sampled = torch.cat([g.completion_ids for g in generations])
    assert not torch.isin(sampled, torch.tensor(policy.suppressed_token_ids)).any()
    batch = collate(generations, policy.pad_token_id)
    with torch.no_grad():
        rescored = completion_logprobs(policy.model, batch, policy.sampling.temperature, chunk_size=4)
    width = batch.completion_ids.shape[1]
    original = torch.stack(
        [torch.nn.functional.pad(g.logprobs, (0, width - g.logprobs.numel())) for g in generations]
    )
    assert float((rescored - original).abs().max()) < 1e-5


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_lora_step_on_the_language_model_then_export_loads_back_and_plays(
    family_dirs, family, tmp_path
) -> None:
    trainer = SPOConfig.from_dict(TRAINER)
    run_dir = tmp_path / "run"
    rows = train(run_dir, run_config("iterative-spo", family_dirs[family], trainer, ENV))
    assert rows[0]["trained_samples"] > 0 and rows[0]["skipped"] is False
    out = export_run(run_dir, tmp_path / "merged")
    merged = HFVLMPolicy(out, device="cpu", max_new_tokens=4, seed=0)
    base = HFVLMPolicy(family_dirs[family], device="cpu", max_new_tokens=4, seed=0)
    base_state = base.model.state_dict()
    changed = [k for k, v in merged.model.state_dict().items() if not torch.equal(v, base_state[k])]
    decoder = "text_model" if family == "idefics3" else "language_model"
    assert changed and all(re.fullmatch(trainer.lora_targets, k.rsplit(".", 1)[0]) for k in changed)
    assert all(f".{decoder}." in k for k in changed)  # the language model, never the vision tower
    assert play_games(merged, 1, seed=1, env_kwargs=ENV).games
    assert json.loads((Path(out) / "vz_spy_export.json").read_text())["checkpoint"] == "checkpoint-1"


def test_targets_that_miss_the_language_model_name_the_regex_to_set(family_dirs) -> None:
    # SmolVLM's decoder is `model.text_model`: targets naming `language_model` alone match nothing there.
    policy = HFVLMPolicy(family_dirs["idefics3"], device="cpu")
    with pytest.raises(ValueError) as info:
        make_trainable(policy.model, SPOConfig(lora_targets=r".*language_model.*\.(q_proj|v_proj)"))
    assert repr(r".*text_model.*\.(q_proj|v_proj)") in str(info.value)


# Per family: the per-token inputs its processor adds and the image tokens of one 64x48 picture.
PICTURE_ENCODING = {
    "qwen3_vl": (["mm_token_type_ids"], 4),  # 64x64 after resizing to 32-pixel steps, 2x2 merged tokens
    "qwen3_5": (["mm_token_type_ids"], 4),
    "gemma3": (["token_type_ids"], 1),  # marks image tokens: attention is bidirectional among them
    "idefics3": ([], 5),  # 2x2 tiles of 32x32 plus the global view, one token each
    "internvl": ([], 5),  # always tiled (crop_to_patches): up to max_patches 4 tiles plus a thumbnail
    "llava_onevision": ([], 10),  # anyres: base view and a 1x2 grid of tiles, unpadded, row newlines
}


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_each_family_encodes_a_picture_its_own_way(family_dirs, family) -> None:
    policy = HFVLMPolicy(family_dirs[family], device="cpu")
    prompt = policy.encode({"image": torch.zeros(48, 64, 3, dtype=torch.uint8).numpy(), "prompt": "Hi."})
    token_inputs, image_tokens = PICTURE_ENCODING[family]
    assert list(prompt.token_inputs) == token_inputs
    image_token_id = policy.processor.image_token_id
    assert int((prompt.input_ids == image_token_id).sum()) == image_tokens
    assert image_token_id in policy.suppressed_token_ids
