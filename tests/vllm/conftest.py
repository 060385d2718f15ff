"""vLLM tests (marker `vllm`): they run in the vLLM test environment (`bash .ci/vllm-env.sh DIR`) only.

Where vLLM is not installed (the main environment) this folder is not collected. Engines run in this
process on the CPU, in float32, so their samples can be compared with Hugging Face re-scoring.
"""

import importlib.util
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

# This folder is on sys.path as a namespace package named vllm too: only a real (regular) package counts.
_spec = importlib.util.find_spec("vllm")
if _spec is None or _spec.origin is None or not _spec.origin.endswith("__init__.py"):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def observations() -> list[dict]:
    """The first clue turn of a seeded game, one observation per player."""
    from vz_env import spy_v0

    env = spy_v0.parallel_env(image_size=(160, 120))
    obs, _ = env.reset(seed=0)
    return [obs[agent] for agent in env.acting_agents]


@pytest.fixture
def qwen_engine(tiny_dirs: dict[str, str]) -> Iterator:
    """A float32 engine on the random tiny Qwen2.5-VL, closed after the test.

    vLLM's parallel state is global to the process: closing an engine tears it down for every engine, so
    tests hold one engine at a time and close it before starting the next.
    """
    from agents.vllm_vlm import VLLMPolicy

    policy = VLLMPolicy(tiny_dirs["qwen2_5_vl"], seed=0, max_new_tokens=16, dtype="float32")
    yield policy
    policy.close()
