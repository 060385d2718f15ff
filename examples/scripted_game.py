"""Play one game between scene-reading bots and save the board (both pictures + transcript) as a PNG."""

import sys

from PIL import Image

from agents.scripted import SceneBot
from vz_env import spy_v0

out = sys.argv[1] if len(sys.argv) > 1 else "example_game.png"
env = spy_v0.env(render_mode="rgb_array")
env.reset(seed=4)
bots = {agent: SceneBot(seed=i) for i, agent in enumerate(env.possible_agents)}
for agent in env.agent_iter():
    observation, reward, terminated, truncated, info = env.last()
    env.step(None if terminated or truncated else bots[agent].act(observation))
Image.fromarray(env.render()).save(out)
print(f"saved {out}")
