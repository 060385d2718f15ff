"""Views of a game for people: a transcript, a picture board, and the rich pieces `play` and render share."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vz_env.rules import SpyGame
from vz_env.turn import Phase, Role, Turn

_BOARD_WIDTH_MIN = 640
_LINE_HEIGHT = 16


def transcript(game: SpyGame) -> str:
    """The whole game as text: roles, every clue and vote with its validity, and the outcome."""
    cfg = game.config
    spies = ", ".join(f"PLAYER {s + 1}" for s in sorted(game.spies))
    lines = [f"Who is the Spy: {cfg.num_players} players, spy: {spies}, phase: {game.phase}"]
    for turn in game.turns:
        who = _label(game, turn.agent)
        if turn.phase == Phase.CLUE:
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
    """A seat label that also says who the spy is (spectators know)."""
    return seat_label(agent) + (" (spy)" if game.role(agent) == Role.SPY else "")


def seat_label(agent: str) -> str:
    """How players are named to people: player_1 is PLAYER 2 (an observer keeps its name, upper-cased)."""
    kind, _, index = agent.rpartition("_")
    return f"PLAYER {int(index) + 1}" if kind == "player" else agent.upper().replace("_", " ")


def spy_view(game: SpyGame) -> np.ndarray:
    """The picture the spies saw (modified, or blank in the blank-spy variant)."""
    return game.image(game.players[min(game.spies)])


def board_image(game: SpyGame) -> np.ndarray:
    """Both pictures side by side, labelled with the seats that see each, above the transcript."""
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
        (20 + width, spy_view(game), "spy: " + " ".join(spies)),
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
        stage = f"round {turn.round}" if turn.phase == Phase.CLUE else "vote"
        said = turn.clue if turn.phase == Phase.CLUE else vote_text(turn, with_reason=False)
        ok = "[green]yes[/]" if turn.valid or turn.abstain else f"[red]no: {turn.reason}[/]"
        table.add_row(stage, _label(game, turn.agent), said or "", ok)
    console.print(table)
    if game.winner() is not None:
        console.print(winner_text(game))


def vote_text(turn: Turn, with_reason: bool = True) -> str:
    """A vote as people read it: PLAYER k, N/A, or invalid (with why, where there is room)."""
    if turn.abstain:
        return "N/A"
    if turn.valid and turn.vote is not None:
        return seat_label(turn.vote)
    return f"invalid ({turn.reason})" if with_reason else "invalid"


def signed(value: float) -> str:
    """A reward with its sign, never "-0.000"."""
    return f"{round(value, 3) or 0.0:+.3f}"


def describe_change(change: dict[str, Any]) -> str:
    """One edit of the pair in words: "object 2: color red -> blue", or its fields for other sources."""
    if {"attribute", "before", "after"} <= change.keys():
        where = f"object {change['object']}: " if "object" in change else ""
        return f"{where}{change['attribute']} {change['before']} -> {change['after']}"
    return ", ".join(f"{key}={value}" for key, value in change.items())


def picture_panels(game: SpyGame, width: int) -> Any:
    """Both pictures as rich panels side by side, `width` columns each, titled with who sees each."""
    from rich.columns import Columns
    from rich.panel import Panel

    from vz_env.terminal_image import rich_image

    civilians = [seat_label(p) for p in game.players if game.role(p) == Role.CIVILIAN]
    spies = [seat_label(p) for p in game.players if game.role(p) == Role.SPY]
    return Columns(
        [
            Panel(
                rich_image(game.pair.original, width), title="original: " + ", ".join(civilians), expand=False
            ),
            Panel(rich_image(spy_view(game), width), title="spy's: " + ", ".join(spies), expand=False),
        ]
    )


def result_table(game: SpyGame, human: str | None = None) -> Any:
    """A finished game as a rich table: per player, role, clues, vote, votes received and reward."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Result")
    for column in ("player", "role", "clues", "vote", "vote reward", "votes received", "reward"):
        table.add_column(column)
    rewards = game.rewards()
    received = game.votes_received()
    for seat, agent in enumerate(game.players):
        clues = [
            t.clue or game.config.invalid_clue_text
            for t in game.turns
            if t.agent == agent and t.phase == Phase.CLUE
        ]
        vote = game.vote_of(agent)
        table.add_row(
            seat_label(agent) + (" (you)" if agent == human else ""),
            "SPY" if game.role(agent) == Role.SPY else "civilian",
            Text(" / ".join(clues)),
            vote_text(vote, with_reason=False) if vote is not None else "-",
            signed(vote.decision_reward) if vote is not None and vote.decision_reward is not None else "-",
            str(received[seat]),
            signed(rewards[agent]),
        )
    return table


def winner_text(game: SpyGame, human: str | None = None) -> str:
    """Who won (rich markup), and whether that is the person at the terminal."""
    winner = game.winner()
    text = f"[bold]Winner: the {winner}[/]"
    if human is None:
        return text
    won = (game.role(human) == Role.SPY) == (winner == "spies")
    return text + (" - [green]you win![/]" if won else " - [red]you lose.[/]")


__all__ = [
    "board_image",
    "describe_change",
    "picture_panels",
    "print_rich",
    "result_table",
    "seat_label",
    "signed",
    "spy_view",
    "transcript",
    "vote_text",
    "winner_text",
]
