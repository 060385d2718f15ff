"""Shared test setup: everything offline, small and seeded; tiny VLMs built once per session."""

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Both tiny-VLM families, built once per test session into a cache every test module shares."""
    from agents import tiny_vlm

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(tiny_vlm.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "vz-spy-cache"))
        return {family: str(tiny_vlm.default_model_path(family)) for family in tiny_vlm.FAMILIES}


@pytest.fixture(scope="session")
def pretrained_path() -> str:
    """The default pretrained tiny VLM (slow tests only), built once into $VZ_SPY_CACHE (CI: one per run)."""
    from tiny_vlm.shipped import shipped_model_path

    return str(shipped_model_path())


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny matrices run fastest on one thread, and do not stall when other jobs share the CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
