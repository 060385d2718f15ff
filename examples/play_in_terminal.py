"""Seat yourself as PLAYER 2 against three scene-reading bots, using the plain PettingZoo AEC loop."""

from agents.human import HumanAgent, PlayerQuit
from agents.scripted import SceneBot
from vz_env import spy_v0

env = spy_v0.env(num_players=4, render_mode="ansi")
env.reset(seed=7)
players = {agent: SceneBot(seed=i) for i, agent in enumerate(env.possible_agents)}
players["player_1"] = HumanAgent(image_width=48)
try:
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        env.step(None if terminated or truncated else players[agent].act(observation))
    print(env.render())
except PlayerQuit as quit_:
    print(f"You left the game ({quit_}).")
