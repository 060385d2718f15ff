"""`vz-spy play` driven as a person would drive it (a pseudo-terminal), and the HumanAgent behind it."""

from __future__ import annotations

import fcntl
import importlib.util
import io
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from agents.human import HumanAgent, PlayerQuit, balance_braces, boxed, save_png
from agents.scripted import SceneBot
from vz_env import spy_v0
from vz_env.parsing import parse_clue, parse_vote
from vz_env.turn import Phase, Role
from vz_spy.cli import build_parser, main
from vz_spy.play import make_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLUE_PROMPT = "Your clue, round"
VOTE_PROMPT = "Player number or N/A"
REPO = Path(__file__).resolve().parents[1]


def _take_terminal() -> None:
    """In the child: make the pseudo-terminal its controlling terminal, so Ctrl-C sends SIGINT, and let
    SIGINT interrupt as in a person's shell (a background job, as CI may be, starts with it ignored)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """The real `vz-spy play` on a pseudo-terminal: what a person sees, and keys they type."""

    def __init__(self, *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vz_spy", "play", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        self.fd = master
        self.raw = b""
        self._mark = 0

    @property
    def screen(self) -> str:
        """Everything shown so far, as text without colour escapes."""
        return ANSI.sub("", self.raw.decode(errors="replace")).replace("\r\n", "\n")

    def _read(self, timeout: float) -> bool:
        """Take what the command wrote within `timeout`; False on silence or once it has exited."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 20) -> None:
        """Wait until `text` appears after the previous match."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[self._mark :]:
            if time.monotonic() > deadline or not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{text!r} never appeared; screen ends with:\n{self.screen[-1500:]}")
        self._mark = self.screen.index(text, self._mark) + len(text)

    def type(self, keys: bytes) -> None:
        """Keys as a person types them (b"\\x03" is Ctrl-C, b"\\x04" Ctrl-D)."""
        os.write(self.fd, keys)

    def finish(self, timeout: float = 20) -> int:
        """Read everything to the end and return the exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        """Stop this command if a failed test left it running, and release the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


@pytest.fixture
def terminal():
    """Start `vz-spy play` on pseudo-terminals, all closed after the test."""
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        opened.append(Terminal(*args))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


@pytest.fixture(scope="module")
def civilian_seed() -> int:
    """A seed whose 4-player game makes PLAYER 1 a civilian, so that seat gets to vote."""
    env = spy_v0.env(num_players=4)
    for seed in range(100):
        env.reset(seed=seed)
        if env.unwrapped.roles["player_0"] == Role.CIVILIAN:
            return seed
    raise AssertionError("no seed seats a civilian at PLAYER 1")


def test_person_plays_a_whole_game_in_a_terminal(terminal, civilian_seed, tmp_path):
    saved = tmp_path / "pictures"
    term = terminal("--seat", "1", "--seed", str(civilian_seed), "--save-images", str(saved))
    term.expect("You are PLAYER 1")
    term.expect("Your role: NOT SPY")
    term.expect(CLUE_PROMPT)
    assert b"\x1b[38;2;" in term.raw and "▀" in term.screen, "the picture is drawn in true-colour half blocks"
    term.type(b"\n")
    term.expect(CLUE_PROMPT)
    term.type(b"a small red cube\n")
    term.expect("PLAYER 1 (you) says: a small red cube")
    term.expect("PLAYER 4 says:")
    term.expect(CLUE_PROMPT)
    term.type(b"a {shiny} ball\n")
    term.expect("PLAYER 1 (you) says: a {shiny} ball")
    term.expect(VOTE_PROMPT)
    term.type(b"\n")
    term.expect(VOTE_PROMPT)
    term.type(b"the one with the ball\n")
    term.expect("not a player number or N/A")
    term.expect(VOTE_PROMPT)
    term.type(b"Player 2\n")
    term.expect("PLAYER 1 (you) votes: PLAYER 2")
    term.expect("Game over")
    assert term.finish() == 0
    ending = term.screen[term.screen.index("Game over") :]
    for shown in ("original: ", "spy's: ", "│ SPY", "│ civilian", "vote reward", "reward", "Winner: the "):
        assert shown in ending
    assert "Traceback" not in term.screen
    assert term.screen.count(CLUE_PROMPT) == 3 and term.screen.count(VOTE_PROMPT) == 3
    pictures = {p.name: np.asarray(Image.open(p)) for p in saved.iterdir()}
    assert sorted(pictures) == ["original.png", "player_1.png", "spy.png"]
    assert np.array_equal(pictures["player_1.png"], pictures["original.png"])


@pytest.mark.parametrize(
    ("keys", "status", "reason"), [(b"\x04", 1, "end of input"), (b"\x03", 130, "interrupted")]
)
def test_leaving_at_a_prompt_ends_cleanly(terminal, keys, status, reason):
    term = terminal("--seat", "2", "--seed", "1", "--rounds", "1")
    term.expect(CLUE_PROMPT)
    term.type(keys)
    assert term.finish() == status
    assert f"vz-spy play: you left the game ({reason}); no result" in term.screen
    assert "Traceback" not in term.screen


def test_watch_plays_a_whole_game_between_bots():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vz_spy",
            "play",
            "--watch",
            "--seed",
            "3",
            "--players",
            "5",
            "--bots",
            "random",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(re.findall(r"PLAYER \d says: ", done.stdout)) == 5 * 2
    assert len(re.findall(r"PLAYER \d votes: ", done.stdout)) == 4
    assert "Winner: the " in done.stdout and "Traceback" not in done.stderr


def test_play_without_a_model_never_imports_torch():
    code = (
        "import sys; from vz_spy.cli import main; "
        "assert main(['play', '--watch', '--seed', '0', '--rounds', '1']) == 0; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--players", "2"], "--players must be between 3 and 99"),
        (["--seat", "9"], "--seat must be between 1 and 4"),
        (["--players", "3", "--seat", "0"], "--seat must be between 1 and 3"),
        (["--watch", "--seat", "1"], "--watch seats none"),
        (["--rounds", "0"], "--rounds must be >= 1"),
        (["--seed", "-1"], "--seed must be non-negative"),
        (["--images", "no-such-kind"], "is neither a kind"),
        (["--image-width", "2"], "--image-width must be at least"),
        (["--model", "/no/such/model"], "--model /no/such/model does not exist"),
        (["--model", ".", "--bots", "random"], "--bots and --model exclude each other"),
    ],
)
def test_bad_flags_give_one_line_and_status_2(capsys, flags, message):
    assert main(["play", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vz-spy play: error: ") and message in err


def test_save_images_into_a_file_is_a_bad_flag(capsys, tmp_path):
    target = tmp_path / "file.png"
    target.write_bytes(b"")
    assert main(["play", "--save-images", str(target)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_real_command_exits_2_on_a_bad_seat():
    done = subprocess.run(
        [sys.executable, "-m", "vz_spy", "play", "--players", "4", "--seat", "9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "vz-spy play: error: --seat must be between 1 and 4 (--players), got 9"
    ]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("agents.hf_vlm") is None, reason="agents.hf_vlm not written yet")
def test_a_folder_without_a_model_is_one_line_and_status_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "vz_spy", "play", "--model", str(tmp_path), "--watch"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "config.json" in lines[0]


def test_example_script_seats_a_person_with_piped_input():
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "play_in_terminal.py")],
        input="a red cube\nsomething blue\nN/A\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "PLAYER 2: a red cube" in done.stdout and "Winner: " in done.stdout


# --- HumanAgent with an injected input function --------------------------------------------------


class Keyboard:
    """Scripted lines for HumanAgent's input function; an exception in the script is raised instead."""

    def __init__(self, *lines: str | BaseException) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line


