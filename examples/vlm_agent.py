"""Load a local Hugging Face VLM folder (default: the shipped tiny VLM) and seat it against scene bots."""

import sys

from agents.hf_vlm import HFVLMPolicy
from agents.scripted import SceneBot
from tiny_vlm import resolve_model
from vz_env import spy_v0
from vz_spy.options import default_images

# Any local image-text-to-text folder: Qwen2.5-VL, Qwen2-VL, LLaVA, SmolVLM, Gemma 3, ...
# "tiny" is the tiny VLM that ships with the package; it plays in its own world, the miniature scenes
# (images="clevr-mini").
path = sys.argv[1] if len(sys.argv) > 1 else "tiny"
model = HFVLMPolicy(resolve_model(path), max_new_tokens=64, seed=0)
print(f"loaded {model.model.config.model_type} on {model.device} ({model.dtype})")

env = spy_v0.env(render_mode="ansi", images=default_images([path]))
env.reset(seed=0)
players = {agent: SceneBot(seed=i) for i, agent in enumerate(env.possible_agents)}
players["player_0"] = model
for agent in env.agent_iter():
    observation, reward, terminated, truncated, info = env.last()
    if terminated or truncated:
        env.step(None)
        continue
    action = players[agent].act(observation)
    if agent == "player_0":
        print(f"--- the model's raw reply (phase {observation['phase']}):\n{action}")
    env.step(action)
print(env.render())
