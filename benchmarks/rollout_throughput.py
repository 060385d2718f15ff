"""Lock-step rollouts (play_games) vs the authors' pattern (one generate per turn, games one by one),
and, with --vllm, HF lock-step vs the vLLM backend (VLLMPolicy) on the same games and lengths.

Both variants use the same model object (default: the built-in tiny VLM), the same sampling settings
and the same game seeds (4 players, 2 clue rounds, votes: 11 replies per game), and
force every reply to exactly --max-new-tokens tokens (min_new_tokens = max_new_tokens), so both
generate the same token counts and the ratio measures batching alone. Repetitions interleave the two
variants, so a machine shared with other jobs slows both alike: per-variant figures are medians over
--repeats, and each ratio is the median of the per-repeat ratios. CPU seconds (this process's CPU time)
are printed beside wall-clock seconds on a CPU: on a shared machine they show what an idle one gives.

--vllm (run it in the vLLM environment, `bash .ci/vllm-env.sh DIR`) adds a vLLM engine on the same model
folder with the same sampling settings and seeds, plays the same lock-step games through it, prints its
figures and the vLLM / HF lock-step ratio, and re-scores one batch of its samples with the HF model: the
largest log-prob difference under the sampler's distribution and under the trainer's. The random tiny
model's clues are all invalid, so every game shows the same placeholder clues and both backends see the
same prompts; min = max new tokens gives the same lengths. On a CPU, vLLM's own threads and torch's
share the cores; vLLM's figure is wall-clock.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from agents.base import Policy
from agents.hf_vlm import HFVLMPolicy
from algorithms.rollout import play_games
from tiny_vlm.world import resolve_model
from vz_env import spy_v0


@dataclass(frozen=True)
class Run:
    """One timed run of a variant: games played, tokens generated, generate calls, wall and CPU seconds."""

    games: int
    tokens: int
    calls: int
    seconds: float
    cpu_seconds: float


def lockstep(policy: Policy, games: int, seed: int) -> Run:
    """All games in lock-step: one batched generate per clue step, one for every vote of every game."""
    with counted_generate_calls(policy) as calls:
        start, cpu = time.perf_counter(), time.process_time()
        rollout = play_games(policy, games, seed=seed)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return Run(len(rollout.games), rollout.tokens, calls[0], seconds, cpu_seconds)


def sequential(policy: HFVLMPolicy, games: int, seed: int) -> Run:
    """The authors' pattern: games one after another, one generate of one prompt per turn (AEC loop)."""
    tokens = 0
    env = spy_v0.env()
    with counted_generate_calls(policy) as calls:
        start, cpu = time.perf_counter(), time.process_time()
        for game in range(games):
            env.reset(seed=seed + game)
            for _ in env.agent_iter():
                observation, _, terminated, truncated, _ = env.last()
                if terminated or truncated:
                    env.step(None)
                    continue
                generation = policy.generate([observation])[0]
                tokens += int(generation.completion_ids.numel())
                env.step(generation.text)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return Run(games, tokens, calls[0], seconds, cpu_seconds)


@contextlib.contextmanager
def counted_generate_calls(policy: Policy) -> Iterator[list[int]]:
    """Count the policy's batched `generate` calls inside the block (item 0 of the yielded list)."""
    count = [0]
    original = policy.generate

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    policy.generate = counted
    try:
        yield count
    finally:
        del policy.generate


def summary(name: str, runs: list[Run], cpu: bool) -> None:
    """Print a variant's median figures per wall-clock second (and per CPU second when on a CPU)."""
    games_per_s = statistics.median(r.games / r.seconds for r in runs)
    tokens_per_s = statistics.median(r.tokens / r.seconds for r in runs)
    line = f"{name:<10} games/s {games_per_s:7.3f}  tokens/s {tokens_per_s:8.1f}  "
    if cpu:
        games_per_cpu_s = statistics.median(r.games / r.cpu_seconds for r in runs)
        tokens_per_cpu_s = statistics.median(r.tokens / r.cpu_seconds for r in runs)
        line += f"(per CPU second: games {games_per_cpu_s:7.3f}, tokens {tokens_per_cpu_s:8.1f})  "
    print(line + f"tokens/run {runs[0].tokens}  generate calls/run {runs[0].calls}")