def quiet_console() -> Console:
    """A true-colour console that records into memory instead of the test's output."""
    return Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor", record=True)


def human(*lines: str | BaseException, **kwargs) -> tuple[HumanAgent, Keyboard, Console]:
    """A HumanAgent typing the given lines, with its keyboard and console for inspection."""
    keys, console = Keyboard(*lines), quiet_console()
    return HumanAgent(console, input_fn=keys, **kwargs), keys, console


@pytest.fixture(scope="module")
def game_env():
    """A fresh 4-player game in its first clue turn."""
    env = spy_v0.env(num_players=4, num_rounds=1)
    env.reset(seed=5)
    return env


@pytest.fixture(scope="module")
def vote_observation():
    """The decision-stage observation of a civilian after one round of scene-bot clues."""
    env = spy_v0.env(num_players=4, num_rounds=1)
    env.reset(seed=5)
    while env.unwrapped.game.phase == Phase.CLUE:
        env.step(SceneBot(seed=0).act(env.observe(env.agent_selection)))
    voter = env.agent_selection
    return dict(env.observe(voter))


def test_clue_is_boxed_so_the_env_reads_exactly_what_was_typed(game_env):
    agent, keys, _ = human("  a small red cube  ")
    action = agent.act(game_env.observe("player_0"))
    assert action == "\\boxed{a small red cube}"
    assert parse_clue(action).clue == "a small red cube"
    assert keys.prompts[0].startswith(CLUE_PROMPT)


