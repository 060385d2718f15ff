"""`vz-spy export`: a trained run becomes a merged Hugging Face folder that loads back and generates."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from lora_step import ENV, TRAINER
from PIL import Image

from vz_spy.cli import main

RUN_CONFIG = {"trainer": TRAINER, "env": ENV}


@pytest.fixture(scope="module")
def run_dir(tiny_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-iteration LoRA run on the random tiny VLM."""
    root = tmp_path_factory.mktemp("export")
    config = root / "config.json"
    config.write_text(json.dumps({**RUN_CONFIG, "model": tiny_dirs["qwen2_5_vl"]}))
    argv = ["train", "--config", str(config), "--out", str(root / "run"), "--no-plot", "--versus-games", "0"]
    assert main(argv) == 0
    return root / "run"


def _prompt(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe it."}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = Image.fromarray(np.full((48, 64, 3), 200, dtype=np.uint8))
    return processor(text=[text], images=[image], return_tensors="pt")


def test_export_merges_adapters_and_loads_back_generating(run_dir: Path, tmp_path: Path, capsys) -> None:
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path / "merged"
    assert main(["export", str(run_dir), "--out", str(out), "--checkpoint", "1"]) == 0
    assert str(out) in capsys.readouterr().out
    assert not [p.name for p in tmp_path.iterdir() if p.name != "merged"]  # no temporary folder left
    assert not any("adapter" in p.name for p in out.iterdir())
    assert any(p.name.startswith("chat_template") for p in out.iterdir())

    merged = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True).eval()
    processor = AutoProcessor.from_pretrained(out, local_files_only=True)
    assert processor.chat_template
    assert not any("lora_" in name for name, _ in merged.named_parameters())

    config = json.loads((run_dir / "config.json").read_text())
    base = AutoModelForImageTextToText.from_pretrained(config["model"], local_files_only=True).eval()
    base_state = {k: v.clone() for k, v in base.state_dict().items()}
    adapted = PeftModel.from_pretrained(base, str(run_dir / "checkpoint-1" / "adapter")).eval()
    inputs = _prompt(processor)
    with torch.no_grad():
        expected = adapted(**inputs).logits
        got = merged(**inputs).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    changed = [k for k, v in merged.state_dict().items() if not torch.equal(v, base_state[k])]
    targets = config["trainer"]["lora_targets"]
    assert changed and all(re.fullmatch(targets, k.rsplit(".", 1)[0]) for k in changed)  # adapted only

    generated = merged.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]
    assert isinstance(processor.decode(generated[0, inputs["input_ids"].shape[1] :]), str)


@pytest.mark.parametrize(
    ("which", "message"),
    [("not-a-run", "is not a run folder"), ("missing-checkpoint", "has no checkpoint-7")],
)
def test_bad_export_input_says_so_in_one_line_and_writes_nothing(
    run_dir: Path, tmp_path: Path, capsys, which: str, message: str
) -> None:
    source = tmp_path if which == "not-a-run" else run_dir
    out = tmp_path / "out"
    assert main(["export", str(source), "--out", str(out), "--checkpoint", "7"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_export_refuses_an_existing_out_folder(run_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["export", str(run_dir), "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
