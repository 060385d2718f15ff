"""`vz-spy play`: a person plays one seat of the spy game in the terminal against bots or a local VLM."""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.endpoint_spec import is_endpoint_spec
from tiny_vlm import world as tiny
from vz_env.config import SpyConfig
from vz_env.render import (
    describe_change,
    picture_panels,
    result_table,
    seat_label,
    spy_view,
    vote_text,
    winner_text,
)
from vz_env.turn import Phase
from vz_spy.cli import CliError
from vz_spy.options import default_images, images_help
from vz_spy.paths import output_folder

if TYPE_CHECKING:
    from rich.console import Console

    from agents.base import Policy
    from vz_env.rules import SpyGame
    from vz_env.turn import Turn

DEFAULT_BOTS = "scene"
RANDOM_SEED_BOUND = 2**31
FLAG_OF_FIELD = {"num_players": "--players", "num_rounds": "--rounds", "images": "--images"}


def register(subparsers: Any) -> None:
    """Add the `play` subcommand and its flags."""
    from agents.registry import BOT_NAMES
    from vz_env.settings import describe

    parser = subparsers.add_parser(
        "play",
        help="play one seat in the terminal against bots or a model",
        description="Play 'Who is the Spy' in the terminal: you take one seat, bots or a local Hugging Face "
        "VLM take the others. Your picture is drawn in true-colour half blocks.",
    )
    parser.add_argument(
        "--players",
        type=int,
        default=SpyConfig.num_players,
        metavar="N",
        help=describe(SpyConfig, "num_players"),
    )
    parser.add_argument("--seat", type=int, metavar="K", help="your seat 1..N (default: drawn from the seed)")
    parser.add_argument(
        "--seed", type=int, metavar="S", help="game seed (default: random, printed for replay)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=SpyConfig.num_rounds,
        metavar="R",
        help=describe(SpyConfig, "num_rounds"),
    )
    role = parser.add_mutually_exclusive_group()
    role.add_argument(
        "--reveal-role",
        dest="reveal_role",
        action="store_true",
        default=True,
        help="tell players their role (default)",
    )
    role.add_argument("--hide-role", dest="reveal_role", action="store_false", help="keep roles secret")
    parser.add_argument("--bots", choices=BOT_NAMES, help=f"scripted opponents (default: {DEFAULT_BOTS})")
    parser.add_argument(
        "--model",
        metavar="PATH",
        nargs="?",
        const="tiny",
        help="a VLM playing every other seat: a local Hugging Face folder, or nothing (or 'tiny') for the "
        "built-in pretrained tiny VLM; vllm:PATH or vllm:tiny: served by vLLM; 'openai:MODEL@URL;key=VAR': "
        "a model behind an OpenAI-compatible endpoint (docs/agents.md)",
    )
    parser.add_argument("--images", default=None, metavar="KIND|DIR", help=images_help())
    parser.add_argument("--save-images", metavar="DIR", help="also write the pictures as PNG files into DIR")
    parser.add_argument(
        "--image-width",
        type=int,
        default=64,
        metavar="COLS",
        help="picture width in columns (default: %(default)s)",
    )
    parser.add_argument("--watch", action="store_true", help="no human seat: watch a whole game between bots")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Play one game; a person leaving at a prompt ends it with a one-line message and a non-zero status."""
    from rich.console import Console

    from agents.human import PlayerQuit

    check_args(args)
    seed = args.seed if args.seed is not None else secrets.randbelow(RANDOM_SEED_BOUND)
    env = make_env(args)
    human = None if args.watch else f"player_{human_seat(args, seed) - 1}"
    console = Console(highlight=False)
    policies = seat_policies(args, env.possible_agents, human, seed, console)
    print_header(console, args, seed, human)
    narrator = Narrator(console, human, thinking=args.model is not None, image_width=args.image_width)
    try:
        game = play_game(env, policies, seed, narrator)
    except PlayerQuit as err:
        print(f"\nvz-spy play: you left the game ({err}); no result", file=sys.stderr)
        return 130 if err.interrupted else 1
    show_result(console, game, human, args)
    return 0


def check_args(args: argparse.Namespace) -> None:
    """Reject flag combinations that cannot make a game, naming the flag."""
    if args.watch and args.seat is not None:
        raise CliError("--seat needs a human player; --watch seats none")
    if args.seat is not None and not 1 <= args.seat <= args.players:
        raise CliError(f"--seat must be between 1 and {args.players} (--players), got {args.seat}")
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed must be non-negative, got {args.seed}")
    if args.model is not None and args.bots is not None:
        raise CliError("--bots and --model exclude each other: the model plays every other seat")
    if (
        args.model is not None
        and args.model not in tiny.NAMES
        and not is_endpoint_spec(args.model)
        and not Path(args.model.removeprefix("vllm:")).expanduser().is_dir()
    ):
        raise CliError(f"--model {args.model} does not exist or is not a folder (a local Hugging Face model)")
    if args.image_width < 8:
        raise CliError(f"--image-width must be at least 8 columns, got {args.image_width}")
    if args.save_images is not None:
        output_folder("--save-images", args.save_images)


def make_env(args: argparse.Namespace) -> Any:
    """The AEC env for the flags; config errors are reported under the flag's name."""
    from vz_env import spy_v0

    try:
        return spy_v0.env(
            num_players=args.players,
            num_rounds=args.rounds,
            reveal_role=args.reveal_role,
            images=args.images if args.images is not None else default_images([args.model]),
        )
    except ValueError as err:
        message = str(err)
        for field, flag in FLAG_OF_FIELD.items():
            message = message.replace(field, flag)
        raise CliError(message) from None