def test_empty_lines_are_asked_again(game_env):
    agent, keys, _ = human("", "   ", "a red cube")
    assert parse_clue(agent.act(game_env.observe("player_0"))).clue == "a red cube"
    assert len(keys.prompts) == 3


def test_unbalanced_braces_do_not_cut_the_clue():
    assert balance_braces("a } red {cube} {") == "a  red {cube} "
    assert parse_clue(boxed("a } red {cube} {")).clue == "a red {cube}"


@pytest.mark.parametrize("typed", ["3", "Player 3", "PLAYER 3.", "N/A", "n/a.", "none", "NA"])
def test_every_vote_the_env_accepts_goes_through_unchanged(vote_observation, typed):
    agent, keys, _ = human(typed)
    action = agent.act(vote_observation)
    seat = vote_observation["seat"]
    assert action == boxed(typed) and len(keys.prompts) == 1
    assert parse_vote(action, 4, seat) == parse_vote(f"\\boxed{{{typed}}}", 4, seat)


def test_malformed_votes_are_asked_again_with_a_hint(vote_observation):
    own = str(vote_observation["seat"] + 1)
    other = "2" if own != "2" else "3"
    agent, keys, console = human("maybe the cube", "9", own, "", other)
    assert agent.act(vote_observation) == boxed(other)
    assert len(keys.prompts) == 5
    said = console.export_text()
    for hint in ("not a player number or N/A", "out of range 1..4", "self-vote", "empty answer"):
        assert hint in said


@pytest.mark.parametrize(("error", "interrupted"), [(EOFError(), False), (KeyboardInterrupt(), True)])
def test_eof_and_ctrl_c_raise_player_quit(game_env, error, interrupted):
    agent, _, _ = human(error)
    with pytest.raises(PlayerQuit) as raised:
        agent.act(game_env.observe("player_0"))
    assert raised.value.interrupted is interrupted


def image_rows(console: Console) -> int:
    """How many half-block picture lines the console has printed so far."""
    return sum("▀" in line for line in console.export_text(clear=False).splitlines())


def test_picture_is_shown_once_per_game_and_on_request(game_env):
    observation = game_env.observe("player_0")
    agent, _, console = human("a cube", "/image", "a sphere", "a cone", image_width=40)
    agent.act(observation)
    once = image_rows(console)
    height, width = observation["image"].shape[:2]
    assert once == round(height * 40 / width / 2)
    agent.act(observation)
    assert image_rows(console) == 2 * once, "shown again only because /image was typed"
    agent.reset()
    agent.act(observation)
    assert image_rows(console) == 3 * once, "a new game shows the picture again"


def test_role_and_clue_history_are_shown(vote_observation):
    agent, _, console = human("N/A")
    agent.act(vote_observation)
    said = console.export_text()
    assert "Your role: NOT SPY" in said and "Round 1, PLAYER 1: " in said


def test_save_images_writes_the_players_picture(game_env, tmp_path):
    observation = game_env.observe("player_2")
    agent, _, _ = human("a cube", save_images=tmp_path / "out")
    agent.act(observation)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["player_3.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "player_3.png")), observation["image"])


def test_save_png_replaces_atomically_and_leaves_no_temp_file(tmp_path):
    image = np.zeros((4, 6, 3), np.uint8)
    save_png(image, tmp_path / "a.png")
    save_png(image + 7, tmp_path / "a.png")
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert np.asarray(Image.open(tmp_path / "a.png")).max() == 7


@pytest.mark.parametrize(
    ("flags", "model", "images"),
    [
        ([], None, "clevr"),
        (["--model"], "tiny", "clevr-mini"),
        (["--model", "vllm:tiny"], "vllm:tiny", "clevr-mini"),
        (["--model", "--images", "charts"], "tiny", "charts"),
        (["--model", "/some/folder"], "/some/folder", "clevr"),
    ],
)
def test_model_without_a_path_is_the_tiny_vlm_in_its_own_world(flags, model, images):
    args = build_parser().parse_args(["play", *flags])
    assert args.model == model
    assert make_env(args).unwrapped.config.images == images
