"""Write your own Policy (an observation in, the action text out) and play it against scene-reading bots."""

import sys
from collections import Counter

from agents.base import Policy, decode_history, decode_scene
from agents.scripted import SceneBot
from algorithms.rollout import play_games
from vz_env import Phase, Role
from vz_env.data.scenes import COLORS


class ColourCounter(Policy):
    """Names the commonest colour of its own picture; votes for whoever names a colour it cannot see."""

    name = "colour-counter"

    def act(self, observation):
        scene = decode_scene(observation)  # the record of this player's own picture only ({} if none)
        colours = Counter(obj["color"] for obj in scene.get("objects", []))
        if observation["phase"] == Phase.CLUE:  # reasoning first, then the answer in \boxed{...}
            colour = colours.most_common(1)[0][0] if colours else "gray"
            return f"Most of what I see is {colour}. \\boxed{{there is a {colour} object}}"
        me = observation["seat"] + 1  # seats are 0-based; players in the history and in votes are 1-based
        for entry in decode_history(observation):
            named = [word for word in entry.clue.lower().split() if word in COLORS]
            if entry.player != me and any(colour not in colours for colour in named):
                return f"PLAYER {entry.player} named a colour I do not see. \\boxed{{{entry.player}}}"
        return "Nobody contradicts my picture. \\boxed{N/A}"


games = int(sys.argv[1]) if len(sys.argv) > 1 else 40
mine, bot = ColourCounter(), SceneBot(seed=0)
# Seats are assigned by a function of (game index, agent, role): ours is always player_0.
rollout = play_games(lambda game, agent, role: mine if agent == "player_0" else bot, num_games=games, seed=0)
for role in (Role.CIVILIAN, Role.SPY):
    played = [g for g in rollout.games if g.roles["player_0"] == role]
    won = sum((g.winner == "spies") == (role == Role.SPY) for g in played)
    print(f"ColourCounter as {role}: won {won} of {len(played)} games")
