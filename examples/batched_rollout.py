"""Lock-step rollouts: 8 games advance together, one batched generate per step, 4 samples per vote."""

import sys
from collections import defaultdict

from agents.hf_vlm import HFVLMPolicy
from algorithms.rollout import play_games
from tiny_vlm import resolve_model
from vz_env import Phase
from vz_spy.options import default_images

path = sys.argv[1] if len(sys.argv) > 1 else "tiny"  # the shipped tiny VLM, in its own world
policy = HFVLMPolicy(resolve_model(path), max_new_tokens=32, seed=0)
world = {"images": default_images([path])}
rollout = play_games(policy, num_games=8, seed=0, group_size=4, env_kwargs=world)
print(f"{len(rollout.games)} games, {len(rollout.samples)} samples, {rollout.tokens} generated tokens")

# Each clue turn is one sample; each vote prompt has 4 samples sharing a `group` (sample 0 was played).
groups = defaultdict(list)
for sample in rollout.stage(Phase.DECISION):
    groups[sample.group].append(sample.reward)
for group, rewards in list(groups.items())[:4]:
    print(f"game {group[0]}, {group[1]}: decision rewards of its 4 samples {rewards}")

# What a trainer scores again: the exact sampled ids, their log-probs and the prompt's model inputs.
sample = rollout.stage(Phase.CLUE)[0]
generation = sample.generation
turn = sample.turn  # what the game made of the text: the clue, its validity, its format term
print(f"first clue by {turn.agent} ({sample.role}): {turn.clue!r}, valid={turn.valid}")
print(f"  reward {sample.reward:+.2f} (game reward, plus a format term {turn.format_reward:+.2f})")
print(f"  {generation.completion_ids.numel()} token ids, log-probs {generation.logprobs[:4].tolist()} ...")
print(f"  prompt: {len(generation.prompt)} tokens, image tensors {list(generation.prompt.vision_inputs)}")
for record in rollout.games[:3]:
    rewards = ", ".join(f"{agent} {reward:+.2f}" for agent, reward in record.rewards.items())
    print(f"game seed {record.seed}: winner {record.winner}, rewards {rewards}")
