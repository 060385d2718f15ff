"""Spectator views of a game: a text transcript, a picture board, and a rich console print."""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vz_env.rules import CLUE, OBSERVER, SpyGame

_BOARD_WIDTH_MIN = 640
_LINE_HEIGHT = 16


def transcript(game: SpyGame) -> str:
    """The whole game as text: roles, every clue and vote with its validity, and the outcome."""
    cfg = game.config
    spies = ", ".join(f"PLAYER {s + 1}" for s in sorted(game.spies))
    lines = [f"Who is the Spy: {cfg.num_players} players, spy: {spies}, phase: {game.phase}"]
    for turn in game.turns:
        who = _label(game, turn.agent)
        if turn.phase == CLUE:
            said = turn.clue if turn.valid else f"{cfg.invalid_clue_text} [{turn.reason}]"
            lines.append(f"Round {turn.round}, {who}: {said}")
        else:
            if turn.abstain:
                said = "N/A"
            elif turn.valid:
                said = _label(game, turn.vote)
            else:
                said = f"invalid [{turn.reason}]"
            lines.append(f"Vote, {who}: {said}")
    if game.winner() is not None:
        received = ", ".join(f"P{i + 1}={v}" for i, v in enumerate(game.votes_received()))
        rewards = ", ".join(f"P{i + 1}={game.rewards()[p]:+.3f}" for i, p in enumerate(game.players))
        lines += [f"Votes received: {received}", f"Rewards: {rewards}", f"Winner: {game.winner()}"]
    return "\n".join(lines)


def _label(game: SpyGame, agent: str) -> str:
    if game.role(agent) == OBSERVER:
        return agent.upper().replace("_", " ")
    seat = game.seat_of[agent]
    return f"PLAYER {seat + 1}" + (" (spy)" if seat in game.spies else "")


def board_image(game: SpyGame) -> np.ndarray:
    """Both pictures side by side, labelled with the seats that see each, above the transcript."""
    spy_view = game.image(game.players[min(game.spies)])
    original = game.pair.original
    height, width = original.shape[:2]
    board_width = max(2 * width + 30, _BOARD_WIDTH_MIN)
    font = ImageFont.load_default()
    chars_per_line = max(20, (board_width - 20) // 7)
    text_lines = [
        wrapped
        for line in transcript(game).splitlines()
        for wrapped in (textwrap.wrap(line, chars_per_line) or [""])
    ]
    board_height = height + 40 + _LINE_HEIGHT * (len(text_lines) + 1)
    board = Image.new("RGB", (board_width, board_height), (250, 250, 250))
    draw = ImageDraw.Draw(board)
    civilians = [f"P{i + 1}" for i in range(game.config.num_players) if i not in game.spies]
    spies = [f"P{s + 1}" for s in sorted(game.spies)]
    for x, image, caption in (
        (10, original, "original: " + " ".join(civilians)),
        (20 + width, spy_view, "spy: " + " ".join(spies)),
    ):
        board.paste(Image.fromarray(image), (x, 24))
        draw.text((x, 6), caption, fill=(20, 20, 20), font=font)
    y = height + 34
    for line in text_lines:
        draw.text((10, y), line, fill=(20, 20, 20), font=font)
        y += _LINE_HEIGHT
    return np.asarray(board)


def print_rich(game: SpyGame, console=None) -> None:
    """Print the game to a rich console: a table of clues and votes, coloured by validity."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"Who is the Spy ({game.phase})", show_lines=False)
    for column in ("stage", "player", "said", "valid"):
        table.add_column(column)
    for turn in game.turns:
        stage = f"round {turn.round}" if turn.phase == CLUE else "vote"
        said = turn.clue if turn.phase == CLUE else (turn.vote or ("N/A" if turn.abstain else ""))
        ok = "[green]yes[/]" if turn.valid or turn.abstain else f"[red]no: {turn.reason}[/]"
        table.add_row(stage, _label(game, turn.agent), said or "", ok)
    console.print(table)
    if game.winner() is not None:
        console.print(f"[bold]Winner:[/] {game.winner()}")


__all__ = ["board_image", "print_rich", "transcript"]
