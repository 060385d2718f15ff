"""A person at the terminal as a spy-game player: they see their own picture and the clues, and type."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.console import Console

from agents.base import Policy, decode_history, decode_phase, decode_role
from vz_env import parsing
from vz_env.atomic import atomic_file
from vz_env.parsing import parse_clue, parse_vote
from vz_env.terminal_image import rich_image
from vz_env.turn import Phase, Role

SHOW_IMAGE = "/image"
ROLE_TEXT = {Role.HIDDEN: "unknown (it may be you)", Role.CIVILIAN: "NOT SPY", Role.SPY: "SPY"}


class PlayerQuit(Exception):
    """The person left the game at a prompt (end of input or Ctrl-C); callers end the game cleanly on it."""

    def __init__(self, reason: str, interrupted: bool) -> None:
        super().__init__(reason)
        self.interrupted = interrupted


def save_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write the picture as PNG through a temporary file and a rename, so no half-written file is left."""
    with atomic_file(path, fsync=False) as handle:
        Image.fromarray(image).save(handle, format="PNG")
    return Path(path)


def balance_braces(text: str) -> str:
    """Drop unmatched braces, so the typed text stays whole inside \\boxed{...}."""
    keep = [True] * len(text)
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "{":
            opened.append(i)
        elif ch == "}":
            if opened:
                opened.pop()
            else:
                keep[i] = False
    for i in opened:
        keep[i] = False
    return "".join(ch for ch, k in zip(text, keep) if k)


def boxed(text: str) -> str:
    """The typed text as a model-style answer, so the env parses a person exactly like a model."""
    return parsing.boxed(balance_braces(text.strip()))


def vote_problem(text: str, observation: Mapping[str, Any]) -> str | None:
    """Why the env would reject this vote (out of range, self-vote, not a number); None if it accepts it."""
    num_players = int(observation["num_players"])
    seat = observation["seat"]
    parsed = parse_vote(boxed(text), num_players, seat if seat < num_players else None)
    return None if parsed.valid or parsed.abstain else parsed.reason


class HumanAgent(Policy):
    """Shows the player's picture, role and the clues in a rich console and asks for a clue or a vote."""

    name = "human"

    def __init__(
        self,
        console: Console | None = None,
        input_fn: Callable[[str], str] | None = None,
        image_width: int = 64,
        save_images: str | os.PathLike[str] | None = None,
    ) -> None:
        if image_width < 2:
            raise ValueError(f"image_width must be at least 2 columns, got {image_width}")
        self.console = console if console is not None else Console()
        self._input = input_fn if input_fn is not None else self.console.input
        self.image_width = image_width
        self.save_images = Path(save_images) if save_images is not None else None
        self._shown: str | None = None

    def reset(self, seed: int | None = None) -> None:
        """A new game: its picture is shown again on the first turn."""
        self._shown = None

    def act(self, observation: Mapping[str, Any]) -> str:
        """Show the turn, read the person's clue or vote and box it like a model's answer."""
        self._show_turn(observation)
        if decode_phase(observation) == Phase.CLUE:
            return boxed(self._ask_clue(observation))
        return boxed(self._ask_vote(observation))

    def _show_turn(self, observation: Mapping[str, Any]) -> None:
        """Everything a player may know before acting: the picture (new game only), role and clues."""
        seat = observation["seat"] + 1
        self.console.rule(f"Your turn, PLAYER {seat}", style="bold cyan")
        fingerprint = f"{seat}:{hashlib.blake2b(observation['image'].tobytes(), digest_size=8).hexdigest()}"
        if fingerprint != self._shown:
            self._shown = fingerprint
            self.show_image(observation)
            if self.save_images is not None:
                path = save_png(observation["image"], self.save_images / f"player_{seat}.png")
                self.console.print(f"Your picture was saved to {path}", style="dim", markup=False)
        self.console.print(f"Your role: [bold]{ROLE_TEXT[decode_role(observation)]}[/]")
        self.console.print(self._history_text(observation), markup=False, highlight=False)

    def show_image(self, observation: Mapping[str, Any]) -> None:
        """Print the player's own picture in true-colour half blocks, at most as wide as the console."""
        width = max(2, min(self.image_width, self.console.width))
        self.console.print(rich_image(observation["image"], width))

    def _history_text(self, observation: Mapping[str, Any]) -> str:
        """The public clues so far, one line each, as the models see them."""
        history = decode_history(observation)
        if not history:
            return "Clues so far: (none yet)"
        lines = [f"  {h.line}" for h in history]
        return "Clues so far:\n" + "\n".join(lines)

    def _ask_clue(self, observation: Mapping[str, Any]) -> str:
        """A clue the env will take as valid; blank lines are asked again."""
        while True:
            text = self._read(f"Your clue, round {observation['round']} ({SHOW_IMAGE} shows your picture): ")
            if text.strip() == SHOW_IMAGE:
                self.show_image(observation)
            elif parse_clue(boxed(text)).valid:
                return text
            else:
                self.console.print("[yellow]Please type a short sentence about your picture.[/]")

    def _ask_vote(self, observation: Mapping[str, Any]) -> str:
        """A vote the env will count (a player number or N/A); anything else is asked again with a hint."""
        while True:
            text = self._read(f"Who is the spy? Player number or N/A ({SHOW_IMAGE} shows your picture): ")
            if text.strip() == SHOW_IMAGE:
                self.show_image(observation)
                continue
            problem = vote_problem(text, observation) if text.strip() else "empty answer"
            if problem is None:
                return text
            self.console.print(
                f"{problem}. Type a player number such as 2, or N/A.", style="yellow", markup=False
            )

    def _read(self, prompt: str) -> str:
        """One line from the person; end of input or Ctrl-C becomes PlayerQuit."""
        try:
            return self._input(prompt)
        except EOFError:
            raise PlayerQuit("end of input", interrupted=False) from None
        except KeyboardInterrupt:
            raise PlayerQuit("interrupted", interrupted=True) from None


__all__ = ["HumanAgent", "PlayerQuit", "balance_braces", "boxed", "save_png", "vote_problem"]