def paired_ratio(fast: list[Run], slow: list[Run], cpu: bool) -> float:
    """Median over repeats of lock-step over sequential games/s; a repeat's two runs ran back to back."""

    def seconds_per_game(run: Run) -> float:
        return (run.cpu_seconds if cpu else run.seconds) / run.games

    return statistics.median(seconds_per_game(s) / seconds_per_game(f) for f, s in zip(fast, slow))


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages: how much other jobs shared the CPU."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def vllm_policy(hf: HFVLMPolicy, model: str, seed: int) -> Policy:
    """A vLLM engine on the HF policy's model folder, with its sampling settings and dtype."""
    from agents.vllm_vlm import VLLMPolicy

    return VLLMPolicy(
        model,
        sampling=hf.sampling,
        dtype=hf.dtype,
        seed=seed,
    )


def logprob_agreement(hf: HFVLMPolicy, engine: Policy, seed: int) -> tuple[float, float]:
    """Largest |vLLM - HF| log-prob over the first turn's samples of a game: under the sampler's
    distribution (special ids removed, and EOS before min_new_tokens, as both samplers do) and under
    the trainer's (all ids)."""
    from agents.scoring import collate, completion_logprobs

    env = spy_v0.parallel_env()
    observations, _ = env.reset(seed=seed)
    generations = engine.generate([observations[a] for a in env.acting_agents], num_samples=2)
    batch = collate(generations, hf.pad_token_id)
    with torch.no_grad():
        trainer = completion_logprobs(hf.model, batch, hf.sampling.temperature)
        logits = hf.model(**batch.model_inputs(hf.device, hf.dtype)).logits.float().cpu()
    sampler_gap = trainer_gap = 0.0
    for row, g in enumerate(generations):
        n, start = g.completion_ids.numel(), int(batch.prompt_lengths[row]) - 1
        scaled = logits[row, start : start + n] / hf.sampling.temperature
        scaled[:, hf.suppressed_token_ids] = float("-inf")
        scaled[: hf.sampling.min_new_tokens, hf.eos_token_ids] = float("-inf")  # no EOS before min_new_tokens
        sampler = scaled.log_softmax(-1).gather(1, g.completion_ids[:, None]).squeeze(1)
        sampler_gap = max(sampler_gap, float((sampler - g.logprobs).abs().max()))
        trainer_gap = max(trainer_gap, float((trainer[row, :n].cpu() - g.logprobs).abs().max()))
    return sampler_gap, trainer_gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--games", type=int, default=16, help="games per run (default 16)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per reply (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per variant (default 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, one per core)")
    parser.add_argument("--model", default=None, help="model folder (default: the built-in tiny VLM)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--vllm", action="store_true", help="compare HF lock-step with vLLM instead")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    policy = HFVLMPolicy(
        args.model,
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.max_new_tokens,
        device=args.device,
        seed=args.seed,
    )
    engine = vllm_policy(policy, args.model, args.seed) if args.vllm else None
    print(
        f"{args.games} games, {args.max_new_tokens} new tokens per reply (min = max), temperature "
        f"{policy.sampling.temperature}, top-p {policy.sampling.top_p}, {policy.device} {policy.dtype}, "
        f"{torch.get_num_threads()} thread(s), median of {args.repeats}; load average {load_average()}"
    )
    # Warm-up: first calls pay for lazy imports and allocations (and vLLM's first batch shapes).
    lockstep(policy, 2, args.seed)
    if engine is None:
        sequential(policy, 1, args.seed)
    else:
        lockstep(engine, 2, args.seed)
    fast, slow = [], []
    for _ in range(args.repeats):
        if engine is None:
            fast.append(lockstep(policy, args.games, args.seed))
            slow.append(sequential(policy, args.games, args.seed))
        else:
            fast.append(lockstep(engine, args.games, args.seed))
            slow.append(lockstep(policy, args.games, args.seed))
    on_cpu = policy.device.type == "cpu"
    names = ("lock-step", "sequential") if engine is None else ("vLLM", "HF")
    summary(names[0], fast, on_cpu)
    summary(names[1], slow, on_cpu)
    print(f"load average at the end: {load_average()}")
    if on_cpu:
        print(f"ratio per CPU second: {paired_ratio(fast, slow, cpu=True):.2f}")
    print(f"ratio: {paired_ratio(fast, slow, cpu=False):.2f}")
    if engine is not None:
        sampler_gap, trainer_gap = logprob_agreement(policy, engine, args.seed)
        print(
            f"largest |vLLM - HF| log-prob: {sampler_gap:.2e} under the sampler's distribution, "
            f"{trainer_gap:.2e} under the trainer's (the mass of the ids never sampled)"
        )


if __name__ == "__main__":
    main()
