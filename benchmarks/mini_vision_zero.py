"""Vision-Zero's tables in miniature: what each kind of self-play does to the pretrained tiny VLM.

From the same start (the default pretrained tiny VLM, or --model) and with equal budgets (the same
iterations of the same number of self-play games), train each arm, for each seed:
  iterative-spo   both stages, switched by the adaptive controller (the main job's preset)
  grpo-decision   the decision stage only
  selfplay-clue   the clue stage only
  none            no training (the start itself)
  no-role-adv     (with --role-ablation) Iterative-SPO with the role baselines off (held at 0)
then measure, on tests held out from training:
  win rate        against the frozen start, every seed twice with sides swapped (0.5: no change)
  detection       decision accuracy when the clues come from scene bots that do not know their role
                  (the model casts every civilian vote), and its N/A rate
  grounding       clues naming the colour and shape of an object of the speaker's picture (docs/spec.md s10),
                  in the head-to-head games
  probe           held-out visual questions that are not the game ("What colour is the large cube?") on
                  pictures of the main job's world, answered by the likeliest option
                  (algorithms.eval.probe_questions, algorithms.eval.probe)
and, for each seed that trains both, Iterative-SPO against decision-only head to head (the paper's claim
that alternating the stages beats training either alone: 0.5 when it does not matter).
Prints one line per run, then a markdown table of means (and standard deviations) over seeds, and the
wall and CPU time. With --json FILE every run's figures are written too, after each run.

    nice python benchmarks/mini_vision_zero.py [--iterations 6] [--seeds 0 1 2] [--role-ablation]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from typing import Any

import torch
import transformers

from agents.hf_vlm import HFVLMPolicy
from algorithms.eval.detection import detection_test
from algorithms.eval.head_to_head import evaluate
from algorithms.eval.probe import probe_report
from algorithms.eval.probe_questions import ProbeQuestion, probe_questions
from algorithms.eval.versus_start import VERSUS_SEED, versus_start
from algorithms.metrics import stages_trained
from algorithms.presets import PRESETS
from algorithms.train_config import STAGES, SPOConfig, algorithm_settings
from algorithms.trainer import Trainer
from tiny_vlm import resolve_model
from vz_env.atomic import atomic_write_text
from vz_env.config import SpyConfig
from vz_env.data import resolve_source

ARMS = ("iterative-spo", "grpo-decision", "selfplay-clue", "none")
ABLATION = "no-role-adv"
METRICS = (
    ("win rate vs start", "win_rate"),
    ("detection accuracy", "detection_accuracy"),
    ("detection N/A", "detection_na"),
    ("clue grounding", "clue_grounding"),
    ("valid turns", "valid_turns"),
    ("probe accuracy", "probe_accuracy"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="start model folder (default: the pretrained tiny VLM)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=[*ARMS, ABLATION])
    parser.add_argument("--role-ablation", action="store_true", help=f"add the {ABLATION} arm")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=6, help="training iterations of every arm")
    parser.add_argument("--games-per-iter", type=int, default=None, help="default: the main job's preset")
    parser.add_argument("--versus-games", type=int, default=64, help="head-to-head games against the start")
    parser.add_argument("--detection-games", type=int, default=32, help="games of the detection test")
    parser.add_argument("--probe-pictures", type=int, default=60, help="pictures of the visual probe")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every run's figures")
    return parser.parse_args(argv)


def arm_config(arm: str, iterations: int, seed: int, games_per_iter: int | None) -> SPOConfig:
    """The main job's trainer preset with this arm's stage schedule; every arm gets the same budget.

    The stage patience shrinks with the budget (half the iterations, at least 2 per stage), so that
    Iterative-SPO trains both stages however short the run.
    """
    settings: dict[str, Any] = {**PRESETS["tiny"]["trainer"], "iterations": iterations, "seed": seed}
    dwell = max(2, min(settings["min_stage_iters"], iterations // 3))
    settings.update(
        min_stage_iters=dwell, stage_patience=max(dwell, min(settings["stage_patience"], iterations // 2))
    )
    if games_per_iter is not None:
        settings["games_per_iter"] = games_per_iter
    if arm == ABLATION:
        settings.update(algorithm_settings("iterative-spo"), role_ema_alpha=1.0)
    elif arm != "none":
        settings.update(algorithm_settings(arm))
    return SPOConfig.from_dict({**settings, "checkpoint_every": max(iterations, 1)})


def run_arm(
    arm: str,
    seed: int,
    args: argparse.Namespace,
    start: HFVLMPolicy,
    env: dict[str, Any],
    questions: list[ProbeQuestion],
) -> tuple[dict, HFVLMPolicy]:
    """Train one arm from the start (unless `none`) and measure it, probing with `questions`."""
    config = arm_config(arm, args.iterations, seed, args.games_per_iter)
    policy = HFVLMPolicy(resolve_model(args.model), seed=seed, sampling=config.sampling, label=arm)
    began, cpu = time.perf_counter(), time.process_time()
    rows: list[dict] = []
    if arm != "none":
        trainer = Trainer(policy, config, env)
        rows = [trainer.run_iteration() for _ in range(config.iterations)]
    stages = stages_trained(rows)
    trained_s = time.perf_counter() - began
    policy.model.eval()
    versus = versus_start(policy, start, args.versus_games, env)
    detection = detection_test(policy, args.detection_games, env_kwargs=env)
    probe = probe_report(policy, questions)
    mine = versus["A"]
    run = {
        "arm": arm,
        "seed": seed,
        "win_rate": mine["win_rate"]["rate"],
        "win_rate_ci95": mine["win_rate"]["ci95"],
        "detection_accuracy": detection["decision_accuracy"]["rate"],
        "detection_na": detection["na_rate"]["rate"],
        "clue_grounding": mine["clue_grounding"]["rate"],
        "valid_turns": 1 - mine["invalid_turn_rate"]["rate"],
        "probe_accuracy": probe["accuracy"]["rate"],
        "probe_chance": probe["chance"],
        "stages": {str(stage): stages.count(stage) for stage in STAGES},
        "seconds_training": trained_s,
        "seconds_total": time.perf_counter() - began,
        "cpu_seconds_total": time.process_time() - cpu,
    }
    return run, policy


def alternation_match(
    seed: int, args: argparse.Namespace, trained: dict[str, HFVLMPolicy], env: dict
) -> dict:
    """Iterative-SPO (side A) against decision-only (side B) of one seed, on the head-to-head seeds."""
    report = evaluate(trained["iterative-spo"], trained["grpo-decision"], args.versus_games, VERSUS_SEED, env)
    mine = report["A"]
    return {
        "seed": seed,
        "win_rate": mine["win_rate"]["rate"],
        "win_rate_ci95": mine["win_rate"]["ci95"],
        "win_rate_as_spy": mine["win_rate_as_spy"]["rate"],
        "win_rate_as_civilian": mine["win_rate_as_civilian"]["rate"],
        "games": report["games"],
    }


def table(runs: list[dict[str, Any]], arms: list[str]) -> str:
    """Markdown: one row per arm, each metric's mean over seeds with its standard deviation."""
    lines = [
        "| arm | " + " | ".join(name for name, _ in METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for arm in arms:
        mine = [r for r in runs if r["arm"] == arm]
        cells = []
        for _, key in METRICS:
            values = [r[key] for r in mine]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(args: argparse.Namespace, runs: list[dict], matches: list[dict]) -> None:
    """Every figure so far to --json (after each run, so that a stopped benchmark keeps what it measured)."""
    if args.json:
        document = {"args": vars(args), "runs": runs, "iterative_spo_vs_decision": matches}
        atomic_write_text(args.json, json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    transformers.utils.logging.disable_progress_bar()
    arms = list(dict.fromkeys([*args.arms, *([ABLATION] if args.role_ablation else [])]))
    env = {**PRESETS["tiny"]["env"]}
    env.setdefault("image_size", [320, 240])
    env.setdefault("images", SpyConfig.images)
    pictures = resolve_source(env["images"])
    questions = probe_questions(args.probe_pictures, image_size=tuple(env["image_size"]), source=pictures)
    wall, cpu = time.perf_counter(), time.process_time()
    reference = arm_config("none", args.iterations, 0, args.games_per_iter)
    start = HFVLMPolicy(resolve_model(args.model), seed=12345, sampling=reference.sampling, label="start")
    params = sum(p.numel() for p in start.model.parameters())
    print(
        f"start: {start.model.name_or_path} ({params / 1e6:.2f} M parameters); {args.iterations} "
        f"iterations x {reference.games_per_iter} games per arm; seeds {args.seeds}; "
        f"torch threads {args.threads}",
        flush=True,
    )
    runs, matches = [], []
    for seed in args.seeds:
        trained: dict[str, HFVLMPolicy] = {}
        for arm in arms:
            run, trained[arm] = run_arm(arm, seed, args, start, env, questions)
            runs.append(run)
            print(
                f"  {arm:14s} seed {seed}: win {run['win_rate']:.3f} "
                f"[{run['win_rate_ci95'][0]:.2f}, {run['win_rate_ci95'][1]:.2f}]  detection "
                f"{run['detection_accuracy']:.3f} (N/A {run['detection_na']:.3f})  grounding "
                f"{run['clue_grounding']:.3f}  probe {run['probe_accuracy']:.3f} (chance "
                f"{run['probe_chance']:.2f})  stages {run['stages']}  "
                f"{run['seconds_total']:.0f} s ({run['cpu_seconds_total']:.0f} s CPU)",
                flush=True,
            )
            write_json(args, runs, matches)
        if {"iterative-spo", "grpo-decision"} <= trained.keys():
            matches.append(alternation_match(seed, args, trained, env))
            match = matches[-1]
            print(
                f"  iterative-spo vs grpo-decision seed {seed}: win {match['win_rate']:.3f} "
                f"[{match['win_rate_ci95'][0]:.2f}, {match['win_rate_ci95'][1]:.2f}] over {match['games']} "
                f"games (as spy {match['win_rate_as_spy']:.3f}, "
                f"as civilian {match['win_rate_as_civilian']:.3f})",
                flush=True,
            )
            write_json(args, runs, matches)
    print(table(runs, arms))
    if matches:
        rates = [m["win_rate"] for m in matches]
        spread = statistics.stdev(rates) if len(rates) > 1 else 0.0
        print(
            f"iterative-spo vs grpo-decision: win rate {statistics.mean(rates):.3f} ± {spread:.3f} over seeds"
        )
    minutes, cpu_minutes = (time.perf_counter() - wall) / 60, (time.process_time() - cpu) / 60
    print(f"mini vision-zero: {len(runs)} runs in {minutes:.1f} min wall, {cpu_minutes:.1f} min CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