def human_seat(args: argparse.Namespace, seed: int) -> int:
    """The person's 1-based seat: --seat, or one drawn from the seed so a replay seats them again."""
    return args.seat if args.seat is not None else random.Random(seed).randrange(args.players) + 1


def seat_policies(
    args: argparse.Namespace, agents: list[str], human: str | None, seed: int, console: Console
) -> dict[str, Policy]:
    """Who plays each seat: the person, and bots or one shared model everywhere else."""
    from agents.human import HumanAgent
    from algorithms.players import load_player

    model = load_model(args.model, seed, console) if args.model is not None else None
    policies: dict[str, Policy] = {}
    for index, agent in enumerate(agents):
        if agent == human:
            policies[agent] = HumanAgent(console, image_width=args.image_width, save_images=args.save_images)
        else:
            policies[agent] = (
                model if model is not None else load_player(args.bots or DEFAULT_BOTS, seed=seed + 1 + index)
            )
    return policies


def load_model(path: str, seed: int, console: Console) -> Policy:
    """The --model VLM (torch is imported only here); a bad folder becomes a one-line CLI error."""
    from agents.hf_vlm import HFVLMPolicy
    from agents.registry import VLLM_PREFIX
    from algorithms.players import load_player

    with console.status(f"Loading model {path} ..."):
        try:
            if path.startswith(VLLM_PREFIX) or path in tiny.NAMES or is_endpoint_spec(path):
                return load_player(path, seed=seed)
            return HFVLMPolicy(path, seed=seed)
        except ValueError as err:  # a bad folder, damaged shipped weights, a bad vllm: or openai: spec
            raise CliError(str(err)) from None


def print_header(console: Console, args: argparse.Namespace, seed: int, human: str | None) -> None:
    """What kind of game this is, and the seed that replays it."""
    opponents = f"the model {args.model}" if args.model else f"{args.bots or DEFAULT_BOTS} bots"
    console.rule("Who is the Spy?", style="bold")
    console.print(
        f"{args.players} players, {args.rounds} clue round(s), {opponents}, seed {seed}", markup=False
    )
    if human is None:
        console.print(f"Watching: every seat is played by {opponents}.", markup=False)
    else:
        console.print(f"You are {seat_label(human)}. Describe your picture; then vote for the spy.")


def play_game(env: Any, policies: dict[str, Policy], seed: int, narrator: Narrator) -> SpyGame:
    """The AEC loop of one game, telling the table each action as it is made."""
    env.reset(seed=seed)
    for policy in policies.values():
        policy.reset()
    game = env.unwrapped.game
    narrator.start(game)
    for agent in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        env.step(narrator.act(agent, policies[agent], observation))
        narrator.announce(game.turns[-1])
    return game


class Narrator:
    """Tells the table what happens as it happens, never what a seated person may not know yet."""

    def __init__(self, console: Console, human: str | None, thinking: bool, image_width: int) -> None:
        self.console = console
        self.human = human
        self.thinking = thinking
        self.image_width = image_width
        self._stage: tuple[int, int] | None = None

    def start(self, game: SpyGame) -> None:
        """A watcher sees both pictures and the roles from the start; a seated person sees only their own."""
        if self.human is None:
            show_pictures(self.console, game, self.image_width)

    def act(self, agent: str, policy: Policy, observation: dict[str, Any]) -> str:
        """The seat's action, with a stage banner first and a spinner while a model thinks."""
        stage = (int(observation["phase"]), int(observation["round"]))
        if stage != self._stage:
            self._stage = stage
            title = f"Round {stage[1]}: clues" if stage[0] == 0 else "Votes (private, the spy does not vote)"
            self.console.rule(title)
        if agent == self.human or not self.thinking:
            return policy.act(observation)
        with self.console.status(f"{seat_label(agent)} is thinking ..."):
            return policy.act(observation)

    def announce(self, turn: Turn) -> None:
        """One short line per action; votes stay secret from a seated person until the end."""
        from rich.text import Text

        who = seat_label(turn.agent) + (" (you)" if turn.agent == self.human else "")
        if turn.phase == Phase.CLUE:
            said = f" says: {turn.clue}" if turn.valid else f" gave no valid clue ({turn.reason})"
        elif self.human is None or turn.agent == self.human:
            said = f" votes: {vote_text(turn)}"
        else:
            said = " has voted."
        self.console.print(Text.assemble((who, "bold"), said))


def show_result(console: Console, game: SpyGame, human: str | None, args: argparse.Namespace) -> None:
    """The end of the game: both pictures, what changed, roles, clues, votes, rewards and the winner."""
    console.rule("Game over", style="bold")
    if human is not None:
        show_pictures(console, game, args.image_width)
    for change in game.pair.changes:
        console.print(f"Changed: {describe_change(change)}", markup=False)
    if args.save_images is not None:
        save_pictures(console, game, Path(args.save_images))
    console.print(result_table(game, human))
    console.print(winner_text(game, human))


def save_pictures(console: Console, game: SpyGame, folder: Path) -> None:
    """Write both pictures of the game as PNG (atomically) for --save-images."""
    from agents.human import save_png

    for name, image in (("original", game.pair.original), ("spy", spy_view(game))):
        path = save_png(image, folder / f"{name}.png")
        console.print(f"Saved {path}", style="dim", markup=False)


def show_pictures(console: Console, game: SpyGame, width: int) -> None:
    """Both pictures side by side (stacked when the terminal is narrow), at most as wide as the console."""
    console.print(picture_panels(game, max(8, min(width, console.width - 4))))
