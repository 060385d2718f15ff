"""The built-in tiny VLM: real classes, a local tokenizer, deterministic, and buildable from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents import tiny_vlm
from agents.tiny_vlm import FAMILIES, build_tiny_vlm, default_model_path

EXPECTED_CLASSES = {
    "qwen2_5_vl": ("Qwen2_5_VLProcessor", "Qwen2VLImageProcessor", "Qwen2_5_VLForConditionalGeneration"),
    "llava": ("LlavaProcessor", "CLIPImageProcessor", "LlavaForConditionalGeneration"),
}


@pytest.fixture(scope="module")
def loaded(tiny_dirs: dict[str, str]) -> dict[str, tuple]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return {
        family: (
            AutoProcessor.from_pretrained(path, local_files_only=True),
            AutoModelForImageTextToText.from_pretrained(path, local_files_only=True),
        )
        for family, path in tiny_dirs.items()
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_model_loads_through_the_auto_classes_as_the_real_family(loaded: dict, family: str) -> None:
    processor, model = loaded[family]
    processor_cls, image_processor_cls, model_cls = EXPECTED_CLASSES[family]
    assert type(processor).__name__ == processor_cls
    assert type(processor.image_processor).__name__ == image_processor_cls
    assert type(model).__name__ == model_cls
    assert processor.chat_template
    assert (getattr(processor, "video_processor", None) is not None) == (family == "qwen2_5_vl")


@pytest.mark.parametrize("family", FAMILIES)
def test_model_is_tiny(loaded: dict, family: str) -> None:
    _, model = loaded[family]
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.config.get_text_config().num_hidden_layers == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_text_heads_are_at_least_32_wide_for_vllm(loaded: dict, family: str) -> None:
    text = loaded[family][1].config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    assert head_dim >= 32


def test_pretrain_size_has_32_wide_heads_and_few_image_tokens() -> None:
    size = tiny_vlm.TINY_SIZES["pretrain"]
    assert size.text_hidden // size.text_heads == tiny_vlm.HEAD_DIM == 32
    assert size.vision_hidden % tiny_vlm.HEAD_DIM == 0 and size.max_image_tokens <= 40


@pytest.mark.parametrize("family", FAMILIES)
def test_tokenizer_is_trained_on_game_text(loaded: dict, family: str) -> None:
    tokenizer = loaded[family][0].tokenizer
    assert 2000 <= len(tokenizer) <= 4096
    for word in ("PLAYER", "spy", "cube", "clue"):
        assert len(tokenizer.tokenize(" " + word)) == 1, word
    text = "PLAYER 3 says: \\boxed{a red cube} N/A — café 日本"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_qwen_picture_gives_few_image_tokens(loaded: dict) -> None:
    processor, model = loaded["qwen2_5_vl"]
    image = Image.fromarray(np.zeros((240, 320, 3), dtype=np.uint8))
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "PLAYER 1"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = processor(text=[text], images=[image], return_tensors="pt")
    num_image_tokens = int((encoded["input_ids"] == model.config.image_token_id).sum())
    assert 16 <= num_image_tokens <= 64


def test_same_seed_builds_identical_files_and_another_seed_other_weights(tmp_path, tiny_dirs) -> None:
    again = build_tiny_vlm(tmp_path / "again", family="llava", seed=0)
    other = build_tiny_vlm(tmp_path / "other", family="llava", seed=1)
    reference = Path(tiny_dirs["llava"])
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (again / name).read_bytes() == (reference / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()
    assert (other / "tokenizer.json").read_bytes() == (again / "tokenizer.json").read_bytes()


def test_build_refuses_a_non_empty_folder_and_unknown_family(tmp_path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="taken"):
        build_tiny_vlm(tmp_path / "taken", family="llava")
    assert (tmp_path / "taken" / "file.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="unknown tiny VLM family"):
        build_tiny_vlm(tmp_path / "new", family="gpt2")
    assert list(tmp_path.iterdir()) == [tmp_path / "taken"]


def test_default_model_path_builds_once_and_reuses(monkeypatch, tmp_path_factory, tiny_dirs) -> None:
    monkeypatch.setenv(tiny_vlm.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "vz-spy-cache"))
    path = default_model_path("llava")
    assert str(path) == tiny_dirs["llava"]
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert default_model_path("llava") == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp


def test_cli_tiny_model_writes_a_model_folder(tmp_path, capsys) -> None:
    from vz_spy.cli import main

    out = tmp_path / "cli-model"
    assert main(["tiny-model", "--out", str(out), "--family", "llava", "--seed", "3"]) == 0
    assert str(out) in capsys.readouterr().out
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()


def test_cli_tiny_model_offers_every_family_and_builds_a_new_one(tmp_path, capsys, monkeypatch) -> None:
    from agents import tiny_families
    from vz_spy.cli import main

    with pytest.raises(SystemExit):
        main(["tiny-model", "--help"])
    assert "{" + ",".join(["qwen2_5_vl", "llava", *tiny_families.BUILDERS]) + "}" in capsys.readouterr().out
    out = tmp_path / "smolvlm"
    assert main(["tiny-model", "--out", str(out), "--family", "idefics3"]) == 0
    assert json.loads((out / "config.json").read_text())["model_type"] == "idefics3"
    monkeypatch.setattr(tiny_families, "installed_families", lambda: ())
    assert main(["tiny-model", "--out", str(tmp_path / "qwen3"), "--family", "qwen3_vl"]) == 2
    err = capsys.readouterr().err
    assert (
        "Qwen3VLForConditionalGeneration" in err
        and err.count("\n") == 1
        and not (tmp_path / "qwen3").exists()
    )


def test_cli_tiny_model_refuses_an_existing_folder_in_one_line(tmp_path, capsys) -> None:
    from vz_spy.cli import main

    (tmp_path / "x.txt").write_text("")
    assert main(["tiny-model", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vz-spy tiny-model: error:") and "\n" not in err


def test_cli_tiny_model_rejects_unknown_family(tmp_path) -> None:
    from vz_spy.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["tiny-model", "--out", str(tmp_path / "m"), "--family", "gpt2"])
    assert exit_info.value.code == 2
