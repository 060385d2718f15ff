"""Dependencies point one way (vz_spy -> algorithms -> tiny_vlm -> agents -> vz_env); light stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("vz_env", "agents", "tiny_vlm", "algorithms", "vz_spy")
HEAVY = ("torch", "transformers", "accelerate", "peft")
BELOW = {  # what each package may import from this project
    "vz_env": {"vz_env"},
    "agents": {"vz_env", "agents"},
    "tiny_vlm": {"vz_env", "agents", "tiny_vlm"},
    "algorithms": {"vz_env", "agents", "tiny_vlm", "algorithms"},
    "vz_spy": set(PACKAGES),
}


def loaded_after(code: str) -> set[str]:
    """Top-level names in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_game_loads_no_agents_algorithms_cli_or_torch():
    loaded = loaded_after(
        "import vz_env\nfrom vz_env import spy_v0, render, atomic, settings, terminal_image\n"
        "from vz_env.data import charts, folder, photos, scenes, writer, check\n"
        "env = spy_v0.env(render_mode='ansi')\nenv.reset(seed=0)\nenv.render()"
    )
    assert not loaded & {"agents", "algorithms", "vz_spy", *HEAVY}


def test_agents_load_no_algorithms_and_no_torch_until_a_vlm_is_asked_for():
    light = loaded_after(
        "import agents\nfrom agents import base, scripted, human, registry\n"
        "agents.SceneBot, agents.load_policy, agents.HumanAgent"
    )
    assert not light & {"tiny_vlm", "algorithms", "vz_spy", *HEAVY}
    heavy = loaded_after("import agents\nagents.HFVLMPolicy")
    assert "torch" in heavy and not heavy & {"tiny_vlm", "algorithms", "vz_spy"}


def test_importing_algorithms_alone_loads_no_torch():
    assert not loaded_after("import algorithms\nalgorithms.SPOConfig, algorithms.SFTConfig") & set(HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["data", "clevr", "--num-pairs", "2", "--workers", "1", "--out", "OUT"],
        ["data", "check", "OUT"],
    ],
)
def test_light_commands_load_no_torch(argv, tmp_path):
    (tmp_path / "pairs").mkdir()
    argv = [str(tmp_path / "pairs") if a == "OUT" else a for a in argv]
    code = f"from vz_spy.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert not loaded_after(code) & set(HEAVY)


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_a_package_above_its_own(package):
    upward = {
        str(path.relative_to(REPO)): sorted(project_imports(path) - BELOW[package])
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {name: above for name, above in upward.items() if above} == {}
