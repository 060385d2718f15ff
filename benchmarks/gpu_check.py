"""One short GPU check: Qwen2.5-VL-3B/7B-sized random models, bf16 generation speed, one training step each.

Nothing is downloaded. Each size is built from its published layer sizes with random weights (its answers
are noise, but memory and speed are those of the real model), with the built-in tiny VLM's locally trained
tokenizer and chat template and Qwen2.5-VL's image processor at its default pixel limits. The folder is
written with `save_pretrained` and loaded back through the same code path as a real model. For each size:

- HF lock-step generation on game prompts (`play_games`, every reply forced to --max-new-tokens tokens),
  in generated tokens per second; vLLM on the same prompts when `vllm` is importable;
- one training iteration per setup (LoRA; full fine-tuning with a frozen reference copy; each sampled by HF
  `generate` and by a vLLM engine colocated in the trainer's process, taking `vllm_memory` 0.3 of the GPU),
  with activation checkpointing on: its seconds and peak GPU memory (the trainer's allocations; the engine's
  share is fixed by `vllm_memory`). On one GPU there is no FSDP2, so no bf16 mixed precision: the model is
  loaded in bf16 and trained in bf16.

It prints one table (and writes it as JSON with --json). A time budget (--budget-s, default 540 s) skips
the steps that would start after it, so one run stays under 10 minutes. `--dry-run` builds tiny sizes on
the CPU: the test suite runs it so the script cannot rot.

    python benchmarks/gpu_check.py                     # on a GPU: 3b and 7b
    python benchmarks/gpu_check.py --sizes 7b --json gpu_check.json
    python benchmarks/gpu_check.py --dry-run           # CPU, tiny sizes, seconds
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from agents.tiny_vlm import TinySize  # noqa: E402

# Layer sizes of the published Qwen2.5-VL checkpoints (their config.json), and tiny ones for --dry-run, all
# at Qwen2.5-VL's default pixel limit (16384 merged image tokens).
PUBLISHED = {
    "vision_hidden": 1280,
    "vision_depth": 32,
    "vision_intermediate": 3420,
    "vision_heads": 16,
    "full_attention_blocks": (7, 15, 23, 31),
    "head_dim": 128,
    "max_positions": 32768,
    "max_image_tokens": 16384,
}
TINY = {
    "vision_hidden": 64,
    "vision_depth": 2,
    "window_size": 56,
    "full_attention_blocks": (1,),
    "max_image_tokens": 16384,
}
SIZES: dict[str, TinySize] = {
    "3b": TinySize(
        text_hidden=2048,
        text_layers=36,
        text_heads=16,
        text_kv_heads=2,
        text_intermediate=11008,
        vocab_size=151936,
        tie_word_embeddings=True,
        **PUBLISHED,
    ),
    "7b": TinySize(
        text_hidden=3584,
        text_layers=28,
        text_heads=28,
        text_kv_heads=4,
        text_intermediate=18944,
        vocab_size=152064,
        **PUBLISHED,
    ),
    "tiny-a": TinySize(
        text_hidden=64, text_layers=2, text_heads=2, text_kv_heads=1, tie_word_embeddings=True, **TINY
    ),
    "tiny-b": TinySize(text_hidden=96, text_layers=3, text_heads=3, text_kv_heads=1, **TINY),
}
GAME = {"num_players": 4, "num_rounds": 2}  # the default 320x240 pictures
DRY_RUN_GAME = {"num_players": 4, "num_rounds": 1, "image_size": (64, 48)}


@dataclass
class Row:
    """One line of the table: a measured step of one model size."""

    size: str
    step: str
    seconds: float | None = None
    tokens_per_s: float | None = None
    peak_gib: float | None = None
    note: str = ""


def local_tokenizer(source: str | None) -> Any:
    """A local Qwen-style tokenizer with its chat template (default: the built-in tiny VLM's); nothing is
    downloaded."""
    from transformers import AutoProcessor

    if source is None:
        from agents.tiny_vlm import default_model_path

        source = str(default_model_path())
    tiny = AutoProcessor.from_pretrained(source, local_files_only=True)
    tokenizer = tiny.tokenizer
    tokenizer.chat_template = tiny.chat_template
    return tokenizer


def build_folder(size: str, folder: Path, device: torch.device, tokenizer: Any) -> int:
    """Write a random-weight model of `size` (bf16 on a GPU) and its processor; returns its size."""
    from agents.tiny_vlm import new_qwen2_5_vl

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model, processor = new_qwen2_5_vl(0, SIZES[size], tokenizer=tokenizer, device=device, dtype=dtype)
    parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    del model
    _free()
    return parameters


def measure_hf_generation(
    folder: Path, size: str, games: int, group_size: int, tokens: int, env: dict[str, Any]
) -> Row:
    """Lock-step self-play games, every reply exactly `tokens` long: generated tokens per second."""
    from agents.hf_vlm import HFVLMPolicy
    from algorithms.rollout import play_games

    policy = HFVLMPolicy(folder, seed=0, max_new_tokens=tokens, min_new_tokens=tokens)
    play_games(policy, 1, seed=99, group_size=group_size, env_kwargs=env)  # warm-up (kernels, allocator)
    _reset_peak()
    start = time.perf_counter()
    rollout = play_games(policy, games, seed=0, group_size=group_size, env_kwargs=env)
    _sync()
    seconds = time.perf_counter() - start
    note = f"{games} games, G={group_size}, {tokens} tokens/reply, {policy.dtype}".replace("torch.", "")
    row = Row(size, "generate: HF lock-step", seconds, rollout.tokens / seconds, _peak_gib(), note)
    del policy
    _free()
    return row


def measure_vllm_generation(
    folder: Path, size: str, games: int, group_size: int, tokens: int, env: dict[str, Any]
) -> Row:
    """The same game prompts through vLLM (first turn of every game, G samples each), tokens per second."""
    try:
        import vllm
    except ImportError:
        return Row(size, "generate: vLLM", note="vllm not installed")
    from agents.hf_vlm import HFVLMPolicy
    from vz_env import spy_v0

    prompts_policy = HFVLMPolicy(folder, device="cpu", dtype=torch.float32)
    requests = []
    for game in range(games):
        env = spy_v0.parallel_env(**env)
        observations, _ = env.reset(seed=game)
        for observation in observations.values():
            text, image = prompts_policy._chat_input(observation)
            requests.append({"prompt": text, "multi_modal_data": {"image": image}})
    del prompts_policy
    llm = vllm.LLM(
        model=str(folder), dtype="bfloat16", gpu_memory_utilization=0.6, enforce_eager=True, seed=0
    )
    params = vllm.SamplingParams(n=group_size, max_tokens=tokens, min_tokens=tokens, temperature=0.8)
    llm.generate(requests[:1], params)
    start = time.perf_counter()
    outputs = llm.generate(requests, params)
    seconds = time.perf_counter() - start
    generated = sum(len(c.token_ids) for o in outputs for c in o.outputs)
    del llm
    _free()
    note = f"{len(requests)} prompts x {group_size} samples, {tokens} tokens, eager"
    return Row(size, "generate: vLLM", seconds, generated / seconds, None, note)


def measure_training(
    folder: Path,
    size: str,
    finetune: str,
    backend: str,
    work: Path,
    games: int,
    tokens: int,
    env: dict[str, Any],
) -> Row:
    """One training iteration (rollout, scoring, optimizer step): its seconds and peak GPU memory."""
    from algorithms.run import run_config, train
    from algorithms.train_config import SPOConfig

    label = "train: LoRA" if finetune == "lora" else "train: full FT (+ref copy)"
    label += " + vLLM" if backend == "vllm" else ""
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        return Row(size, label, note="vllm not installed")

    trainer = {
        "iterations": 2,
        "games_per_iter": games,
        "group_size": 4,
        "max_new_tokens": tokens,
        "start_stage": "clue",
        "score_chunk": 4,
        "warmup_ratio": 0.0,
        "finetune": finetune,
        "reference": "copy" if finetune == "full" else "disable-adapter",
        "rollout_backend": backend,
        "activation_checkpointing": True,
    }
    config = run_config("iterative-spo", str(folder), SPOConfig.from_dict(trainer), env)
    run_dir = work / f"run-{size}-{finetune}-{backend}"
    _reset_peak()
    start = time.perf_counter()
    row = train(run_dir, config, stop_after=1)[0]
    seconds = time.perf_counter() - start
    shutil.rmtree(run_dir, ignore_errors=True)
    _free()
    note = (
        f"iteration {row['seconds_total']:.1f}s (rollout {row['seconds_rollout']:.1f}s), "
        f"{row['trained_samples']} samples; load+iteration {seconds:.1f}s"
    )
    return Row(size, label, row["seconds_total"], None, _peak_gib(), note)


def run_checks(sizes: list[str], args: argparse.Namespace, device: torch.device) -> list[Row]:
    """Every step for every size, skipping those that would start after the time budget."""
    started = time.perf_counter()
    rows: list[Row] = []
    env = DRY_RUN_GAME if args.dry_run else GAME
    tokenizer = local_tokenizer(args.tokenizer_from)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-", dir=args.workdir))
    try:
        for size in sizes:
            folder = work / size
            begin = time.perf_counter()
            parameters = build_folder(size, folder, device, tokenizer)
            seconds = time.perf_counter() - begin
            rows.append(Row(size, "build + save", seconds, note=f"{parameters / 1e6:,.1f}M parameters"))
            steps = _steps(folder, size, work, env, args)
            for label, step in steps:
                if time.perf_counter() - started > args.budget_s:
                    rows.append(Row(size, label, note=f"skipped: past the {args.budget_s:.0f}s budget"))
                    continue
                try:
                    rows.append(step())
                except torch.OutOfMemoryError:
                    _free()
                    rows.append(Row(size, label, note="out of GPU memory"))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _steps(
    folder: Path, size: str, work: Path, env: dict[str, Any], args: argparse.Namespace
) -> list[tuple[str, Callable[[], Row]]]:
    """The measurements of one model size, in order, each a label and a call."""
    gen = (folder, size, args.games, args.group_size, args.max_new_tokens, env)
    fit = (work, args.train_games, args.max_new_tokens, env)
    return [
        ("generate: HF lock-step", lambda: measure_hf_generation(*gen)),
        ("generate: vLLM", lambda: measure_vllm_generation(*gen)),
        ("train: LoRA", lambda: measure_training(folder, size, "lora", "hf", *fit)),
        ("train: LoRA + vLLM", lambda: measure_training(folder, size, "lora", "vllm", *fit)),
        ("train: full FT (+ref copy)", lambda: measure_training(folder, size, "full", "hf", *fit)),
        ("train: full FT (+ref copy) + vLLM", lambda: measure_training(folder, size, "full", "vllm", *fit)),
    ]


def print_table(rows: list[Row], device: torch.device) -> None:
    """The results as one plain-text table."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {name}, torch {torch.__version__}")
    header = f"{'size':7s} {'step':35s} {'seconds':>8s} {'tok/s':>9s} {'peak GiB':>9s}  note"
    print(header)
    print("-" * len(header))
    for r in rows:
        seconds = f"{r.seconds:8.2f}" if r.seconds is not None else f"{'-':>8s}"
        speed = f"{r.tokens_per_s:9.1f}" if r.tokens_per_s is not None else f"{'-':>9s}"
        peak = f"{r.peak_gib:9.2f}" if r.peak_gib is not None else f"{'-':>9s}"
        print(f"{r.size:7s} {r.step:35s} {seconds} {speed} {peak}  {r.note}")


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def _free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated, from: " + ", ".join(SIZES))
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (what the tests run)")
    parser.add_argument("--games", type=int, default=None, help="games for the generation measurement")
    parser.add_argument("--train-games", type=int, default=None, help="games per training iteration")
    parser.add_argument("--group-size", type=int, default=4, help="samples per vote prompt (G)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="tokens per reply")
    parser.add_argument("--budget-s", type=float, default=540.0, help="start no step after this many seconds")
    parser.add_argument("--workdir", default=None, help="where the model folders go (default: temp dir)")
    parser.add_argument(
        "--tokenizer-from", metavar="DIR", default=None, help="local Qwen VLM folder (default: tiny VLM)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    if device.type == "cpu" and not args.dry_run:
        parser.error("no GPU here: use --dry-run (tiny sizes on the CPU)")
    sizes = (args.sizes or ("tiny-a,tiny-b" if args.dry_run else "3b,7b")).split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    args.games = args.games or (1 if args.dry_run else 16)
    args.train_games = args.train_games or (1 if args.dry_run else 4)
    args.max_new_tokens = args.max_new_tokens or (2 if args.dry_run else 64)
    if args.dry_run:
        torch.set_num_threads(1)
    rows = run_checks(sizes, args, device)
    print_table(rows, device)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
