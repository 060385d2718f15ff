"""How far is deduction from the tiny VLM? Its votes trained on oracle labels, as a diagnostic.

The default model's pretraining is spy-blind, and self-play is meant to teach it to find the spy (issue
10). This script measures how hard that is for the model itself, with the easiest signal there is: it
fine-tunes the pretrained model, fully and supervised, on civilian votes whose target is the spy's number
(labels that no recipe of this package may train on), in teacher games of the miniature world whose clues
are all grounded (`tiny_vlm.data.clue_target`: the spy describes its own, changed picture), on the
answer's next-token loss alone (the pretraining step with its vision, word and vote-choice losses off). Every
--every steps it prints the share of held-out votes whose likeliest listed number is the spy's, with its
95% Wilson interval (chance: 1/3 at 4 players).

    nice python benchmarks/oracle_votes.py [--steps 300] [--games-per-step 8] [--learning-rate 3e-3]
        [--max-objects 2] [--model DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from agents.hf_vlm import HFVLMPolicy, stack_inputs
from algorithms.eval.rates import wilson_interval
from tiny_vlm.data import MINIATURE, Example, SceneLevel, Teacher
from tiny_vlm.pretrain import PretrainConfig, Pretrainer
from tiny_vlm.shipped import shipped_model_path
from vz_env import spy_v0
from vz_env.parsing import boxed
from vz_env.turn import Phase, Role

TRAIN_SEED = 20_000_000
HELD_OUT_SEED = 1_000_000_000


def oracle_votes(level: SceneLevel, seed: int, num_games: int) -> list[Example]:
    """The civilian votes of `num_games` 4-player teacher games, each with the spy's number as target."""
    source = level.source()
    teacher = Teacher(seed)
    examples = []
    for i in range(num_games):
        env = spy_v0.parallel_env(images=source, num_players=4)
        observations, _ = env.reset(seed=seed + i)
        spy = 1 + next(n for n, agent in enumerate(env.possible_agents) if env.roles[agent] == Role.SPY)
        teacher.examples = []
        while env.agents:
            actions = {a: teacher.act(observations[a]) for a in env.acting_agents}
            observations, *_ = env.step(actions)
        votes = [ex for ex in teacher.examples if ex.observation["phase"] == Phase.DECISION]
        examples += [dataclasses.replace(ex, target=boxed(str(spy))) for ex in votes]
    return examples


class OracleTrainer(Pretrainer):
    """The pretraining step on oracle-labelled votes only."""

    def __init__(self, policy: HFVLMPolicy, config: PretrainConfig, level: SceneLevel, games: int) -> None:
        super().__init__(policy, config)
        self.level, self.games = level, games

    def examples(self, step: int) -> list[Example]:
        return oracle_votes(self.level, TRAIN_SEED + step * self.games, self.games)

    @torch.no_grad()
    def held_out_score(self, held_out: list[Example]) -> tuple[int, float]:
        """Votes of `held_out` whose likeliest listed number is the target's, and the mean cross-entropy of
        the target among the listed numbers (ln 3 = 1.099 for a uniform guess among three)."""
        self.model.eval()
        prefix = torch.tensor(self._boxed_prefix)
        prompts = self.policy.encode_batch([ex.observation for ex in held_out])
        right, cross_entropy = 0, 0.0
        for start in range(0, len(held_out), 16):
            rows = [p.extended(prefix) for p in prompts[start : start + 16]]
            logits = self.model(**stack_inputs(rows, self.policy.pad_token_id, "left")).logits[:, -1]
            for row, ex in zip(logits, held_out[start : start + 16], strict=True):
                target = self._ids(ex.target)
                vote = self._vote_choices(ex, target)
                logp = torch.log_softmax(row[vote.choices], dim=-1)
                answer = vote.choices.index(target[vote.at])
                right += int(logp.argmax()) == answer
                cross_entropy -= float(logp[answer])
        return right, cross_entropy / len(held_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="start model folder (default: the pretrained tiny VLM)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--games-per-step", type=int, default=8, help="3 votes each")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--max-objects", type=int, default=2, help="objects per scene (miniature world: 2)")
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--held-out-games", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    level = dataclasses.replace(MINIATURE, max_objects=args.max_objects)
    model = args.model or shipped_model_path()
    policy = HFVLMPolicy(model, device="cpu", dtype=torch.float32, max_new_tokens=24, seed=0)
    config = dataclasses.replace(
        PretrainConfig(),
        steps=args.steps,
        learning_rate=args.learning_rate,
        warmup_steps=10,
        aux_weight=0.0,
        word_weight=0.0,
        vote_weight=0.0,
    )
    trainer = OracleTrainer(policy, config, level, args.games_per_step)
    held_out = oracle_votes(level, HELD_OUT_SEED, args.held_out_games)
    print(f"model {model}; {sum(p.numel() for p in policy.model.parameters()):,} parameters; {level}")
    print("step  votes_seen  train_min  held_out_cross_entropy  held_out_accuracy [95% Wilson]", flush=True)

    def report(step: int, minutes: float) -> None:
        right, cross_entropy = trainer.held_out_score(held_out)
        low, high = wilson_interval(right, len(held_out))
        votes = step * args.games_per_step * 3
        accuracy = f"{right / len(held_out):.3f} [{low:.2f}, {high:.2f}]"
        print(f"{step:4d}  {votes:10d}  {minutes:9.1f}  {cross_entropy:22.3f}  {accuracy}", flush=True)

    report(0, 0.0)
    train_seconds = 0.0
    for step in range(args.steps):
        start = time.perf_counter()
        trainer.step(step)
        train_seconds += time.perf_counter() - start
        if (step + 1) % args.every == 0 or step + 1 == args.steps:
            report(step + 1, train_seconds / 60)


if __name__ == "__main__":
    main()
